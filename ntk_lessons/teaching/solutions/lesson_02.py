"""Reference solutions and checks of lesson 02's exercises (for teachers; students: try first).

Registered with :mod:`ntk_lessons.teaching.exercises` like ``lesson_01``; the truth of each
exercise is computed independently of the formula asked for (autodiff over the readout
parameters alone, the package's eNTK), and known wrong structures get their own hints.
"""

from __future__ import annotations

import jax
import jax.flatten_util
import numpy as np

from ...core import blocks, kernels, models, readout
from ...support import config
from ...teaching import exercises
from ...teaching.exercises import Exercise, Mistake, Verdict


def _features(c):
    return np.asarray(readout.features(c.apply_fn, c.params, c.x), dtype=np.float64)


def _readout_truth(c):
    # Autodiff over the readout parameters (W, b) only; that term is the scalar times I_O.
    return np.asarray(readout.readout_term_by_jacobian(c.apply_fn, c.params, c.x))[:, :, 0, 0]


def _readout_scalar(c):
    """σ_w² φ(x)·φ(x') / n + σ_b², from the last hidden layer φ (N, n)."""
    spec, phi = c.apply_fn.spec, readout.features(c.apply_fn, c.params, c.x)
    return spec.W_std**2 * (phi @ phi.T) / phi.shape[1] + spec.b_std**2


def _readout_terms(c):
    spec, phi = c.apply_fn.spec, _features(c)
    return {"σ_w² φ·φ'/n": spec.W_std**2 * (phi @ phi.T) / phi.shape[1],
            "σ_b²": np.full((len(phi), len(phi)), spec.b_std**2)}


def _readout_constants(c):
    spec, n = c.apply_fn.spec, c.apply_fn.spec.hidden_widths[-1]
    return {"1/n": 1 / n, "σ_w²": spec.W_std**2, "σ_w": spec.W_std, "σ_b²": spec.b_std**2, "σ_b": spec.b_std}


def _readout_shapes(c):
    n, o = c.apply_fn.spec.hidden_widths[-1], c.apply_fn.spec.out_dim
    return {
        (n, n): (
            "an (n, n) matrix pairs hidden units; the readout scalar pairs inputs: φ(x)·φ(x') sums over the n units."
        ),
        (len(c.x), len(c.x), o, o): "that is the whole readout term; the exercise asks for the scalar in front of I_O.",
    }


exercises.register(Exercise(
    id="02.readout_scalar",
    needs=("apply_fn", "params", "x"),
    expects="an (N, N) array: one number per pair of inputs",
    axes=("n", "m"),
    truth=_readout_truth,
    solution=_readout_scalar,
    terms=_readout_terms,
    constants=_readout_constants,
    shape_hints=_readout_shapes,
    hint="The readout layer reads φ(x) with weight scale σ_w/√n and adds σ_b b: differentiate f_j by w_j and b_j.",
    rtol=1e-5,
    success="your scalar, times I_O, is the readout parameters' whole contribution to Θ.",
))


def _architecture(c):
    return models.mlp([], c.O, W_std=1.0, b_std=0.1)  # no hidden layer


def _judge_architecture(answer, c, exercise: Exercise) -> Verdict:
    want = "expected the pair (init_fn, apply_fn) that models.mlp(...) returns"
    if not (isinstance(answer, tuple) and len(answer) == 2 and models.spec_of(answer[1]) is not None):
        return exercise.wrong("type", f"{want}; got {type(answer).__name__} {str(answer)[:60]!r}.")
    init_fn, apply_fn = answer
    spec = apply_fn.spec
    if spec.out_dim < 2:
        return exercise.wrong(
            "values", "use O > 1 outputs: with one output there are no off-diagonal entries to speak of."
        )
    if spec.W_std <= 0:
        return exercise.wrong(
            "values", "use σ_w > 0: with σ_w = 0 every weight is switched off, which is true but trivial."
        )
    shares = []
    for seed in (5, 6):  # two draws of the weights: "for every draw", not by luck
        _, params = init_fn(config.key(seed), np.shape(c.x))
        params = jax.tree_util.tree_map(lambda a: a.astype(np.asarray(c.x).dtype), params)
        theta = kernels.entk(apply_fn, params, c.x, method="jacobian")  # generic autodiff, no formula
        shares.append(float(blocks.offdiagonal_share(theta)))
    if max(shares) > 1e-7:
        return exercise.wrong(
            "values",
            f"this network's eNTK has off-diagonal share {max(shares):.3g} (largest over two draws of the weights). "
            "Widening layers shrinks it but never makes it exactly zero: which parameters move more than one logit?")
    return exercise.correct()


exercises.register(Exercise(
    id="02.no_offdiagonal_architecture",
    needs=("x", "O"),
    expects="the pair (init_fn, apply_fn) from models.mlp",
    truth=lambda c: None,
    solution=_architecture,
    judge=_judge_architecture,
    success="this network's eNTK has no off-diagonal entries at all, for every draw of its weights.",
))


# ---------------------------------------------------------------- exercise 3: derive the readout term of g = M f

