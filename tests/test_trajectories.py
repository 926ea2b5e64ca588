"""Lesson 06: exact frozen-kernel steps, trajectory errors, the lazy limit, look-ahead, exercises, figures."""

import json

import jax
import matplotlib
import numpy as np
import pytest
from test_dynamics import euler as steps_by_loop  # lesson 01's step iterated with the kernel frozen

from ntk_lessons.core import blocks, dynamics, kernels, training
from ntk_lessons.lessons import trajectories
from ntk_lessons.lessons.networks import DigitsNetwork
from ntk_lessons.teaching import exercises, plots, widgets

from conftest import make_inputs, make_mlp

matplotlib.use("Agg")
N, M, O = 8, 5, 3
TINY_RUN = dict(steps=12, n_train=10, n_test=6, time_points=6, movement_points=3)
TINY = dict(TINY_RUN, out_dim=3)  # a sweep point in seconds


@pytest.fixture
def problem():
    """A rank-deficient N x N kernel (3 of 8 eigenvalues non-zero), its test kernel, targets and starts."""
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(N, 3)), rng.normal(size=(M, 3))
    return dict(k=x @ x.T, k_test=x_test @ x.T, y=rng.normal(size=(N, O)), f0=rng.normal(size=(N, O)),
                f0_test=rng.normal(size=(M, O)))


# ---------------------------------------------------------------- dynamics.mse_trajectory(discrete=True)

@pytest.mark.parametrize("threshold_fraction", [0.005, 0.4, 0.5, 0.75, 0.99, 1.3])
def test_discrete_steps_equal_the_iterated_one_step_formula(problem, threshold_fraction):
    p = problem
    lr = threshold_fraction * 2 / np.linalg.eigvalsh(p["k"])[-1]
    times = np.array([0, 1, 2, 5, 30])
    out = dynamics.mse_trajectory(p["k"], p["y"], p["f0"], times, lr=lr, k_test_train=p["k_test"],
                                  f0_test=p["f0_test"], discrete=True)
    loop = steps_by_loop(p["k"], p["k_test"], p["y"], p["f0"], p["f0_test"], lr, 30)
    for i, t in enumerate(times):
        np.testing.assert_allclose(out.train[i], loop[t][0], rtol=0, atol=1e-10 * np.abs(loop[t][0]).max())
        np.testing.assert_allclose(out.test[i], loop[t][1], rtol=0, atol=1e-10 * np.abs(loop[t][1]).max())


def test_discrete_steps_with_a_full_entk_match_the_loop_on_flattened_kernels():
    apply_fn, params = make_mlp((16, 8), O, 5, b_std=0.2)
    x, x_test = make_inputs(N, 5), make_inputs(M, 5, seed=2)
    theta, theta_test = kernels.entk(apply_fn, params, x), kernels.entk(apply_fn, params, x_test, x)
    assert float(blocks.offdiagonal_share(theta)) > 0.01
    rng = np.random.default_rng(1)
    y, f0, f0_test = rng.normal(size=(N, O)), np.asarray(apply_fn(params, x)), np.asarray(apply_fn(params, x_test))
    lr = 0.6 * trajectories.largest_stable_lr(theta)[0]
    out = dynamics.mse_trajectory(theta, y, f0, np.array([7]), lr=lr, k_test_train=theta_test, f0_test=f0_test,
                                  discrete=True)
    k, k_test = (np.asarray(blocks.to_matrix(a, "sample")) for a in (theta, theta_test))
    f, g = steps_by_loop(k, k_test, y.reshape(-1, 1), f0.reshape(-1, 1), f0_test.reshape(-1, 1), lr, 7)[-1]
    np.testing.assert_allclose(out.train[0], f.reshape(N, O), atol=1e-10 * np.abs(f).max())
    np.testing.assert_allclose(out.test[0], g.reshape(M, O), atol=1e-10 * np.abs(g).max())


