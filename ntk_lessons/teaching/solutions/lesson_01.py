r"""Reference solutions and checks of lesson 01's exercises (for teachers; students: try first).

Each exercise is an :class:`ntk_lessons.teaching.exercises.Exercise` registered under the id its
notebook's self-check cell uses ("LL.name"). For each one:

* ``truth`` computes the right answer *independently* of the formula the student is asked
  for (generic autodiff or the package), so a self-check tests the maths, not a copy of it;
* ``solution`` is the reference solution -- what a student would write -- and is what an
  untouched exercise's self-check checks instead (and says so);
* ``terms``/``constants``/``mistakes``/``shape_hints`` let the check tell a wrong structure
  from a wrong constant and name it.

Print a solution with ``exercises.print_solution(id)``. Each lesson has its own file here,
``lesson_LL.py``, found and imported on first use. No success message may give away another
exercise's answer.
"""

from __future__ import annotations

import math

import jax
import jax.flatten_util
import numpy as np

from ...core import kernels, models
from ...teaching import exercises
from ...teaching.exercises import Exercise, Mistake

# ============================================================================ lesson 01


def _entk_by_jacobian(c):
    """The Jacobian contraction: build J(x1), J(x2) over the flattened parameters, contract over P."""
    flat, unravel = jax.flatten_util.ravel_pytree(c.params)
    f = lambda theta, x: c.apply_fn(unravel(theta), x)  # noqa: E731
    J1, J2 = jax.jacrev(f)(flat, c.x1), jax.jacrev(f)(flat, c.x2)  # (N1, O, P), (N2, O, P)
    return np.einsum("njp,mkp->nmjk", J1, J2)


def _entk_shapes(c):
    n1, n2, o = len(c.x1), len(c.x2), c.apply_fn(c.params, c.x1[:1]).shape[1]
    return {
        (n1, n2): (
            "an (N1, N2) array has lost the logit axes: contract over the parameter axis p only, keeping j and k."
        ),
        (o, o): "an (O, O) array has lost the input axes: keep n and m, contract over the parameter axis p only.",
    }


exercises.register(Exercise(
    id="01.entk_by_jacobian",
    needs=("apply_fn", "params", "x1", "x2"),
    expects="an (N1, N2, O, O) array with entry [n, m, j, k] = J1[n, j] . J2[m, k]",
    axes=("n", "m", "j", "k"),
    truth=lambda c: kernels.entk(c.apply_fn, c.params, c.x1, c.x2, method="jacobian"),
    solution=_entk_by_jacobian,
    terms=lambda c: {"J1 . J2": kernels.entk(c.apply_fn, c.params, c.x1, c.x2, method="jacobian")},
    shape_hints=_entk_shapes,
    hint="Each entry pairs one row of J1 (input n, logit j) with one row of J2 (input m, logit k), summed over p.",
    rtol=1e-10,
    success="your contraction equals kernels.entk(method='jacobian') to float64 rounding.",
))


def _linear_setup(c):
    init_fn, apply_fn = models.mlp([], c.O, W_std=c.W_std, b_std=c.b_std)
    _, params = init_fn(jax.random.PRNGKey(0), np.shape(c.x1))
    return apply_fn, jax.tree_util.tree_map(lambda a: a.astype(np.asarray(c.x1).dtype), params)


def _linear_truth(c):
    apply_fn, params = _linear_setup(c)
    return kernels.entk(apply_fn, params, c.x1, c.x2, method="jacobian")  # generic autodiff, no formula


def _linear_entk(c):
    """f(x) = W_std x W / sqrt(d) + b_std b: logit j depends on column j of W and on b_j only."""
    scalar = c.W_std**2 * (c.x1 @ c.x2.T) / c.x1.shape[1] + c.b_std**2  # (N1, N2)
    return scalar[:, :, None, None] * np.eye(c.O)  # times I_O


