r"""Infinite-width kernels of an ``mlp`` in NTK parameterisation: the NNGP and Θ_∞ (lesson 04).

As every hidden width of ``models.mlp(widths, O, ...)`` grows (NTK parameterisation), the
eNTK at initialisation becomes deterministic: Θ(x, x') → Θ_∞(x, x') ⊗ I_O. The outputs
become a Gaussian process with covariance Σ(x, x') ⊗ I_O (the NNGP kernel). Neither
depends on the widths or on O. Both follow from a recursion over the layers.

Derivation (one layer at a time). Write Σ^l for the covariance of the pre-activations of
dense layer l (l = 0 is the first Dense, l = L the readout when there are L hidden
layers), and Θ^l for the NTK of those pre-activations.

* Input layer, h⁰ = σ_w W⁰ᵀ x / √d + σ_b b⁰:
  Σ⁰(x, x') = σ_w² x·x'/d + σ_b², and Θ⁰ = Σ⁰ (the gradients with respect to W⁰ and b⁰).
* Activation φ then Dense: h^{l+1} = σ_w Wᵀ φ(h^l) / √n_l + σ_b b. By the law of large
  numbers over the n_l units, with (u, v) ~ N(0, [[Σ^l(x,x), Σ^l(x,x')], [Σ^l(x,x'), Σ^l(x',x')]]):
  Σ^{l+1} = σ_w² E[φ(u) φ(v)] + σ_b²,
  Θ^{l+1} = Σ^{l+1} + σ_w² E[φ'(u) φ'(v)] Θ^l.
  (Σ^{l+1} is the gradient with respect to the new layer's own W and b; the second term
  backpropagates the old gradients through φ' and W.)
* The readout is the last Dense: after L hidden layers, NNGP = Σ^L and Θ_∞ = Θ^L.
  With L = 0 (no hidden layer) the model is linear and NNGP = Θ_∞ = Σ⁰.

The Gaussian expectations are closed forms (elementwise in the covariances):

* ReLU (arc-cosine kernels; Cho & Saul 2009), with cos θ = Σ12 / √(Σ11 Σ22):
  E[relu(u) relu(v)] = √(Σ11 Σ22) (sin θ + (π − θ) cos θ) / (2π),
  E[step(u) step(v)] = (π − θ) / (2π); on the diagonal E[relu(u)²] = Σ11 / 2.
* erf (Williams 1997):
  E[erf(u) erf(v)] = (2/π) arcsin(2 Σ12 / √((1 + 2Σ11)(1 + 2Σ22))),
  E[erf'(u) erf'(v)] = (4/π) / √((1 + 2Σ11)(1 + 2Σ22) − 4 Σ12²).

Numerics: arccos / arcsin arguments are clipped to [-1, 1] (rounding pushes cos θ of a
repeated point just above 1), and a zero-variance input (x = 0 without bias) takes θ = π/2,
the value neural-tangents uses, so that no NaN appears; the result is the same for any
θ there, because every term it multiplies is zero. arccos is steep at 1: a cos θ that
should be 1 but is rounded by ε gives θ ≈ √(2ε) (1e-8 in float64, 3e-4 in float32). For
x2 = None the recursion therefore takes each point's variance from the kernel's own
diagonal and updates both with the same expression, so that θ(x, x) is exactly 0; a point
that appears in both x1 and x2 gets θ ≈ √(2ε) instead (error ~1e-9 in float64, ~1e-4 in
float32). Works in float32 and float64 (the dtype of the inputs).

Cost of every kernel here: O(N1 N2 (d + L)) time, O(N1 N2) memory, for N1 x N2 inputs of
dimension d and L hidden layers. Pure JAX; neural-tangents is not needed (its
``stax.serial(...)`` ``kernel_fn`` computes the same, see ``reference.nt_reference.stax_mlp``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp

from . import checks, models


class Kernels(NamedTuple):
    """The infinite-width kernels of a network: ``nngp`` and ``ntk``, each (N1, N2)."""

    nngp: jax.Array
    ntk: jax.Array


class LayerKernels(NamedTuple):
    """The recursion's state at one dense layer's pre-activations.

    ``nngp`` Σ^l(x1, x2) (N1, N2); ``ntk`` Θ^l(x1, x2) (N1, N2); ``diag1`` Σ^l(x, x) for
    each x in x1 (N1,); ``diag2`` the same for x2 (N2,). Unpack it into the next layer:
    ``relu_layer(*state, W_std=..., b_std=...)``.
    """

    nngp: jax.Array
    ntk: jax.Array
    diag1: jax.Array
    diag2: jax.Array


# --------------------------------------------------------------------------- expectations

@jax.jit
def relu_expectations(cov: Any, var1: Any, var2: Any) -> tuple[jax.Array, jax.Array]:
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for (u, v) ~ N(0, [[var1, cov], [cov, var2]]).

    Elementwise with broadcasting: e.g. ``cov`` (N1, N2), ``var1`` (N1, 1), ``var2`` (1, N2)
    give two (N1, N2) arrays. relu' is the step function 1[u > 0]. Zero variances give 0
    and 1/4 (θ = π/2) instead of NaN. Cost O(size of the broadcast shape).
    """
    norm = jnp.sqrt(var1 * var2)
    positive = norm > 0
    cos = jnp.where(positive, jnp.clip(cov / jnp.where(positive, norm, 1), -1, 1), 0)
    theta = jnp.arccos(cos)
    e_relu = norm * (jnp.sin(theta) + (math.pi - theta) * cos) / (2 * math.pi)
    e_step = (math.pi - theta) / (2 * math.pi)
    return e_relu, e_step


