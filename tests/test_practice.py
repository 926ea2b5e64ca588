"""Lesson 05's package pieces: the digits split, the regressions and their cache, the per-input-Jacobian
kernels, the during-training measurements and the lesson's exercises."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import kernels, regression, training
from ntk_lessons.lessons import practice
from ntk_lessons.support import data
from ntk_lessons.teaching import exercises

from conftest import conv_net, make_inputs, make_mlp, max_rel_err

SMALL = 30  # training digits in the small end-to-end tests


@pytest.fixture(scope="module")
def small_split():
    return practice.digits_split(SMALL)


def test_split_uses_every_digit_once_with_a_fixed_test_set_and_nested_training_sets():
    full = practice.digits_split()
    assert full.x_train.shape == (1200, 64) and full.x_test.shape == (597, 64) and full.y_train.shape == (1200, 10)
    x, _ = data.digits_inputs(1797, seed=practice.SPLIT_SEED)
    rows = {row.tobytes() for row in np.concatenate([full.x_train, full.x_test])}
    assert len(rows) == len({row.tobytes() for row in x})  # the 1,797 digits, none twice (up to duplicate images)
    small = practice.digits_split(400)
    np.testing.assert_array_equal(small.x_train, full.x_train[:400])
    np.testing.assert_array_equal(small.x_test, full.x_test)
    np.testing.assert_array_equal(small.labels_test, full.y_test.argmax(1))
    assert set(np.unique(small.labels_test)) == set(range(10))
    assert "400 training / 597 test" in small.describe()
    assert practice.digits_split(5, dtype="float64").x_train.dtype == np.float64
    with pytest.raises(ValueError, match="n_train must be at most"):
        practice.digits_split(1201)
    with pytest.raises(TypeError, match="n_train"):
        practice.digits_split(2.5)
    with pytest.raises(ValueError, match="dtype"):
        practice.digits_split(5, dtype="int32")


def test_regressions_match_fit_predict_and_report_the_full_solve(small_split):
    apply_fn, params = practice.network(16)
    assert apply_fn.spec.hidden_widths == (16, 16) and apply_fn(params, small_split.x_train).shape == (SMALL, 10)
    f_pntk = practice.pntk_regression(apply_fn, params, small_split, ridge=1e-3)
    k = np.asarray(kernels.pntk(apply_fn, params, np.concatenate([small_split.x_train, small_split.x_test])),
                   np.float64)
    expected = regression.fit_predict(k[:SMALL, :SMALL], small_split.y_train.astype(np.float64), k[SMALL:, :SMALL],
                                      ridge=1e-3)
    # the kernels are float32 programs: XLA versions fuse them differently (1e-6 differences on jax 0.10)
    np.testing.assert_allclose(f_pntk, expected, rtol=1e-3, atol=1e-4)
    f_entk, solve = practice.full_entk_regression(apply_fn, params, small_split, ridge=1e-3)
    theta = np.asarray(kernels.entk(apply_fn, params, small_split.x_train), np.float64)
    theta_test = np.asarray(kernels.entk(apply_fn, params, small_split.x_test, small_split.x_train), np.float64)
    expected = regression.fit_predict(theta, small_split.y_train.astype(np.float64), theta_test, ridge=1e-3)
    np.testing.assert_allclose(f_entk, expected, rtol=1e-3, atol=1e-4)
    assert f_entk.shape == (597, 10) and f_entk.dtype == np.float64
    assert solve.rows == SMALL * 10 and solve.matrix_bytes == (SMALL * 10) ** 2 * 8
    assert solve.kernel_seconds > 0 and solve.solve_seconds > 0
    assert solve.kernel_peak_bytes >= 4 * (SMALL * 10) ** 2  # holds at least the float32 output
    assert solve.cholesky_peak_bytes >= 2 * solve.matrix_bytes  # the matrix and its factor


def test_regression_table_computes_each_width_once_then_reads_the_cache(small_split, tmp_path, monkeypatch):
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    rows = practice.regression_table([8, 16], n_train=SMALL, train_steps=3, progress=False)
    assert [r.width for r in rows] == [8, 16] and all(isinstance(r, practice.RegressionRow) for r in rows)
    for r in rows:
        for key in ("accuracy_entk", "accuracy_pntk", "agreement", "accuracy_trained", "accuracy_trained_pntk"):
            assert 0 <= getattr(r, key) <= 1
        assert r.pntk_movement > 0 and r.entk_cost.rows == SMALL * 10
        assert practice.RegressionRow.from_json(r.to_json()) == r
    assert len(list(tmp_path.glob("*.json"))) == 2
    monkeypatch.setattr(practice, "regression_point", lambda *a, **k: pytest.fail("recomputed a cached width"))
    assert practice.regression_table([8, 16], n_train=SMALL, train_steps=3, progress=False) == rows
    text = practice.format_regression_table(rows, 0.5)
    assert len(text.splitlines()) == 3 and "50.0%" in text
    assert "system is 300 x 300 float64" in practice.describe_full_solve(rows[0])
    with pytest.raises(ValueError, match="widths is empty"):
        practice.regression_table([], progress=False)


def test_kernels_from_per_input_jacobians_equal_the_generic_eNTK_and_pNTK():
    init_fn, apply_fn = conv_net(channels=3, out_dim=4)
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 5, 5, 2))
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    x1 = jax.random.normal(jax.random.PRNGKey(1), (7, 5, 5, 2), jnp.float64)
    x2 = jax.random.normal(jax.random.PRNGKey(2), (4, 5, 5, 2), jnp.float64)
    j1, j2 = kernels.flat_jacobian(apply_fn, params, x1), kernels.flat_jacobian(apply_fn, params, x2)
    for a, b, ja, jb in [(x1, None, j1, None), (x2, x1, j2, j1)]:
        theta, k = practice.kernels_from_jacobians(ja, jb)
        assert max_rel_err(theta, kernels.entk(apply_fn, params, a, b, method="jacobian")) < 1e-12
        assert max_rel_err(k, kernels.pntk(apply_fn, params, a, b, method="jacobian")) < 1e-12
    with pytest.raises(ValueError, match="j1 and j2"):
        practice.kernels_from_jacobians(j1, j2[:, :2])


def test_kernel_gap_from_per_input_jacobians_equals_the_structured_one():
    split64 = practice.digits_split(SMALL, dtype="float64")
    apply_fn, params = practice.network(16, dtype="float64")
    by = {m: practice.kernel_gap(apply_fn, params, split64, n_kernel=6, n_test=5, method=m)
          for m in practice.GAP_METHODS}
    for key in ("total", "diagonal", "offdiagonal", "lambda_max_rel_error", "argmax_agreement"):
        assert by["jacobian"][key] == pytest.approx(by["auto"][key], rel=1e-9)
    assert max_rel_err(by["jacobian"]["theta"], by["auto"]["theta"]) < 1e-12
    with pytest.raises(ValueError, match="method"):
        practice.kernel_gap(apply_fn, params, split64, n_kernel=6, n_test=5, method="chunked_jacobian")


def test_logit_gradient_correlation_reads_the_same_input_blocks():
    n, o = 3, 4
    k = np.eye(n) + 0.5
    assert practice.logit_gradient_correlation(np.einsum("nm,jk->nmjk", k, np.eye(o))) == pytest.approx(0.0)
    block = np.full((o, o), -0.25) + 1.25 * np.eye(o)  # unit diagonal, -0.25 off it
    theta = np.einsum("nm,jk->nmjk", k, block)
    theta[0, 1] = theta[1, 0] = 99.0  # pairs of different inputs are not read
    assert practice.logit_gradient_correlation(theta) == pytest.approx(-0.25)
    with pytest.raises(ValueError, match="O >= 2"):
        practice.logit_gradient_correlation(np.ones((2, 2, 1, 1)))


def test_readout_helpers_swap_and_measure_the_last_layer_without_touching_the_original():
    apply_fn, params = make_mlp((6, 5), 3, 4)
    new = jnp.ones_like(params[-1][0])
    swapped = practice.with_readout(params, new)
    assert practice.readout_weights(swapped) is new and practice.readout_weights(params) is not new
    assert swapped[-1][1] is params[-1][1] and swapped[0] is params[0]
    with pytest.raises(ValueError, match="readout must have shape"):
        practice.with_readout(params, jnp.ones((5, 4)))
    with pytest.raises(TypeError, match="stax-style"):
        practice.readout_weights({"W": new})
    np.testing.assert_allclose(practice.column_cosines(np.array([[1.0, 0.0, 1.0], [0.0, 2.0, 1.0]])),
                               [[1, 0, 0.5**0.5], [0, 1, 0.5**0.5], [0.5**0.5, 0.5**0.5, 1]], atol=1e-12)
    with pytest.raises(ValueError, match="matrix"):
        practice.column_cosines(np.ones(3))


def test_gap_during_training_starts_from_zero_movement_and_resets_the_readout(small_split):
    apply_fn, params = practice.network(16)
    run = practice.train_network(apply_fn, params, small_split, steps=20, checkpoint_steps=[0, 20], record_every=10,
                                 progress=False)
    measured = practice.gap_during_training(apply_fn, run, small_split, n_kernel=12, n_test=15, progress=False)
    assert measured.step == [0, 20]
    assert set(practice.GAP_METRICS + practice.EXPLANATION_METRICS) <= set(measured.at(0))
    assert measured.kernel_movement[0] == 0 and measured.readout_change[0] == 0
    assert measured.kernel_movement[1] > 0 and measured.readout_change[1] > 0
    assert measured.total_initial_readout[0] == pytest.approx(measured.total[0], rel=1e-12)
    assert measured.test_accuracy == [run.test_accuracy[0], run.test_accuracy[-1]]
    # the identity behind pntk_to_diagonal: pNTK = (1/O) sum_jk Theta_jk
    gap = practice.kernel_gap(apply_fn, params, small_split, n_kernel=12, n_test=15)
    theta = gap["theta"]
    assert np.trace(gap["k"]) == pytest.approx(np.einsum("nnjk->", theta) / 10, rel=1e-5)
    assert "kernel_movement" in practice.format_gap_table(measured)
    with pytest.raises(ValueError, match="step 0"):
        practice.gap_during_training(apply_fn, training.train(apply_fn, params, small_split.x_train,
                                                              small_split.y_train, steps=1, lr=0.1, progress=False),
                                     small_split)
    with pytest.raises(TypeError, match="TrainingResult"):
        practice.gap_during_training(apply_fn, {0: params}, small_split)
    with pytest.raises(ValueError, match="n_kernel"):
        practice.kernel_gap(apply_fn, params, small_split, n_kernel=SMALL + 1)
    with pytest.raises(ValueError, match="method"):
        practice.kernel_gap(apply_fn, params, small_split, method="ntk_vp")


def test_dataset_costs_print_in_readable_units():
    from ntk_lessons.lessons import scaling

    text = practice.format_dataset_costs(scaling.dataset_costs(1e10))
    assert "1 TB" in text and "10 GB" in text and "ImageNet" in text and "years" in text


@pytest.mark.neural_tangents
def test_conv_net_gap_measures_the_stax_conv_net_before_and_after_training(small_split):
    measured, run = practice.conv_net_gap(small_split, channels=(2,), steps=2, n_kernel=6, n_test=8, progress=False)
    assert measured.step == [0, 2] and sorted(run.checkpoints) == [0, 2]
    assert all(np.isfinite(getattr(measured, key)).all() for key in practice.GAP_METRICS)
    assert measured.total_initial_readout[0] == pytest.approx(measured.total[0], rel=1e-12)


# ----------------------------------------------------------------------------- exercises


@pytest.fixture(scope="module")
def exercise_contexts():
    apply_fn, params = make_mlp((12, 12), 3, 5, b_std=0.1)
    x, xt = np.asarray(make_inputs(6, 5)), np.asarray(make_inputs(4, 5, seed=3))
    y = np.eye(3)[np.arange(6) % 3]
    k, k_test = np.asarray(kernels.pntk(apply_fn, params, x)), np.asarray(kernels.pntk(apply_fn, params, xt, x))
    theta, theta_test = np.asarray(kernels.entk(apply_fn, params, x)), np.asarray(kernels.entk(apply_fn, params, xt, x))
    return {"05.pntk_predict": dict(k_train=k, y_train=y, k_test_train=k_test, ridge=1e-3),
            "05.entk_predict": dict(theta_train=theta, y_train=y, theta_test_train=theta_test, ridge=1e-3)}


@pytest.mark.parametrize("exercise_id", ["05.pntk_predict", "05.entk_predict"])
def test_lesson_05_reference_answers_pass_and_untouched_stubs_do_not_fail(exercise_contexts, exercise_id, capsys):
    context = exercise_contexts[exercise_id]
    assert exercises.evaluate(exercise_id, exercises.reference_answer(exercise_id, **context), **context).passed
    exercises.check(exercise_id, None, **context)
    assert "not attempted" in capsys.readouterr().out


def test_lesson_05_exercises_name_the_usual_mistakes(exercise_contexts):
    c = exercise_contexts["05.pntk_predict"]
    absolute = c["k_test_train"] @ np.linalg.solve(c["k_train"] + 1e-3 * np.eye(6), c["y_train"])
    verdict = exercises.evaluate("05.pntk_predict", absolute, **c)
    assert verdict.mistake == "structure" and "relative" in verdict.message
    c = exercise_contexts["05.entk_predict"]
    theta, y = c["theta_train"], c["y_train"]
    flat = theta.reshape(18, 18)
    flat = (flat + flat.T) / 2
    wrong = (c["theta_test_train"].reshape(12, 18)
             @ np.linalg.solve(flat + 1e-3 * np.mean(np.diag(flat)) * np.eye(18), y.reshape(18))).reshape(4, 3)
    verdict = exercises.evaluate("05.entk_predict", wrong, **c)
    assert verdict.mistake == "structure" and "Transpose to (N, O, N, O)" in verdict.message
    verdict = exercises.evaluate("05.entk_predict", np.zeros((12,)), **c)
    assert verdict.mistake == "shape" and "reshape it to (M, O)" in verdict.message


def test_first_of_each_class_picks_in_class_order():
    split = practice.digits_split(100)
    index = split.first_of_each_class(1)
    labels = split.y_train.argmax(1)
    assert list(labels[index]) == list(range(10))
    assert all(np.flatnonzero(labels == c)[0] == i for c, i in enumerate(index))
    with pytest.raises(ValueError, match="per_class"):
        split.first_of_each_class(10_000)
    with pytest.raises(ValueError, match="per_class"):
        split.first_of_each_class(0)


def test_first_and_last_picks_the_first_and_last_checkpoint():
    names = [f.name for f in dataclasses.fields(practice.GapMeasurements)]
    measured = practice.GapMeasurements(**{name: [0.1, 0.2, 0.3] for name in names if name != "step"},
                                        step=[0, 10, 30])
    table = practice.first_and_last(measured)
    assert list(table) == ["init", "trained 30 steps"]
    assert table["init"] == {name: (0 if name == "step" else 0.1) for name in names}
    assert table["trained 30 steps"]["total"] == 0.3 and table["trained 30 steps"]["step"] == 30
    with pytest.raises(ValueError, match="measured"):
        practice.first_and_last({"step": [0]})


def test_exercise_kernels_have_the_documented_shapes_and_identity():
    ex = practice.exercise_kernels(n_train=6, n_test=4, width=16)
    assert ex.k_train.shape == (6, 6) and ex.k_test_train.shape == (4, 6) and ex.y_train.shape == (6, 10)
    assert ex.theta_train.shape == (6, 6, 10, 10) and ex.theta_test_train.shape == (4, 6, 10, 10)
    assert ex.k_train.dtype == np.float64
    np.testing.assert_allclose(ex.theta_train.sum((2, 3)) / 10, ex.k_train, rtol=1e-10)