def _linear_scalar_parts(c):
    """The two parts of the scalar in front of I_O: σ_w² x·x'/d and σ_b², each (N1, N2)."""
    gram = np.asarray(c.x1, dtype=np.float64) @ np.asarray(c.x2, dtype=np.float64).T
    return c.W_std**2 * gram / np.shape(c.x1)[1], np.full(gram.shape, c.b_std**2)


def _linear_terms(c):
    inputs, bias = _linear_scalar_parts(c)
    eye = np.eye(c.O)
    return {"σ_w² x·x'/d ⊗ I_O": inputs[:, :, None, None] * eye, "σ_b² I_O": bias[:, :, None, None] * eye}


exercises.register(Exercise(
    id="01.linear_entk",
    needs=("x1", "x2", "W_std", "b_std", "O"),
    expects="an (N1, N2, O, O) array: one O x O block Θ(x, x') per pair of inputs",
    axes=("n", "m", "j", "k"),
    truth=_linear_truth,
    solution=_linear_entk,
    terms=_linear_terms,
    constants=lambda c: {"1/d": 1 / c.x1.shape[1], "σ_w²": c.W_std**2, "σ_w": c.W_std,
                         "σ_b²": c.b_std**2, "σ_b": c.b_std},
    mistakes=(Mistake(
        "ones instead of the identity",
        lambda c: sum(_linear_scalar_parts(c))[:, :, None, None] * np.ones((c.O, c.O)),
        "every entry of each O x O block has the same value, but logit j depends only on column j of W and "
        "on b_j: which pairs of logits (j, k) share a parameter?"),),
    shape_hints=lambda c: {(len(c.x1), len(c.x2)): "that is one number per pair of inputs; the eNTK has an "
                           "O x O block for each pair: which entries of the block are non-zero?"},
    hint="Differentiate f_j with respect to W (a d x O matrix) and b, then pair the gradients of f_j(x) and f_k(x').",
    rtol=1e-10,
    success="your formula matches the eNTK computed by generic autodiff.",
))


def _pntk_from_theta(c):
    """Σ_jk Θ_jk / O: the gradient of Σ_j f_j / √O, paired with itself at the two inputs."""
    theta = np.asarray(c.theta)
    return theta.sum(axis=(2, 3)) / theta.shape[-1]


exercises.register(Exercise(
    id="01.pntk_from_theta",
    needs=("theta", "apply_fn", "params", "x"),
    expects="an (N, N) array: one number per pair of inputs",
    axes=("n", "m"),
    truth=lambda c: kernels.pntk(c.apply_fn, c.params, c.x, method="jacobian"),  # backprop of Σ_j f_j / √O
    solution=_pntk_from_theta,
    terms=lambda c: {"Σ_jk Θ_jk / O": _pntk_from_theta(c)},
    constants=lambda c: {"1/O": 1 / c.theta.shape[-1], "1/√O": 1 / math.sqrt(c.theta.shape[-1])},
    mistakes=(
        Mistake("a trace", lambda c: np.trace(np.asarray(c.theta), axis1=2, axis2=3),
                "you summed only the entries with j = k (a trace); the gradient of Σ_j f_j / √O at x, paired with "
                "that of Σ_k f_k / √O at x', contains every pair (j, k), including j ≠ k."),
        Mistake("one logit", lambda c: np.asarray(c.theta)[:, :, 0, 0],
                "you kept a single entry Θ_00 of each block; the summed output involves every logit."),
    ),
    shape_hints=lambda c: {
        (c.theta.shape[-1], c.theta.shape[-1]): "you summed over the inputs; sum over the two logit axes instead.",
        c.theta.shape[:3]: "one logit axis is left: sum over both logit axes j and k.",
    },
    hint="Write ∇[Σ_j f_j(x)/√O] · ∇[Σ_k f_k(x')/√O] as a double sum over j and k.",
    rtol=1e-10,
    success="one (N, N) kernel that summarises the O² blocks.",
))