def _mixing(c) -> np.ndarray:
    """The fixed mixing matrix M (O', O) as a float64 array; ValueError naming ``M`` if it does not fit."""
    M = np.asarray(c.M, dtype=np.float64)
    out_dim = c.apply_fn.spec.out_dim
    if M.ndim != 2 or M.shape[1] != out_dim:
        raise ValueError(f"M must be an (O', O) matrix with O = {out_dim} columns (the network's outputs), "
                         f"got shape {M.shape}")
    return M


def _mixed_truth(c):
    """Autodiff over the readout parameters (W, b) of g(x) = M f(x): no formula."""
    params, x = c.params, c.x
    M = jax.numpy.asarray(_mixing(c), dtype=np.asarray(x).dtype)

    def jac(inputs):
        return jax.jacrev(lambda top: c.apply_fn([*params[:-1], top], inputs) @ M.T)(params[-1])  # (N, O', *leaf)

    contract = lambda a, b: jax.numpy.einsum("nj...,mk...->nmjk", a, b)  # noqa: E731
    leaves = jax.tree_util.tree_leaves(jax.tree_util.tree_map(contract, jac(x), jac(x)))
    return np.asarray(sum(leaves), dtype=np.float64)


def _mixed_parts(c):
    """The readout scalar's two parts, σ_w² φ·φ'/n and σ_b² (each (N, N)), and M Mᵀ (O', O')."""
    spec, phi, M = c.apply_fn.spec, _features(c), _mixing(c)
    return spec.W_std**2 * (phi @ phi.T) / phi.shape[1], np.full((len(phi), len(phi)), spec.b_std**2), M @ M.T


def _mixed_readout(c):
    """g = M f: the readout gradient of g_a is Σ_j M_aj ∂f_j, and ∂f_j·∂f_k = s δ_jk, so the term is s (M Mᵀ)_ab."""
    spec, phi, M = c.apply_fn.spec, readout.features(c.apply_fn, c.params, c.x), np.asarray(c.M)
    scalar = spec.W_std**2 * (phi @ phi.T) / phi.shape[1] + spec.b_std**2  # (N, N): the readout scalar s
    return np.asarray(scalar)[:, :, None, None] * (M @ M.T)                 # s(x, x') (M Mᵀ)


def _mixed_terms(c):
    inputs, bias, mmt = _mixed_parts(c)
    return {"σ_w² φ·φ'/n ⊗ M Mᵀ": inputs[:, :, None, None] * mmt, "σ_b² ⊗ M Mᵀ": bias[:, :, None, None] * mmt}


def _with(c, matrix):
    inputs, bias, _ = _mixed_parts(c)
    return (inputs + bias)[:, :, None, None] * matrix


def _mixed_mistakes():
    return (
        Mistake("the identity", lambda c: _with(c, np.eye(len(_mixing(c)))),
                "each O' x O' block is the scalar times I: that is the readout term of f itself. g_a = Σ_j M_aj f_j "
                "mixes the logits: which pairs (a, b) of mixed outputs share a readout parameter, and with which "
                "weights?"),
        Mistake("Mᵀ M", lambda c: _with(c, _mixing(c).T @ _mixing(c))
                if _mixing(c).shape[0] == _mixing(c).shape[1] else np.zeros(1),
                "you have Mᵀ M where M Mᵀ belongs: the gradient of g_a is Σ_j M_aj ∂f_j, so the (a, b) entry pairs "
                "row a of M with row b."),
        Mistake("M", lambda c: _with(c, _mixing(c)) if _mixing(c).shape[0] == _mixing(c).shape[1] else np.zeros(1),
                "each block is the scalar times M: M enters once for g(x) and once for g(x'), so twice."),
        Mistake("all ones", lambda c: _with(c, np.ones((len(_mixing(c)),) * 2)),
                "every entry of each block has the same value: the entries of M weight each pair of logits."),
    )


def _mixed_shapes(c):
    n, o_mixed, o = len(c.x), _mixing(c).shape[0], c.apply_fn.spec.out_dim
    hints = {(n, n): "that is the readout scalar alone; the term is that scalar times an O' x O' matrix per pair."}
    if o != o_mixed:
        hints[(n, n, o, o)] = "that has O x O blocks, the logits of f; g = M f has O' outputs, so O' x O' blocks."
    return hints


exercises.register(Exercise(
    id="02.mixed_readout_term",
    needs=("apply_fn", "params", "x", "M"),
    expects="an (N, N, O', O') array: the readout parameters' contribution to the eNTK of g = M f",
    axes=("n", "m", "a", "b"),
    truth=_mixed_truth,
    solution=_mixed_readout,
    terms=_mixed_terms,
    constants=_readout_constants,
    mistakes=_mixed_mistakes(),
    shape_hints=_mixed_shapes,
    hint="Write ∂g_a/∂(W, b) = Σ_j M_aj ∂f_j/∂(W, b) and use the section-1 result ∂f_j·∂f_k = s δ_jk.",
    rtol=1e-5,  # float32 inputs: agreement to a few units of float32 rounding
    success="the readout term of g = M f is the readout scalar times M Mᵀ: a multiple of I only when M Mᵀ is.",
))
