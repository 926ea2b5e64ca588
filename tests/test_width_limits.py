"""Lesson 04's measurements (width_limits): the metrics on kernels with known answers, one network's
records, the cached sweeps, the entries behind the scatter plots, the figures, the exercises; and,
where neural-tangents imports, the closed form and the conv net against it."""

import math

import jax
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from ntk_lessons import analysis  # noqa: E402
from ntk_lessons.core import approximations, infinite, kernels  # noqa: E402
from ntk_lessons.lessons import width_limits  # noqa: E402
from ntk_lessons.lessons.networks import DigitsNetwork  # noqa: E402
from ntk_lessons.support import cache, data  # noqa: E402
from ntk_lessons.teaching import exercises, plots, widgets  # noqa: E402

from conftest import make_inputs, make_mlp  # noqa: E402

rng = np.random.default_rng(0)


def psd(n, seed=0):
    a = np.random.default_rng(seed).normal(size=(n, n + 2))
    return a @ a.T / (n + 2)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    return tmp_path


# ----------------------------------------------------------------------------- metrics with known answers


def test_an_exact_limit_has_zero_errors_and_the_pntk_is_the_block_mean():
    k = psd(5)
    theta = k[:, :, None, None] * np.eye(3)
    errors = width_limits.limit_errors(theta, k)
    for name in ("entk_diagonal", "entk_offdiagonal", "entk_vs_limit", "pntk", "entk_vs_pntk"):
        assert errors[name] == pytest.approx(0, abs=1e-15), name
    assert math.isnan(errors["distance_ratio"])  # 0 / 0: undefined, not a fake number
    np.testing.assert_allclose(approximations.from_entk(theta, "pntk"), k, rtol=1e-14)


def test_errors_of_a_perturbed_kernel_match_hand_computed_values():
    o, k = 4, psd(6, seed=1)
    off = rng.normal(size=(6, 6, o, o)) * (1 - np.eye(o))        # only off-diagonal blocks
    shift = 0.3 * psd(6, seed=2)                                  # the same shift in every diagonal block
    theta = (k + shift)[:, :, None, None] * np.eye(o) + 0.01 * off
    yardstick = math.sqrt(o) * np.linalg.norm(k)
    e = width_limits.limit_errors(theta, k)
    assert e["entk_offdiagonal"] == pytest.approx(0.01 * np.linalg.norm(off) / yardstick, rel=1e-12)
    assert e["entk_diagonal"] == pytest.approx(math.sqrt(o) * np.linalg.norm(shift) / yardstick, rel=1e-12)
    assert e["entk_vs_limit"] == pytest.approx(math.hypot(e["entk_diagonal"], e["entk_offdiagonal"]), rel=1e-12)
    pntk = approximations.from_entk(theta, "pntk")
    np.testing.assert_allclose(pntk, k + shift + 0.01 * off.sum((2, 3)) / o, rtol=1e-12)
    assert e["pntk"] == pytest.approx(np.linalg.norm(pntk - k) / np.linalg.norm(k), rel=1e-12)
    diag_vs_pntk = np.linalg.norm(np.diagonal(theta, axis1=2, axis2=3) - pntk[:, :, None]) / yardstick
    assert e["entk_diagonal_vs_pntk"] == pytest.approx(diag_vs_pntk, rel=1e-12)
    assert e["entk_vs_pntk"] == pytest.approx(math.hypot(diag_vs_pntk, e["entk_offdiagonal"]), rel=1e-12)
    assert e["distance_ratio"] == pytest.approx(e["entk_vs_pntk"] / e["entk_vs_limit"], rel=1e-12)
    # a common shift of the diagonal is what the pNTK captures and Θ∞ does not
    assert e["diagonal_distance_ratio"] < 0.1 and e["distance_ratio"] < 1


def test_the_pntk_from_the_entk_is_the_package_pntk_of_an_mlp():
    apply_fn, params = make_mlp((16, 8), 3, 5, b_std=0.2)
    x = make_inputs(4, 5)
    theta = kernels.entk(apply_fn, params, x)
    np.testing.assert_allclose(approximations.from_entk(theta, "pntk"), kernels.pntk(apply_fn, params, x), rtol=1e-12)


