"""Multilayer perceptrons as stax-style ``(init_fn, apply_fn)`` pairs, in NTK or standard parameterisation.

A dense layer maps ``a`` (N, n_in) to pre-activations (N, n_out):

* ``parameterization="ntk"`` (default): ``h = W_std / sqrt(n_in) * a @ W + b_std * b`` with
  ``W`` (n_in, n_out) and ``b`` (1, n_out) drawn i.i.d. N(0, 1). The scale sits in the
  forward pass, so every parameter has unit scale and the eNTK has a finite limit as the
  widths grow.
* ``parameterization="standard"``: ``h = a @ W + b`` with ``W ~ N(0, W_std^2 / n_in)`` and
  ``b ~ N(0, b_std^2)`` -- neural-tangents' standard parameterisation (PyTorch's default draws
  Kaiming-uniform weights and uniform biases, Flax's LeCun-normal weights and zero biases; see
  docs/notation.md). At initialisation the outputs
  have the same law as in "ntk", but the gradients (hence the eNTK) do not: d h / d W is
  ``a`` here instead of ``W_std a / sqrt(n_in)``.

Both are exactly ``neural_tangents.stax.Dense(n_out, W_std, b_std, parameterization=...)``:
the same parameter pytree, the same random draws for the same key, the same outputs. An
``mlp`` is ``stax.serial(Dense, act, Dense, act, ..., Dense)``.

Parameter pytree: a list with one entry per stax layer: ``(W, b)`` for a dense layer
(``b`` is None when ``b_std`` is None) and ``()`` for an activation.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
from jax.scipy.special import erf

from . import checks

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    # jnp.maximum(x, 0) rather than jax.nn.relu: bit-for-bit what stax.Relu computes.
    "relu": lambda h: jnp.maximum(h, 0),
    "erf": erf,
}

Params = list  # [(W, b), (), (W, b), (), ..., (W, b)]
PARAMETERIZATIONS = ("ntk", "standard")


class DenseScales:
    """The gradient scales of a dense layer, shared by :class:`MLPSpec` and :class:`ResNetSpec` (which
    provide ``W_std``, ``b_std`` and ``parameterization``)."""

    def weight_scale(self, n_in: int) -> float:
        """The factor c with d h / d W[p, q] = c * a[p]: W_std / sqrt(n_in) ("ntk") or 1 ("standard")."""
        return self.W_std / n_in**0.5 if self.parameterization == "ntk" else 1.0

    def bias_scale(self) -> float:
        """The factor beta with d h / d b[q] = beta: b_std ("ntk") or 1 ("standard"); 0 without biases."""
        if self.b_std is None:
            return 0.0
        return self.b_std if self.parameterization == "ntk" else 1.0


@dataclasses.dataclass(frozen=True)
class MLPSpec(DenseScales):
    """Architecture of an ``mlp``: everything but the input dimension and the weights."""

    hidden_widths: tuple[int, ...]
    out_dim: int
    activation: str = "relu"
    W_std: float = 1.0
    b_std: float | None = 0.0
    parameterization: str = "ntk"

    def stax_layer_count(self) -> int:
        return 2 * len(self.hidden_widths) + 1


@dataclasses.dataclass(frozen=True)
class MLPInit:
    """``init_fn(key, input_shape) -> (output_shape, params)``, as in stax."""

    spec: MLPSpec

    def __call__(
        self, key: jax.Array, input_shape: tuple[int, ...], *, dtype: Any = None
    ) -> tuple[tuple[int, ...], Params]:
        """Draw the params for inputs of shape (N, d); ``dtype`` (e.g. ``jnp.float64``) is the
        params' floating dtype, default jax's default float dtype (then the draws are bit-for-bit
        stax's for the same key; other dtypes are drawn directly in that dtype). Cost O(P)."""
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
            raise ValueError(f"input_shape must be (N, d) (N may be -1), got {input_shape!r}")
        d = checks.positive_int(input_shape[-1], "input_shape[-1]")
        if not isinstance(key, jax.Array) or not (
            jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) or (key.shape == (2,) and key.dtype == jnp.uint32)
        ):
            raise TypeError(f"key must be a JAX PRNG key such as jax.random.PRNGKey(0), got {key!r}")
        draw_dtype = () if dtype is None else (checks.float_dtype(dtype, "dtype"),)
        params: Params = []
        n_in = d
        widths = (*self.spec.hidden_widths, self.spec.out_dim)
        for i, n_out in enumerate(widths):
            # stax.serial: one split per layer, activation layers included.
            key, layer_key = jax.random.split(key)
            k_w, k_b = jax.random.split(layer_key)
            W = jax.random.normal(k_w, (n_in, n_out), *draw_dtype)
            b = None if self.spec.b_std is None else jax.random.normal(k_b, (1, n_out), *draw_dtype)
            if self.spec.parameterization == "standard":  # the scale moves into the draw, as stax writes it
                W = W * (self.spec.W_std / (n_in / 1) ** 0.5)
                b = None if b is None else b * self.spec.b_std
            params.append((W, b))
            if i < len(self.spec.hidden_widths):
                key, _ = jax.random.split(key)  # the activation layer's (unused) key
                params.append(())
            n_in = n_out
        return (input_shape[0], self.spec.out_dim), params


