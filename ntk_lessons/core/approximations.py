r"""N x N kernels that stand in for the NO x NO eNTK, and the metrics that compare them with it.

Each approximation k(x, x') (N1, N2) replaces the eNTK Theta (N1, N2, O, O) by k ⊗ I_O:

==================== ============================================ ==================== ================
name                 definition                                   backward passes      from a full eNTK
==================== ============================================ ==================== ================
``pntk``             grad(sum_j f_j / sqrt O) . grad(same at x')   1 per input          sum_jk Theta_jk / O
``mean_trace``       (1/O) sum_j Theta_jj (neural-tangents'        O per input          trace / O
                     default ``trace_axes=(-1,)``)
``first_logit``      Theta_11 = grad f_1 . grad f_1'               1 per input          Theta[..., 0, 0]
``random_projection`` grad(u.f) . grad(u.f'), u uniform on the     1 per input          u^T Theta u
                     unit sphere S^{O-1}
==================== ============================================ ==================== ================

The three single-pass kernels are all ``u^T Theta u`` for one direction u (the pNTK is
u = 1 / sqrt(O) * ones, the first logit u = e_1). Each has its cheapest route from a
model (``structured`` for an mlp, per-input gradients of one output otherwise) and
:func:`from_entk` computes each from a full eNTK, for checking.

Metrics (all in float64, relative to ||Theta||_F unless stated):

* :func:`block_errors`: ``total`` = ||Theta - k ⊗ I||_F / ||Theta||_F, split exactly as
  total^2 = diagonal^2 + offdiagonal^2 into the class-diagonal blocks (Theta_jj - k) and
  the class-off-diagonal blocks (Theta_jk, j != k, which k ⊗ I sets to zero).
* :func:`spectrum`: lambda_max and condition numbers of Theta (NO x NO) and of k ⊗ I
  (whose eigenvalues are k's, each O times).
* :func:`regression_agreement`: kernel regression with Theta (one NO x NO solve) and with
  k ⊗ I (one N x N solve): relative difference of the test predictions, argmax agreement
  and both accuracies.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import blocks, checks, kernels, regression, structured

APPROXIMATIONS = ("pntk", "mean_trace", "first_logit", "random_projection")
#: backward passes per input, as a function of O (the eNTK needs O)
BACKWARD_PASSES = {"pntk": 1, "mean_trace": "O", "first_logit": 1, "random_projection": 1}
_METHODS = ("auto", "jacobian", "structured")


def random_direction(key: jax.Array, out_dim: int, dtype: Any = jnp.float32) -> jax.Array:
    """u (O,) uniform on the unit sphere: a normalised standard Gaussian vector. Cost O(O)."""
    out_dim = checks.positive_int(out_dim, "out_dim")
    g = jax.random.normal(key, (out_dim,), dtype=dtype)
    return g / jnp.linalg.norm(g)


def direction(name: str, out_dim: int, *, key: jax.Array | None = None, dtype: Any = jnp.float32) -> jax.Array:
    """The direction u (O,) with ``u^T Theta u`` = the approximation ``name`` (not "mean_trace").

    "pntk": ones / sqrt(O); "first_logit": e_1; "random_projection": :func:`random_direction`
    (needs ``key``).
    """
    name = checks.one_of(name, "name", ("pntk", "first_logit", "random_projection"))
    if name == "pntk":
        return jnp.ones((out_dim,), dtype) / jnp.sqrt(jnp.asarray(out_dim, dtype))
    if name == "first_logit":
        return jnp.zeros((out_dim,), dtype).at[0].set(1)
    if key is None:
        raise TypeError("random_projection needs key=jax.random.PRNGKey(...) to draw its direction u")
    return random_direction(key, out_dim, dtype)


def compute(
    name: str,
    apply_fn: Callable,
    params: Any,
    x1: Any,
    x2: Any = None,
    *,
    key: jax.Array | None = None,
    method: str = "auto",
    memory_budget: int | None = None,
) -> jax.Array:
    """The approximation ``name`` (one of :data:`APPROXIMATIONS`) on x1 (N1, ...) x x2 (N2, ...): (N1, N2).

    ``method``: "structured" (mlps; the default for them), "jacobian" (any model: per-input
    gradients) or "auto". ``key`` only for "random_projection". Inputs are validated and
    memory guarded like ``kernels.entk``. Cost: one backward pass per input (O for
    "mean_trace") plus the N1 x N2 Gram products (module docstring).
    """
    name = checks.one_of(name, "name", APPROXIMATIONS)
    if name == "pntk":
        return kernels.pntk(apply_fn, params, x1, x2, method=method, memory_budget=memory_budget)
    inputs = kernels.prepare(apply_fn, params, x1, x2)
    method = kernels.resolve_method(method, inputs.spec, _METHODS)
    o = inputs.out_dim
    if name == "mean_trace":
        guard_method, guard_o = ("structured", o) if method == "structured" else ("jacobian", o)
    else:
        guard_method, guard_o = ("structured", 1) if method == "structured" else ("pntk", 1)
    kernels.guard_memory(inputs, guard_method, out_dim=guard_o, memory_budget=memory_budget,
                         what=f"approximations.{name} on {inputs.x1.shape[0]} x {inputs.n2} inputs")
    if name == "mean_trace":
        if method == "structured":
            return structured.mean_trace_kernel(inputs.spec, inputs.params, inputs.x1, inputs.x2)
        return _mean_trace_jacobian(apply_fn, inputs.params, inputs.x1, inputs.x2)
    u = direction(name, o, key=key, dtype=inputs.x1.dtype)
    if method == "structured":
        return structured.projected_kernel(inputs.spec, inputs.params, inputs.x1, inputs.x2, u)
    return _projected_jacobian(apply_fn, inputs.params, inputs.x1, inputs.x2, u)


def pntk(apply_fn: Callable, params: Any, x1: Any, x2: Any = None, **kwargs) -> jax.Array:
    """Sum of logits, (N1, N2): ``kernels.pntk``. One backward pass per input."""
    return compute("pntk", apply_fn, params, x1, x2, **kwargs)


def mean_trace(apply_fn: Callable, params: Any, x1: Any, x2: Any = None, **kwargs) -> jax.Array:
    """(1/O) sum_j Theta_jj, (N1, N2). O backward passes per input; memory O(N1 N2 + N O sum_l n_l)."""
    return compute("mean_trace", apply_fn, params, x1, x2, **kwargs)


def first_logit(apply_fn: Callable, params: Any, x1: Any, x2: Any = None, **kwargs) -> jax.Array:
    """Theta_11, the kernel of the first output alone, (N1, N2). One backward pass per input."""
    return compute("first_logit", apply_fn, params, x1, x2, **kwargs)


def random_projection(apply_fn: Callable, params: Any, x1: Any, x2: Any = None, *, key: jax.Array,
                      **kwargs) -> jax.Array:
    """grad(u.f) . grad(u.f'), u uniform on the unit sphere drawn from ``key``, (N1, N2).

    One backward pass per input.
    """
    return compute("random_projection", apply_fn, params, x1, x2, key=key, **kwargs)


def from_entk(theta: Any, name: str, *, key: jax.Array | None = None) -> jax.Array:
    """The approximation ``name`` computed from a full eNTK (N1, N2, O, O): (N1, N2). Cost O(N1 N2 O^2).

    For checking the fast routes: ``compute(name, ...) == from_entk(entk(...), name)``; and the one
    pNTK-from-eNTK of the package (``from_entk(theta, "pntk")`` = sum_jk Theta_jk / O), where an
    eNTK is computed anyway. A numpy ``theta`` gives a numpy result in its dtype (except
    "random_projection", drawn with jax), a JAX one a JAX array.
    """
    name = checks.one_of(name, "name", APPROXIMATIONS)
    theta = checks.full_kernel(theta, "theta")
    o = theta.shape[-1]
    if isinstance(theta, np.ndarray) and name != "random_projection":
        xp = np  # numpy in, numpy out: a float64 eNTK keeps its precision whatever jax's 64-bit mode
    else:
        xp, theta = jnp, jnp.asarray(theta)
    if name == "pntk":
        return xp.sum(theta, axis=(2, 3)) / o  # sum_jk Theta_jk / O: u^T Theta u for u = ones / sqrt(O)
    if name == "mean_trace":
        return xp.trace(theta, axis1=2, axis2=3) / o
    if name == "first_logit":
        return xp.array(theta[:, :, 0, 0])  # u = e_1 (a copy: never a view of the caller's array)
    u = direction(name, o, key=key, dtype=theta.dtype)
    return jnp.einsum("j,nmjk,k->nm", u, theta, u)


# ---------------------------------------------------------------- metrics


def block_errors(theta: Any, k: Any) -> dict[str, float]:
    """Relative Frobenius errors of k ⊗ I_O against Theta, (N1, N2, O, O) and (N1, N2).

    Returns ``{"total", "diagonal", "offdiagonal"}``, each divided by ||Theta||_F, with
    total^2 = diagonal^2 + offdiagonal^2: "diagonal" = ||Theta_jj - k||_F over j, and
    "offdiagonal" = ||Theta_jk||_F over j != k. Float64. Cost O(N1 N2 O^2).
    """
    theta, k = _pair(theta, k)
    o = theta.shape[-1]
    norm = np.linalg.norm(theta)
    if not norm > 0:
        raise ValueError("theta is identically zero, so relative errors are undefined")
    diag = np.diagonal(theta, axis1=2, axis2=3)  # (N1, N2, O)
    diag_err = np.linalg.norm(diag - k[:, :, None])
    off = np.linalg.norm(theta * (1 - np.eye(o)))
    total = np.linalg.norm(theta - k[:, :, None, None] * np.eye(o))
    return {"total": float(total / norm), "diagonal": float(diag_err / norm), "offdiagonal": float(off / norm)}


def relative_frobenius_error(theta: Any, k: Any) -> float:
    """||Theta - k ⊗ I_O||_F / ||Theta||_F (float64). Shapes (N1, N2, O, O), (N1, N2)."""
    return block_errors(theta, k)["total"]


def spectrum(theta: Any, k: Any, *, entk_eigenvalues: Any = None) -> dict[str, float]:
    """lambda_max and condition numbers of Theta (as an NO x NO matrix) and of k ⊗ I_O.

    Needs N1 == N2 (a kernel on one set of inputs). Returns ``{"lambda_max_entk",
    "lambda_max_approx", "lambda_max_rel_error", "cond_entk", "cond_approx",
    "log10_cond_ratio"}``; a condition number is lambda_max / lambda_min, inf when
    lambda_min <= 0 (singular to rounding). Computed in float64 (eigenvalues near
    lambda_max * 1e-7 are noise for a float32 kernel: compute the kernels in float64 when
    the condition number matters). ``entk_eigenvalues``: Theta's eigenvalues (ascending) if
    already known (:func:`entk_eigenvalues`), to compare several approximations with one
    eigendecomposition. Cost O((N O)^3), or O(N^3) with ``entk_eigenvalues``.
    """
    theta, k = _pair(theta, k)
    if theta.shape[0] != theta.shape[1]:
        raise ValueError(f"spectrum needs a square kernel (N1 == N2), got theta of shape {theta.shape}")
    ev_theta = entk_eigenvalues_of(theta) if entk_eigenvalues is None else np.asarray(entk_eigenvalues, np.float64)
    if ev_theta.shape != (theta.shape[0] * theta.shape[2],):
        raise ValueError(f"entk_eigenvalues must have shape ({theta.shape[0] * theta.shape[2]},), got {ev_theta.shape}")
    ev_k = np.linalg.eigvalsh(_symmetrize(k))

    def cond(ev):
        return float(ev[-1] / ev[0]) if ev[0] > 0 else float("inf")

    c_theta, c_k = cond(ev_theta), cond(ev_k)
    return {
        "lambda_max_entk": float(ev_theta[-1]),
        "lambda_max_approx": float(ev_k[-1]),
        "lambda_max_rel_error": float(abs(ev_k[-1] - ev_theta[-1]) / ev_theta[-1]),
        "cond_entk": c_theta,
        "cond_approx": c_k,
        "log10_cond_ratio": float(np.log10(c_k / c_theta)) if np.isfinite(c_k * c_theta) else float("nan"),
    }


def entk_eigenvalues_of(theta: Any) -> np.ndarray:
    """Eigenvalues (ascending, float64) of an eNTK (N, N, O, O) as an NO x NO matrix. Cost O((N O)^3)."""
    theta = checks.full_kernel(theta, "theta", float64=True)
    return np.linalg.eigvalsh(_symmetrize(blocks.to_matrix(theta)))


def regression_agreement(
    theta_train: Any, k_train: Any, theta_test_train: Any, k_test_train: Any, y_train: Any, labels_test: Any,
    *, ridge: float, entk_predictions: Any = None,
) -> dict[str, float]:
    """Kernel regression with the eNTK and with k ⊗ I_O on the same data.

    Args: ``theta_train`` (N, N, O, O), ``k_train`` (N, N), ``theta_test_train`` (M, N, O, O),
    ``k_test_train`` (M, N), ``y_train`` (N, O) targets, ``labels_test`` (M,) integer classes,
    ``ridge`` relative to the mean diagonal (see ``regression.fit_predict``).
    Returns ``{"prediction_rel_diff": ||F_k - F_theta||_F / ||F_theta||_F, "argmax_agreement",
    "accuracy_entk", "accuracy_approx"}``. ``entk_predictions`` (M, O): the eNTK's
    predictions if already computed (then ``theta_*`` are not used). Cost: one (NO)^3 and one
    N^3 solve (only the N^3 one with ``entk_predictions``).
    """
    labels_test = np.asarray(labels_test)
    if entk_predictions is None:
        entk_predictions = regression.fit_predict(theta_train, y_train, theta_test_train, ridge=ridge)
    f_theta = np.asarray(entk_predictions, np.float64)
    f_k = np.asarray(regression.fit_predict(k_train, y_train, k_test_train, ridge=ridge), np.float64)
    if labels_test.shape != (f_theta.shape[0],):
        raise ValueError(f"labels_test must have shape ({f_theta.shape[0]},), got {labels_test.shape}")
    return {
        "prediction_rel_diff": float(np.linalg.norm(f_k - f_theta) / np.linalg.norm(f_theta)),
        "argmax_agreement": float(np.mean(f_k.argmax(1) == f_theta.argmax(1))),
        "accuracy_entk": float(np.mean(f_theta.argmax(1) == labels_test)),
        "accuracy_approx": float(np.mean(f_k.argmax(1) == labels_test)),
    }


# ---------------------------------------------------------------- helpers


def _pair(theta: Any, k: Any) -> tuple[np.ndarray, np.ndarray]:
    """An eNTK and an N1 x N2 kernel on the same inputs, as finite float64 numpy arrays."""
    theta = checks.full_kernel(theta, "theta", float64=True)
    return theta, checks.matching_kernel(k, theta.shape[:2], "k")


def _symmetrize(m: Any) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return (m + m.T) / 2


@functools.partial(jax.jit, static_argnums=(0,))
def _projected_jacobian(apply_fn, params, x1, x2, u):
    def grads(x):  # per-input gradients of u.f: leaves (N, *leaf.shape)
        return jax.jacrev(lambda p: apply_fn(p, x) @ u)(params)

    g1 = grads(x1)
    g2 = g1 if x2 is None else grads(x2)
    pairs = jax.tree_util.tree_map(lambda a, b: a.reshape(a.shape[0], -1) @ b.reshape(b.shape[0], -1).T, g1, g2)
    return sum(jax.tree_util.tree_leaves(pairs))


@functools.partial(jax.jit, static_argnums=(0,))
def _mean_trace_jacobian(apply_fn, params, x1, x2):
    j1 = jax.jacrev(apply_fn)(params, x1)  # leaves (N, O, *leaf.shape)
    j2 = j1 if x2 is None else jax.jacrev(apply_fn)(params, x2)
    o = jax.tree_util.tree_leaves(j1)[0].shape[1]
    pairs = jax.tree_util.tree_map(lambda a, b: a.reshape(a.shape[0], -1) @ b.reshape(b.shape[0], -1).T, j1, j2)
    return sum(jax.tree_util.tree_leaves(pairs)) / o