def test_small_steps_approach_gradient_flow_linearly_in_the_step(problem):
    p, flow_time = problem, 2.0
    gaps = []
    for steps in (100, 1000):
        lr = flow_time / steps
        kw = dict(k_test_train=p["k_test"], f0_test=p["f0_test"])
        disc = dynamics.mse_trajectory(p["k"], p["y"], p["f0"], [steps], lr=lr, discrete=True, **kw)
        flow = dynamics.mse_trajectory(p["k"], p["y"], p["f0"], [steps], lr=lr, **kw)
        gaps.append(np.abs(disc.test - flow.test).max())
    assert 8 < gaps[0] / gaps[1] < 12  # first order in lr at fixed flow time


def test_discrete_refuses_fractional_steps_and_non_boolean_flags(problem):
    p = problem
    with pytest.raises(ValueError, match="whole numbers of steps"):
        dynamics.mse_trajectory(p["k"], p["y"], p["f0"], [1.5], lr=0.01, discrete=True)
    with pytest.raises(TypeError, match="discrete must be True or False"):
        dynamics.mse_trajectory(p["k"], p["y"], p["f0"], [1], lr=0.01, discrete="yes")
    dynamics.mse_trajectory(p["k"], p["y"], p["f0"], [1.5], lr=0.01)  # flow accepts fractional times


# ---------------------------------------------------------------- small helpers

def test_time_grid_is_sorted_whole_steps_with_both_ends():
    grid = trajectories.time_grid(100, 16)
    assert grid.dtype.kind == "i" and grid[0] == 0 and grid[1] == 1 and grid[-1] == 100
    assert np.all(np.diff(grid) > 0) and 12 <= len(grid) <= 17
    assert trajectories.time_grid(1, 5).tolist() == [0, 1]
    with pytest.raises(ValueError, match="steps"):
        trajectories.time_grid(0, 5)


def test_largest_stable_lr_is_two_over_the_top_eigenvalue():
    k = np.diag([4.0, 1.0, 0.5])
    assert trajectories.largest_stable_lr(k) == (0.5, 4.0)
    theta = k[:, :, None, None] * np.eye(2)  # (3, 3, 2, 2): same eigenvalues, each twice
    assert trajectories.largest_stable_lr(theta) == (0.5, 4.0)
    with pytest.raises(ValueError, match="shape"):
        trajectories.largest_stable_lr(np.ones((3, 4)))
    with pytest.raises(ValueError, match="not a non-zero kernel"):
        trajectories.largest_stable_lr(np.zeros((3, 3)))


def test_trajectory_error_is_distance_over_distance_moved():
    start = np.zeros((2, 2))
    reference = np.stack([np.full((2, 2), 1.0), np.full((2, 2), 2.0)])
    assert trajectories.trajectory_error(reference, reference, start) == 0
    assert trajectories.trajectory_error(reference, reference * 1.1, start) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="never leaves"):
        trajectories.trajectory_error(np.zeros((2, 2, 2)), reference, start)
    with pytest.raises(ValueError, match="must match"):
        trajectories.trajectory_error(reference, reference[:1], start)


