"""neural-tangents as the reference implementation -- the only core module that imports it.

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
from typing import Any

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


CONV_POOLINGS = ("flatten", "global_avg")
DIGITS_IMAGE_SHAPE = (8, 8, 1)  # the bundled UCI digits as NHWC images


def digits_conv_net(
    channels: int | tuple[int, ...] | list[int],
    *,
    out_dim: int = 10,
    W_std: float = 2.0**0.5,
    b_std: float | None = 0.0,
    pooling: str = "flatten",
    filter_size: int = 3,
) -> tuple[Any, Any, Any]:
    """A stax convolutional network for the 8 x 8 digits: (Conv, Relu) per entry of ``channels``,
    then pooling, then Dense.

    Every Conv is ``stax.Conv(c, (filter_size, filter_size), padding="SAME", W_std, b_std)``
    in NTK parameterisation; ``pooling`` is "flatten" (``stax.Flatten``: the readout sees
    every pixel of every channel) or "global_avg" (``stax.GlobalAvgPool``: one number per
    channel, translation invariant); the readout is ``stax.Dense(out_dim, W_std, b_std)``.

    Args:
      channels: the number of channels of each conv layer (an int for one layer).
      out_dim: number of outputs O.  W_std, b_std: σ_w, σ_b (b_std None = no biases).
      pooling: "flatten" or "global_avg".  filter_size: the side of each square filter.

    Returns:
      stax's ``(init_fn, apply_fn, kernel_fn)``. Inputs are NHWC, (N, 8, 8, 1) (see
      :func:`digits_as_images`); ``apply_fn(params, x)`` is (N, O) at cost
      O(N · 64 · filter_size² · sum_l c_(l-1) c_l + N · features · O); ``kernel_fn(x1, x2, "ntk")``
      is the infinite-width kernel (N1, N2), at cost O(N1 N2 · 64 · filter_size² · depth)
      for "flatten" (only same-pixel covariances are needed) and O(N1 N2 · 64² · filter_size² · depth)
      for "global_avg" (every pixel pair).
      Its eNTK and pNTK come from ``kernels.entk(apply_fn, params, x, method="jacobian")``
      and ``kernels.pntk(..., method="jacobian")``.

    Note: with ``jax_enable_x64`` on, neural-tangents 0.6.5's Conv mixes float64 into a
    float32 convolution and fails; use float64 inputs and params then, or float32 with x64 off.
    """
    from ..core import checks

    widths = (channels,) if not isinstance(channels, (tuple, list)) else tuple(channels)
    if not widths:
        raise ValueError("channels must name at least one conv layer, got an empty sequence")
    widths = tuple(checks.positive_int(c, f"channels[{i}]") for i, c in enumerate(widths))
    out_dim = checks.positive_int(out_dim, "out_dim")
    W_std = checks.nonnegative_float(W_std, "W_std")
    b_std = checks.nonnegative_float(b_std, "b_std", allow_none=True)
    pooling = checks.one_of(pooling, "pooling", CONV_POOLINGS)
    filter_size = checks.positive_int(filter_size, "filter_size")
    stax = import_neural_tangents().stax
    layers = []
    for width in widths:
        layers += [stax.Conv(width, (filter_size, filter_size), padding="SAME", W_std=W_std, b_std=b_std), stax.Relu()]
    layers.append(stax.Flatten() if pooling == "flatten" else stax.GlobalAvgPool())
    layers.append(stax.Dense(out_dim, W_std=W_std, b_std=b_std))
    return stax.serial(*layers)


def digits_as_images(x: Any) -> Any:
    """Digits inputs (N, 64), e.g. from ``data.digits_inputs``, as NHWC images (N, 8, 8, 1).

    A reshaped copy in the same dtype (the caller's array is untouched); row-major, as the
    images were flattened. Cost O(N).
    """
    from ..core import checks

    x = checks.batch(x, "x")
    if x.shape[1:] != (64,):
        raise ValueError(f"x must have shape (N, 64) (flattened 8 x 8 digits), got {tuple(x.shape)}")
    return x.reshape(x.shape[0], *DIGITS_IMAGE_SHAPE)