def test_regression_with_three_identical_kernels_agrees_exactly():
    k, o = psd(12, seed=3), 3
    y = np.eye(o)[np.arange(12) % o]
    r = width_limits.regression_metrics(k[:, :, None, None] * np.eye(o), k, y, 8, ridge=1e-3)
    assert r["accuracy_entk"] == r["accuracy_pntk"] == r["accuracy_limit"]
    for name in ("prediction_pntk_vs_entk", "prediction_limit_vs_entk", "prediction_pntk_vs_limit"):
        assert r[name] < 1e-10, name


@pytest.mark.parametrize("call, error, name", [
    (lambda: width_limits.limit_errors(np.ones((3, 3, 2)), np.ones((3, 3))), ValueError, "theta"),
    (lambda: width_limits.limit_errors(np.ones((3, 3, 2, 2)), np.ones((3, 4))), ValueError, "k_limit"),
    (lambda: width_limits.limit_errors(np.ones((3, 3, 2, 2)), np.zeros((3, 3))), ValueError, "k_limit"),
    (lambda: width_limits.limit_errors(np.full((3, 3, 2, 2), np.nan), np.ones((3, 3))), ValueError, "theta"),
    (lambda: width_limits.limit_errors(np.ones((3, 3, 2, 2)), np.ones((3, 3)), np.ones((2, 2))), ValueError, "pntk"),
    (lambda: width_limits.regression_metrics(np.ones((4, 4, 2, 2)), np.eye(4), np.eye(2)[[0, 1, 0, 1]], 4, ridge=0.1),
     ValueError, "n_train"),
    (lambda: width_limits.regression_metrics(np.ones((4, 4, 2, 2)), np.eye(4), np.ones((4, 3)), 2, ridge=0.1),
     ValueError, "y"),
    (lambda: width_limits.mlp_sweep([], [0]), ValueError, "widths"),
    (lambda: width_limits.mlp_sweep([0], [0]), ValueError, "widths"),
    (lambda: width_limits.conv_point(width=4, seed=0, method="structured"), ValueError, "method"),
    (lambda: width_limits.conv_point(width=4, seed=0, pooling="max"), ValueError, "pooling"),
])
def test_bad_input_raises_naming_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_inputs_are_not_modified():
    k = psd(4)
    theta = k[:, :, None, None] * np.eye(2) + 0.1
    theta_copy, k_copy = theta.copy(), k.copy()
    width_limits.limit_errors(theta, k)
    width_limits.regression_metrics(theta, k, np.eye(2)[[0, 1, 0, 1]], 2, ridge=0.1)
    np.testing.assert_array_equal(theta, theta_copy)
    np.testing.assert_array_equal(k, k_copy)


# ----------------------------------------------------------------------------- one network, sweeps

SMALL = dict(n_train=8, n_test=6, out_dim=3, depth=2)


def test_mlp_point_records_are_tidy_and_wider_networks_are_closer_to_the_limit():
    narrow = width_limits.mlp_point(DigitsNetwork(width=8, seed=0, out_dim=3), n_train=8, n_test=6)
    wide = width_limits.mlp_point(DigitsNetwork(width=1024, seed=0, out_dim=3), n_train=8, n_test=6)
    metrics = {*width_limits.LIMIT_METRICS, *width_limits.SPECTRAL_METRICS, *width_limits.REGRESSION_METRICS}
    for records, width in ((narrow, 8), (wide, 1024)):
        assert {r["metric"] for r in records} == metrics and len(records) == len(metrics)
        assert all(r["model"] == "mlp" and r["width"] == width and r["seed"] == 0 for r in records)
        assert all(np.isfinite(r["value"]) for r in records)
    value = {r["metric"]: r["value"] for r in wide}
    narrow_value = {r["metric"]: r["value"] for r in narrow}
    for name in ("entk_diagonal", "entk_offdiagonal", "pntk", "entk_vs_limit"):
        assert value[name] < narrow_value[name] / 3, name
    assert value["entk_vs_limit"] < 0.15
    # Θ∞ has no width and no seed: its accuracy is the same for every network
    assert value["accuracy_limit"] == narrow_value["accuracy_limit"]