@dataclasses.dataclass(frozen=True)
class MLPApply:
    """``apply_fn(params, x) -> f``: x (N, d) -> logits (N, out_dim). Cost O(N P)."""

    spec: MLPSpec

    def __call__(self, params: Params, x: jax.Array) -> jax.Array:
        return forward(self.spec, params, x)[-1]


def mlp(
    hidden_widths: tuple[int, ...] | list[int],
    out_dim: int,
    *,
    activation: str = "relu",
    W_std: float = 1.0,
    b_std: float | None = 0.0,
    parameterization: str = "ntk",
) -> tuple[MLPInit, MLPApply]:
    """An MLP, identical to ``stax.serial(Dense, act, ..., Dense)`` with the same parameterisation.

    Args:
      hidden_widths: widths n_1, ..., n_L of the hidden layers (each >= 1; may be empty,
        giving a linear model).
      out_dim: number of outputs O (e.g. classes).
      activation: "relu" or "erf" (``stax.Relu()`` / ``stax.Erf()``).
      W_std: sigma_w, the weight scale (>= 0).
      b_std: sigma_b, the bias scale (>= 0), or None for no biases (stax's default).
      parameterization: "ntk" (default; scales in the forward pass) or "standard" (scales
        in the initial draw: neural-tangents' standard parameterisation); see the module docstring.

    Returns:
      ``(init_fn, apply_fn)``. ``init_fn(key, (N, d), dtype=None)`` returns ``((N, O), params)``
      with params in ``dtype`` (default: jax's default float dtype, exactly stax's draws);
      ``apply_fn(params, x)`` maps x (N, d) to logits (N, O) at cost O(N P), where
      P = sum_l (n_{l-1} + 1) n_l is the parameter count. Both carry ``.spec``.
    """
    if isinstance(hidden_widths, (str, bytes)) or not hasattr(hidden_widths, "__iter__"):
        raise TypeError(f"hidden_widths must be a sequence of positive integers, got {hidden_widths!r}")
    widths = tuple(checks.positive_int(w, f"hidden_widths[{i}]") for i, w in enumerate(hidden_widths))
    spec = MLPSpec(
        hidden_widths=widths,
        out_dim=checks.positive_int(out_dim, "out_dim"),
        activation=checks.one_of(activation, "activation", tuple(ACTIVATIONS)),
        W_std=checks.nonnegative_float(W_std, "W_std"),
        b_std=checks.nonnegative_float(b_std, "b_std", allow_none=True),
        parameterization=checks.one_of(parameterization, "parameterization", PARAMETERIZATIONS),
    )
    return MLPInit(spec), MLPApply(spec)


