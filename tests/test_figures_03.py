"""Lesson 03's figures: fitted slopes and intervals in the legend, floors, fixed colour scales, labelled axes."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ntk_lessons import analysis  # noqa: E402
from ntk_lessons.lessons.networks import DigitsNetwork  # noqa: E402
from ntk_lessons.teaching import plots, widgets  # noqa: E402


def sweep(slope, seeds=4, seed=0):
    rng = np.random.default_rng(seed)
    widths = np.array([64, 256, 1024, 4096])
    return widths, widths[:, None] ** slope * np.exp(rng.normal(0, 0.05, (4, seeds)))


def test_error_vs_width_shows_each_fit_with_its_interval_and_floor():
    series = {"a": sweep(-0.5), "b": sweep(-1.0, seed=1)}
    ax = plots.error_vs_width(series, ylabel="relative error", title="setup N=50", floors={"a": 0.01})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for label, (w, v) in series.items():
        fit = analysis.fit_power_law(w, v)
        assert any(t.startswith(f"{label}: slope {fit.slope:.2f} [{fit.low:.2f}, {fit.high:.2f}]") for t in labels)
    assert ax.get_ylabel() == "relative error" and ax.get_title() == "setup N=50"
    assert [float(t) for t in ax.get_xticks()] == [64, 256, 1024, 4096]
    assert any(np.allclose(line.get_ydata(), 0.01) for line in ax.get_lines())  # the floor


def test_spectrum_and_agreement_figures_label_every_series():
    w = [64, 256, 1024]
    vals = np.abs(np.random.default_rng(0).normal(size=(3, 2))) + 1
    fig = plots.spectrum_vs_width(w, vals, 100 * vals, 10 * vals, title="setup")
    assert fig._suptitle.get_text() == "setup"
    assert all(ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() for ax in fig.axes)
    ax = plots.agreement_vs_width(w, vals / 3, vals / 3, vals / 3, title="regression")
    assert len(ax.get_legend().get_texts()) == 3 and ax.get_ylim()[0] == 0


def test_approximation_gap_keeps_fixed_colour_scales():
    rng = np.random.default_rng(0)
    for scale in (1.0, 1000.0):  # a kernel 1000 times larger: same colour limits
        a = rng.normal(size=(12, 12))
        theta = (scale * (a @ a.T)).reshape(4, 3, 4, 3).transpose(0, 2, 1, 3)
        fig = plots.approximation_gap(theta, theta.sum((2, 3)) / 3, title="t", gap_scale=0.25)
        clims = [ax.images[0].get_clim() for ax in fig.axes if ax.images]
        assert clims == [(-1.0, 1.0), (-0.25, 0.25)]
        bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
        assert len(bars) == 2 and all("fixed scale" in bar.get_ylabel() for bar in bars)


def test_pntk_gap_figure_reports_the_errors_it_draws():
    network = DigitsNetwork(width=16, seed=0, out_dim=3)
    fig, errors = widgets.pntk_gap_figure(network, n=4)
    assert set(errors) == {"total", "diagonal", "offdiagonal"} and 0 < errors["total"] < 1
    assert f"{errors['total']:.3f}" in fig._suptitle.get_text()
    fig, errors = widgets.pntk_gap_figure(network.replace(regime="last_wide", parameterization="standard",
                                                          fixed_width=8), n=4)
    assert "[8, 16]" in fig._suptitle.get_text() and "standard" in fig._suptitle.get_text()


def test_error_vs_width_draws_the_lessons_own_fits_and_floor_models():
    from ntk_lessons.lessons import convergence

    widths = np.array([64, 256, 1024, 4096])
    steep = sweep(-1.25, seeds=3)
    fit = convergence.slope_per_seed(widths[1:], steep[1][1:])  # fitted over n >= 256 only
    floored = (widths, np.sqrt(2.0 / widths[:, None] + np.array([1e-3, 1.2e-3, 0.9e-3])))
    floor = analysis.fit_floor(*floored)
    ax = plots.error_vs_width({"steep": steep, "floored": floored}, ylabel="e", title="t",
                              fits={"steep": (fit, widths[1:])}, floor_fits={"floored": floor})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # the legend shows exactly the printed fit (same fit range), and no power-law slope for the floored series
    assert f"steep: slope {fit.mean:.2f} [{fit.low:.2f}, {fit.high:.2f}]" in labels
    assert f"floored: floor √c = {floor.floor:.3g}" in labels and not any("floored: slope" in t for t in labels)
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert any(np.array_equal(line.get_xdata(), widths[1:]) for line in dashed)  # the fit line spans its fit range
    model = next(line for line in dashed if len(line.get_xdata()) == 50)
    assert np.allclose(model.get_ydata(), np.sqrt(floor.a / model.get_xdata() + floor.c))
    assert any(np.allclose(line.get_ydata(), floor.floor) for line in ax.get_lines())  # dotted floor
    ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    assert len(ticks) >= 3  # at least three labelled ticks on the log axis
    one_seed = convergence.slope_per_seed(widths, steep[1][:, :1])
    ax = plots.error_vs_width({"one": (widths, steep[1][:, :1])}, ylabel="e", title="t",
                              fits={"one": (one_seed, widths)})
    assert "1 seed: no interval" in ax.get_legend().get_texts()[0].get_text()
    with pytest.raises(ValueError, match="not in series"):
        plots.error_vs_width({"a": steep}, ylabel="e", title="t", fits={"b": (fit, widths)})


def test_error_vs_width_labels_at_least_three_ticks_over_two_decades():
    widths = np.array([64, 256, 1024, 4096])
    steep = (widths, 0.5 * (widths[:, None] / 64.0) ** -1.2 * np.ones((1, 2)))  # about 2.2 decades
    ax = plots.error_vs_width({"steep": steep}, ylabel="e", title="t")
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    labelled = [t for t in ax.yaxis.get_majorticklabels() if t.get_text() and low <= t.get_position()[1] <= high]
    assert len(labelled) >= 3 and all("10^" not in t.get_text() for t in labelled)
