"""Input validation shared by the public functions of every layer: the one place each check lives.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind,
wrong value) naming the argument, before any JAX computation starts, so users never see
an XLA stack trace for a mistake of theirs. Inputs are never modified in place.

The lowest module of the package: it imports only jax and numpy, and it is the one module
of ``core`` that ``support`` may import.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def integer(value: Any, name: str, *, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or a TypeError/ValueError naming ``name``.

    The one integer check: :func:`positive_int` and :func:`nonnegative_int` are this with minimum 1 and 0."""
    kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be {kind}, got {value}")
    return int(value)


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1, or a TypeError/ValueError naming ``name``."""
    return integer(value, name, minimum=1)


def nonnegative_int(value: Any, name: str) -> int:
    """``value`` as an int >= 0, or a TypeError/ValueError naming ``name``."""
    return integer(value, name, minimum=0)


def nonnegative_float(value: Any, name: str, *, allow_none: bool = False) -> float | None:
    """``value`` as a finite float >= 0 (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite non-negative number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value}")
    return value


def one_of(value: Any, name: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def float64_enabled() -> bool:
    """True when jax is in 64-bit mode (``jax_enable_x64``; see ``support.config.enable_float64``)."""
    return bool(jax.config.jax_enable_x64)


def require_float64(what: str) -> None:
    """ValueError unless jax is in 64-bit mode: the one check of every computation that needs float64.

    ``what`` names the computation in the message (e.g. "practice.kernel_gap").
    """
    if not float64_enabled():
        raise ValueError(f"{what} computes in float64: call ntk_lessons.support.config.enable_float64() "
                         "(jax.config.update('jax_enable_x64', True)) first")


def float_dtype(value: Any, name: str) -> np.dtype:
    """``value`` as a floating numpy dtype that jax can hold right now, or a TypeError/ValueError.

    float64 is only available after ``ntk_lessons.support.config.enable_float64()`` (jax_enable_x64).
    """
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"{name} must be a floating dtype such as 'float32' or jnp.float64, got {value!r}") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating dtype such as 'float32' or jnp.float64, got {dtype}")
    if jax.dtypes.canonicalize_dtype(dtype) != dtype:
        raise ValueError(
            f"{name}={dtype} needs 64-bit mode in jax; call ntk_lessons.support.config.enable_float64() first"
        )
    return dtype