def spec_of(apply_fn: Any) -> MLPSpec | None:
    """The ``MLPSpec`` behind an ``mlp`` apply_fn, or None for any other model."""
    return apply_fn.spec if isinstance(apply_fn, MLPApply) else None


def dense_layers(params: Params) -> list[tuple[jax.Array, jax.Array | None]]:
    """The ``(W, b)`` pairs of an mlp's params, input layer first, readout last."""
    return [p for p in params if not (isinstance(p, (tuple, list)) and len(p) == 0)]


def check_params(spec: MLPSpec, params: Any, name: str = "params") -> list[tuple[jax.Array, jax.Array | None]]:
    """Check that ``params`` has the layout ``mlp(spec)`` creates; return its dense layers."""
    if not isinstance(params, (list, tuple)) or len(params) != spec.stax_layer_count():
        raise ValueError(
            f"{name} must be the list of {spec.stax_layer_count()} layer entries that this mlp's "
            f"init_fn returns, got {type(params).__name__} of length "
            f"{len(params) if hasattr(params, '__len__') else '?'}"
        )
    layers = dense_layers(params)
    widths = (*spec.hidden_widths, spec.out_dim)
    if len(layers) != len(widths):
        raise ValueError(f"{name} has {len(layers)} dense layers, the model has {len(widths)}")
    for i, ((W, b), n_out) in enumerate(zip(layers, widths)):
        if getattr(W, "ndim", None) != 2 or W.shape[1] != n_out:
            raise ValueError(
                f"{name}: dense layer {i} has W of shape {getattr(W, 'shape', None)}, expected (*, {n_out})"
            )
        if i > 0 and W.shape[0] != widths[i - 1]:
            raise ValueError(f"{name}: dense layer {i} has W of shape {W.shape}, expected ({widths[i - 1]}, {n_out})")
        if (b is None) != (spec.b_std is None):
            raise ValueError(f"{name}: dense layer {i} bias presence does not match b_std={spec.b_std}")
    return layers


def forward(spec: MLPSpec, params: Params, x: jax.Array) -> list[jax.Array]:
    """All intermediate values of the forward pass.

    Returns ``[x, h_1, a_1, h_2, a_2, ..., h_L, a_L, f]``: the input (N, d), each hidden
    layer's pre-activation h_l and activation a_l (N, n_l), and the logits f (N, O).
    Cost O(N P). Shapes are checked statically, so this also works under ``jit``.
    """
    layers = check_params(spec, params)
    if getattr(x, "ndim", None) != 2:
        raise ValueError(f"x must have shape (N, d), got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[1] != layers[0][0].shape[0]:
        raise ValueError(f"x has {x.shape[1]} features but the model's first layer expects {layers[0][0].shape[0]}")
    act = ACTIVATIONS[spec.activation]
    values = [x]
    a = x
    for i, (W, b) in enumerate(layers):
        h = dense(a, W, b, spec)
        if i == len(layers) - 1:
            values.append(h)
        else:
            a = act(h)
            values.extend([h, a])
    return values


def dense(a: jax.Array, W: jax.Array, b: jax.Array | None, spec: MLPSpec) -> jax.Array:
    """One dense layer in ``spec.parameterization``: (N, n_in) -> (N, n_out). Cost O(N n_in n_out)."""
    # Written as stax.Dense writes it (tensordot over W's first axis, then the scale), so
    # that outputs agree with neural-tangents bit for bit, not just to rounding.
    prod = jnp.moveaxis(jnp.tensordot(W, a, (0, a.ndim - 1)), 0, -1)
    if spec.parameterization == "standard":
        out = prod / 1.0**0.5  # stax's `prod / s[0]**0.5` with s = (1, 1): exact
        return out if b is None else out + b
    out = (spec.W_std / a.shape[-1] ** 0.5) * prod
    if b is not None:
        out = out + spec.b_std * b
    return out


def activation_derivative(spec: MLPSpec, h: jax.Array) -> jax.Array:
    """Elementwise derivative of the activation at pre-activations ``h`` (same shape)."""
    act = ACTIVATIONS[spec.activation]
    return jax.jvp(act, (h,), (jnp.ones_like(h),))[1]


def parameter_count(params: Any) -> int:
    """P, the number of scalar parameters in a pytree."""
    return int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(params)))


