r"""The eNTK of an ``mlp``, layer by layer, without materialising a Jacobian.

For a dense layer ``h = c * a @ W + beta * b`` the derivative of logit j with respect to
``W[p, q]`` is ``c * a[p] * delta[j, q]``, where ``delta[j, q] = d f_j / d h[q]`` is the
backpropagated signal. Hence this layer's share of the eNTK factorises:

    Theta_l(x, x')_{jk} = ( c^2 a(x).a(x') + beta^2 )  *  delta_j(x).delta_k(x')
                          \____ input Gram, (N1, N2) __/    \_ backprop Gram, (N1 O, N2 O) _/

In NTK parameterisation c = W_std / sqrt(n_in) and beta = b_std; in standard
parameterisation (``h = a @ W + b``, the scales in the initial draw) c = beta = 1
(``MLPSpec.weight_scale`` / ``MLPSpec.bias_scale``).

and the eNTK is the sum over layers of these Hadamard products (the input Gram repeated
over each O x O block, i.e. (input Gram ⊗ 1_{O x O}) ∘ backprop Gram). For the readout layer
``delta = I_O``, so its share is a multiple of the identity (see ``readout``).

Cost for N1 = N2 = N inputs, O outputs, hidden widths n_l: backprop O(N O sum_l n_l n_{l+1}),
Grams O(N^2 O^2 sum_l n_l); memory O(N^2 O^2 + N O sum_l n_l). The Jacobian route costs
O(N O P) memory and O(N^2 O^2 P) time, with P ~ sum_l n_l n_{l+1}.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from .models import (
    MLPSpec,
    ResNetSpec,
    activation_derivative,
    check_params,
    check_resnet_params,
    forward,
    resnet_forward,
)


def backprop_deltas(
    spec: MLPSpec, params: list, x: jax.Array, sum_logits: bool = False, directions: jax.Array | None = None
) -> tuple[list[jax.Array], list[jax.Array]]:
    """Layer inputs and backpropagated signals of an mlp.

    Returns ``(inputs, deltas)``: ``inputs[l]`` (N, n_{l-1}) is what dense layer l reads
    (``inputs[0] = x``); ``deltas[l]`` (N, O, n_l) is d f / d h_l for the hidden layers
    l = 0 .. L-1 (the readout's delta is I_O and is not stored). With ``sum_logits`` the
    single output sum_j f_j / sqrt(O) is backpropagated instead: deltas (N, 1, n_l), one
    backward pass per input. With ``directions`` U (O, K) the K projected outputs f @ U are
    backpropagated: deltas (N, K, n_l). Cost O(N O P), or O(N K P).
    """
    inputs, columns = backprop_columns(spec, params, x, sum_logits, directions)
    n = x.shape[0]
    return inputs, [c.reshape(c.shape[0], n, -1).transpose(1, 2, 0) for c in columns]


def backprop_columns(
    spec: MLPSpec, params: list, x: jax.Array, sum_logits: bool = False, directions: jax.Array | None = None
) -> tuple[list[jax.Array], list[jax.Array]]:
    """:func:`backprop_deltas` with each delta laid out as columns: ``D_l`` (n_l, N K), K = O, 1 or U's columns.

    ``D_l[:, n K + j]`` is ``deltas[l][n, j, :]``. The backward pass runs in this layout
    (``g_{l-1} = c W_l @ D_l``), so the eNTK's per-layer products ``D_l(x1)^T D_l(x2)`` need
    no transposed copy of a delta. Cost O(N K P), memory O(N K sum_l n_l).
    """
    layers = check_params(spec, params)
    values = forward(spec, params, x)
    inputs = [values[2 * l] for l in range(len(layers))]
    n = x.shape[0]
    # Start from the readout: d f / d a_L = c_L * W_L^T, the same for every input.
    # For the summed output, its readout weights are w_bar = sum_j w_j / sqrt(O).
    W = layers[-1][0]
    if directions is not None:
        W_out = W @ directions
    else:
        W_out = W.sum(axis=1, keepdims=True) / math.sqrt(W.shape[1]) if sum_logits else W
    k = W_out.shape[1]
    g = jnp.broadcast_to(spec.weight_scale(W.shape[0]) * W_out[:, None, :], (W.shape[0], n, k))  # (n_L, N, K)
    columns: list[jax.Array] = []
    for l in range(len(layers) - 2, -1, -1):
        h = values[2 * l + 1]  # (N, n_l)
        delta = (g * activation_derivative(spec, h).T[:, :, None]).reshape(h.shape[1], n * k)
        columns.append(delta)
        if l > 0:
            W = layers[l][0]  # (n_{l-1}, n_l)
            g = (spec.weight_scale(W.shape[0]) * (W @ delta)).reshape(W.shape[0], n, k)
    return inputs, columns[::-1]


def input_gram(spec: MLPSpec, a1: jax.Array, a2: jax.Array) -> jax.Array:
    """``c^2 a1 @ a2.T + beta^2``: (N1, n_in), (N2, n_in) -> (N1, N2). Cost O(N1 N2 n_in).

    c^2 = W_std^2 / n_in and beta = b_std in NTK parameterisation; c = beta = 1 in standard
    parameterisation (beta = 0 without biases).
    """
    gram = spec.weight_scale(a1.shape[1]) ** 2 * (a1 @ a2.T)
    return gram if spec.b_std is None else gram + spec.bias_scale() ** 2


def _backprop_gram(d1: jax.Array, d2: jax.Array) -> jax.Array:
    """(N1, O, n), (N2, O, n) -> (N1, O, N2, O), sample-major. Cost O(N1 N2 O^2 n).

    Sample-major because that is a plain matrix product of the (N O, n) reshapes; callers
    transpose it to (N1, N2, O, O) (inside a fused sum, so without an extra copy).
    """
    n1, o, n = d1.shape
    return (d1.reshape(n1 * o, n) @ d2.reshape(-1, n).T).reshape(n1, o, d2.shape[0], o)


def row_chunks(n1: int, n_hidden: int) -> int:
    """How many row blocks of x1 the compiled kernel sum loops over: ``min(N1, 2 L)``.

    Computing all L per-layer products of an (N1, N2, O, O) kernel at once keeps L
    output-sized temporaries alive (XLA fuses the sum); looping over 2L blocks of rows
    keeps about half an output's worth, which is what holds the structured eNTK's peak
    memory below 3x (output + params). 1 (no loop) without hidden layers.
    """
    return max(1, min(n1, 2 * n_hidden))


def _kernel_sum(grams: list, cols1: list | None, cols2: list, o: int, include_readout: bool) -> jax.Array:
    """sum_l (G_l ⊗ 1_{OxO}) ∘ (delta_l delta_l^T) [+ readout G ⊗ I_O], assembled in (N1, N2, O, O).

    ``grams``: the L + 1 input Grams (N1, N2), readout last; ``cols1``/``cols2``: the L
    hidden layers' deltas as columns (n_l, N o) (:func:`backprop_columns`) of x1 and x2
    (``cols1`` None when x2 is x1: one copy serves both sides). The sum is computed
    :func:`row_chunks` rows of x1 at a time inside one compiled loop that writes each block
    of rows into the output in place, so only one block's per-layer products are alive at
    once. Rows of a last, shorter block are recomputed from a block that ends at N1 (same
    values). Cost O(N1 N2 o^2 sum_l n_l); memory output + O(N1 N2 o^2 / 2 + (N1 + N2) o sum_l n_l).
    """
    n1, n2 = grams[-1].shape
    dtype = grams[-1].dtype
    eye = jnp.eye(o, dtype=dtype)
    cols1 = cols2 if cols1 is None else cols1

    def rows(start, size):
        take = functools.partial(lax.dynamic_slice_in_dim, start_index=start, slice_size=size, axis=0)
        readout = take(grams[-1])[:, :, None, None]
        acc = readout * eye if include_readout else jnp.zeros((size, n2, o, o), dtype)
        for gram, c1, c2 in zip(grams, cols1, cols2):
            block = lax.dynamic_slice_in_dim(c1, start * o, size * o, axis=1)  # (n_l, size o): this block's deltas
            product = (block.T @ c2).reshape(size, o, n2, o)
            acc = acc + take(gram)[:, :, None, None] * product.transpose(0, 2, 1, 3)
        return acc

    chunks = row_chunks(n1, len(cols2))
    if chunks == 1:
        return rows(0, n1)
    size = -(-n1 // chunks)
    chunks = -(-n1 // size)

    def block(i, out):
        start = jnp.minimum(i * size, n1 - size)
        return lax.dynamic_update_slice_in_dim(out, rows(start, size), start, axis=0)

    return lax.fori_loop(0, chunks, block, jnp.zeros((n1, n2, o, o), dtype))


def _grams_and_columns(spec: MLPSpec, params: list, x1: jax.Array, x2: jax.Array | None, sum_logits: bool):
    """Input Grams (N1, N2) of every dense layer and the deltas' columns of x1 (None when x2 is x1) and x2."""
    in1, cols1 = backprop_columns(spec, params, x1, sum_logits)
    in2, cols2 = (in1, cols1) if x2 is None else backprop_columns(spec, params, x2, sum_logits)
    return [input_gram(spec, a1, a2) for a1, a2 in zip(in1, in2)], (None if x2 is None else cols1), cols2


@functools.partial(jax.jit, static_argnames=("spec", "sum_logits"))
def readout_and_body(
    spec: MLPSpec, params: list, x1: jax.Array, x2: jax.Array | None = None, sum_logits: bool = False
) -> tuple[jax.Array, jax.Array]:
    """The readout scalar (N1, N2) and the body term of an mlp's eNTK; x2=None means x2 = x1.

    Body term: (N1, N2, O, O), or (N1, N2) when ``sum_logits`` (the pNTK's body). The
    eNTK is ``body + readout[..., None, None] * I_O``; the pNTK is ``body + readout``.
    Cost as in the module docstring (halved backprop when x2 is None); jit-compiled per
    (spec, shapes). No input validation (``readout.decompose`` validates, then calls this).
    """
    grams, cols1, cols2 = _grams_and_columns(spec, params, x1, x2, sum_logits)
    body = _kernel_sum(grams, cols1, cols2, 1 if sum_logits else spec.out_dim, include_readout=False)
    return grams[-1], (body[:, :, 0, 0] if sum_logits else body)


@functools.partial(jax.jit, static_argnames=("spec",))
def entk_unchecked(spec: MLPSpec, params: list, x1: jax.Array, x2: jax.Array | None = None) -> jax.Array:
    """The full eNTK (N1, N2, O, O) of an mlp: body + readout ⊗ I_O, in one compiled computation.

    ``x2=None`` means x2 = x1 (the backward pass then runs once). *Unchecked*: no input
    validation and no memory guard -- ``kernels.entk(..., method="structured")`` validates,
    guards, then calls this. Cost: see the module docstring; peak memory about
    output + half an output + the deltas (see :func:`row_chunks`).
    """
    grams, cols1, cols2 = _grams_and_columns(spec, params, x1, x2, False)
    return _kernel_sum(grams, cols1, cols2, spec.out_dim, include_readout=True)


@functools.partial(jax.jit, static_argnames=("spec",))
def pntk_unchecked(spec: MLPSpec, params: list, x1: jax.Array, x2: jax.Array | None = None) -> jax.Array:
    """The sum-of-logits kernel (N1, N2) of an mlp: one backward pass of sum_j f_j / sqrt(O) per input.

    *Unchecked* like :func:`entk_unchecked` (``kernels.pntk(..., method="structured")``
    validates). Cost O((N1 + N2) P + N1 N2 sum_l n_l), memory O(N1 N2 + (N1 + N2) sum_l n_l).
    """
    grams, cols1, cols2 = _grams_and_columns(spec, params, x1, x2, True)
    return _kernel_sum(grams, cols1, cols2, 1, include_readout=True)[:, :, 0, 0]


@functools.partial(jax.jit, static_argnames=("spec",))
def layer_contributions(spec: MLPSpec, params: list, x1: jax.Array, x2: jax.Array | None = None) -> list[jax.Array]:
    """Each dense layer's share of the eNTK, input layer first: a list of (N1, N2, O, O).

    Their sum is the eNTK. Memory: one (N1, N2, O, O) array per layer (for teaching;
    ``readout_and_body`` accumulates instead).
    """
    in1, del1 = backprop_deltas(spec, params, x1)
    in2, del2 = (in1, del1) if x2 is None else backprop_deltas(spec, params, x2)
    eye = jnp.eye(spec.out_dim, dtype=x1.dtype)
    terms = []
    for l, (d1, d2) in enumerate(zip(del1, del2)):
        gram = _backprop_gram(d1, d2).transpose(0, 2, 1, 3)
        terms.append(input_gram(spec, in1[l], in2[l])[:, :, None, None] * gram)
    terms.append(input_gram(spec, in1[-1], in2[-1])[:, :, None, None] * eye)
    return terms


@functools.partial(jax.jit, static_argnames=("spec",))
def projected_kernel(spec: MLPSpec, params: list, x1: jax.Array, x2: jax.Array | None, u: jax.Array) -> jax.Array:
    """u^T Theta(x, x') u = grad(u.f(x)) . grad(u.f(x')) for a direction u (O,): (N1, N2).

    One backward pass per input (the output u.f is backpropagated); the readout share is
    ||u||^2 times the readout scalar. u = 1 / sqrt(O) gives the pNTK, u = e_1 the first
    logit's kernel. Cost O((N1 + N2) P + N1 N2 sum_l n_l). No validation (see
    ``approximations``).
    """
    U = u[:, None]
    in1, del1 = backprop_deltas(spec, params, x1, directions=U)
    in2, del2 = (in1, del1) if x2 is None else backprop_deltas(spec, params, x2, directions=U)
    kernel = jnp.sum(u * u) * input_gram(spec, in1[-1], in2[-1])
    for l, (d1, d2) in enumerate(zip(del1, del2)):
        kernel = kernel + input_gram(spec, in1[l], in2[l]) * (d1[:, 0, :] @ d2[:, 0, :].T)
    return kernel


@functools.partial(jax.jit, static_argnames=("spec",))
def mean_trace_kernel(spec: MLPSpec, params: list, x1: jax.Array, x2: jax.Array | None = None) -> jax.Array:
    """(1/O) sum_j Theta_jj(x, x'): (N1, N2). O backward passes per input, but no O x O blocks.

    Each layer contributes its input Gram times (1/O) sum_j delta_j(x).delta_j(x'), one
    (N1, N2) product of the (N, O n) deltas. Cost O((N1 + N2) O P + N1 N2 O sum_l n_l),
    memory O(N1 N2 + N O sum_l n_l). No validation (see ``approximations``).
    """
    in1, del1 = backprop_deltas(spec, params, x1)
    in2, del2 = (in1, del1) if x2 is None else backprop_deltas(spec, params, x2)
    kernel = input_gram(spec, in1[-1], in2[-1])  # tr(I_O) / O = 1
    for l, (d1, d2) in enumerate(zip(del1, del2)):
        trace = d1.reshape(d1.shape[0], -1) @ d2.reshape(d2.shape[0], -1).T / spec.out_dim
        kernel = kernel + input_gram(spec, in1[l], in2[l]) * trace
    return kernel


# --------------------------------------------------------------------------- any network of dense layers


def resnet_entk(apply_fn: Any, params: Any, x1: Any, x2: Any = None) -> jax.Array:
    r"""The eNTK (N1, N2, O, O) of a ``models.resnet``, layer by layer, without a Jacobian.

    The factorisation of this module holds for every dense layer of any network whose other layers have no
    parameters (LayerNorm without scale and shift, ReLU, residual sums): Θ = Σ_l (c_l² a_l·a_l' + β²) ·
    δ_l(x)δ_l(x')ᵀ. The layer inputs a_l come from the forward pass (``models.resnet_forward``); the
    backpropagated signals δ_l = ∂f/∂h_l (O, n_l) per input are derivatives with respect to zero offsets added to
    each dense layer's output (O backward passes per input). For the readout δ = I_O.

    Args:
      apply_fn: the apply_fn of ``models.resnet`` (it carries the spec); params: its params, in x1's dtype;
      x1 (N1, d), x2 (N2, d) or None (x2 = x1).
    Returns:
      Θ (N1, N2, O, O), in the inputs' dtype. Cost: O((N1 + N2) O P) for the backward passes,
      O(N1 N2 O² Σ_l n_l) for the Grams; memory O((N1 + N2) O Σ_l n_l + N1 N2 O²).
    """
    spec = getattr(apply_fn, "spec", None)
    if not isinstance(spec, ResNetSpec):
        raise TypeError(f"apply_fn must be the apply_fn of models.resnet, got {type(apply_fn).__name__}")
    check_resnet_params(spec, params)
    x1 = jnp.asarray(x1)
    x2 = x1 if x2 is None else jnp.asarray(x2)
    for name, x in (("x1", x1), ("x2", x2)):
        if x.ndim != 2 or x.shape[1] != params[0][0].shape[0]:
            raise ValueError(f"{name} must have shape (N, {params[0][0].shape[0]}), got {x.shape}")
    if x1.dtype != x2.dtype or any(leaf.dtype != x1.dtype for leaf in jax.tree_util.tree_leaves(params)):
        raise TypeError(f"params, x1 and x2 must share one floating dtype, got x1 {x1.dtype}, x2 {x2.dtype}")
    return _resnet_entk(spec, params, x1, x2)


def _resnet_signals(spec: ResNetSpec, params, x):
    """(inputs a_l (N, n_in), deltas δ_l (N, O, n_out)) of every dense layer but the readout."""
    widths = spec.dense_widths(x.shape[1])

    def one(xi):
        zeros = [jnp.zeros((1, n_out), xi.dtype) for _, n_out in widths]
        jac = jax.jacrev(lambda offs: resnet_forward(spec, params, xi[None], offs)[0][0])(zeros)
        return [j[:, 0, :] for j in jac[:-1]]  # (O, n_l) each; the readout's is I_O

    _, inputs = resnet_forward(spec, params, x)
    return inputs, jax.vmap(one)(x)


@functools.partial(jax.jit, static_argnums=0)
def _resnet_entk(spec: ResNetSpec, params, x1, x2):
    a1, d1 = _resnet_signals(spec, params, x1)
    a2, d2 = _resnet_signals(spec, params, x2)
    o = spec.out_dim

    def gram(a, b):
        g = spec.weight_scale(a.shape[1]) ** 2 * (a @ b.T)
        return g if spec.b_std is None else g + spec.bias_scale() ** 2

    theta = gram(a1[-1], a2[-1])[:, :, None, None] * jnp.eye(o, dtype=x1.dtype)
    for l in range(len(d1)):
        theta = theta + gram(a1[l], a2[l])[:, :, None, None] * jnp.einsum("njp,mkp->nmjk", d1[l], d2[l])
    return theta