def test_mlp_point_uses_the_closed_form_of_the_same_architecture():
    # At width 2^14 with 2 inputs the eNTK's diagonal blocks are within a few percent of infinite.limit_kernels's Θ∞,
    # while the Θ∞ of another σw is far off: the point compares with the right limit.
    apply_fn, params, x, _ = DigitsNetwork(width=4096, seed=1, out_dim=2, b_std=0.1).build(6)
    theta = np.asarray(kernels.entk(apply_fn, params, x), np.float64)
    right = np.asarray(infinite.limit_kernels(apply_fn, np.asarray(x, np.float64)).ntk)
    wrong = np.asarray(infinite.mlp_kernels(np.asarray(x, np.float64), n_hidden=2, W_std=1.5, b_std=0.1).ntk)
    assert width_limits.limit_errors(theta, right)["entk_diagonal"] < 0.1
    assert width_limits.limit_errors(theta, wrong)["entk_diagonal"] > 0.3


def test_sweep_is_cached_per_point_and_collects_into_grids(cache_dir, monkeypatch):
    first = width_limits.mlp_sweep([8, 16], [0, 1], progress=False, **SMALL)
    assert len(list(cache_dir.glob("*.json"))) == 4

    def fail(*_, **__):
        raise AssertionError("every point should come from the cache")

    monkeypatch.setattr(width_limits, "mlp_point", fail)
    again = width_limits.mlp_sweep([8, 16], [0, 1], progress=False, **SMALL)
    assert again == first
    widths, values = analysis.values_by_seed(again, metric="pntk")
    assert list(widths) == [8, 16] and values.shape == (2, 2)
    comparison = width_limits.distance_comparison(again)
    assert comparison.ratio.shape == comparison.entk_vs_pntk.shape == (2, 2)
    np.testing.assert_allclose(comparison.ratio, comparison.entk_vs_pntk / comparison.entk_vs_limit, rtol=1e-12)
    table = comparison.table().splitlines()
    assert len(table) == 3 and table[1].split()[0] == "8"


def test_entries_are_the_kernel_entries_of_each_pair():
    e = width_limits.entries_at(32, seed=2, n=5, out_dim=3)
    assert e.limit.shape == e.pntk.shape == (15,) and e.diagonal.shape == (15, 3) and e.offdiagonal.shape == (15, 6)
    apply_fn, params, x, _ = DigitsNetwork(width=32, seed=2, out_dim=3, b_std=0.1).build(5)
    theta = np.asarray(kernels.entk(apply_fn, params, x), np.float64)
    rows, cols = np.triu_indices(5)
    np.testing.assert_allclose(e.diagonal[:, 1], theta[rows, cols, 1, 1], rtol=1e-12)
    np.testing.assert_allclose(e.pntk, theta.sum((2, 3))[rows, cols] / 3, rtol=1e-12)
    assert e.errors["pntk"] == pytest.approx(width_limits.limit_errors(theta, infinite.limit_kernels(
        apply_fn, np.asarray(x, np.float64)).ntk)["pntk"], rel=1e-12)
    assert width_limits.entries_at(32, seed=2, n=5, out_dim=3) is e  # remembered
    with pytest.raises(ValueError):
        e.limit[0] = 1.0  # read-only: the remembered copy cannot be changed by a caller


# ----------------------------------------------------------------------------- figures and widget