# --------------------------------------------------------------------------- a residual network with LayerNorm

LAYER_NORM_EPS = 1e-12
"""The ε of ``stax.LayerNorm`` (its default): (h − mean) / sqrt(ε + var) over the features."""


@dataclasses.dataclass(frozen=True)
class ResNetSpec(DenseScales):
    """Architecture of a :func:`resnet`: everything but the input dimension and the weights.

    ``width``: n_s, the residual stream's width; ``blocks``: how many residual blocks; ``head_width``: width of
    an extra dense layer (Dense, LayerNorm, ReLU) between the stream and the readout, or None for none (the
    readout then reads ReLU(LayerNorm(stream)), of width n_s); ``out_dim``: O; ``W_std``, ``b_std``: σ_w, σ_b of
    every dense layer; ``parameterization``: "ntk" or "standard", as in :class:`MLPSpec`.
    """

    width: int
    out_dim: int
    blocks: int = 2
    head_width: int | None = None
    W_std: float = 2.0**0.5
    b_std: float | None = 0.1
    parameterization: str = "ntk"

    @property
    def activation(self) -> str:
        return "relu"

    @property
    def readout_width(self) -> int:
        """n, the width of the layer the readout reads."""
        return self.width if self.head_width is None else self.head_width

    def dense_widths(self, d: int) -> list[tuple[int, int]]:
        """(n_in, n_out) of every dense layer in forward order: stem, one per block, the head (if any), readout."""
        shapes = [(d, self.width)] + [(self.width, self.width)] * self.blocks
        if self.head_width is not None:
            shapes.append((self.width, self.head_width))
        return shapes + [(self.readout_width, self.out_dim)]


def layer_norm(h: jax.Array, eps: float = LAYER_NORM_EPS) -> jax.Array:
    """``stax.LayerNorm()``: (h − mean) / sqrt(eps + var) over the last axis (no learned scale or shift).
    (N, n) -> (N, n). Cost O(N n)."""
    mean = jnp.mean(h, -1, keepdims=True)
    var = jnp.var(h, -1, keepdims=True)
    return (h - mean) / jnp.sqrt(eps + var)


def _dense_params(key: jax.Array, n_in: int, n_out: int, spec: ResNetSpec, draw_dtype: tuple) -> tuple:
    """One ``stax.Dense``'s (W, b): the same two draws as stax (and :class:`MLPInit`)."""
    k_w, k_b = jax.random.split(key)
    W = jax.random.normal(k_w, (n_in, n_out), *draw_dtype)
    b = None if spec.b_std is None else jax.random.normal(k_b, (1, n_out), *draw_dtype)
    if spec.parameterization == "standard":
        W = W * (spec.W_std / (n_in / 1) ** 0.5)
        b = None if b is None else b * spec.b_std
    return W, b


