"""Interactive controls for the lessons: thin ipywidgets wrappers around plain functions.

Each ``explore_*`` function only wires sliders to a plain function that the notebooks
(and CI) also call directly, so a notebook reads the same where widgets do not render.

A widget that shows a lesson's results takes the lesson's function (or its network description)
as its first argument -- e.g. ``widgets.explore_training(trajectories.cached_point, ...)`` -- and
draws what it returns: teaching tools import ``core`` but never ``lessons``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import approximations, blocks, kernels, readout
from ..support import config
from . import plots


def block_structure_figure(x: np.ndarray, width: int, seed: int, *, order: str = "class", vmax: float | None = None,
                           input_labels: Sequence[str] | None = None, **model):
    """Heat maps of the eNTK, its readout term and its body term for one width and seed.

    ``x`` (N, d); ``model``: keyword arguments of ``readout.decompose_at_init``. One colour
    scale shared by the three panels; ``vmax`` fixes it (see :func:`block_structure_scale`), so
    that colours compare across panels and across calls. ``input_labels``: names of the N inputs
    (sample-major ticks). The title states the setup. Returns ``(figure, decomposition)``.
    Cost: one structured eNTK on x.
    """
    dec = readout.decompose_at_init(x, width, config.lesson_seed(seed), **model)
    share = float(blocks.offdiagonal_share(dec.full))
    depth, out_dim = model.get("depth", 2), dec.body.shape[-1]
    setup = (f"N = {len(x)} inputs, O = {out_dim}, {depth} hidden layers, σw = {model.get('W_std', 1.0):.3g}, "
             f"σb = {model.get('b_std', 0.0)}, {np.asarray(x).dtype}")
    fig = plots.kernel_heatmaps({"eNTK": dec.full, "readout term": dec.readout, "body term": dec.body}, order=order,
                                vmax=vmax, input_labels=input_labels)
    fig.suptitle(f"width {width}, seed {config.lesson_seed(seed)}, {order}-major: off-diagonal share {share:.3f}\n"
                 f"{setup}", fontsize=10)
    return fig, dec


def block_structure_scale(x: np.ndarray, widths: Sequence[int], seed: int = 0, **model) -> float:
    """One colour scale for :func:`block_structure_figure` at every width in ``widths``: the median
    over those widths of the eNTK's largest |entry| at ``seed``. The narrowest networks' extremes
    exceed it and are clipped (the colour bar shows arrows) rather than washing out every other
    width. Cost: len(widths) structured eNTKs."""
    seed = config.lesson_seed(seed)
    return float(np.median([np.abs(readout.decompose_at_init(x, w, seed, **model).full).max() for w in widths]))


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


# ---------------------------------------------------------------- lesson 03: the sum-of-logits gap


def pntk_gap_figure(network, *, n: int = 12):
    """Heat maps of the eNTK and of Θ − pNTK ⊗ I_O for one network, with its relative errors in the title.

    ``network``: a ``lessons.networks.DigitsNetwork`` (its ``build(n)`` gives the model and its first
    ``n`` digits). Colour scales are fixed relative to max|Θ| (``plots.approximation_gap``). Returns
    ``(figure, errors)`` with errors from ``approximations.block_errors``. Cost: one structured eNTK on n inputs.
    """
    apply_fn, params, x, _ = network.build(n)
    theta = kernels.entk(apply_fn, params, x)
    k = kernels.pntk(apply_fn, params, x)
    errors = approximations.block_errors(theta, k)
    fig = plots.approximation_gap(theta, k, title=(
        f"{network.parameterization} parameterisation, hidden widths {network.hidden_widths}, seed {network.seed}, "
        f"N={n} digits, O={network.out_dim}, {network.dtype}: ‖Θ − pNTK⊗I‖/‖Θ‖ = {errors['total']:.3f} "
        f"(diagonal {errors['diagonal']:.3f}, off-diagonal {errors['offdiagonal']:.3f})"))
    return fig, errors


def explore_pntk_gap(network, *, widths: Sequence[int] = (16, 64, 256, 1024, 4096), seeds: int = 5,
                     fixed_width: int = 64, n: int = 12):
    """Sliders for width and seed, toggles for regime and parameterisation, redrawing :func:`pntk_gap_figure`.

    Starts at ``network`` (a ``lessons.networks.DigitsNetwork``: pass the one of the static figure the
    lesson draws first); the other settings are ``network.replace(...)`` of it, with the layers below the
    last at ``fixed_width`` in the "last_wide" regime.
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    def draw(width, seed, regime, parameterization):
        pntk_gap_figure(network.replace(width=width, seed=seed, regime=regime, parameterization=parameterization,
                                        fixed_width=fixed_width if regime == "last_wide" else None), n=n)
        plt.show()

    return ipywidgets.interact(
        draw,
        width=ipywidgets.SelectionSlider(options=list(widths), value=network.width, description="width"),
        seed=ipywidgets.IntSlider(value=network.seed, min=0, max=seeds - 1, description="seed"),
        regime=ipywidgets.ToggleButtons(options=["all_wide", "last_wide"], value=network.regime,
                                        description="regime"),
        parameterization=ipywidgets.ToggleButtons(options=["ntk", "standard"], value=network.parameterization,
                                                  description="param."),
    )


