"""Lesson 07's package pieces: the cross-entropy conservation law (SGD keeps the mean readout row, Adam moves
it), the cached learning runs, their text and figure, the optimiser overrides of lesson 05's training and the
lesson's exercises."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ntk_lessons.core import training  # noqa: E402
from ntk_lessons.lessons import learning, practice  # noqa: E402
from ntk_lessons.teaching import exercises, plots  # noqa: E402

SMALL = 30


@pytest.fixture(scope="module")
def small_split():
    return practice.digits_split(SMALL)


def _run(split, optimizer, lr, loss="cross_entropy", steps=20):
    apply_fn, params = practice.network(16)
    return practice.train_network(apply_fn, params, split, steps=steps, checkpoint_steps=[0, steps], loss=loss,
                                  optimizer=optimizer, lr=lr, record_every=steps, progress=False)


def test_sgd_on_cross_entropy_conserves_the_mean_readout_row_and_adam_does_not(small_split):
    sgd = learning.conservation(_run(small_split, "sgd", 1.0))
    adam = learning.conservation(_run(small_split, "adam", 1e-2))
    mse = learning.conservation(_run(small_split, "sgd", 1e-2, loss="mse"))
    assert sgd.step == [0, 20] and sgd.mean_row_drift[0] == 0 and sgd.readout_change[0] == 0
    assert sgd.mean_row_drift[-1] < 1e-5 and sgd.bias_sum_drift[-1] < 1e-5 and sgd.readout_change[-1] > 1e-2
    assert adam.mean_row_drift[-1] > 1e-2
    assert mse.mean_row_drift[-1] > 1e-3  # the squared error trains w̄: sum_j dl/df_j = sum_j f_j - 1


def test_mean_readout_row_is_the_scaled_column_sum():
    _, params = practice.network(8)
    w = np.asarray(params[-1][0], np.float64)
    assert np.allclose(learning.mean_readout_row(params), w.sum(axis=1) / np.sqrt(10))
    with pytest.raises(TypeError, match="params"):
        learning.mean_readout_row({"W": w})


def test_logit_gradient_sums_vanish_for_cross_entropy_only():
    rng = np.random.default_rng(0)
    f, y = rng.normal(size=(5, 4)), np.eye(4)[[0, 1, 2, 3, 0]]
    assert np.allclose(learning.logit_gradient_sums(f, y, "cross_entropy"), 0, atol=1e-6)
    assert np.allclose(learning.logit_gradient_sums(f, y, "mse"), f.sum(1) - 1, atol=1e-5)
    with pytest.raises(ValueError, match="loss"):
        learning.logit_gradient_sums(f, y, "hinge")
    with pytest.raises(ValueError, match="f and y"):
        learning.logit_gradient_sums(f, y[:3], "mse")


def test_conservation_rejects_bad_results(small_split):
    with pytest.raises(TypeError, match="TrainingResult"):
        learning.conservation({0: None})
    apply_fn, params = practice.network(8)
    run = training.train(apply_fn, params, small_split.x_train, small_split.y_train, steps=1, lr=0.1, progress=False)
    with pytest.raises(ValueError, match="step 0"):
        learning.conservation(run)


def test_train_network_overrides_the_recipe(small_split):
    run = _run(small_split, "sgd", 0.5, steps=2)
    assert run.optimizer == "sgd"
    with pytest.raises(ValueError, match="optimizer"):
        _run(small_split, "rmsprop", 0.5)
    with pytest.raises(ValueError, match="lr"):
        _run(small_split, "sgd", -1.0)


def test_learning_run_is_cached_and_round_trips(monkeypatch, tmp_path):
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(learning, "GAP_WIDTH", 16)
    # float64 is on for every test (conftest.py), as the lesson switches it on
    run = learning.learning_run("sgd", checkpoints=[0, 2], n_kernel=6, n_test=8, progress=False)
    again = learning.learning_run("sgd", checkpoints=[0, 2], n_kernel=6, n_test=8, progress=False)
    assert len(list(tmp_path.rglob("*.json"))) == 1
    assert again == run and run.gap.step == [0, 2] and len(run.train_loss) == 2
    assert run.conservation.mean_row_drift[-1] < 1e-5
    text = learning.format_runs([run])
    assert "mean readout row drift" in text and "mlp, sgd" in text
    fig = plots.gap_by_optimiser({"SGD": run.gap}, title="t")
    assert len(fig.axes) == 3 and all(ax.get_legend() is not None for ax in fig.axes)
    plt.close(fig)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(optimiser="lbfgs"), ValueError, "optimiser"),
    (dict(optimiser="sgd", network="resnet"), ValueError, "network"),
    (dict(optimiser="sgd", checkpoints=[5, 10]), ValueError, "step 0"),
    (dict(optimiser="sgd", checkpoints="0,10"), TypeError, "checkpoints"),
    (dict(optimiser="sgd", n_kernel=0), ValueError, "n_kernel"),
])
def test_learning_run_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        learning.learning_run(**kwargs)


def test_format_runs_and_the_figure_reject_bad_inputs():
    with pytest.raises(TypeError, match="runs"):
        learning.format_runs([])
    with pytest.raises(ValueError, match="runs"):
        plots.gap_by_optimiser({}, title="t")


# ----------------------------------------------------------------------------- exercises


@pytest.fixture(scope="module")
def contexts():
    rng = np.random.default_rng(3)
    return {"07.ce_logit_gradient": dict(f=rng.normal(size=(6, 5)), y=np.eye(5)[[0, 1, 2, 3, 4, 0]]),
            "07.conserving_update": dict(delta=rng.normal(size=(8, 5)))}


@pytest.mark.parametrize("exercise_id", ["07.ce_logit_gradient", "07.conserving_update"])
def test_lesson_07_reference_answers_pass_and_untouched_stubs_do_not_fail(contexts, exercise_id, capsys):
    context = contexts[exercise_id]
    assert exercises.evaluate(exercise_id, exercises.reference_answer(exercise_id, **context), **context).passed
    exercises.check(exercise_id, None, **context)
    assert "not attempted" in capsys.readouterr().out


def test_lesson_07_exercises_tell_structure_from_sign(contexts):
    c = contexts["07.ce_logit_gradient"]
    f, y = c["f"], c["y"]
    p = np.exp(f) / np.exp(f).sum(1, keepdims=True)
    assert exercises.evaluate("07.ce_logit_gradient", y - p, **c).mistake == "sign"
    verdict = exercises.evaluate("07.ce_logit_gradient", f - y, **c)
    assert verdict.mistake == "structure" and "squared error" in verdict.message
    wrong_axis = np.exp(f) / np.exp(f).sum(0, keepdims=True) - y
    assert "axis 1" in exercises.evaluate("07.ce_logit_gradient", wrong_axis, **c).message
    d = contexts["07.conserving_update"]["delta"]
    answer = exercises.reference_answer("07.conserving_update", delta=d)
    assert np.allclose(answer.sum(axis=1), 0)
    verdict = exercises.evaluate("07.conserving_update", d - d.mean(axis=0, keepdims=True), delta=d)
    assert verdict.mistake == "structure" and "axis 1" in verdict.message
    assert exercises.evaluate("07.conserving_update", -answer, delta=d).mistake == "sign"


@pytest.mark.neural_tangents
def test_learning_run_of_the_conv_net_conserves_the_mean_row_under_sgd(monkeypatch, tmp_path):
    pytest.importorskip("neural_tangents")
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    run = learning.learning_run("sgd", network="conv", checkpoints=[0, 1], n_kernel=4, n_test=4, progress=False)
    assert run.network == "conv" and run.gap.step == [0, 1]
    assert run.conservation.mean_row_drift[-1] < 1e-10 and run.conservation.readout_change[-1] > 0
    assert np.isfinite(run.train_loss).all()
