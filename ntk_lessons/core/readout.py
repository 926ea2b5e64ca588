r"""The readout layer's exact block structure.

Write an mlp as f(x) = W_std / sqrt(n) * phi(x) @ W + b_std * b, with phi(x) in R^n the last
hidden layer and w_j = W[:, j]. Differentiating with respect to the readout (W, b) and
with respect to everything below it (theta') splits the eNTK exactly into

    Theta(x, x') = [W_std^2 / n * phi(x).phi(x') + b_std^2] I_O              readout term
                 + W_std^2 / n * [w_j^T A(x, x') w_k]_{jk}                   body term

with A(x, x') = J_theta' phi(x) J_theta' phi(x')^T (n x n). The readout term is a multiple
of I_O at *every* width; every off-diagonal entry of the eNTK comes from the body term.

In standard parameterisation (f = phi @ W + b, with W ~ N(0, W_std^2 / n)) the same split
holds with the factor W_std^2 / n replaced by 1 and b_std^2 by 1 (the bias is a trainable
parameter of unit gradient):

    Theta = [phi(x).phi(x') + 1] I_O + [w_j^T A w_k]_{jk},

so the readout term is a sum of n order-one terms and grows like n. How the body term grows
depends on which widths grow (lesson 03): with only the last hidden width n growing and the
layers below fixed, the body's part from the layers below stays of order 1, but the last
layer's own weights contribute a diagonal of order n_1 (the width below it), not of order 1;
with every hidden layer widening together (n_1 = n) that own-layer term grows like n too, so
the body does *not* stay of order 1 -- only the readout term is exactly proportional to I_O.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp

from . import kernels, memory, models, structured


@dataclasses.dataclass(frozen=True)
class Decomposition:
    """eNTK = ``readout`` + ``body``; shapes (N1, N2, O, O) except ``readout_scalar`` (N1, N2)."""

    readout_scalar: jax.Array
    body: jax.Array

    @property
    def readout(self) -> jax.Array:
        """readout_scalar ⊗ I_O, (N1, N2, O, O)."""
        o = self.body.shape[-1]
        return self.readout_scalar[:, :, None, None] * jnp.eye(o, dtype=self.body.dtype)

    @property
    def full(self) -> jax.Array:
        """The eNTK, readout + body, (N1, N2, O, O)."""
        return self.readout + self.body


def _mlp_args(apply_fn: Callable, params: Any, x1: Any, x2: Any):
    """Validate like ``kernels.entk`` and require an mlp with a hidden layer.

    Returns ``kernels.KernelInputs`` (x2 None when it is x1)."""
    if models.spec_of(apply_fn) is None:
        raise TypeError("apply_fn must come from ntk_lessons.core.models.mlp "
                        "(the decomposition is about its readout layer)")
    inputs = kernels.prepare(apply_fn, params, x1, x2)
    if not inputs.spec.hidden_widths:
        raise ValueError("the mlp has no hidden layer, so there is no body term; use hidden_widths=[n, ...]")
    return inputs


def _unpack(inputs: kernels.KernelInputs):
    """(spec, params in x1's dtype, x1, x2) with x2 = x1 filled in."""
    return inputs.spec, inputs.params, inputs.x1, inputs.x1 if inputs.x2 is None else inputs.x2


def decompose(
    apply_fn: Callable, params: Any, x1: Any, x2: Any = None, *, memory_budget: int | None = None
) -> Decomposition:
    """Readout and body terms of an mlp's eNTK on x1 (N1, d) and x2 (N2, d) (x2 = x1 if None).

    Both come from the structured computation (no Jacobian): cost O(N1 N2 O^2 sum_l n_l
    + (N1 + N2) O P), memory O(N1 N2 O^2).
    """
    inputs = _mlp_args(apply_fn, params, x1, x2)
    kernels.guard_memory(inputs, "structured", what="readout.decompose", memory_budget=memory_budget)
    readout_scalar, body = structured.readout_and_body(inputs.spec, inputs.params, inputs.x1, inputs.x2)
    return Decomposition(readout_scalar=readout_scalar, body=body)


def decompose_at_init(
    x: Any,
    width: int,
    seed: int,
    *,
    depth: int = 2,
    out_dim: int = 10,
    activation: str = "relu",
    W_std: float = 1.0,
    b_std: float | None = 0.0,
) -> Decomposition:
    """:func:`decompose` for a freshly initialised mlp ([width] * depth hidden layers, NTK
    parameterisation, PRNGKey(``seed``)) on ``x`` (N, d), parameters in x's dtype.
    Cost: one structured eNTK, O(N^2 O^2 depth n + N O depth n^2)."""
    init_fn, apply_fn = models.mlp([width] * depth, out_dim, activation=activation, W_std=W_std, b_std=b_std)
    _, params = init_fn(jax.random.PRNGKey(seed), x.shape)
    params = jax.tree_util.tree_map(lambda a: a.astype(x.dtype), params)
    return decompose(apply_fn, params, x)


def features(apply_fn: Callable, params: Any, x: Any) -> jax.Array:
    """phi(x), the last hidden layer of an mlp: (N, d) -> (N, n_L). Cost O(N P)."""
    inputs = _mlp_args(apply_fn, params, x, None)
    return models.forward(inputs.spec, inputs.params, inputs.x1)[-2]


def body_from_feature_jacobian(
    apply_fn: Callable, params: Any, x1: Any, x2: Any = None, *, memory_budget: int | None = None
) -> jax.Array:
    """The body term by the textbook formula c^2 w_j^T A(x, x') w_k, (N1, N2, O, O).

    c^2 = W_std^2 / n in NTK parameterisation and 1 in standard parameterisation.

    Materialises A(x, x') (N1, N2, n, n) from the feature Jacobian J_theta' phi: meant
    for small teaching examples and as an independent check of :func:`decompose`.
    Cost O(N1 N2 n^2 P'), memory O(N1 N2 n^2 + (N1 + N2) n P').
    """
    spec, params, x1, x2 = _unpack(_mlp_args(apply_fn, params, x1, x2))
    n = spec.hidden_widths[-1]
    body_params, readout_params = params[:-1], params[-1]
    n_body = models.parameter_count(body_params)
    needed = (x1.shape[0] * x2.shape[0] * n * n + (x1.shape[0] + x2.shape[0]) * n * n_body) * x1.dtype.itemsize
    memory.guard(needed, what="body_from_feature_jacobian", memory_budget=memory_budget)

    def phi(p, x):
        return models.forward(spec, [*p, readout_params], x)[-2]

    j1 = jax.jacrev(phi)(body_params, x1)
    j2 = jax.jacrev(phi)(body_params, x2)
    contract = lambda a, b: jnp.einsum("na...,mb...->nmab", a, b)  # noqa: E731
    A = sum(jax.tree_util.tree_leaves(jax.tree_util.tree_map(contract, j1, j2)))  # (N1, N2, n, n)
    W = readout_params[0]  # (n, O); column j is w_j
    return spec.weight_scale(n) ** 2 * jnp.einsum("aj,nmab,bk->nmjk", W, A, W)


def readout_term_by_jacobian(apply_fn: Callable, params: Any, x1: Any, x2: Any = None) -> jax.Array:
    """The eNTK restricted to the readout parameters (W, b), from their Jacobian: (N1, N2, O, O).

    An independent computation of :attr:`Decomposition.readout` (generic autodiff, no
    formula), for checking it. Cost O((N1 + N2) O^2 n) memory, O(N1 N2 O^2 n) time.
    """
    _, params, x1, x2 = _unpack(_mlp_args(apply_fn, params, x1, x2))

    def jac(x):
        return jax.jacrev(lambda top: apply_fn([*params[:-1], top], x))(params[-1])  # leaves (N, O, *leaf)

    contract = lambda a, b: jnp.einsum("nj...,mk...->nmjk", a, b)  # noqa: E731
    return sum(jax.tree_util.tree_leaves(jax.tree_util.tree_map(contract, jac(x1), jac(x2))))