# ---------------------------------------------------------------- lesson 06: training dynamics


def training_figure(compute, width: int, threshold_fraction: float, parameterization: str, *, seed: int = 0, **point):
    """The network's run against the kernels' predictions for one setting (one row of
    ``plots.training_trajectories``), with the trajectory errors and the kernel movement in the title.

    ``compute``: the lesson's ``trajectories.cached_point`` (called with width, seed, parameterization,
    threshold_fraction and ``point``, its other keyword arguments: steps, n_train, ...), which returns a
    ``TrajectoryPoint``. Returns ``(figure, point)``. Cost: one training run and its kernels unless cached.
    """
    run = compute(width=width, seed=seed, parameterization=parameterization, threshold_fraction=threshold_fraction,
                  **point)
    m = run.metrics
    errors = ", ".join(f"{name} {m[f'error_test_{name}']:.3g}" for name in run.predictors)
    net = run.network
    fig = plots.training_trajectories([run], title=(
        f"N = {run.n_train} training / {run.n_test} test digits, O = {net.out_dim}, {net.depth} hidden "
        f"layers, {run.steps} full-batch steps, {net.dtype} network, float64 kernels\n"
        f"test trajectory error: {errors}; kernel movement {m['movement']:.3g}; "
        f"λmax(Θ_T) / λmax(Θ_0) = {m['lambda_ratio']:.2f}"))
    return fig, run


def explore_training(compute, *, widths: Sequence[int] = (64, 256, 1024),
                     threshold_fractions: Sequence[float] = (0.1, 0.25, 0.5, 0.9, 1.5),
                     width: int = 1024, threshold_fraction: float = 0.25, parameterization: str = "ntk", **point):
    """Sliders for width and step size (a fraction of 2/λmax) and a toggle for the parameterisation,
    redrawing :func:`training_figure` of ``compute`` (``trajectories.cached_point``). Starts at ``width``,
    ``threshold_fraction``, ``parameterization`` -- the setting of the static figure drawn below it."""
    import ipywidgets
    import matplotlib.pyplot as plt

    def draw(width, threshold_fraction, parameterization):
        training_figure(compute, width, threshold_fraction, parameterization, **point)
        plt.show()

    return ipywidgets.interact(
        draw,
        width=ipywidgets.SelectionSlider(options=list(widths), value=width, description="width"),
        threshold_fraction=ipywidgets.SelectionSlider(options=list(threshold_fractions), value=threshold_fraction,
                                                 description="step / (2/λmax)"),
        parameterization=ipywidgets.ToggleButtons(options=["ntk", "standard"], value=parameterization,
                                                  description="param."),
    )


# ---------------------------------------------------------------- lesson 04: infinite width


def infinite_width_figure(entries_at, width: int, seed: int, *, n: int = 20, ranges: tuple | None = None, **model):
    """Scatter of one mlp's eNTK and pNTK entries against Θ∞ (``plots.entries_vs_limit``) at this width and seed.

    ``entries_at``: the lesson's ``width_limits.entries_at`` (called with width, seed, ``n`` digits and
    ``model``: depth, out_dim, W_std, b_std, ...; defaults 2 hidden layers, O = 10, σw = 1, σb = 0.1).
    ``ranges``: fixed axis ranges (see :func:`infinite_width_ranges`). The title states the setup.
    Returns ``(figure, entries)``. Cost: one structured eNTK on n inputs.
    """
    entries = entries_at(width, seed, n=n, **model)
    setup = (f"N = {n} digits, O = {entries.diagonal.shape[1]}, "
             f"{model.get('depth', 2)} hidden layers of width {width}\n"
             f"σw = {model.get('W_std', 1.0)}, σb = {model.get('b_std', 0.1)}, NTK param., float32 (Θ∞ float64)")
    fig = plots.entries_vs_limit([entries], ranges=ranges, title=f"eNTK and pNTK entries against Θ∞\n{setup}")
    return fig, entries