def test_spread_candidates_and_rank_correlation():
    scores = np.array([0.3, -2.0, 5.0, 1.0, 0.0])
    chosen = trajectories.spread_candidates(scores, 3)
    assert chosen.tolist() == [1, 0, 2]  # lowest, middle, highest
    assert trajectories.rank_correlation([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert trajectories.rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert trajectories.rank_correlation([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_predictions_need_float64():
    k = trajectories.InitKernels(np.eye(2), np.ones((1, 2)))
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="float64"):
            trajectories.predict(k, np.zeros((2, 1)), np.ones((2, 1)), np.ones((1, 1)), [1], lr=0.1)
    finally:
        jax.config.update("jax_enable_x64", True)


# ---------------------------------------------------------------- the lazy limit, on small networks

def test_wide_network_follows_its_entk_prediction_and_narrow_one_less():
    x, x_test = make_inputs(6, 4), make_inputs(4, 4, seed=3)
    y = jax.nn.one_hot(np.arange(6) % 2, 2, dtype=np.float64)
    errors = []
    for width in (8, 1024):
        apply_fn, params = make_mlp((width,), 2, 4, b_std=0.1)
        init = trajectories.init_kernels(apply_fn, params, x, x_test, ("entk", "pntk"))
        lr = 0.25 * trajectories.largest_stable_lr(init["entk"].train)[0]
        times = np.arange(0, 21, 4)
        run = training.train(apply_fn, params, x, y, steps=20, lr=lr, x_test=x_test, y_test=np.zeros((4, 2)),
                             output_steps=times.tolist(), progress=False)
        net = np.stack([run.outputs[int(t)][1] for t in times])
        pred = trajectories.predict(init["entk"], y, run.outputs[0][0], net[0], times, lr=lr)
        errors.append(trajectories.trajectory_error(net[1:], pred.test[1:], net[0]))
    assert errors[1] < 0.05 and errors[1] < errors[0] / 3


# ---------------------------------------------------------------- one sweep point, cached

@pytest.fixture(scope="module")
def tiny_points():
    return {param: trajectories.trajectory_point(DigitsNetwork(width=16, seed=0, parameterization=param, out_dim=3),
                                                 **TINY_RUN)
            for param in ("ntk", "standard")}


def test_trajectory_point_reports_every_metric_and_is_json(tiny_points):
    p = tiny_points["ntk"]
    as_json = p.to_json()
    assert json.loads(json.dumps(as_json)) == as_json  # plain JSON types
    assert trajectories.TrajectoryPoint.from_json(as_json) == p
    times = p.times
    assert times[0] == 0 and times[-1] == TINY["steps"]
    for split in trajectories.SPLITS:
        for name in trajectories.PREDICTORS:
            assert 0 < p.metrics[f"error_{split}_{name}"] < 10
        assert 0 < p.metrics[f"gap_{split}"] < 10
        curves = p.traces[split].curves
        assert len(curves["network"]) == 2 and len(curves["entk"][0]) == len(times)
        assert len(p.traces[split].labels) == 1
    assert p.movement_curve["0"] == 0 and 0 < p.metrics["movement"] < 1
    assert p.lr == pytest.approx(0.25 * 2 / p.lambda_max)
    assert p.loss["network"][0] == pytest.approx(p.metrics["loss_initial"])
    assert p.metrics["loss_final"] < p.metrics["loss_initial"]
    assert p.width == 16 and p.predictors == list(trajectories.PREDICTORS)
    assert "error_test_infinite" not in tiny_points["standard"].metrics  # no Θ_∞ in standard parameterisation


def test_sweep_caches_each_point(tmp_path, monkeypatch):
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    first = trajectories.trajectory_sweep([8], [0, 1], progress=False, **TINY)
    calls = []
    monkeypatch.setattr(trajectories, "trajectory_point", lambda *a, **kw: calls.append(kw))
    again = trajectories.trajectory_sweep([8], [0, 1], progress=False, **TINY)
    assert calls == [] and again == first
    assert len(list(tmp_path.glob("*.json"))) == 2
    widths, values = trajectories.metric_by_seed(again, "movement")
    assert widths.tolist() == [8] and values.shape == (1, 2)
    assert "movement" in trajectories.summary({"tiny": again})


# ---------------------------------------------------------------- look-ahead

@pytest.mark.parametrize("kernel", ["pntk", "entk"])
def test_look_ahead_equals_predicting_on_the_grown_training_set(kernel):
    apply_fn, params = make_mlp((32,), O, 5, b_std=0.1)
    x, x_test, x_pool = make_inputs(N, 5), make_inputs(M, 5, seed=2), make_inputs(4, 5, seed=3)
    rng = np.random.default_rng(4)
    y, y_test, y_pool = (rng.normal(size=(n, O)) for n in (N, M, 4))
    lr, steps = 0.02, 15
    out = trajectories.look_ahead(apply_fn, params, x, y, x_test, y_test, x_pool, y_pool, [2, 0], lr=lr,
                                  steps=steps, kernel=kernel)
    f0 = lambda a: np.asarray(apply_fn(params, a))  # noqa: E731
    without = trajectories.predict(trajectories.init_kernels(apply_fn, params, x, x_test, (kernel,))[kernel],
                                   y, f0(x), f0(x_test), [steps], lr=lr).test[0]
    for i, c in enumerate([2, 0]):
        grown_x, grown_y = np.concatenate([x, x_pool[c:c + 1]]), np.concatenate([y, y_pool[c:c + 1]])
        grown = trajectories.init_kernels(apply_fn, params, grown_x, x_test, (kernel,))[kernel]
        with_c = trajectories.predict(grown, grown_y, f0(grown_x), f0(x_test), [steps], lr=lr).test[0]
        np.testing.assert_allclose(out.changes[i], with_c - without, atol=1e-9 * np.abs(with_c).max())
        loss = trajectories.outputs_loss(with_c, y_test) - trajectories.outputs_loss(without, y_test)
        assert out.loss_changes[i] == pytest.approx(loss)
    assert out.seconds_per_candidate > 0 and out.kernel_seconds > 0


def test_retrained_changes_are_differences_of_two_training_runs():
    apply_fn, params = make_mlp((16,), O, 5, b_std=0.1)
    x, x_test, x_pool = make_inputs(N, 5), make_inputs(M, 5, seed=2), make_inputs(3, 5, seed=3)
    rng = np.random.default_rng(5)
    y, y_test, y_pool = (rng.normal(size=(n, O)) for n in (N, M, 3))
    changes, loss_changes, seconds = trajectories.retrained_changes(
        apply_fn, params, x, y, x_test, y_test, x_pool, y_pool, [1], lr=0.01, steps=5, progress=False)

    def final(xs, ys):
        run = training.train(apply_fn, params, xs, ys, steps=5, lr=0.01, x_test=x_test, y_test=y_test,
                             output_steps=[5], progress=False)
        return run.outputs[5][1]

    expected = final(np.concatenate([x, x_pool[1:2]]), np.concatenate([y, y_pool[1:2]])) - final(x, y)
    np.testing.assert_allclose(changes[0], expected, atol=1e-12)
    assert changes.shape == (1, M, O) and loss_changes.shape == (1,) and seconds > 0


def test_look_ahead_study_on_digits_agrees_with_retraining(tmp_path, monkeypatch):
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    study = trajectories.cached_look_ahead(width=64, n_pool=12, retrained=3, steps=20, n_train=16, n_test=8,
                                           out_dim=3, progress=False)
    assert len(study.candidates) == 3 and len(study.predicted_loss_change) == 12
    predicted = np.asarray(study.predicted_loss_change)
    chosen = predicted[study.candidates]
    assert chosen.min() == predicted.min() and chosen.max() == predicted.max()
    assert study.loss_change_correlation > 0.5
    assert study.entk_seconds_per_candidate > 0 and study.retrain_seconds_per_candidate > 0
    assert study.width == 64 and study.network.out_dim == 3
    assert trajectories.cached_look_ahead(width=64, n_pool=12, retrained=3, steps=20, n_train=16, n_test=8,
                                          out_dim=3, progress=False) == study
    assert "look-ahead" in trajectories.summary({}, study)


# ---------------------------------------------------------------- exercises and figures

@pytest.fixture(scope="module")
def exercise_context():
    rng = np.random.default_rng(6)
    x, x_test = rng.normal(size=(6, 9)), rng.normal(size=(3, 9))
    k = x @ x.T / 9 + 0.1 * np.eye(6)
    return dict(k=k, k_test=x_test @ x.T / 9, y=rng.normal(size=(6, 2)), f0=rng.normal(size=(6, 2)),
                f0_test=rng.normal(size=(3, 2)), lr=0.5 / np.linalg.eigvalsh(k)[-1], t=9)


def test_lesson_06_reference_solutions_pass(exercise_context):
    c = exercise_context
    steps_ctx = {key: c[key] for key in ("k", "y", "f0", "lr", "t")}
    end_ctx = {key: c[key] for key in ("k", "k_test", "y", "f0", "f0_test")}
    for exercise_id, ctx in (("06.frozen_kernel_steps", steps_ctx), ("06.where_training_ends", end_ctx)):
        assert exercises.evaluate(exercise_id, exercises.reference_answer(exercise_id, **ctx), **ctx).passed
        assert exercises.evaluate(exercise_id, None, **ctx).status == "not attempted"


def test_lesson_06_mistakes_get_their_hints(exercise_context):
    c = exercise_context
    steps_ctx = {key: c[key] for key in ("k", "y", "f0", "lr", "t")}
    lam, vectors = np.linalg.eigh(c["k"])
    flow = c["y"] + (vectors * np.exp(-c["lr"] * c["t"] * lam)) @ vectors.T @ (c["f0"] - c["y"])
    no_target = np.linalg.matrix_power(np.eye(6) - c["lr"] * c["k"], c["t"]) @ c["f0"]
    for answer, phrase in ((flow, "gradient flow"), (no_target, "residual f − y")):
        verdict = exercises.evaluate("06.frozen_kernel_steps", answer, **steps_ctx)
        assert verdict.mistake == "structure" and phrase in verdict.message, verdict.message
    end_ctx = {key: c[key] for key in ("k", "k_test", "y", "f0", "f0_test")}
    from_zero = c["k_test"] @ np.linalg.solve(c["k"], c["y"])
    verdict = exercises.evaluate("06.where_training_ends", from_zero, **end_ctx)
    assert verdict.mistake == "structure" and "starts at f0" in verdict.message
    verdict = exercises.evaluate("06.where_training_ends", c["y"], **end_ctx)
    assert verdict.mistake == "shape" and "(M, O)" in verdict.message


def test_lesson_06_figures_are_labelled(tiny_points, tmp_path, monkeypatch):
    fig = plots.training_trajectories(list(tiny_points.values()), title="setup")
    assert len(fig.axes) == 6 and fig._suptitle.get_text() == "setup"
    assert all(ax.get_xlabel() and ax.get_ylabel() and ax.get_title() for ax in fig.axes)
    assert fig.axes[2].get_legend() is not None
    ax = plots.prediction_error_vs_movement({"a": ([0.1, 0.2], [0.05, 0.1])}, title="t", ylabel="error")
    assert ax.get_xlabel().startswith("kernel movement") and ax.get_legend() is not None
    study = trajectories.LookAheadStudy(
        network=DigitsNetwork(width=8, seed=0), threshold_fraction=0.25, steps=10, lr=0.1, n_train=4, n_test=2,
        n_pool=3,
        actual_loss_change=[-1.0, 0.5], predicted_loss_change=[-0.9, 0.1, 0.4], candidates=[0, 2],
        entk_loss_change=[-0.95, 0.45], pntk_change_error=[0.1, 0.2], entk_change_error=[0.1, 0.1],
        rank_correlation=1.0, loss_change_correlation=0.99, pntk_seconds_per_candidate=0.01,
        entk_seconds_per_candidate=0.5, retrain_seconds_per_candidate=2.0, pntk_kernel_seconds=1.0)
    fig = plots.look_ahead_agreement(study, title="look")
    assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    fig, run = widgets.training_figure(trajectories.cached_point, 16, 0.25, "ntk", **TINY)
    assert "kernel movement" in fig._suptitle.get_text() and run.width == 16
    matplotlib.pyplot.close("all")


def _study(**changes):
    fields = dict(
        network=DigitsNetwork(width=8, seed=0), threshold_fraction=0.25, steps=10, lr=0.1, n_train=4, n_test=2,
        n_pool=3, actual_loss_change=[-1.0, 0.5], predicted_loss_change=[-0.9, 0.1, 0.4], candidates=[0, 2],
        entk_loss_change=[-0.95, 0.45], pntk_change_error=[0.1, 0.2], entk_change_error=[0.1, 0.1],
        rank_correlation=1.0, loss_change_correlation=0.99, pntk_seconds_per_candidate=0.01,
        entk_seconds_per_candidate=0.5, retrain_seconds_per_candidate=2.0, pntk_kernel_seconds=1.0)
    return trajectories.LookAheadStudy(**(fields | changes))


def test_look_ahead_speedup_includes_the_one_off_kernel_cost():
    study = _study()
    assert study.speedup() == pytest.approx(3 * 2.0 / (1.0 + 3 * 0.01))            # the whole pool of 3
    assert study.speedup(100) == pytest.approx(100 * 2.0 / (1.0 + 100 * 0.01))
    assert study.speedup(10**9) == pytest.approx(2.0 / 0.01, rel=1e-6)               # per candidate alone
    with pytest.raises(ValueError, match="candidates"):
        study.speedup(0)


def test_correlation_lower_bound_is_fisher_z_and_low_for_few_pairs():
    r, n = 0.9, 8
    want = np.tanh(np.arctanh(r) - 1.6449 / np.sqrt(n - 3))
    assert trajectories.correlation_lower_bound(r, n) == pytest.approx(want, rel=1e-4)
    assert trajectories.correlation_lower_bound(0.9, 4) < 0.2                       # 4 points pin down little
    assert trajectories.correlation_lower_bound(0.9, 100) > 0.85
    for args, name in [((0.9, 3), "n"), ((1.0, 10), "r"), ((0.5, 10, 0.3), "level")]:
        with pytest.raises(ValueError, match=name):
            trajectories.correlation_lower_bound(*args)


def test_look_ahead_figure_rug_on_the_predicted_axis_and_readable_log_ticks():
    study = _study()
    fig = plots.look_ahead_agreement(study, title="look")
    ax, bar_ax = fig.axes
    rug = next(line for line in ax.lines if "rug" in str(line.get_label()))
    x, y = rug.get_data()
    assert np.ptp(x) == 0 and sorted(y) == sorted(study.predicted_loss_change)     # along the y axis ("predicted")
    assert "predicted" in ax.get_ylabel()
    low, high = bar_ax.get_ylim()
    ticks = [t for t in bar_ax.get_yticks() if low <= t <= high]
    assert len(ticks) >= 3 and low <= 0.01 / 1.5 and high >= 2.0                    # every bar inside, labelled ticks
    matplotlib.pyplot.close("all")


def test_readable_log_axes_puts_every_point_between_labelled_ticks():
    fig, ax = matplotlib.pyplot.subplots()
    ax.loglog([64, 256, 1024], [0.2, 0.09, 0.045], "o")
    plots.readable_log_axes(ax, [64, 256, 1024])
    low, high = ax.get_ylim()
    ticks = [t for t in ax.get_yticks() if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)]
    assert len(ticks) >= 3 and low <= 0.045 and high >= 0.2
    matplotlib.pyplot.close("all")


def test_trajectory_figure_labels_both_logits(tiny_points):
    fig = plots.training_trajectories([tiny_points["ntk"]], title="setup")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("true class" in t for t in texts) and any("→ 0" in t for t in texts)
    matplotlib.pyplot.close("all")


def test_largest_stable_step_exercise_tells_structure_from_constant(exercise_context):
    k = np.asarray(exercise_context["k"], np.float64)
    lam = np.linalg.eigvalsh(k)
    right = exercises.reference_answer("06.largest_stable_step", k=k)
    assert right == pytest.approx(2 / lam[-1]) and exercises.evaluate("06.largest_stable_step", right, k=k).passed
    for answer, mistake, phrase in [(1 / lam[-1], "structure", "1/λmax"), (2 / lam[0], "structure", "wrong end"),
                                    (4 / lam[-1], "constant", "2 times"), (-2 / lam[-1], "sign", "wrong sign"),
                                    (1.5 / lam[-1], "structure", "converges"), (3 / lam[-1], "structure", "diverge"),
                                    (np.ones(2), "type", "float")]:
        verdict = exercises.evaluate("06.largest_stable_step", answer, k=k)
        assert verdict.mistake == mistake and phrase in verdict.message, verdict.message