def test_lesson_04_figures_have_titles_labels_and_legends():
    narrow, wide = (width_limits.entries_at(w, seed=0, n=6, out_dim=3) for w in (16, 1024))
    fig = plots.entries_vs_limit([narrow, wide], title="setup")
    axes = fig.axes
    assert len(axes) == 2 and fig._suptitle.get_text() == "setup"
    assert all(ax.get_xlabel() and ax.get_ylabel() and "width" in ax.get_title() for ax in axes)
    assert axes[0].get_xlim() == axes[1].get_xlim() and fig.legends
    (xlim, ylim) = plots.entries_ranges([narrow, wide])
    assert ylim[0] <= min(narrow.offdiagonal.min(), 0) and ylim[1] >= narrow.diagonal.max()

    k = infinite.mlp_kernels(make_inputs(6, 4), n_hidden=2)
    fig = plots.infinite_kernels(k.nngp, k.ntk, np.array([0, 0, 1, 1, 1, 2]), title="setup")
    assert len(fig.axes) == 4 and all(cb.get_ylabel() for cb in fig.axes[2:])  # two panels, two colour bars

    records = [dict(model="mlp", width=w, seed=s, metric=m, value=v)
               for w in (8, 16, 32) for s in (0, 1)
               for m, v in (("entk_vs_pntk", 0.8 / w**0.5), ("entk_vs_limit", 1 / w**0.5), ("distance_ratio", 0.8),
                            ("diagonal_distance_ratio", 0.6))]
    fig = plots.distances_to_entk(width_limits.distance_comparison(records), title="setup")
    assert len(fig.axes) == 2 and all(ax.get_legend() for ax in fig.axes)
    assert "-0.50" in fig.axes[0].get_legend().get_texts()[0].get_text()  # fitted slope in the legend

    ax = plots.accuracy_vs_width([8, 16, 32], {"eNTK": np.array([[0.5, 0.6], [0.7, 0.8], [0.75, 0.85]])}, 0.75,
                                 title="setup", chance=0.1)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("Θ∞" in t and "0.750" in t for t in labels) and any("chance" in t for t in labels)


def test_widget_draws_the_plain_function_with_fixed_ranges():
    ranges = widgets.infinite_width_ranges(width_limits.entries_at, [16, 256], seed=0, n=5, out_dim=3)
    fig, entries = widgets.infinite_width_figure(width_limits.entries_at, 16, 0, n=5, ranges=ranges, out_dim=3)
    assert fig.axes[0].get_xlim() == pytest.approx(ranges[0]) and fig.axes[0].get_ylim() == pytest.approx(ranges[1])
    assert entries is width_limits.entries_at(16, 0, n=5, out_dim=3)
    assert "width 16" in fig._suptitle.get_text()
    pytest.importorskip("ipywidgets")
    with pytest.raises(ValueError, match="width"):
        widgets.explore_infinite_width(width_limits.entries_at, widths=[16, 256], width=64, n=5, ranges=ranges,
                                       out_dim=3)


# ----------------------------------------------------------------------------- exercises

CONTEXT = dict(x=np.asarray(make_inputs(5, 4, seed=3)), n_hidden=1, W_std=1.3, b_std=0.2)


@pytest.mark.parametrize("exercise_id", ["04.relu_nngp_step", "04.relu_ntk_step"])
def test_exercise_reference_passes_and_untouched_says_not_attempted(exercise_id, capsys):
    assert exercise_id in exercises.registered()
    reference = exercises.reference_answer(exercise_id, **CONTEXT)
    assert exercises.evaluate(exercise_id, reference, **CONTEXT).passed
    exercises.check(exercise_id, None, **CONTEXT)
    out = capsys.readouterr().out
    assert "not attempted" in out and "correct" not in out


def _wrong(exercise_id, answer, mistake, *phrases):
    verdict = exercises.evaluate(exercise_id, answer, **CONTEXT)
    assert verdict.status == "wrong" and verdict.mistake == mistake, verdict.message
    for phrase in phrases:
        assert phrase in verdict.message, verdict.message


