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
