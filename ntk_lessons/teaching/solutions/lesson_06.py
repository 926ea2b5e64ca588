"""Reference solutions and checks of lesson 06's exercises (for teachers; students: try first).

Registered with :mod:`ntk_lessons.teaching.exercises` like ``lesson_01``. The truth of
each exercise comes from ``dynamics.mse_trajectory`` -- the eigendecomposition of the kernel,
not the formula the student is asked for -- and known wrong structures get their own hints.
"""

from __future__ import annotations

import numpy as np

from ...core import dynamics
from ...teaching import exercises
from ...teaching.exercises import Exercise, Mistake


def _as64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def _frozen_kernel_steps(c):
    """t steps of f <- f - lr K (f - y): the residual f - y is multiplied by (I - lr K) at each step."""
    k, y, f0 = _as64(c.k, c.y, c.f0)
    step = np.eye(len(k)) - c.lr * k
    return y + np.linalg.matrix_power(step, c.t) @ (f0 - y)


def _steps_truth(c):
    k, y, f0 = _as64(c.k, c.y, c.f0)
    return np.asarray(dynamics.mse_trajectory(k, y, f0, np.array([c.t]), lr=c.lr, discrete=True).train[0])


def _flow_instead(c):
    k, y, f0 = _as64(c.k, c.y, c.f0)
    lam, vectors = np.linalg.eigh(k)
    return y + (vectors * np.exp(-c.lr * c.t * lam)) @ vectors.T @ (f0 - y)  # exp(-lr t K)


exercises.register(Exercise(
    id="06.frozen_kernel_steps",
    needs=("k", "y", "f0", "lr", "t"),
    expects="an (N, O) array: the training outputs after t steps of the frozen-kernel model",
    axes=("n", "j"),
    truth=_steps_truth,
    solution=_frozen_kernel_steps,
    mistakes=(
        Mistake("gradient flow instead of steps", _flow_instead,
                "that is gradient flow, exp(−lr t K); the exercise asks for t discrete steps of size lr. Each step "
                "multiplies the residual f − y by the same matrix: which one?"),
        Mistake("targets forgotten",
                lambda c: np.linalg.matrix_power(np.eye(len(c.k)) - c.lr * np.asarray(c.k, np.float64), c.t)
                @ np.asarray(c.f0, np.float64),
                "you shrank the outputs themselves towards 0; each step shrinks the residual f − y, so the outputs "
                "move towards the targets y."),
        Mistake("one step only",
                lambda c: np.asarray(c.f0, np.float64) - c.lr * np.asarray(c.k, np.float64)
                @ (np.asarray(c.f0, np.float64) - np.asarray(c.y, np.float64)),
                "that is one step; the residual after t steps has been multiplied t times."),
    ),
    shape_hints=lambda c: {np.shape(c.k): "that is (N, N), the shape of a matrix acting on the residual; apply it to "
                           "the (N, O) residual f0 − y."},
    hint="Write the residual r_t = f_t − y; one step gives r_{t+1} = (I − lr K) r_t. Then f_t = y + r_t.",
    rtol=1e-8,
    success="t steps of the linearised model, exactly; for lr λmax ≪ 1 they approach gradient flow, exp(−lr t K).",
))


def _where_it_ends(c):
    """t -> infinity: the residual on the training set vanishes, f_train -> y; the test outputs
    move by K* K^{-1} times the whole initial residual."""
    k, k_test, y, f0, f0_test = _as64(c.k, c.k_test, c.y, c.f0, c.f0_test)
    return f0_test - k_test @ np.linalg.solve(k, f0 - y)


def _end_truth(c):
    k, k_test, y, f0, f0_test = _as64(c.k, c.k_test, c.y, c.f0, c.f0_test)
    lam = np.linalg.eigvalsh(k)
    lr = 1.0 / lam[-1]
    steps = np.array([np.ceil(60.0 / (lr * lam[0]))])  # every mode decayed by exp(-60) or more
    return np.asarray(dynamics.mse_trajectory(k, y, f0, steps, lr=lr, k_test_train=k_test, f0_test=f0_test).test[0])