@jax.jit
def erf_expectations(cov: Any, var1: Any, var2: Any) -> tuple[jax.Array, jax.Array]:
    """E[erf(u) erf(v)] and E[erf'(u) erf'(v)] for (u, v) ~ N(0, [[var1, cov], [cov, var2]]).

    Elementwise with broadcasting, like :func:`relu_expectations`. erf'(u) = 2 exp(-u²)/√π.
    Cost O(size of the broadcast shape).
    """
    denom = (1 + 2 * var1) * (1 + 2 * var2)
    e_erf = (2 / math.pi) * jnp.arcsin(jnp.clip(2 * cov / jnp.sqrt(denom), -1, 1))
    # det(I + 2 Σ) >= 1 + 2 var1 + 2 var2 >= 1 for a covariance; the floor only absorbs rounding.
    det = jnp.maximum(denom - 4 * cov**2, 1)
    e_erf_derivatives = (4 / math.pi) / jnp.sqrt(det)
    return e_erf, e_erf_derivatives


# --------------------------------------------------------------------------- layers

def input_layer(x1: Any, x2: Any = None, *, W_std: float = 1.0, b_std: float | None = 0.0) -> LayerKernels:
    """The first Dense: Σ⁰ = σ_w² x·x'/d + σ_b² and Θ⁰ = Σ⁰.

    Args:
      x1: inputs (N1, d), floating and finite.
      x2: inputs (N2, d), or None (or x1 itself) for x2 = x1.
      W_std, b_std: σ_w and σ_b (b_std None = no bias, the same kernels as b_std = 0).

    Returns:
      ``LayerKernels(nngp, ntk, diag1, diag2)``, shapes (N1, N2), (N1, N2), (N1,), (N2,),
      in the inputs' dtype. Cost O(N1 N2 d).
    """
    same = x2 is None or x2 is x1  # the caller's objects (validation may convert them)
    x1 = checks.batch(x1, "x1")
    if x1.ndim != 2:
        raise ValueError(f"x1 must have shape (N1, d), got shape {tuple(x1.shape)}")
    x2 = x1 if same else checks.second_batch(x2, x1, "x2")
    w_var, b_var = _variances(W_std, b_std)
    d = x1.shape[1]
    nngp = w_var * (x1 @ x2.T) / d + b_var
    if same:  # the diagonal itself, so that cos θ of a point with itself is exactly 1 (see relu_expectations)
        diag1 = diag2 = jnp.diagonal(nngp)
    else:
        diag1 = w_var * jnp.sum(x1 * x1, axis=1) / d + b_var
        diag2 = w_var * jnp.sum(x2 * x2, axis=1) / d + b_var
    return LayerKernels(nngp, nngp, diag1, diag2)