def infinite_width_ranges(entries_at, widths: Sequence[int], seed: int = 0, *, n: int = 20, **model) -> tuple:
    """Axis ranges ((x_low, x_high), (y_low, y_high)) for :func:`infinite_width_figure` that hold every
    entry at every width in ``widths`` (at ``seed``), so that a widget's frames compare.
    Cost: len(widths) structured eNTKs on n inputs."""
    return plots.entries_ranges(entries_at(w, seed, n=n, **model) for w in widths)


def explore_infinite_width(entries_at, *, widths: Sequence[int] = (16, 64, 256, 1024, 4096), seeds: int = 5,
                           width: int = 64, seed: int = 0, n: int = 20, ranges: tuple | None = None, **model):
    """Sliders for the width (of every hidden layer) and the seed, redrawing :func:`infinite_width_figure`.

    Starts at ``width`` and ``seed`` (pass the setting of the static figure drawn before it);
    the axes stay fixed (``ranges``, default :func:`infinite_width_ranges` over ``widths``).
    """
    import ipywidgets
    import matplotlib.pyplot as plt

    widths = list(widths)
    if width not in widths:
        raise ValueError(f"width={width} must be one of widths={widths}")
    fixed = infinite_width_ranges(entries_at, widths, seed, n=n, **model) if ranges is None else ranges

    def draw(width, seed):
        infinite_width_figure(entries_at, width, seed, n=n, ranges=fixed, **model)
        plt.show()

    return ipywidgets.interact(
        draw,
        width=ipywidgets.SelectionSlider(options=widths, value=width, description="width"),
        seed=ipywidgets.IntSlider(value=seed, min=0, max=seeds - 1, description="seed"),
    )


# ---------------------------------------------------------------- lesson 05: the gap during training


def training_gap_figure(apply_fn, checkpoints: dict, x: np.ndarray, step: int, *, setup: str = ""):
    """Heat maps (class-major) of the eNTK and of Θ − pNTK ⊗ I_O at one training checkpoint.

    ``checkpoints``: {step: params} (``training.TrainingResult.checkpoints``); ``x`` (N, ...) a few
    inputs (sorted by class, the diagonal blocks show class structure). Colour scales are fixed
    relative to max|Θ| (``plots.approximation_gap``). Returns ``(figure, errors)`` with errors from
    ``approximations.block_errors``. Cost: one eNTK and one pNTK on x.
    """
    if step not in checkpoints:
        raise ValueError(f"step={step!r} is not a checkpoint; available: {sorted(checkpoints)}")
    theta = np.asarray(kernels.entk(apply_fn, checkpoints[step], x), np.float64)
    k = np.asarray(kernels.pntk(apply_fn, checkpoints[step], x), np.float64)
    errors = approximations.block_errors(theta, k)
    fig = plots.approximation_gap(theta, k, title=(
        f"after {step} training steps{': ' + setup if setup else ''}\n‖Θ − pNTK⊗I‖/‖Θ‖ = {errors['total']:.3f} "
        f"(diagonal {errors['diagonal']:.3f}, off-diagonal {errors['offdiagonal']:.3f}) on these {len(x)} inputs"))
    return fig, errors


def explore_training_gap(apply_fn, checkpoints: dict, x: np.ndarray, *, step: int | None = None, setup: str = ""):
    """A slider over the checkpoints, redrawing :func:`training_gap_figure`. Starts at ``step``
    (default: the last checkpoint) -- pass the step of the static figure drawn before it."""
    import ipywidgets
    import matplotlib.pyplot as plt

    steps = sorted(checkpoints)
    start = steps[-1] if step is None else step

    def draw(step):
        training_gap_figure(apply_fn, checkpoints, x, step, setup=setup)
        plt.show()

    return ipywidgets.interact(draw, step=ipywidgets.SelectionSlider(options=steps, value=start,
                                                                     description="step"))
