"""Reference solutions and checks of lesson 03's exercises (for teachers; students: try first).

Registered with :mod:`ntk_lessons.teaching.exercises` like ``lesson_01``; the truth
of each exercise is computed independently of the formula asked for (``approximations``,
``blocks``), and known wrong structures get their own hints.
"""

from __future__ import annotations

import numpy as np

from ...teaching import exercises
from ...teaching.exercises import Exercise, Mistake


def _kron_gap(c):
    """Θ − k ⊗ I_O: subtract k from the O diagonal entries of every O x O block, nothing elsewhere."""
    theta, k = np.asarray(c.theta), np.asarray(c.k)
    return theta - k[:, :, None, None] * np.eye(theta.shape[-1])


def _kron_gap_truth(c):
    theta = np.asarray(c.theta)
    # the Kronecker product, entry by entry
    return theta - np.einsum("nm,jk->nmjk", np.asarray(c.k), np.eye(theta.shape[-1]))


exercises.register(Exercise(
    id="03.kron_gap",
    needs=("theta", "k"),
    expects="an (N, N, O, O) array: the eNTK minus k ⊗ I_O",
    axes=("n", "m", "j", "k"),
    truth=_kron_gap_truth,
    solution=_kron_gap,
    terms=lambda c: {"Θ": np.asarray(c.theta), "− k ⊗ I_O": _kron_gap_truth(c) - np.asarray(c.theta)},
    mistakes=(
        Mistake("ones instead of the identity",
                lambda c: np.asarray(c.theta) - np.asarray(c.k)[:, :, None, None],
                "you subtracted k from every entry of each O x O block (k ⊗ 1, all ones); the approximation is "
                "k ⊗ I_O: it has k on the diagonal of each block (j = k) and zeros off it."),
        Mistake("identity over the inputs",
                lambda c: np.asarray(c.theta) - np.asarray(c.k)[:, :, None, None]
                * np.eye(len(np.asarray(c.k)))[:, :, None, None],
                "you kept k only where the two inputs are the same (n = m); the identity in k ⊗ I_O is over the "
                "logits j, k, not over the inputs."),
    ),
    shape_hints=lambda c: {np.shape(c.k): "that is an (N, N) array; keep the O x O blocks: the gap is (N, N, O, O)."},
    hint="Build k ⊗ I_O with shape (N, N, O, O) (k[:, :, None, None] times an O x O identity) and subtract it.",
    rtol=1e-10,
    success="this is what the heat maps of section 7 show, divided by max|Θ|.",
))


def _offdiagonal_blocks(c):
    """Zero the entries with j = k (which k ⊗ I_O can match for a suitable k); keep j != k."""
    theta = np.asarray(c.theta)
    return theta * (1 - np.eye(theta.shape[-1]))


exercises.register(Exercise(
    id="03.offdiagonal_blocks",
    needs=("theta",),
    expects="an (N, N, O, O) array: Θ where j != k, zero where j == k",
    axes=("n", "m", "j", "k"),
    truth=lambda c: np.where(np.eye(np.shape(c.theta)[-1], dtype=bool), 0.0, np.asarray(c.theta)),
    solution=_offdiagonal_blocks,
    terms=lambda c: {"Θ (j ≠ k)": np.where(np.eye(np.shape(c.theta)[-1], dtype=bool), 0.0, np.asarray(c.theta))},
    mistakes=(
        Mistake("the diagonal kept instead",
                lambda c: np.asarray(c.theta) * np.eye(np.shape(c.theta)[-1]),
                "you kept the entries with j = k; those are the ones k ⊗ I_O can represent. Keep the others."),
        Mistake("inputs instead of logits",
                lambda c: np.asarray(c.theta) * (1 - np.eye(len(np.asarray(c.theta))))[:, :, None, None],
                "you zeroed the blocks where the two inputs coincide (n = m); k ⊗ I_O is diagonal in the logits "
                "(j = k) for every pair of inputs."),
    ),
    shape_hints=lambda c: {np.shape(c.theta)[:3]: "taking a diagonal drops an axis; multiply by a mask instead so the "
                           "result keeps the shape (N, N, O, O)."},
    hint="Multiply Θ by a mask over the last two axes that is 0 where j = k and 1 elsewhere.",
    rtol=1e-10,
    success="its Frobenius norm divided by ‖Θ‖_F is the off-diagonal error every N x N kernel shares.",
))



def _compression(c):
    """Class-major rows j·N + n: V = (1/√O) 1_O ⊗ I_N -- column n is 1/√O on rows n, N + n, 2N + n, ..."""
    return np.kron(np.ones((c.O, 1)), np.eye(c.N)) / np.sqrt(c.O)


def _compression_truth(c):
    for name in ("N", "O"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    # entry by entry from the definition: g(x_n) = (1/√O) Σ_j f_j(x_n), and f_j(x_n) is class-major row j·N + n
    v = np.zeros((c.N * c.O, c.N))
    for n in range(c.N):
        for j in range(c.O):
            v[j * c.N + n, n] = 1 / np.sqrt(c.O)
    return v


exercises.register(Exercise(
    id="03.pntk_compression",
    needs=("N", "O"),
    expects="an (N·O, N) matrix V with pNTK = Vᵀ Θ V for Θ flattened class-major (row j·N + n)",
    axes=("row", "column"),
    truth=_compression_truth,
    solution=_compression,
    terms=lambda c: {"(1/√O) 1_O ⊗ I_N": _compression_truth(c)},
    constants=lambda c: {"1/√O": 1 / np.sqrt(c.O)},
    mistakes=(
        Mistake("sample-major rows",
                lambda c: np.kron(np.eye(c.N), np.ones((c.O, 1))) / np.sqrt(c.O),
                "that is section 1's V for the sample-major order (row n·O + j). In class-major order the rows of "
                "input n are n, N + n, 2N + n, ...: one in each of the O blocks of N rows."),
        Mistake("one logit only",
                lambda c: np.kron(np.eye(c.O)[:, :1], np.eye(c.N)),
                "your V picks one logit per input (that compresses Θ to Θ_11, the first-logit kernel); the pNTK "
                "sums all O logits of each input."),
    ),
    shape_hints=lambda c: {(c.N, c.N * c.O): "that is Vᵀ; V has one row per (logit, input) and one column per "
                                             "input: shape (N·O, N).",
                           (c.N * c.O, c.N * c.O): "that is a projection V Vᵀ (or a Kronecker product with I_O "
                                                   "on the wrong side); V itself has N columns."},
    hint="Column n of V is 1/√O on the O rows that hold input n's logits (rows j·N + n) and 0 elsewhere: a "
         "Kronecker product of a column of ones and an identity, in the right order.",
    rtol=1e-10,
    success="its columns are orthonormal (VᵀV = I_N), so the pNTK is a compression of Θ in this order too, and its "
            "eigenvalues interlace Θ's -- the next cell shows it with your V.",
))
