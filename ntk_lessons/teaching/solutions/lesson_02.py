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
from ...teaching.exercises import Exercise, Verdict


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
