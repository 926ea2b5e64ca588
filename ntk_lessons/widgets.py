"""Interactive controls for the lessons: thin ipywidgets wrappers around plain functions.

Each ``explore_*`` function only wires sliders to a plain function that the notebooks
(and CI) also call directly, so a notebook reads the same where widgets do not render.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import blocks, experiments, plots


def block_structure_figure(x: np.ndarray, width: int, seed: int, *, order: str = "class", **model):
    """Heat maps of the eNTK, its readout term and its body term for one width and seed.

    ``x`` (N, d); ``model``: keyword arguments of ``experiments.decomposition_at``.
    Returns ``(figure, decomposition)``. Cost: one structured eNTK on x.
    """
    dec = experiments.decomposition_at(x, width, seed, **model)
    share = float(blocks.offdiagonal_share(dec.full))
    fig = plots.kernel_heatmaps({"eNTK": dec.full, "readout term": dec.readout, "body term": dec.body}, order=order)
    fig.suptitle(f"width {width}, seed {seed}, {order}-major: off-diagonal share {share:.3f}", fontsize=10)
    return fig, dec


def explore_block_structure(x: np.ndarray, *, widths: Sequence[int] = (4, 16, 64, 256, 1024), seeds: int = 10, **model):
    """Sliders for width and seed and a toggle for the order, redrawing :func:`block_structure_figure`."""
    import ipywidgets
    import matplotlib.pyplot as plt

    def draw(width, seed, order):
        block_structure_figure(x, width, seed, order=order, **model)
        plt.show()

    return ipywidgets.interact(
        draw,
        width=ipywidgets.SelectionSlider(options=list(widths), value=widths[len(widths) // 2], description="width"),
        seed=ipywidgets.IntSlider(value=0, min=0, max=seeds - 1, description="seed"),
        order=ipywidgets.ToggleButtons(options=["class", "sample"], description="order"),
    )
