"""Interactive controls for the lessons: thin ipywidgets wrappers around plain functions.

Each ``explore_*`` function only wires sliders to a plain function that the notebooks
(and CI) also call directly, so a notebook reads the same where widgets do not render.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import blocks, experiments, plots


def block_structure_figure(x: np.ndarray, width: int, seed: int, *, order: str = "class", vmax: float | None = None,
                           input_labels: Sequence[str] | None = None, **model):
    """Heat maps of the eNTK, its readout term and its body term for one width and seed.

    ``x`` (N, d); ``model``: keyword arguments of ``experiments.decomposition_at``. One colour
    scale shared by the three panels; ``vmax`` fixes it (see :func:`block_structure_scale`), so
    that colours compare across panels and across calls. ``input_labels``: names of the N inputs
    (sample-major ticks). The title states the setup. Returns ``(figure, decomposition)``.
    Cost: one structured eNTK on x.
    """
    dec = experiments.decomposition_at(x, width, seed, **model)
    share = float(blocks.offdiagonal_share(dec.full))
    depth, out_dim = model.get("depth", 2), dec.body.shape[-1]
    setup = (f"N = {len(x)} inputs, O = {out_dim}, {depth} hidden layers, σw = {model.get('W_std', 1.0):g}, "
             f"σb = {model.get('b_std', 0.0)}, {np.asarray(x).dtype}")
    fig = plots.kernel_heatmaps({"eNTK": dec.full, "readout term": dec.readout, "body term": dec.body}, order=order,
                                vmax=vmax, input_labels=input_labels)
    fig.suptitle(f"width {width}, seed {seed}, {order}-major: off-diagonal share {share:.3f}\n{setup}", fontsize=10)
    return fig, dec


def block_structure_scale(x: np.ndarray, widths: Sequence[int], seed: int = 0, **model) -> float:
    """One colour scale for :func:`block_structure_figure` at every width in ``widths``: the median
    over those widths of the eNTK's largest |entry| at ``seed``. The narrowest networks' extremes
    exceed it and are clipped (the colour bar shows arrows) rather than washing out every other
    width. Cost: len(widths) structured eNTKs."""
    return float(np.median([np.abs(experiments.decomposition_at(x, w, seed, **model).full).max() for w in widths]))


def explore_block_structure(x: np.ndarray, *, widths: Sequence[int] = (4, 16, 64, 256, 1024), seeds: int = 10,
                            width: int | None = None, seed: int = 0, order: str = "class", vmax: float | None = None,
                            input_labels: Sequence[str] | None = None, **model):
    """Sliders for width and seed and a toggle for the order, redrawing :func:`block_structure_figure`.

    Starts at ``width`` (default: the middle of ``widths``), ``seed`` and ``order`` -- pass the
    setting of the static figure drawn before it. The colour scale stays fixed while the
    sliders move: ``vmax``, by default :func:`block_structure_scale` over ``widths``.
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    widths = list(widths)
    start = widths[len(widths) // 2] if width is None else width
    if start not in widths:
        raise ValueError(f"width={start} must be one of widths={widths}")
    scale = block_structure_scale(x, widths, seed, **model) if vmax is None else vmax

    def draw(width, seed, order):
        block_structure_figure(x, width, seed, order=order, vmax=scale, input_labels=input_labels, **model)
        plt.show()

    return ipywidgets.interact(
        draw,
        width=ipywidgets.SelectionSlider(options=widths, value=start, description="width"),
        seed=ipywidgets.IntSlider(value=seed, min=0, max=seeds - 1, description="seed"),
        order=ipywidgets.ToggleButtons(options=["class", "sample"], value=order, description="order"),
    )
