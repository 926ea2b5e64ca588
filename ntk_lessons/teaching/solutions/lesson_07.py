"""Reference solutions and checks of lesson 07's exercises (for teachers; students: try first).

Registered with :mod:`ntk_lessons.teaching.exercises` like ``lesson_01``. Exercise 1's truth is jax's
autodiff of the course's loss (``training.loss_value``), independent of the formula a student derives;
exercise 2's is the orthogonal projection written as I − (1/O) 1 1ᵀ acting on the columns.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...core import training
from ...teaching import exercises
from ...teaching.exercises import Exercise, Mistake


def _softmax(f: np.ndarray, axis: int = 1) -> np.ndarray:
    e = np.exp(f - f.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _ce_gradient(c):
    """Per input, ℓ = −Σ_j y_j log p_j with p = softmax(f): ∂ℓ/∂f_j = p_j − y_j (Σ_j y_j = 1)."""
    f, y = np.asarray(c.f, np.float64), np.asarray(c.y, np.float64)
    return _softmax(f) - y


def _ce_truth(c):
    f, y = jnp.asarray(c.f), jnp.asarray(c.y)
    per_input = jax.vmap(jax.grad(lambda fi, yi: training.loss_value(fi[None], yi[None], "cross_entropy")))
    return np.asarray(per_input(f, y))


exercises.register(Exercise(
    id="07.ce_logit_gradient",
    needs=("f", "y"),
    expects="an (N, O) array: ∂ℓ/∂f_j for each input (row) and logit (column), ℓ the cross-entropy of that input",
    axes=("input", "logit"),
    truth=_ce_truth,
    solution=_ce_gradient,
    mistakes=(
        Mistake("softmax over the inputs",
                lambda c: _softmax(np.asarray(c.f, np.float64), axis=0) - np.asarray(c.y, np.float64),
                "your softmax normalises over the inputs (axis 0); p = softmax(f) normalises each input's O logits "
                "(axis 1)."),
        Mistake("no softmax",
                lambda c: np.asarray(c.f, np.float64) - np.asarray(c.y, np.float64),
                "f − y is the squared error's gradient; for cross-entropy the logits pass through the softmax first: "
                "p − y with p = softmax(f)."),
        Mistake("log-softmax",
                lambda c: np.log(_softmax(np.asarray(c.f, np.float64))) - np.asarray(c.y, np.float64),
                "that is log p − y; differentiating −log p_y gives p − y (the derivative of log Σ_k e^{f_k} is "
                "the softmax itself)."),
        Mistake("only the true class",
                lambda c: -np.asarray(c.y, np.float64) * (1 - _softmax(np.asarray(c.f, np.float64))),
                "you differentiated only f_y; −log p_y = −f_y + log Σ_k e^{f_k} depends on every logit through the "
                "second term, which gives +p_j in every column."),
    ),
    hint="write ℓ = −f_y + log Σ_k exp(f_k) and differentiate in f_j: −y_j + exp(f_j) / Σ_k exp(f_k).",
    rtol=1e-6,
    success="each row sums to Σ_j p_j − Σ_j y_j = 1 − 1 = 0: the conservation law's first line.",
))


def _project(c):
    """Remove from every row the mean over the O columns: Δ − Δ 1 1ᵀ / O, which makes Σ_j Δw_j = 0."""
    delta = np.asarray(c.delta, np.float64)
    return delta - delta.mean(axis=1, keepdims=True)


exercises.register(Exercise(
    id="07.conserving_update",
    needs=("delta",),
    expects="an (n, O) array: the readout update closest to delta (Frobenius) whose columns sum to zero",
    axes=("feature", "output"),
    truth=lambda c: np.asarray(c.delta, np.float64) @ (np.eye(np.shape(c.delta)[1])
                                                       - np.ones((np.shape(c.delta)[1],) * 2) / np.shape(c.delta)[1]),
    solution=_project,
    mistakes=(
        Mistake("mean over the features",
                lambda c: np.asarray(c.delta) - np.asarray(c.delta).mean(axis=0, keepdims=True),
                "you removed each column's mean over the n features (axis 0); w̄ sums the O columns, so remove "
                "each row's mean over the columns (axis 1)."),
        Mistake("the sum instead of the mean",
                lambda c: np.asarray(c.delta) - np.asarray(c.delta).sum(axis=1, keepdims=True),
                "you subtracted each row's sum; subtracting the sum leaves the columns summing to (1 − O) x the "
                "old sum, not 0: subtract the mean (the sum / O)."),
        Mistake("only the removed part",
                lambda c: np.asarray(c.delta).mean(axis=1, keepdims=True) * np.ones_like(np.asarray(c.delta)),
                "that is the part to remove (the row means, copied into every column): return delta minus it."),
    ),
    hint="the updates with Σ_j Δw_j = 0 are the rows orthogonal to (1, ..., 1); project each row onto them.",
    rtol=1e-8,
    success="this update leaves w̄ = Σ_j w_j / √O where it was, whatever the optimiser proposed.",
))
