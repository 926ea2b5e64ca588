"""Figure helpers: titles, labelled axes and colour bars, block ticks, colour scales, readable log ticks."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from ntk_lessons.core import blocks  # noqa: E402
from ntk_lessons.teaching import plots, widgets

from conftest import make_inputs  # noqa: E402


def kernel(n=4, o=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n * o, n * o))
    return blocks.from_matrix(scale * a @ a.T, n, n, "sample")


def colour_bars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_per_panel_scales_give_each_panel_its_labelled_colour_bar():
    big, small = kernel(scale=100.0), kernel(seed=1, scale=0.01)
    fig = plots.kernel_heatmaps({"big": big, "small": small}, order="class", scale="per panel", title="setup")
    bars = colour_bars(fig)
    assert len(bars) == 2 and all("Θ entry" in bar.get_ylabel() for bar in bars)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert images[1].get_clim()[1] == pytest.approx(np.abs(blocks.to_matrix(small, "class")).max())
    assert fig._suptitle.get_text() == "setup"


def test_block_ticks_name_inputs_or_logits():
    theta = kernel(n=4, o=3)
    fig = plots.kernel_heatmaps({"k": theta}, order="sample", input_labels=["a", "b", "c", "d"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "d"]
    assert ax.get_xticks() == pytest.approx([1, 4, 7, 10])  # centres of the 3 x 3 blocks
    assert "3 x 3 logits" in ax.get_xlabel()
    fig = plots.kernel_heatmaps({"k": theta}, order="class")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["0", "1", "2"]
    assert "4 x 4 inputs" in fig.axes[0].get_ylabel()


def test_a_fixed_shared_scale_is_kept_and_clipping_is_shown():
    fig = plots.kernel_heatmaps({"a": kernel(), "b": kernel(seed=2)}, vmax=0.5)
    assert all(ax.images[0].get_clim() == (-0.5, 0.5) for ax in fig.axes if ax.images)
    (bar,) = colour_bars(fig)
    assert "one scale for all panels" in bar.get_ylabel()
    with pytest.raises(ValueError, match="scale must be"):
        plots.kernel_heatmaps({"a": kernel()}, scale="each")


def test_digits_gallery_shows_stored_and_normalised_digits_with_labels():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(3, 8, 8))
    fig = plots.digits_gallery(images, rng.normal(size=(3, 64)), np.array([4, 0, 7]), title="three digits")
    assert [ax.get_title() for ax in fig.axes[:3]] == ["label 4", "label 0", "label 7"]
    assert sorted(bar.get_ylabel() for bar in colour_bars(fig)) == ["grey level", "value (0 = image mean)"]
    with pytest.raises(ValueError, match="same 3 digits"):
        plots.digits_gallery(images, np.zeros((2, 64)), np.array([4, 0, 7]))


def test_width_sweep_ticks_sit_at_the_widths_and_read_plainly():
    widths = [16, 32, 64, 128, 256, 512, 1024, 2048]
    shares = 0.6 * np.asarray(widths, float)[:, None] ** -0.45 * np.ones((1, 3))
    ax = plots.share_vs_width(widths, shares, -0.45, title="setup")
    plt.gcf().canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(w) for w in widths]
    y_labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert y_labels and all("^" not in t and "10" not in t.replace("0.1", "") for t in y_labels)
    assert [t.get_text() for t in ax.get_yticklabels(minor=True) if t.get_text()] == []
    assert ax.get_title() == "setup" and len(ax.get_legend().get_texts()) == 3


def test_step_prediction_has_labels_legend_and_title():
    ax = plots.step_prediction(np.array([1.0, -2.0]), np.array([1.1, -1.9]), title="lr 0.01")
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "lr 0.01"
    assert len(ax.get_legend().get_texts()) == 2


def test_widget_starts_at_the_static_setting_with_a_fixed_scale():
    x = np.asarray(make_inputs(4, 5))
    model = dict(out_dim=3, b_std=0.1)
    scale = widgets.block_structure_scale(x, [4, 16, 64], **model)
    fig, dec = widgets.block_structure_figure(x, 16, 0, vmax=scale, **model)
    maxima = [float(np.abs(widgets.block_structure_figure(x, w, 0, **model)[1].full).max()) for w in (4, 16, 64)]
    assert scale == pytest.approx(np.median(maxima))
    assert all(ax.images[0].get_clim() == (-scale, scale) for ax in fig.axes if ax.images)
    assert "N = 4 inputs, O = 3" in fig._suptitle.get_text()
    interactive = widgets.explore_block_structure(x, widths=[4, 16], width=16, seed=1, order="sample", **model)
    values = {w.description: w.value for w in interactive.widget.children if hasattr(w, "description")}
    assert values == {"width": 16, "seed": 1, "order": "sample"}
    with pytest.raises(ValueError, match="width=8 must be one of"):
        widgets.explore_block_structure(x, widths=[4, 16], width=8, **model)