def test_nngp_step_mistakes_get_their_hints():
    state = infinite.input_layer(CONTEXT["x"], W_std=1.3, b_std=0.2)
    state = infinite.relu_layer(*state, W_std=1.3, b_std=0.2)
    nngp, var1, var2 = (np.asarray(a) for a in (state.nngp, state.diag1, state.diag2))
    norm = np.sqrt(np.outer(var1, var2))
    theta = np.arccos(np.clip(nngp / norm, -1, 1))
    angular = (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi)
    _wrong("04.relu_nngp_step", 1.69 * angular + 0.04, "structure", "√(Σ(x,x) Σ(x',x'))")
    _wrong("04.relu_nngp_step", 1.69 * (np.pi - theta) / (2 * np.pi) + 0.04, "structure", "E[relu'(u) relu'(v)]")
    _wrong("04.relu_nngp_step", 1.69 * nngp + 0.04, "structure", "without the ReLU")
    # 1/2 where 1/(2π) belongs
    _wrong("04.relu_nngp_step", 1.69 * norm * angular * np.pi + 0.04, "constant", "1/π is missing")
    _wrong("04.relu_nngp_step", 1.69 * norm * angular, "constant", "σ_b² is missing")
    _wrong("04.relu_nngp_step", np.diag(nngp), "shape", "outer product")


def test_ntk_step_mistakes_get_their_hints():
    c = dict(CONTEXT)
    state = infinite.relu_layer(*infinite.input_layer(c["x"], W_std=1.3, b_std=0.2), W_std=1.3, b_std=0.2)
    e_relu, e_step = (np.asarray(a) for a in infinite.relu_expectations(
        state.nngp, state.diag1[:, None], state.diag2[None, :]))
    next_nngp = 1.69 * e_relu + 0.04
    _wrong("04.relu_ntk_step", next_nngp + 1.69 * e_step * np.asarray(state.nngp), "structure", "not its NNGP")
    _wrong("04.relu_ntk_step", next_nngp + 1.69 * e_relu * np.asarray(state.ntk), "structure", "derivative")
    _wrong("04.relu_ntk_step", 1.69 * e_step * np.asarray(state.ntk), "constant", "Σ^{l+1}", "missing")


# ----------------------------------------------------------------------------- against neural-tangents


@pytest.mark.neural_tangents
def test_closed_form_agrees_with_neural_tangents_in_every_record():
    x1, x2 = np.asarray(make_inputs(5, 6)), np.asarray(make_inputs(3, 6, seed=4))
    records = width_limits.closed_form_vs_neural_tangents(x1, x2, depths=(1, 3), activations=("relu", "erf"))
    assert len(records) == 2 * 2 * 2
    assert {(r["activation"], r["depth"], r["kernel"]) for r in records} == {
        (a, d, k) for a in ("relu", "erf") for d in (1, 3) for k in ("nngp", "ntk")}
    assert max(r["max_rel_error"] for r in records) < 1e-6


@pytest.mark.neural_tangents
def test_conv_point_compares_with_the_infinite_cnn_kernel(cache_dir):
    from ntk_lessons.reference import conv_net

    narrow = width_limits.conv_point(width=2, seed=0, n=4, out_dim=3)
    wide = width_limits.conv_point(width=256, seed=0, n=4, out_dim=3)
    assert {r["metric"] for r in wide} == {*width_limits.LIMIT_METRICS, *width_limits.SPECTRAL_METRICS}
    assert all(r["model"] == "conv" and r["width"] == 256 for r in wide)
    value, narrow_value = ({r["metric"]: r["value"] for r in rs} for rs in (wide, narrow))
    assert value["entk_vs_limit"] < narrow_value["entk_vs_limit"] / 3 and value["entk_vs_limit"] < 0.1
    # the limit it uses is neural-tangents' kernel_fn of the same architecture, the same for every channel count
    _, _, kernel_fn = conv_net.digits_conv_net(7, out_dim=3, b_std=0.1, pooling="global_avg")
    x, _ = data.digits_inputs(4, seed=0, out_dim=3, dtype="float64")
    k = np.asarray(kernel_fn(data.digits_as_images(x), None, "ntk"))
    init_fn, apply_fn, _ = conv_net.digits_conv_net(256, out_dim=3, b_std=0.1, pooling="global_avg")
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 8, 8, 1))
    theta = kernels.entk(apply_fn, params, data.digits_as_images(x), method="jacobian")
    assert width_limits.limit_errors(theta, k)["entk_vs_limit"] == pytest.approx(value["entk_vs_limit"], rel=1e-6)
    records = width_limits.conv_sweep([2, 4], [0], n=4, out_dim=3, progress=False)
    per_point = len(width_limits.LIMIT_METRICS + width_limits.SPECTRAL_METRICS)
    assert len(records) == 2 * per_point and len(list(cache_dir.glob("*.json"))) == 2


