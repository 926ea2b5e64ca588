"""Lesson 02's driver (the off-diagonal share against width) and the block-structure widget's plain function."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from ntk_lessons import analysis  # noqa: E402
from ntk_lessons.core import blocks  # noqa: E402
from ntk_lessons.lessons import block_structure  # noqa: E402
from ntk_lessons.teaching import widgets  # noqa: E402

from conftest import make_inputs  # noqa: E402


def test_offdiagonal_share_falls_with_width():
    x = np.asarray(make_inputs(6, 5))
    shares = block_structure.offdiagonal_share_vs_width(x, [8, 64, 512], [0, 1, 2], out_dim=4, progress=False)
    assert shares.shape == (3, 3)
    mean = shares.mean(axis=1)
    assert mean[0] > mean[1] > mean[2]
    assert analysis.loglog_slope([8, 64, 512], mean) < -0.3


def test_block_structure_figure_is_the_plain_function_behind_the_widget():
    x = np.asarray(make_inputs(4, 5))
    fig, dec = widgets.block_structure_figure(x, 16, 0, out_dim=3, b_std=0.1)
    assert len(fig.axes) == 4  # three heat maps and a colour bar
    assert dec.full.shape == (4, 4, 3, 3)
    assert 0 < float(blocks.offdiagonal_share(dec.full)) < 1
    assert fig._suptitle.get_text().startswith("width 16, seed 0, class-major")


def test_slope_per_seed_recovers_known_slopes_and_a_t_interval():
    widths = [16, 64, 256, 1024]
    shares = np.stack([np.asarray(widths, float) ** s for s in (-0.4, -0.5, -0.6)], axis=1)  # (4 widths, 3 seeds)
    slopes, mean, half = block_structure.slope_per_seed(widths, shares)
    np.testing.assert_allclose(slopes, [-0.4, -0.5, -0.6], atol=1e-12)
    assert abs(mean + 0.5) < 1e-12
    assert abs(half - 4.303 * 0.1 / np.sqrt(3)) < 1e-9  # t_{0.975, 2} sd / sqrt(S)


def test_slope_per_seed_names_bad_inputs():
    import pytest
    with pytest.raises(ValueError, match="shares must have shape"):
        block_structure.slope_per_seed([1, 2], np.ones((3, 2)))
    with pytest.raises(ValueError, match="2 to 31 seeds"):
        block_structure.slope_per_seed([1, 2], np.ones((2, 1)))
    with pytest.raises(ValueError, match="positive"):
        block_structure.slope_per_seed([1, 2], -np.ones((2, 3)))
