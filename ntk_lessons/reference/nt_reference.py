"""neural-tangents as the reference implementation of the eNTK, the stax mlp and its infinite-width kernel.

neural-tangents 0.6.5 (its last release) imports only with jax <= 0.5.3, pulls in
TensorFlow, and TensorFlow's C++ runtime prints log lines on file descriptor 2 that no
environment variable silences on TF 2.21. :func:`import_neural_tangents` imports it once
with fd 2 redirected to /dev/null and jax's ``jax.core`` DeprecationWarnings filtered.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for annotations only: importing this module imports neither jax nor neural-tangents
    from ..core.models import MLPSpec

_NT = None


@contextlib.contextmanager
def _stderr_fd_silenced():
    """Redirect OS-level file descriptor 2 (C++ logs) to /dev/null inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_neural_tangents():
    """``import neural_tangents`` quietly (cached). ImportError with advice if unavailable."""
    global _NT
    if _NT is not None:
        return _NT
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_fd_silenced(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        try:
            import neural_tangents as nt
            import neural_tangents.stax  # noqa: F401  (import-time noise happens here too)
        except Exception as err:  # AttributeError on jax >= 0.6 (jax.core.Jaxpr removed)
            import jax

            raise ImportError(
                f"neural-tangents could not be imported with jax {jax.__version__} ({type(err).__name__}: {err}). "
                'It needs jax <= 0.5.3: pip install "jax[cpu]==0.5.3" "neural-tangents==0.6.5"'
            ) from err
    _NT = nt
    return nt


def stax_mlp(spec: MLPSpec) -> tuple[Any, Any, Any]:
    """``neural_tangents.stax.serial(Dense, act, ..., Dense)`` equal to ``models.mlp(spec)``.

    Returns stax's ``(init_fn, apply_fn, kernel_fn)``; the parameters are interchangeable
    with ours. ``kernel_fn`` is the infinite-width kernel (lesson 04).
    """
    stax = import_neural_tangents().stax
    act = {"relu": stax.Relu, "erf": stax.Erf}[spec.activation]
    layers = []
    for width in spec.hidden_widths:
        layers += [stax.Dense(width, W_std=spec.W_std, b_std=spec.b_std, parameterization=spec.parameterization), act()]
    layers.append(stax.Dense(spec.out_dim, W_std=spec.W_std, b_std=spec.b_std, parameterization=spec.parameterization))
    return stax.serial(*layers)


def entk(apply_fn, params, x1, x2=None, *, implementation: int = 1):
    """neural-tangents' empirical NTK with ``trace_axes=()``: shape (N1, N2, O, O).

    ``implementation``: 1 = Jacobian contraction, 2 = NTK-vector products,
    3 = structured derivatives (fails with jax 0.5.3 in neural-tangents 0.6.5).
    """
    nt = import_neural_tangents()
    fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(), implementation=implementation)
    return fn(x1, x2, params)


def entk_fn(apply_fn, *, implementation: int = 1):
    """The jit-compiled ``(x1, x2, params) -> (N1, N2, O, O)`` function of neural-tangents (for timing)."""
    import jax

    nt = import_neural_tangents()
    return jax.jit(nt.empirical_ntk_fn(apply_fn, trace_axes=(), implementation=implementation))