# ----------------------------------------------------------------------------- issue 18: norms, ratio formula, slopes


def test_spectral_errors_match_dense_operator_norms():
    o, k = 3, psd(5, seed=4)
    sym = rng.normal(size=(5, 5, o, o))
    sym = (sym + sym.transpose(1, 0, 3, 2)) / 2                      # Θ(x, x')_jk = Θ(x', x)_kj: a symmetric kernel
    theta = k[:, :, None, None] * np.eye(o) + 0.05 * sym
    e = width_limits.limit_errors(theta, k)
    flat = lambda t: np.transpose(t, (0, 2, 1, 3)).reshape(5 * o, 5 * o)  # noqa: E731
    top = np.linalg.eigvalsh(k)[-1]
    pntk = approximations.from_entk(theta, "pntk")
    want_limit = np.linalg.norm(flat(theta) - np.kron(k, np.eye(o)), 2) / top
    want_pntk = np.linalg.norm(flat(theta) - np.kron(pntk, np.eye(o)), 2) / top
    assert e["spectral_vs_limit"] == pytest.approx(want_limit, rel=1e-10)
    assert e["spectral_vs_pntk"] == pytest.approx(want_pntk, rel=1e-10)
    assert e["spectral_ratio"] == pytest.approx(want_pntk / want_limit, rel=1e-10)
    lam = np.linalg.eigvalsh(flat(theta))[-1]
    assert e["lambda_max_error_limit"] == pytest.approx(abs(lam - top) / top, rel=1e-10)
    assert e["lambda_max_error_pntk"] == pytest.approx(abs(lam - np.linalg.eigvalsh(pntk)[-1]) / top, rel=1e-10)
    # rectangular kernels (test x train) have no spectral metrics
    assert "spectral_ratio" not in width_limits.limit_errors(theta[:3], k[:3])


def test_total_ratio_formula_limits_and_simulation():
    # diagonal ratio 1 (q = 1 - 2/O): no difference anywhere
    assert width_limits.total_ratio_from_diagonal(1.0, 10) == pytest.approx(1.0, rel=1e-12)
    # many outputs: the off-diagonal blocks dominate, the ratio tends to 1
    assert width_limits.total_ratio_from_diagonal(0.5, 1000) > 0.99
    # the total ratio lies between the diagonal ratio and 1
    r = np.array([0.3, 0.6, 0.9])
    total = width_limits.total_ratio_from_diagonal(r, 10)
    assert np.all(total > r) and np.all(total < 1)
    # a simulation of the model of lesson 04, section 4 (one entry, x = x'): common part G, column-specific E,
    # symmetric (E_jk = E_kj, as w_j^T A w_k with A symmetric), Var E_jk = γ Var E_jj with γ = 1/2 (Gaussian readout)
    gen, o, q, gamma, m = np.random.default_rng(1), 5, 2.0, 0.5, 20000
    g = gen.normal(size=(m, 1, 1)) * math.sqrt(q)
    e = np.triu(gen.normal(size=(m, o, o)), 1) * math.sqrt(gamma)
    e = e + e.transpose(0, 2, 1)
    e[:, np.arange(o), np.arange(o)] = gen.normal(size=(m, o))
    theta = g * np.eye(o) + e                                          # Θ − Θ_∞ ⊗ I for one entry, m draws
    pntk = theta.sum(axis=(1, 2)) / o
    d_inf = (theta**2).sum(axis=(1, 2)).mean()
    d_pntk = ((theta - pntk[:, None, None] * np.eye(o)) ** 2).sum(axis=(1, 2)).mean()
    diag = np.diagonal(theta, axis1=1, axis2=2)
    r_diag = math.sqrt(((diag - pntk[:, None]) ** 2).sum(1).mean() / (diag**2).sum(1).mean())
    predicted = width_limits.total_ratio_from_diagonal(r_diag, o, gamma)
    assert predicted == pytest.approx(math.sqrt(d_pntk / d_inf), abs=0.02)