@dataclasses.dataclass(frozen=True)
class ResNetInit:
    """``init_fn(key, (N, d), dtype=None) -> ((N, O), params)``, with stax's params layout and draws."""

    spec: ResNetSpec

    def __call__(self, key: jax.Array, input_shape: tuple[int, ...], *, dtype: Any = None) -> tuple[tuple, list]:
        """Params for inputs (N, d), in the pytree ``stax.serial`` builds for :func:`resnet`'s layers (its module
        docstring) and drawn as stax draws them for the same key (splits of ``stax.serial``/``stax.parallel``,
        one per layer, parameter-free layers included). ``dtype`` as in :class:`MLPInit`. Cost O(P)."""
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 2:
            raise ValueError(f"input_shape must be (N, d) (N may be -1), got {input_shape!r}")
        d = checks.positive_int(input_shape[-1], "input_shape[-1]")
        if not isinstance(key, jax.Array) or not (
            jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) or (key.shape == (2,) and key.dtype == jnp.uint32)
        ):
            raise TypeError(f"key must be a JAX PRNG key such as jax.random.PRNGKey(0), got {key!r}")
        draw = () if dtype is None else (checks.float_dtype(dtype, "dtype"),)
        s, n = self.spec, self.spec.width

        def split(k):
            return jax.random.split(k)

        params: list = []
        key, sub = split(key)
        params.append(_dense_params(sub, d, n, s, draw))  # stem
        for _ in range(s.blocks):
            key, block_key = split(key)
            block_key, _ = split(block_key)  # FanOut
            block_key, par_key = split(block_key)  # parallel
            branch_key, _ = jax.random.split(par_key, 2)  # its two branches; the identity draws nothing
            branch_key, _ = split(branch_key)  # LayerNorm
            branch_key, _ = split(branch_key)  # Relu
            branch_key, dense_key = split(branch_key)
            params.append([(), ([(), (), _dense_params(dense_key, n, n, s, draw)], ()), ()])
        if s.head_width is not None:
            key, sub = split(key)
            params.append(_dense_params(sub, n, s.head_width, s, draw))
        key, _ = split(key)  # LayerNorm
        key, _ = split(key)  # Relu
        params += [(), ()]
        key, sub = split(key)
        params.append(_dense_params(sub, s.readout_width, s.out_dim, s, draw))
        return (input_shape[0], s.out_dim), params


def check_resnet_params(spec: ResNetSpec, params: Any, name: str = "params") -> list[tuple[jax.Array, Any]]:
    """Check that ``params`` has the layout :func:`resnet`'s init_fn creates; return its dense layers' (W, b)
    in forward order (stem, blocks, head, readout)."""
    expected = 1 + spec.blocks + (spec.head_width is not None) + 3
    if not isinstance(params, (list, tuple)) or len(params) != expected:
        raise ValueError(f"{name} must be the list of {expected} layer entries that this resnet's init_fn returns, "
                         f"got {type(params).__name__} of length {len(params) if hasattr(params, '__len__') else '?'}")
    try:
        dense = [params[0]] + [params[1 + i][1][0][2] for i in range(spec.blocks)]
    except (TypeError, IndexError, KeyError):
        raise ValueError(f"{name}: a residual block's entry is not [(), ([(), (), (W, b)], ()), ()]") from None
    if spec.head_width is not None:
        dense.append(params[1 + spec.blocks])
    dense.append(params[-1])
    for i, layer in enumerate(dense):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2 or getattr(layer[0], "ndim", None) != 2:
            raise ValueError(f"{name}: dense layer {i} is not a (W, b) pair")
        if (layer[1] is None) != (spec.b_std is None):
            raise ValueError(f"{name}: dense layer {i} bias presence does not match b_std={spec.b_std}")
    widths = spec.dense_widths(dense[0][0].shape[0])
    for i, ((W, _), shape) in enumerate(zip(dense, widths)):
        if tuple(W.shape) != shape:
            raise ValueError(f"{name}: dense layer {i} has W of shape {tuple(W.shape)}, expected {shape}")
    return dense