def batch(x: Any, name: str, *, min_rank: int = 2) -> jax.Array:
    """A non-empty, finite, floating batch of inputs with the batch axis first.

    Accepts numpy or JAX arrays (and nested lists); returns a JAX array without touching
    the caller's object. Integer inputs are rejected rather than silently cast, because a
    kernel of integer pixels is almost always a forgotten normalisation.
    """
    if x is None:
        raise TypeError(f"{name} must be an array of shape (N, ...), got None")
    if isinstance(x, (jax.Array, np.ndarray)):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as err:  # ragged lists and the like
            raise TypeError(f"{name} must be an array of shape (N, ...): {err}") from None
    if not (jnp.issubdtype(arr.dtype, jnp.floating)):
        raise TypeError(
            f"{name} must have a floating dtype (float32 or float64), got {arr.dtype}; "
            f"convert it, e.g. {name}.astype('float32')"
        )
    if arr.ndim < min_rank:
        raise ValueError(
            f"{name} must have rank >= {min_rank} with the batch axis first, got shape {tuple(arr.shape)}"
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch (shape {tuple(arr.shape)}); pass at least one input")
    if any(s == 0 for s in arr.shape[1:]):
        raise ValueError(f"{name} has a zero-sized feature axis (shape {tuple(arr.shape)})")
    arr = jnp.asarray(arr)
    if not bool(jnp.all(jnp.isfinite(arr))):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def second_batch(x2: Any, x1: jax.Array, name: str = "x2") -> jax.Array:
    """Validate ``x2`` like ``x1`` and require the same per-example shape and dtype."""
    x2 = batch(x2, name, min_rank=x1.ndim)
    if x2.shape[1:] != x1.shape[1:]:
        raise ValueError(
            f"{name} has per-example shape {tuple(x2.shape[1:])} but x1 has {tuple(x1.shape[1:])}; "
            "both batches must describe inputs of the same shape"
        )
    if x2.dtype != x1.dtype:
        raise TypeError(f"{name} has dtype {x2.dtype} but x1 has {x1.dtype}; use one dtype for both")
    return x2


def full_kernel(theta: Any, name: str = "theta", *, float64: bool = False) -> Any:
    """``theta`` checked to be a full eNTK of shape (N1, N2, O, O): the one shape check of eNTKs.

    Returns ``theta`` itself (numpy or JAX, not copied), or with ``float64=True`` a finite
    float64 numpy copy (what the float64 metrics compare). ValueError naming ``name`` otherwise.
    Cost O(1), or O(N1 N2 O^2) with ``float64=True``.
    """
    shape = getattr(theta, "shape", None)
    if shape is None or len(shape) != 4 or shape[2] != shape[3]:
        got = tuple(shape) if shape is not None else type(theta).__name__
        raise ValueError(f"{name} must be an eNTK of shape (N1, N2, O, O), got {got}")
    if not float64:
        return theta
    theta = np.asarray(theta, np.float64)
    if not np.all(np.isfinite(theta)):
        raise ValueError(f"{name} must be finite")
    return theta


def matching_kernel(k: Any, shape: tuple[int, int], name: str) -> np.ndarray:
    """``k`` as a finite float64 numpy kernel of ``shape`` (N1, N2), matching an eNTK's first two axes."""
    if getattr(k, "shape", None) is None or tuple(k.shape) != shape:
        got = getattr(k, "shape", type(k).__name__)
        raise ValueError(f"{name} must have shape {shape} (N1, N2) to match theta, got {got}")
    k = np.asarray(k, np.float64)
    if not np.all(np.isfinite(k)):
        raise ValueError(f"{name} must be finite")
    return k


@jax.jit
def _all_finite(leaves: list) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves]))


def params_tree(params: Any, name: str = "params") -> Any:
    """A pytree of floating, finite arrays (or None leaves, as stax uses for absent biases).

    Cost: one pass over the parameters, in a single compiled reduction.
    """
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise ValueError(f"{name} has no arrays; pass the params returned by init_fn")
    for leaf in leaves:
        if not hasattr(leaf, "dtype") or not hasattr(leaf, "shape"):
            raise TypeError(f"{name} must be a pytree of arrays, found a leaf of type {type(leaf).__name__}")
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"{name} must hold floating arrays, found dtype {leaf.dtype}")
    if not bool(_all_finite(leaves)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return params


def output_shape(apply_fn: Any, params: Any, x: jax.Array, name: str = "x1") -> tuple[int, ...]:
    """Trace ``apply_fn(params, x)`` abstractly (no FLOPs) and return its output shape.

    Shape errors inside the model (e.g. a feature dimension that does not match the
    first layer) are turned into a ValueError naming ``name``.
    """
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable as apply_fn(params, x), got {type(apply_fn).__name__}")
    try:
        out = jax.eval_shape(apply_fn, params, x)
    except (TypeError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(
            f"the model cannot be applied to {name} of shape {tuple(x.shape)} with these params "
            f"(does the feature dimension match the model's input?): {first_line}"
        ) from None
    if not hasattr(out, "shape") or len(out.shape) != 2:
        raise ValueError(
            f"apply_fn must return logits of shape (N, O); on {name} it returned "
            f"{getattr(out, 'shape', type(out).__name__)}"
        )
    if out.shape[0] != x.shape[0]:
        raise ValueError(f"apply_fn changed the batch size: {x.shape[0]} inputs gave {out.shape[0]} outputs")
    return tuple(out.shape)