@pytest.mark.parametrize("call, name", [
    (lambda: width_limits.total_ratio_from_diagonal(0.5, 1), "out_dim"),
    (lambda: width_limits.total_ratio_from_diagonal(-0.5, 10), "diagonal_ratio"),
    (lambda: width_limits.total_ratio_from_diagonal(0.5, 10, gamma=0), "gamma"),
    (lambda: width_limits.slope_interval([1, 2], np.ones((3, 2))), "values_by_seed"),
    (lambda: width_limits.slope_interval([1, 2], -np.ones((2, 2))), "values_by_seed"),
])
def test_new_functions_reject_bad_inputs_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_slope_interval_is_exact_for_power_laws_and_honest_with_one_seed():
    widths = np.array([16.0, 64.0, 256.0])
    values = np.stack([widths**-0.5 * c for c in (1.0, 1.3, 0.8)], axis=1)
    fit = width_limits.slope_interval(widths, values)
    assert fit.slope == pytest.approx(-0.5, abs=1e-12) and fit.low == pytest.approx(-0.5, abs=1e-9)
    assert fit.n_seeds == 3 and "t-interval over 3 seeds" in fit.text()
    noisy = values * np.array([[1.0, 1.1, 0.9], [1.0, 0.9, 1.1], [1.0, 1.05, 0.95]])
    wide = width_limits.slope_interval(widths, noisy)
    assert wide.low < wide.slope < wide.high
    one = width_limits.slope_interval(widths, values[:, :1])
    assert math.isnan(one.low) and "1 seed: no interval" in one.text()


def test_distance_comparison_table_has_the_spectral_columns():
    records = []
    for w in (8, 16):
        for s in (0, 1):
            values = dict(entk_vs_pntk=0.1 / w, entk_vs_limit=0.12 / w, distance_ratio=0.8, diagonal_distance_ratio=0.6,
                          spectral_ratio=0.9, lambda_max_error_pntk=0.01, lambda_max_error_limit=0.02)
            records += [dict(model="mlp", width=w, seed=s, metric=m, value=v) for m, v in values.items()]
    comparison = width_limits.distance_comparison(records)
    assert comparison.spectral_ratio.shape == (2, 2)
    assert "operator-norm ratio" in comparison.table() and "0.90" in comparison.table()


# ----------------------------------------------------------------------------- exercise 3


def test_total_ratio_exercise_tells_structure_from_constant():
    from ntk_lessons.teaching.solutions import lesson_04

    ctx = dict(diagonal_ratio=0.64)
    right = lesson_04._total_ratio
    assert exercises.evaluate("04.total_ratio", right, **ctx).passed
    assert right(0.64, 10, 0.5) == pytest.approx(float(width_limits.total_ratio_from_diagonal(0.64, 10)), rel=1e-12)
    cases = [(lambda r, o, g: r, "structure", "off-diagonal"),
             (lambda r, o, g: right(r, o, g) ** 2, "structure", "square root"),
             (lambda r, o, g: 2 * right(r, o, g), "constant", "2 times"),
             (lambda r, o, g: -right(r, o, g), "sign", "wrong sign"),
             (lambda r, o, g: None, "none", "forget `return`"),
             (0.84, "type", "function")]
    for answer, mistake, phrase in cases:
        verdict = exercises.evaluate("04.total_ratio", answer, **ctx)
        assert verdict.mistake == mistake and phrase in verdict.message, verdict.message