def resnet_forward(spec: ResNetSpec, params: Any, x: jax.Array, offsets: Sequence[jax.Array] | None = None
                   ) -> tuple[jax.Array, list[jax.Array]]:
    """The forward pass of a :func:`resnet`: ``(logits (N, O), dense_inputs)``.

    ``dense_inputs[l]`` (N, n_in of layer l) is what dense layer l reads (stem, blocks, head, readout order).
    ``offsets`` (optional): one array per dense layer, the shape of its output (N, n_out), added to that layer's
    output: zero offsets change nothing, and the derivative of the logits with respect to them is the
    backpropagated signal δ_l = ∂f/∂h_l (what ``structured``'s eNTK needs). Cost O(N P).
    """
    layers = check_resnet_params(spec, params)
    if getattr(x, "ndim", None) != 2:
        raise ValueError(f"x must have shape (N, d), got {getattr(x, 'shape', type(x).__name__)}")
    if x.shape[1] != layers[0][0].shape[0]:
        raise ValueError(f"x has {x.shape[1]} features but the model's first layer expects {layers[0][0].shape[0]}")
    if offsets is not None and len(offsets) != len(layers):
        raise ValueError(f"offsets must hold one array per dense layer ({len(layers)}), got {len(offsets)}")
    relu = ACTIVATIONS["relu"]
    inputs: list[jax.Array] = []

    def apply(i, a):
        inputs.append(a)
        h = dense(a, *layers[i], spec)  # MLPSpec's dense: ResNetSpec has the same scale fields
        return h if offsets is None else h + offsets[i]

    stream = apply(0, x)
    for i in range(spec.blocks):
        stream = apply(1 + i, relu(layer_norm(stream))) + stream  # FanInSum: the branch, then the identity
    a = stream
    if spec.head_width is not None:
        a = apply(1 + spec.blocks, a)
    f = apply(len(layers) - 1, relu(layer_norm(a)))
    return f, inputs


@dataclasses.dataclass(frozen=True)
class ResNetApply:
    """``apply_fn(params, x) -> f``: x (N, d) -> logits (N, out_dim). Cost O(N P)."""

    spec: ResNetSpec

    def __call__(self, params: Any, x: jax.Array) -> jax.Array:
        return resnet_forward(self.spec, params, x)[0]


def resnet(
    width: int,
    out_dim: int,
    *,
    blocks: int = 2,
    head_width: int | None = None,
    W_std: float = 2.0**0.5,
    b_std: float | None = 0.1,
    parameterization: str = "ntk",
) -> tuple[ResNetInit, ResNetApply]:
    """A residual network with LayerNorm, identical to this neural-tangents stax network::

        Dense_n = stax.Dense(n, W_std, b_std, parameterization=parameterization)
        block = stax.serial(stax.FanOut(2),
                            stax.parallel(stax.serial(stax.LayerNorm(), stax.Relu(), Dense_width), stax.Identity()),
                            stax.FanInSum())
        stax.serial(Dense_width, *[block] * blocks, [Dense_head_width,] stax.LayerNorm(), stax.Relu(), Dense_O)

    i.e. a stem h_0 = Dense(x), pre-norm residual blocks h_{k+1} = h_k + Dense(ReLU(LayerNorm(h_k))), an optional
    head Dense (``head_width``), and the readout f = Dense_O(ReLU(LayerNorm(.))). LayerNorm has no parameters
    (stax's). ``reference.residual`` builds the stax version; a test checks they agree.

    Args:
      width: the stream's width n_s (>= 1); out_dim: O; blocks: residual blocks (>= 0); head_width: None or the
        width of an extra dense layer before the readout (then only it, not the stream, sets the readout's width);
      W_std, b_std: σ_w (default √2, He scale for ReLU), σ_b (None: no biases);
      parameterization: "ntk" or "standard" (as :func:`mlp`).
    Returns:
      ``(init_fn, apply_fn)``, both carrying ``.spec`` (a :class:`ResNetSpec`). ``apply_fn(params, x)``: (N, d) ->
      (N, O) at cost O(N P), P = (d + 1) n_s + blocks (n_s + 1) n_s [+ (n_s + 1) n_head] + (n + 1) O.
    """
    spec = ResNetSpec(
        width=checks.positive_int(width, "width"),
        out_dim=checks.positive_int(out_dim, "out_dim"),
        blocks=checks.nonnegative_int(blocks, "blocks"),
        head_width=None if head_width is None else checks.positive_int(head_width, "head_width"),
        W_std=checks.nonnegative_float(W_std, "W_std"),
        b_std=checks.nonnegative_float(b_std, "b_std", allow_none=True),
        parameterization=checks.one_of(parameterization, "parameterization", PARAMETERIZATIONS),
    )
    return ResNetInit(spec), ResNetApply(spec)