def activation_layer(
    expectations: Callable[[Any, Any, Any], tuple[jax.Array, jax.Array]],
    nngp: Any, ntk: Any, diag1: Any, diag2: Any,
    *, W_std: float = 1.0, b_std: float | None = 0.0,
) -> LayerKernels:
    """One step of the recursion: an activation φ on layer l's pre-activations, then the next Dense.

    Args:
      expectations: ``(cov, var1, var2) -> (E[φ(u)φ(v)], E[φ'(u)φ'(v)])``, elementwise,
        e.g. :func:`relu_expectations` or :func:`erf_expectations`.
      nngp: Σ^l(x1, x2), (N1, N2).  ntk: Θ^l(x1, x2), (N1, N2).
      diag1: Σ^l(x, x) for x in x1, (N1,).  diag2: the same for x2, (N2,).
      W_std, b_std: σ_w and σ_b of the next Dense (b_std None = no bias).

    Returns:
      ``LayerKernels`` of layer l + 1 (same shapes). Cost O(N1 N2).
    """
    if not callable(expectations):
        raise TypeError(f"expectations must be a function (cov, var1, var2) -> (E[φφ], E[φ'φ']), got {expectations!r}")
    nngp, ntk, diag1, diag2 = _layer_state(nngp, ntk, diag1, diag2)
    w_var, b_var = _variances(W_std, b_std)
    e_phi, e_dphi = expectations(nngp, diag1[:, None], diag2[None, :])  # E[φ(u)φ(v)], E[φ'(u)φ'(v)]
    next_nngp = w_var * e_phi + b_var  # Σ^{l+1}
    next_ntk = next_nngp + w_var * e_dphi * ntk  # Θ^{l+1}
    # Each input's own variance Σ^{l+1}(x, x) = σ_w² E[φ(u)²] + σ_b², written exactly as the
    # kernel is, so that a point's diagonal entry and its variance stay equal to the last bit.
    next_diag1 = w_var * expectations(diag1, diag1, diag1)[0] + b_var
    next_diag2 = w_var * expectations(diag2, diag2, diag2)[0] + b_var
    return LayerKernels(next_nngp, next_ntk, next_diag1, next_diag2)


def relu_layer(
    nngp: Any, ntk: Any, diag1: Any, diag2: Any, *, W_std: float = 1.0, b_std: float | None = 0.0
) -> LayerKernels:
    """One ReLU step of the recursion: :func:`activation_layer` with :func:`relu_expectations`.

    nngp, ntk (N1, N2); diag1 (N1,); diag2 (N2,) -> ``LayerKernels`` of the next layer. Cost O(N1 N2).
    """
    return activation_layer(relu_expectations, nngp, ntk, diag1, diag2, W_std=W_std, b_std=b_std)


def erf_layer(
    nngp: Any, ntk: Any, diag1: Any, diag2: Any, *, W_std: float = 1.0, b_std: float | None = 0.0
) -> LayerKernels:
    """One erf step of the recursion: :func:`activation_layer` with :func:`erf_expectations`.

    nngp, ntk (N1, N2); diag1 (N1,); diag2 (N2,) -> ``LayerKernels`` of the next layer. Cost O(N1 N2).
    """
    return activation_layer(erf_expectations, nngp, ntk, diag1, diag2, W_std=W_std, b_std=b_std)


LAYERS: dict[str, Callable[..., LayerKernels]] = {"relu": relu_layer, "erf": erf_layer}


# --------------------------------------------------------------------------- networks