exercises.register(Exercise(
    id="06.where_training_ends",
    needs=("k", "k_test", "y", "f0", "f0_test"),
    expects="an (M, O) array: the test outputs at the end of training with the frozen kernel",
    axes=("m", "j"),
    truth=_end_truth,
    solution=_where_it_ends,
    mistakes=(
        Mistake("kernel regression from zero",
                lambda c: np.asarray(c.k_test, np.float64) @ np.linalg.solve(np.asarray(c.k, np.float64),
                                                                            np.asarray(c.y, np.float64)),
                "that is kernel regression of y from outputs that start at 0; the network starts at f0, and the "
                "kernel moves the test outputs by −K* K⁻¹ (f0 − y) from where they started."),
        Mistake("test start forgotten",
                lambda c: -np.asarray(c.k_test, np.float64) @ np.linalg.solve(
                    np.asarray(c.k, np.float64), np.asarray(c.f0, np.float64) - np.asarray(c.y, np.float64)),
                "that is only the change of the test outputs; add where they started, f0_test."),
    ),
    shape_hints=lambda c: {np.shape(c.y): "that is the training set's shape (N, O) -- the training outputs end at y. "
                           "The exercise asks for the test outputs, (M, O)."},
    hint="Sum the test outputs' changes over all steps: each moves them by −lr K* r_t, and Σ_t lr r_t = K⁻¹ r_0 "
         "when the training residual r_t decays to 0.",
    rtol=1e-6,
    success="the end of the kernel's trajectory is (ridgeless) kernel regression, started from the network's f0.",
))


def _largest_stable_step(c):
    """The linearised model multiplies each eigenmode of K by 1 − lr λ per step: all of them shrink
    iff |1 − lr λ| < 1 for every λ, i.e. 0 < lr < 2 / λ_max."""
    return 2.0 / np.linalg.eigvalsh(np.asarray(c.k, np.float64))[-1]


def _top_mode_log10(k, lr, steps):
    """log10 of how much ``steps`` frozen-kernel steps of size ``lr`` multiply the top eigenmode of K by
    (|1 − lr λ_max|^steps; > 0: it grows, the steps diverge)."""
    factor = abs(1.0 - lr * np.linalg.eigvalsh(k)[-1])
    return float(steps * np.log10(max(factor, 1e-300)))


def _judge_step(answer, ctx, exercise):
    k = np.asarray(ctx.k, np.float64)
    if isinstance(answer, bool) or not np.isscalar(answer) and np.ndim(answer) != 0:
        return exercise.wrong("type", f"expected {exercise.expects}; got {type(answer).__name__} of shape "
                                      f"{np.shape(answer)}.")
    lr = float(np.asarray(answer, np.float64))
    if not np.isfinite(lr):
        return exercise.wrong("nonfinite", "your step size is NaN or infinite (a division by zero?).")
    truth = float(exercise.truth(ctx))
    if lr < 0 and abs(-lr / truth - 1) < 1e-6:
        return exercise.wrong("sign", "your whole answer has the wrong sign: a step size is positive.")
    if abs(lr / truth - 1) < exercise.rtol:
        return exercise.correct()
    lam = np.linalg.eigvalsh(k)
    steps = 2000
    grows_at = _top_mode_log10(k, lr, steps)
    grows_above = _top_mode_log10(k, 1.01 * lr, steps)
    tried = (f"Tried: {steps} frozen-kernel steps multiply the top mode by 10^{grows_at:.0f} with your lr = {lr:.4g}, "
             f"by 10^{grows_above:.0f} with 1.01 x your lr. ")
    for wrong, hint in ((1.0 / lam[-1], "you chose 1/λmax: the step that removes the top mode in one step "
                                        "(1 − lr λmax = 0). Too cautious: the mode still shrinks while "
                                        "|1 − lr λmax| < 1."),
                        (2.0 / lam[0], "2/λmin is the wrong end of the spectrum: the step must keep *every* mode "
                                       "stable, and the largest eigenvalue is the first to flip."),
                        (2.0 / lam.sum(), "2/trace(K) is a safe bound (trace ≥ λmax), not the largest stable step.")):
        if abs(lr / wrong - 1) < 1e-6:
            return exercise.wrong("structure", tried + hint)
    ratio = lr / truth
    for c in (0.5, 2.0, 4.0, 0.25):
        if abs(ratio / c - 1) < 1e-6:
            return exercise.wrong("constant", tried + f"Right structure (∝ 1/λmax), wrong constant: your answer is "
                                                      f"{c:g} times the largest stable step.")
    if grows_at > 0:
        return exercise.wrong("structure", tried + "Your step makes the frozen-kernel steps diverge. Which mode "
                                                   "grows first, and for which lr does its factor 1 − lr λ reach −1?")
    return exercise.wrong("structure", tried + "Your step converges, but a larger one still does: find where the "
                                               "first mode's factor 1 − lr λ reaches −1.")


exercises.register(Exercise(
    id="06.largest_stable_step",
    needs=("k",),
    expects="a positive float: the largest step size for which the frozen-kernel steps converge",
    truth=_largest_stable_step,
    solution=_largest_stable_step,
    judge=_judge_step,
    rtol=1e-6,
    success="lr < 2/λmax(K) keeps every mode's factor |1 − lr λ| below 1; just above it the top mode flips sign "
            "and grows. The lesson's steps are fractions of this threshold.",
))
