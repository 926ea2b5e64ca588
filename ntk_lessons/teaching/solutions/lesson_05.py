"""Reference solutions and checks of lesson 05's exercises (for teachers; students: try first).

Registered with :mod:`ntk_lessons.teaching.exercises` like ``lesson_01``; the truth of
each exercise is ``regression.fit_predict`` (Cholesky factorisation, validation, symmetrisation),
computed independently of the plain ``numpy.linalg.solve`` a student writes, and the wrong
structures students plausibly write get their own hints.
"""

from __future__ import annotations

import numpy as np

from ...core import regression
from ...teaching import exercises
from ...teaching.exercises import Exercise, Mistake


def _ridge(matrix: np.ndarray, ridge: float) -> np.ndarray:
    """lambda I with lambda = ridge x the mean diagonal (the course's relative ridge)."""
    return ridge * np.mean(np.diag(matrix)) * np.eye(len(matrix))


def _pntk_predict(c):
    """One N x N solve serves every output column: (K + lambda I)^{-1} Y, then the test rows."""
    k = np.asarray(c.k_train, np.float64)
    alpha = np.linalg.solve(k + _ridge(k, c.ridge), np.asarray(c.y_train, np.float64))  # (N, O)
    return np.asarray(c.k_test_train, np.float64) @ alpha


exercises.register(Exercise(
    id="05.pntk_predict",
    needs=("k_train", "y_train", "k_test_train", "ridge"),
    expects="an (M, O) array: the kernel-regression predictions of pNTK ⊗ I_O for the M test inputs",
    axes=("test input", "output"),
    truth=lambda c: regression.fit_predict(c.k_train, c.y_train, c.k_test_train, ridge=c.ridge),
    solution=_pntk_predict,
    mistakes=(
        Mistake("absolute ridge",
                lambda c: np.asarray(c.k_test_train) @ np.linalg.solve(
                    np.asarray(c.k_train) + c.ridge * np.eye(len(c.k_train)), np.asarray(c.y_train)),
                "you added ridge x I; the course's ridge is relative: lambda = ridge x mean(diag K), so that it "
                "means the same whatever the kernel's scale."),
        Mistake("no ridge",
                lambda c: np.asarray(c.k_test_train) @ np.linalg.solve(np.asarray(c.k_train), np.asarray(c.y_train)),
                "you solved K alpha = Y without the ridge; add lambda I with lambda = ridge x mean(diag K)."),
        Mistake("training kernel used for the test rows",
                lambda c: np.asarray(c.k_train) @ np.linalg.solve(
                    np.asarray(c.k_train) + _ridge(np.asarray(c.k_train), c.ridge), np.asarray(c.y_train)),
                "those are predictions on the training inputs; multiply by k_test_train (M, N) instead."),
    ),
    shape_hints=lambda c: {np.shape(c.y_train): "that has one row per training input; the predictions have one row "
                           "per test input: multiply by k_test_train (M, N)."},
    hint="alpha = solve(K + lambda I, Y) with lambda = ridge x mean(diag K) -- one N x N system, all O columns of Y "
         "at once -- then predictions = k_test_train @ alpha.",
    rtol=1e-6,
    success="one factorisation of an N x N matrix served all O outputs: that is what pNTK ⊗ I_O buys.",
))


def _entk_predict(c):
    """Flatten sample-major (row n·O + j), solve one (N O) x (N O) system, unflatten the predictions."""
    theta = np.asarray(c.theta_train, np.float64)
    n, _, o, _ = theta.shape
    matrix = theta.transpose(0, 2, 1, 3).reshape(n * o, n * o)  # rows (n, j), columns (m, k)
    alpha = np.linalg.solve(matrix + _ridge(matrix, c.ridge), np.asarray(c.y_train, np.float64).reshape(n * o))
    test = np.asarray(c.theta_test_train, np.float64)
    m = test.shape[0]
    return (test.transpose(0, 2, 1, 3).reshape(m * o, n * o) @ alpha).reshape(m, o)


def _entk_reshaped_without_transpose(c):
    theta = np.asarray(c.theta_train, np.float64)
    n, _, o, _ = theta.shape
    matrix = theta.reshape(n * o, n * o)
    matrix = (matrix + matrix.T) / 2
    alpha = np.linalg.solve(matrix + _ridge(matrix, c.ridge), np.asarray(c.y_train, np.float64).reshape(n * o))
    test = np.asarray(c.theta_test_train, np.float64)
    return (test.reshape(test.shape[0] * o, n * o) @ alpha).reshape(test.shape[0], o)


def _entk_diagonal_blocks_only(c):
    theta = np.asarray(c.theta_train, np.float64)
    test = np.asarray(c.theta_test_train, np.float64)
    y = np.asarray(c.y_train, np.float64)
    columns = []
    for j in range(theta.shape[2]):
        k = theta[:, :, j, j]
        columns.append(test[:, :, j, j] @ np.linalg.solve(k + _ridge(k, c.ridge), y[:, j]))
    return np.stack(columns, axis=1)


exercises.register(Exercise(
    id="05.entk_predict",
    needs=("theta_train", "y_train", "theta_test_train", "ridge"),
    expects="an (M, O) array: the kernel-regression predictions of the full eNTK for the M test inputs",
    axes=("test input", "output"),
    truth=lambda c: regression.fit_predict(c.theta_train, c.y_train, c.theta_test_train, ridge=c.ridge),
    solution=_entk_predict,
    mistakes=(
        Mistake("reshaped without transposing", _entk_reshaped_without_transpose,
                "you reshaped theta[n, m, j, k] straight to (N O, N O): its rows are then the pairs (n, m) and its "
                "columns (j, k), not (n, j) and (m, k). Transpose to (N, O, N, O) first, then reshape "
                "(sample-major: row n·O + j)."),
        Mistake("diagonal blocks only", _entk_diagonal_blocks_only,
                "you solved each output j with its own diagonal block Θ_jj; the full eNTK couples the outputs "
                "through the off-diagonal blocks Θ_jk -- solve one (N O) x (N O) system."),
    ),
    shape_hints=lambda c: {(np.shape(c.theta_test_train)[0] * np.shape(c.theta_train)[2],):
                           "that is the flattened (M O,) vector of predictions; reshape it to (M, O) (sample-major)."},
    hint="Flatten sample-major: theta.transpose(0, 2, 1, 3).reshape(N*O, N*O), the targets y.reshape(N*O); "
         "solve with lambda = ridge x mean of the flattened matrix's diagonal; flatten the test-train eNTK the same "
         "way, multiply, and reshape the result to (M, O).",
    rtol=1e-6,
    success="one (N O) x (N O) factorisation: O^3 = 1000 times the flops of the pNTK's N x N one for O = 10.",
))