def mlp_kernels(
    x1: Any,
    x2: Any = None,
    *,
    n_hidden: int,
    activation: str = "relu",
    W_std: float = 1.0,
    b_std: float | None = 0.0,
) -> Kernels:
    """Infinite-width NNGP and NTK of ``models.mlp`` with ``n_hidden`` hidden layers (NTK parameterisation).

    The same for any hidden widths and any number of outputs O: the eNTK of the finite
    network tends to ``ntk ⊗ I_O`` as all widths grow. Equal to neural-tangents'
    ``stax.serial(Dense, act, ..., Dense).kernel_fn(x1, x2, ("nngp", "ntk"))``.

    Args:
      x1: inputs (N1, d), floating and finite.
      x2: inputs (N2, d) of the same dtype, or None for x2 = x1.
      n_hidden: number of hidden layers L >= 0 (0: a linear model).
      activation: "relu" or "erf".
      W_std, b_std: σ_w and σ_b of every Dense (b_std None = no bias, as in ``models.mlp``).

    Returns:
      ``Kernels(nngp, ntk)``, each (N1, N2) in the inputs' dtype.

    Cost: O(N1 N2 (d + L)) time, O(N1 N2) memory (see the module docstring for the recursion).
    """
    n_hidden = checks.nonnegative_int(n_hidden, "n_hidden")
    layer = LAYERS[checks.one_of(activation, "activation", tuple(LAYERS))]
    state = input_layer(x1, x2, W_std=W_std, b_std=b_std)
    for _ in range(n_hidden):
        state = layer(*state, W_std=W_std, b_std=b_std)
    return Kernels(state.nngp, state.ntk)


def limit_kernels(apply_fn: Any, x1: Any, x2: Any = None) -> Kernels:
    """:func:`mlp_kernels` for the architecture of a ``models.mlp`` model (read from ``apply_fn.spec``).

    Args:
      apply_fn: the ``apply_fn`` returned by ``models.mlp`` (NTK parameterisation).
      x1: inputs (N1, d).  x2: inputs (N2, d) or None.

    Returns:
      ``Kernels(nngp, ntk)``, each (N1, N2). Cost O(N1 N2 (d + L)).

    Raises TypeError for any other model and ValueError for a standard-parameterised mlp.
    """
    spec = models.spec_of(apply_fn)
    if spec is None:
        raise TypeError(
            f"apply_fn must be the apply_fn of a models.mlp network, got {type(apply_fn).__name__}; "
            "for other architectures use neural-tangents' stax kernel_fn (see ntk_lessons.reference.nt_reference)"
        )
    parameterization = getattr(spec, "parameterization", "ntk")
    if parameterization != "ntk":
        raise ValueError(
            f"apply_fn is an mlp in {parameterization!r} parameterisation; these infinite-width kernels are "
            "those of NTK parameterisation. In standard parameterisation the eNTK grows in proportion to the "
            "widths, so it has no finite infinite-width limit of this form (build the mlp with parameterization='ntk')"
        )
    return mlp_kernels(
        x1, x2, n_hidden=len(spec.hidden_widths), activation=spec.activation, W_std=spec.W_std, b_std=spec.b_std
    )


# --------------------------------------------------------------------------- validation

def _variances(W_std: Any, b_std: Any) -> tuple[float, float]:
    """(σ_w², σ_b²) from validated scales; no bias counts as σ_b = 0."""
    w = checks.nonnegative_float(W_std, "W_std")
    b = checks.nonnegative_float(b_std, "b_std", allow_none=True)
    return w**2, 0.0 if b is None else b**2


def _layer_state(nngp: Any, ntk: Any, diag1: Any, diag2: Any) -> tuple[jax.Array, ...]:
    """Check the shapes and dtypes of one layer's kernels (no data-dependent checks)."""
    arrays = {"nngp": nngp, "ntk": ntk, "diag1": diag1, "diag2": diag2}
    for name, value in arrays.items():
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError(f"{name} must be an array, got {type(value).__name__}")
        if not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(f"{name} must have a floating dtype, got {value.dtype}")
    if len(nngp.shape) != 2:
        raise ValueError(f"nngp must have shape (N1, N2), got {tuple(nngp.shape)}")
    n1, n2 = nngp.shape
    for name, expected in (("ntk", (n1, n2)), ("diag1", (n1,)), ("diag2", (n2,))):
        if tuple(arrays[name].shape) != expected:
            raise ValueError(
                f"{name} must have shape {expected} to match nngp {(n1, n2)}, got {tuple(arrays[name].shape)}"
            )
    return tuple(jnp.asarray(a) for a in arrays.values())
