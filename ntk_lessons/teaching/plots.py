"""Figures for the lessons. Each function draws on a given (or new) matplotlib Axes/Figure and returns it.

Figures of a lesson's results read the dataclasses the lesson's driver returns (their documented
fields; e.g. ``lessons.trajectories.TrajectoryPoint``) without importing the driver. Shared pieces:
:func:`readable_log_axes` (ticks), :func:`mean_with_range` (a mean over seeds with a min-max bar) and
:func:`block_grid` (the lines and ticks that name the blocks of a heat map).
"""

from __future__ import annotations

import re
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from ..analysis import fit_power_law, power_law_line
from ..core import blocks


def step_prediction(actual, predicted, ax=None, *, title: str | None = None):
    """Scatter of actual vs eNTK-predicted logit changes (any matching shapes), with the line y = x.

    ``title``: the setup (sizes, learning rate, dtype) shown above the plot. Returns the Axes.
    """
    ax = ax or plt.subplots(figsize=(4.2, 4.2))[1]
    a, p = np.ravel(actual), np.ravel(predicted)
    lim = 1.05 * max(np.abs(a).max(), np.abs(p).max())
    ax.plot([-lim, lim], [-lim, lim], color="0.7", lw=1, zorder=0, label="prediction = actual")
    ax.scatter(a, p, s=12, label=f"{a.size} logit changes")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="actual change of a logit, Δf", ylabel="eNTK prediction of Δf",
           aspect="equal")
    ax.legend(frameon=False, loc="upper left", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def readable_log_axes(ax, xticks: Sequence[float] | None = None):
    """Tidy the ticks of a log-log Axes: x ticks exactly at ``xticks`` (e.g. the widths measured),
    labelled plainly, without minor labels; on a log y axis spanning less than ~1.5 decades, limits and
    ticks at 1, 2, 5 x 10^k labelled plainly (instead of crowded minor labels); up to 3 decades, ticks at
    1, 2, 5 x 10^k; beyond, one per decade -- at least three labelled ticks. Returns the Axes."""
    plain = ticker.FuncFormatter(lambda v, _: f"{v:g}")
    if xticks is not None:
        ax.set_xticks(list(xticks))
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_locator(ticker.NullLocator())
    low, high = ax.get_ylim()
    if low > 0 and np.log10(high / low) < 1.5:
        # the axis starts and ends at a 1, 2, 5 x 10^k tick, with at least three of them: every point lies
        # between two labelled ticks
        grid = sorted(m * 10.0**k for k in range(int(np.floor(np.log10(low))) - 1, int(np.ceil(np.log10(high))) + 2)
                      for m in (1.0, 2.0, 5.0))
        start = max(i for i, g in enumerate(grid) if g <= low * (1 + 1e-9))
        stop = max(min(i for i, g in enumerate(grid) if g >= high * (1 - 1e-9)), start + 2)
        ax.set_ylim(grid[start], grid[stop])
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(plain)
    elif low > 0 and ax.get_yscale() == "log":
        # 1.5 decades or more: plain labels at 1, 2, 5 x 10^k (every decade from 3 decades on), never fewer than three
        ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0) if np.log10(high / low) < 3 else (1.0,)))
        ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    return ax


def mean_with_range(ax, x, values, *, fmt: str, label: str | None = None, **style):
    """Draw the mean over seeds of ``values`` (W, S) at ``x`` (W,), with a bar from the minimum to the maximum.

    ``fmt``: the marker and line (e.g. "o-"); ``style``: more keywords of ``ax.errorbar``. Returns its container.
    """
    values = np.asarray(values, float)
    mean = values.mean(axis=1)
    return ax.errorbar(x, mean, yerr=np.stack([mean - values.min(axis=1), values.max(axis=1) - mean]), fmt=fmt,
                       ms=5, capsize=3, lw=1, label=label, **style)


def block_grid(ax, row_starts: Sequence[int], n_rows: int, row_names: Sequence[str], *,
               col_starts: Sequence[int] | None = None, n_cols: int | None = None,
               col_names: Sequence[str] | None = None, color: str = "0.6", lw: float = 0.4, fontsize: float = 8,
               tick_length: float | None = 0):
    """Mark the blocks of a heat map: a thin line between neighbouring blocks and a tick at each block's centre
    naming it.

    ``row_starts``: the first row of each block (0 first); ``n_rows``: the matrix's rows; ``row_names``: one name
    per block. The columns likewise (default: the rows'). ``tick_length``: 0 hides the tick marks (None keeps
    matplotlib's). Returns the Axes. Cost O(number of blocks).
    """
    col_starts = row_starts if col_starts is None else col_starts
    n_cols = n_rows if n_cols is None else n_cols
    col_names = row_names if col_names is None else col_names
    for r in list(row_starts)[1:]:
        ax.axhline(r - 0.5, color=color, lw=lw)
    for c in list(col_starts)[1:]:
        ax.axvline(c - 0.5, color=color, lw=lw)

    def centres(starts, size):
        ends = list(starts)[1:] + [size]
        return [(a + b - 1) / 2 for a, b in zip(starts, ends)]

    ax.set_yticks(centres(row_starts, n_rows), list(row_names), fontsize=fontsize)
    ax.set_xticks(centres(col_starts, n_cols), list(col_names), fontsize=fontsize)
    if tick_length is not None:
        ax.tick_params(length=tick_length)
    return ax


def digits_gallery(images, normalised, labels, *, title: str | None = None, fig=None):
    """A few digits as stored (grey levels 0..16) above the same digits as the network sees them.

    ``images`` (k, 8, 8) raw grey levels; ``normalised`` (k, 64) or (k, 8, 8) the inputs after
    normalisation; ``labels`` (k,) their classes. Each row has its own labelled colour bar.
    Returns the figure. Cost O(k).
    """
    images, normalised, labels = np.asarray(images), np.asarray(normalised), np.asarray(labels)
    k = len(images)
    if normalised.shape[0] != k or labels.shape != (k,):
        raise ValueError(f"images, normalised and labels must describe the same {k} digits, got "
                         f"{images.shape}, {normalised.shape}, {labels.shape}")
    normalised = normalised.reshape(images.shape)
    fig = fig or plt.figure(figsize=(1.25 * k + 1.6, 3.3), layout="constrained")
    axes = fig.subplots(2, k, squeeze=False)
    top = np.abs(normalised).max()
    for i in range(k):
        raw_im = axes[0, i].imshow(images[i], cmap="gray_r", vmin=0, vmax=16)
        norm_im = axes[1, i].imshow(normalised[i], cmap="RdBu_r", vmin=-top, vmax=top)
        axes[0, i].set_title(f"label {labels[i]}", fontsize=10)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("as stored", fontsize=9)
    axes[1, 0].set_ylabel("network input", fontsize=9)
    fig.colorbar(raw_im, ax=list(axes[0]), shrink=0.9, label="grey level")
    fig.colorbar(norm_im, ax=list(axes[1]), shrink=0.9, label="value (0 = image mean)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def loglog_fit(x, y, slope: float, *, xlabel: str, ylabel: str, label: str | None = None, ax=None,
               title: str | None = None, xticks: Sequence[float] | None = None):
    """Log-log plot of y against x with the fitted power law (slope given) drawn through the points.

    ``title``: the setup; ``xticks``: put x ticks exactly there (see :func:`readable_log_axes`).
    Returns the Axes.
    """
    ax = ax or plt.subplots(figsize=(5, 3.8))[1]
    x, y = np.asarray(x, float), np.asarray(y, float)
    line = ax.loglog(x, y, "o", label=label)[0]
    ax.loglog(x, power_law_line(x, y, slope, x), "--", color=line.get_color(), lw=1,
              label=f"fit: slope {slope:.2f}")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(frameon=False, fontsize=9)
    readable_log_axes(ax, xticks)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def kernel_heatmaps(kernels: dict, *, order: str = "sample", fig=None, cmap: str = "RdBu_r", scale: str = "shared",
                    vmax: float | None = None, input_labels: Sequence[str] | None = None, title: str | None = None):
    """One heat map per (N1, N2, O, O) kernel in ``kernels`` ({panel title: theta}), flattened in ``order``.

    Blocks are marked by thin grey lines and named by ticks at their centres: in sample-major
    order each block is a pair of inputs (O x O logits inside), in class-major order a pair of
    logits (N1 x N2 inputs inside).

    Args:
      scale: "shared" -- one symmetric colour scale and one colour bar for all panels, so a
        colour means the same value everywhere; "per panel" -- each panel its own scale and
        colour bar (when a shared scale would wash out a panel with smaller values).
      vmax: fix the shared scale to [-vmax, vmax] (e.g. constant while a widget's sliders move);
        larger values are clipped and the colour bar shows arrows.
      input_labels: names of the N1 (= N2) inputs for the sample-major ticks (default x0, x1, ...).
      title: the figure title (default: the order).
    Returns the figure. Cost O(N1 N2 O^2) per panel.
    """
    if scale not in ("shared", "per panel"):
        raise ValueError(f"scale must be 'shared' or 'per panel', got {scale!r}")
    n1, n2, o, _ = np.shape(next(iter(kernels.values())))
    mats = {name: np.asarray(blocks.to_matrix(theta, order)) for name, theta in kernels.items()}
    largest = max(np.abs(m).max() for m in mats.values())
    shared_vmax = largest if vmax is None else vmax
    per_panel = scale == "per panel"
    fig = fig or plt.figure(figsize=((4.1 if per_panel else 3.5) * len(mats) + 0.8, 3.9), layout="constrained")
    axes = fig.subplots(1, len(mats), squeeze=False)[0]
    if order == "sample":
        names = list(input_labels) if input_labels is not None else [f"x{i}" for i in range(max(n1, n2))]
        row_names, col_names, step = names[:n1], names[:n2], (o, o)
        axis_label = f"input (each block: {o} x {o} logits)"
    else:
        row_names = col_names = [str(j) for j in range(o)]
        step = (n1, n2)
        axis_label = f"logit (each block: {n1} x {n2} inputs)"
    for i, (ax, (name, m)) in enumerate(zip(axes, mats.items())):
        top = np.abs(m).max() if per_panel else shared_vmax
        im = ax.imshow(m, cmap=cmap, vmin=-top, vmax=top, interpolation="nearest")
        block_grid(ax, range(0, m.shape[0], step[0]), m.shape[0], row_names,
                   col_starts=range(0, m.shape[1], step[1]), n_cols=m.shape[1], col_names=col_names)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel(axis_label, fontsize=9)
        if i == 0:
            ax.set_ylabel(axis_label, fontsize=9)
        if per_panel:
            fig.colorbar(im, ax=ax, shrink=0.8, label="Θ entry")
    if not per_panel:
        fig.colorbar(im, ax=list(axes), shrink=0.8, label="Θ entry (one scale for all panels)",
                     extend="both" if largest > shared_vmax else "neither")
    fig.suptitle(title or f"{order}-major order", fontsize=10)
    return fig


def share_vs_width(widths: Sequence[int], shares: np.ndarray, slope: float, ax=None, *, title: str | None = None):
    """Off-diagonal share (widths x seeds): every seed as a dot, the mean with its power-law fit.

    x ticks sit exactly at the widths measured. ``title``: the setup. Returns the Axes.
    """
    ax = ax or plt.subplots(figsize=(5.5, 4))[1]
    widths = np.asarray(widths, float)
    for s in range(shares.shape[1]):
        ax.loglog(widths, shares[:, s], ".", color="0.6", label="one seed" if s == 0 else None)
    loglog_fit(widths, shares.mean(axis=1), slope, xlabel="hidden width n (every hidden layer)",
               ylabel="off-diagonal share ‖Θ_off‖ / ‖Θ‖", label="mean over seeds", ax=ax, title=title, xticks=widths)
    return ax


# ---------------------------------------------------------------- lesson 03: convergence of the pNTK


def _fit_label(fit) -> str:
    """"slope -0.45 [-0.50, -0.40]" for a fit with (slope or mean, low, high); "(1 seed: no interval)" if NaN."""
    slope = fit.slope if hasattr(fit, "slope") else fit.mean
    if not (np.isfinite(fit.low) and np.isfinite(fit.high)):
        return f"slope {slope:.2f} (1 seed: no interval)"
    return f"slope {slope:.2f} [{fit.low:.2f}, {fit.high:.2f}]"


def error_vs_width(series: dict, *, ylabel: str, title: str, floors: dict | None = None, xlabel: str = "width n",
                   fits: dict | None = None, floor_fits: dict | None = None, ax=None):
    """Log-log error against width for several sweeps, each with the model the lesson fits to it.

    ``series``: {label: (widths (W,), values (W, S))} -- every seed a faint dot, the mean over
    seeds a marker. Each series gets one dashed model line and its legend entry:

    * default: the power law of ``analysis.fit_power_law`` over all widths, "slope s [low, high]";
    * ``fits``: {label: (fit, fit_widths)} -- the lesson's own fit (anything with ``slope`` or
      ``mean``, and ``low``, ``high``; NaN bounds read "1 seed: no interval"), drawn only over
      ``fit_widths``, so the legend shows exactly the value the lesson prints;
    * ``floor_fits``: {label: analysis.FloorFit} -- a floored series: the fitted model
      sqrt(a / n + c) (not a power law) and a dotted line at the floor sqrt(c), legend
      "floor √c = ...".

    ``floors``: {label: floor} dotted horizontal lines in the series' colour. Returns the Axes.
    """
    fits, floor_fits = dict(fits or {}), dict(floor_fits or {})
    unknown = (set(fits) | set(floor_fits)) - set(series)
    if unknown:
        raise ValueError(f"fits/floor_fits name series that are not in series: {sorted(unknown)}")
    ax = ax or plt.subplots(figsize=(6.4, 4.4), layout="constrained")[1]
    all_widths = sorted({float(w) for widths, _ in series.values() for w in widths})
    for label, (widths, values) in series.items():
        widths, values = np.asarray(widths, float), np.asarray(values, float)
        mean = values.mean(axis=1)
        if label in floor_fits:
            model = floor_fits[label]
            legend = f"{label}: floor √c = {model.floor:.3g}"
        else:
            fit, fit_widths = fits[label] if label in fits else (fit_power_law(widths, values), widths)
            legend = f"{label}: {_fit_label(fit)}"
        line = ax.loglog(widths, mean, "o-", lw=1, ms=5, label=legend)[0]
        for s in range(values.shape[1]):
            ax.loglog(widths, values[:, s], ".", color=line.get_color(), alpha=0.35, ms=4)
        if label in floor_fits:
            grid = np.geomspace(widths.min(), widths.max(), 50)
            ax.loglog(grid, np.sqrt(np.maximum(model.a / grid + model.c, 1e-300)), "--", lw=0.8,
                      color=line.get_color())
            if model.floor > 0:
                ax.axhline(model.floor, ls=":", lw=1.2, color=line.get_color())
        else:
            slope = fit.slope if hasattr(fit, "slope") else fit.mean
            keep = np.isin(widths, np.asarray(fit_widths, float))
            ax.loglog(widths[keep], power_law_line(widths[keep], mean[keep], slope, widths[keep]), "--", lw=0.8,
                      color=line.get_color())
        if floors and label in floors and floors[label] > 0:
            ax.axhline(floors[label], ls=":", lw=1.2, color=line.get_color())
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    readable_log_axes(ax, all_widths)
    return ax


def spectrum_vs_width(widths, lambda_errors, cond_entk, cond_approx, *, title: str, fig=None):
    """Two panels against width: the relative error of lambda_max (pNTK ⊗ I vs eNTK), and both
    condition numbers. Arrays (W, S) (one column per seed); means with min-max bars. Returns the figure."""
    fig = fig or plt.figure(figsize=(10, 3.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    widths = np.asarray(widths, float)

    mean_with_range(ax1, widths, lambda_errors, fmt="o-", label="|λmax(pNTK) − λmax(Θ)| / λmax(Θ)")
    ax1.set(xscale="log", yscale="log", xlabel="width n", ylabel="relative error of λmax")
    mean_with_range(ax2, widths, cond_entk, fmt="o-", label="eNTK Θ (NO × NO)")
    mean_with_range(ax2, widths, cond_approx, fmt="s-", label="pNTK ⊗ I (eigenvalues of the N × N pNTK)")
    ax2.set(xscale="log", yscale="log", xlabel="width n", ylabel="condition number λmax / λmin")
    for ax in (ax1, ax2):
        ax.legend(frameon=False, fontsize=8)
        readable_log_axes(ax, widths)
    fig.suptitle(title, fontsize=10)
    return fig


def agreement_vs_width(widths, agreement, accuracy_entk, accuracy_approx, *, title: str, ax=None):
    """Kernel-regression argmax agreement (eNTK vs pNTK ⊗ I) and both test accuracies against
    width; arrays (W, S), mean with min-max bars. Returns the Axes."""
    ax = ax or plt.subplots(figsize=(6, 4), layout="constrained")[1]
    widths = np.asarray(widths, float)
    for values, label, marker in [(agreement, "argmax agreement eNTK vs pNTK", "o"),
                                  (accuracy_entk, "test accuracy, eNTK", "s"),
                                  (accuracy_approx, "test accuracy, pNTK ⊗ I", "^")]:
        mean_with_range(ax, widths, values, fmt=marker + "-", label=label)
    ax.set(xscale="log", xlabel="width n", ylabel="fraction of test digits", ylim=(0, 1.02))
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    readable_log_axes(ax, widths)
    return ax


def approximation_gap(theta, k, *, title: str, gap_scale: float = 0.25, fig=None):
    """Heat maps, class-major order, of the eNTK Θ and of Θ − k ⊗ I_O (what the approximation misses).

    ``theta`` (N, N, O, O), ``k`` (N, N). Both are divided by max|Θ|, so each panel keeps a
    fixed colour scale whatever the width or parameterisation (Θ in [−1, 1]; the gap in
    [−gap_scale, gap_scale], arrows on the colour bar where it is exceeded) and a widget
    can compare settings by colour. Block labels name the logits. Returns the figure.
    """
    theta, k = np.asarray(theta, float), np.asarray(k, float)
    n, _, o, _ = theta.shape
    scale = np.abs(theta).max()
    gap = (theta - k[:, :, None, None] * np.eye(o)) / scale
    fig = fig or plt.figure(figsize=(10, 4.4), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = [(theta / scale, "eNTK Θ / max|Θ|", 1.0), (gap, "(Θ − pNTK ⊗ I_O) / max|Θ|", gap_scale)]
    for ax, (m, name, vmax) in zip(axes, panels):
        im = ax.imshow(np.asarray(blocks.to_matrix(m, "class")), cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                       interpolation="nearest")
        block_grid(ax, range(0, n * o, n), n * o, [f"{j}" for j in range(o)], fontsize=7)
        ax.set(xlabel="logit k (block column)", ylabel="logit j (block row)")
        ax.set_title(name, fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.85, extend="both" if np.abs(m).max() > vmax else "neither",
                     label="entry / max|Θ| (fixed scale)")
    fig.suptitle(title, fontsize=10)
    return fig


# ---------------------------------------------------------------- lesson 06: training dynamics

PREDICTION_STYLES = {  # how each trajectory is drawn in lesson 06's figures
    "network": dict(color="black", lw=2.2, ls="-", label="network (trained)"),
    "entk": dict(color="C0", lw=1.5, ls="--", label="eNTK at init"),
    "pntk": dict(color="C1", lw=1.5, ls=":", label="pNTK ⊗ I_O at init"),
    "infinite": dict(color="C2", lw=1.3, ls="-.", label="Θ_∞ ⊗ I_O"),
}


def training_trajectories(points, *, title: str, fig=None):
    """Lesson 06's overlay: one row per trajectory point (``lessons.trajectories.TrajectoryPoint``).

    Columns: two logits (the true class, rising towards 1, and the next class, towards 0) of one
    training digit, the same for one test digit, and the training loss 1/2 Σ‖f − y‖² (log
    scale) -- the network's against each kernel's prediction, over the steps. A prediction that
    leaves the network's range (a diverging linearised model) is drawn until it leaves the axes.
    Returns the figure. Cost O(points x T).
    """
    points = list(points)
    fig = fig or plt.figure(figsize=(13, 3.3 * len(points) + 0.6), layout="constrained")
    axes = fig.subplots(len(points), 3, squeeze=False)
    for row, point in zip(axes, points):
        times = np.asarray(point.times, float)
        names = [name for name in PREDICTION_STYLES if name in point.loss]
        for ax, split in zip(row[:2], ("train", "test")):
            traces = point.traces[split].curves
            label = point.traces[split].labels[0]
            net = np.asarray(traces["network"], float)[:2]
            low, high = net.min() - 0.25 * np.ptp(net), net.max() + 0.25 * np.ptp(net)
            for name in names:
                for i, curve in enumerate(np.asarray(traces[name], float)[:2]):
                    shown = _until_it_leaves(curve, low - 2 * np.ptp(net), high + 2 * np.ptp(net))
                    ax.plot(times, shown, **dict(PREDICTION_STYLES[name], label=None, alpha=1.0 if i == 0 else 0.55))
            for i, which in enumerate((f"logit {label} (true class, → 1)", f"logit {(label + 1) % 10} (→ 0)")):
                # which curve is which logit: the two outputs of the network, marked at their last step
                ax.annotate(which, (times[-1], net[i, -1]), xytext=(-4, 6 if net[i, -1] >= net[1 - i, -1] else -10),
                            textcoords="offset points", ha="right", fontsize=7)
            ax.set_ylim(low, high)
            ax.set(xlabel="gradient-descent step t", ylabel="output f_j(x)")
            ax.set_title(f"width {point.width}, {split} digit (label {label}): logits {label} (→ 1), "
                         f"{(label + 1) % 10} (→ 0)", fontsize=9)
        loss_ax = row[2]
        net_loss = np.asarray(point.loss["network"], float)
        low, high = net_loss.min() / 3, net_loss.max() * 30
        for name in names:
            loss_ax.semilogy(times, _until_it_leaves(np.asarray(point.loss[name], float), 0, high * 100),
                             **PREDICTION_STYLES[name])
        loss_ax.set_ylim(low, high)
        loss_ax.set(xlabel="gradient-descent step t", ylabel="training loss ½Σ‖f − y‖²")
        loss_ax.set_title(f"{point.parameterization} param., step {point.threshold_fraction:g} x 2/λmax "
                          f"(lr {point.lr:.3g}), seed {point.seed}", fontsize=9)
        loss_ax.legend(frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return fig


def _until_it_leaves(curve, low, high):
    """``curve`` with every value after it first leaves [low, high] set to NaN (not drawn)."""
    outside = np.flatnonzero((curve < low) | (curve > high))
    shown = np.array(curve, float)
    if outside.size:
        shown[outside[0] + 1:] = np.nan
    return shown


def prediction_error_vs_movement(series: dict, *, title: str, ylabel: str, ax=None):
    """Log-log scatter of a prediction's trajectory error against how far the kernel moved.

    ``series``: {label: (movement (K,), error (K,))} -- one point per network (any widths and
    seeds), one colour per setting. Returns the Axes.
    """
    ax = ax or plt.subplots(figsize=(5.6, 4.2), layout="constrained")[1]
    for label, (movement, error) in series.items():
        ax.loglog(np.ravel(movement), np.ravel(error), "o", ms=5, alpha=0.8, label=label)
    ax.set(xlabel="kernel movement ‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F", ylabel=ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    for axis in (ax.xaxis, ax.yaxis):  # ticks at 1, 2, 5 x 10^k, labelled plainly, no crowded minor labels
        axis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(ticker.NullFormatter())
    return ax


def look_ahead_agreement(study: dict, *, title: str, fig=None):
    """Lesson 06's look-ahead: predicted against actual change of the test loss for the retrained
    candidates (pNTK and eNTK, with the line y = x, and the pNTK's predictions for the whole pool
    as a rug along the y axis, the predicted one), and the time per candidate of each method (log
    scale, at least three labelled ticks).

    ``study``: a ``lessons.trajectories.LookAheadStudy``. Returns the figure.
    """
    fig = fig or plt.figure(figsize=(11, 4.2), layout="constrained")
    ax, bar_ax = fig.subplots(1, 2, width_ratios=[1.4, 1])
    actual = np.asarray(study.actual_loss_change, float)
    pool = np.asarray(study.predicted_loss_change, float)
    chosen = np.asarray(study.candidates, int)
    lim = 1.1 * max(np.abs(actual).max(), np.abs(pool).max())
    ax.plot([-lim, lim], [-lim, lim], color="0.7", lw=1, zorder=0, label="prediction = retraining")
    ax.plot(np.full_like(pool, -lim * 0.97), pool, "_", color="C1", alpha=0.4, ms=10,
            label=f"pNTK prediction, all {len(pool)} candidates (rug on the y axis)")
    ax.plot(actual, pool[chosen], "o", color="C1", ms=7, label="pNTK ⊗ I_O, retrained candidates")
    ax.plot(actual, study.entk_loss_change, "x", color="C0", ms=8, mew=2, label="eNTK, same candidates")
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xlabel="actual change of the test loss (retrained)",
           ylabel="predicted change of the test loss")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    methods = {"pNTK\nprediction": study.pntk_seconds_per_candidate,
               "eNTK\nprediction": study.entk_seconds_per_candidate,
               "retraining\nthe network": study.retrain_seconds_per_candidate}
    bars = bar_ax.bar(list(methods), list(methods.values()), color=["C1", "C0", "0.4"])
    bar_ax.bar_label(bars, labels=[f"{v:.3g} s" for v in methods.values()], fontsize=8)
    bar_ax.set_yscale("log")
    values = np.asarray(list(methods.values()), float)
    low, high = 10.0 ** np.floor(np.log10(values.min() / 1.5)), 10.0 ** np.ceil(np.log10(values.max() * 3))
    bar_ax.set_ylim(low, high)  # whole decades: no blank gap below the smallest bar, labelled ends
    subs = (1.0, 2.0, 5.0) if np.log10(high / low) < 3 else (1.0,)
    bar_ax.yaxis.set_major_locator(ticker.LogLocator(subs=subs))
    bar_ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    bar_ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    bar_ax.set(ylabel="seconds per candidate (median)")
    bar_ax.set_title(f"pNTK kernels once: {study.pntk_kernel_seconds:.2g} s (with compiling)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


# ---------------------------------------------------------------- lesson 04: infinite width


def infinite_kernels(nngp, ntk, labels, *, title: str, fig=None):
    """Heat maps of the infinite-width NNGP Σ and NTK Θ_∞ (each (N, N)) of inputs sorted by class.

    ``labels`` (N,): each input's class, already sorted; ticks mark where each class starts.
    Each panel has its own labelled colour bar, scaled to the entries off the diagonal (the
    diagonal, each input with itself, is clipped: it would wash out the rest). Returns the
    figure. Cost O(N²).
    """
    nngp, ntk, labels = np.asarray(nngp), np.asarray(ntk), np.asarray(labels)
    if nngp.shape != ntk.shape or nngp.ndim != 2 or labels.shape != nngp.shape[:1]:
        raise ValueError(f"nngp and ntk must be (N, N) and labels (N,), got {nngp.shape}, {ntk.shape}, {labels.shape}")
    fig = fig or plt.figure(figsize=(9.6, 4.3), layout="constrained")
    axes = fig.subplots(1, 2)
    starts = [0] + [i for i in range(1, len(labels)) if labels[i] != labels[i - 1]]
    for ax, m, name in zip(axes, (nngp, ntk), ("NNGP kernel Σ (random network's outputs)",
                                               "NTK Θ∞ (gradient-descent training)")):
        off = m[~np.eye(len(m), dtype=bool)]
        # the diagonal (each input with itself) is much larger than the rest: scale colours to the other entries
        im = ax.imshow(m, cmap="viridis", interpolation="nearest", vmin=off.min(), vmax=off.max())
        block_grid(ax, starts, len(labels), [str(labels[s]) for s in starts], color="w", lw=0.6, tick_length=None)
        ax.set(xlabel="input x' (grouped by digit class)", ylabel="input x (grouped by digit class)")
        ax.set_title(name, fontsize=10)
        fig.colorbar(im, ax=ax, shrink=0.85, extend="max", label="kernel value (diagonal clipped)")
    fig.suptitle(title, fontsize=10)
    return fig


def entries_ranges(entries) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis ranges (x, y) that hold every point :func:`entries_vs_limit` draws for ``entries``
    (``lessons.width_limits.Entries``, one or several): x spans the Θ∞ entries, y every kernel entry and 0."""
    entries = list(entries)
    xs = np.concatenate([e.limit for e in entries])
    ys = np.concatenate([np.concatenate([e.limit, e.diagonal.ravel(), e.offdiagonal.ravel(), e.pntk, [0.0]])
                         for e in entries])

    def padded(v):
        pad = 0.05 * (v.max() - v.min())
        return float(v.min() - pad), float(v.max() + pad)

    return padded(xs), padded(ys)


def entries_vs_limit(entries, *, title: str, ranges: tuple | None = None, fig=None):
    """Scatter of eNTK entries against Θ∞ for one or more networks (``lessons.width_limits.Entries``), one panel each.

    Each pair of inputs (x, x') gives points at x = Θ∞(x, x'): its O diagonal-block entries
    Θ_jj (at infinite width they lie on y = x), its O(O−1) off-diagonal entries Θ_jk (at
    infinite width on y = 0) and its pNTK entry. ``ranges``: ((x_low, x_high), (y_low,
    y_high)) shared by every panel (default :func:`entries_ranges` of ``entries``), so that
    panels, and a widget's frames, compare. Returns the figure. Cost O(N² O²) points.
    """
    entries = list(entries)
    (x_lim, y_lim) = entries_ranges(entries) if ranges is None else ranges
    fig = fig or plt.figure(figsize=(5.2 * len(entries) + 0.6, 5.4), layout="constrained")
    axes = fig.subplots(1, len(entries), squeeze=False)[0]
    for ax, e in zip(axes, entries):
        o = e.diagonal.shape[1]
        ax.plot(x_lim, x_lim, color="0.5", lw=1, zorder=0, label="y = Θ∞: where Θ_jj and the pNTK go")
        ax.axhline(0, color="0.8", lw=1, zorder=0)
        ax.scatter(np.repeat(e.limit, o * (o - 1)), e.offdiagonal.ravel(), s=2, alpha=0.25, color="tab:orange",
                   rasterized=True, label=f"off-diagonal blocks Θ_jk, j ≠ k ({o * (o - 1)} per pair; → 0)")
        ax.scatter(np.repeat(e.limit, o), e.diagonal.ravel(), s=3, alpha=0.4, color="tab:blue", rasterized=True,
                   label=f"diagonal blocks Θ_jj ({o} per pair)")
        ax.scatter(e.limit, e.pntk, s=9, marker="x", lw=0.8, color="k", label="pNTK (1 per pair)")
        err = e.errors
        ax.set_title(f"width {e.width}, seed {e.seed} — relative errors: diagonal {err['entk_diagonal']:.3f},\n"
                     f"off-diagonal {err['entk_offdiagonal']:.3f}, pNTK {err['pntk']:.3f}", fontsize=9)
        ax.set(xlim=x_lim, ylim=y_lim, xlabel="Θ∞(x, x'), closed form", ylabel="entry of the finite network's kernel")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, frameon=False, fontsize=8,
               markerscale=3)
    fig.suptitle(title, fontsize=10)
    return fig


def distances_to_entk(comparison, *, title: str, fig=None):
    """Lesson 04, section 4: ‖Θ − pNTK ⊗ I‖ and ‖Θ − Θ∞ ⊗ I‖ against width (log-log, fitted slopes
    with intervals), and their ratio against width (every seed a dot, the mean a line; also on the
    diagonal blocks alone). ``comparison``: ``lessons.width_limits.DistanceComparison``. Returns the figure."""
    fig = fig or plt.figure(figsize=(11, 4.4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    widths = np.asarray(comparison.widths, float)
    error_vs_width({"eNTK to pNTK ⊗ I": (widths, comparison.entk_vs_pntk),
                    "eNTK to Θ∞ ⊗ I": (widths, comparison.entk_vs_limit)},
                   ylabel="distance / ‖Θ∞ ⊗ I‖ (Frobenius)", title="both distances", ax=ax1)
    for values, label, marker in ((comparison.ratio, "whole kernel", "o"),
                                  (comparison.diagonal_ratio, "diagonal blocks only", "s")):
        values = np.asarray(values, float)
        line = ax2.plot(widths, values.mean(axis=1), marker + "-", ms=5, lw=1, label=f"{label} (mean over seeds)")[0]
        for s in range(values.shape[1]):
            ax2.plot(widths, values[:, s], ".", color=line.get_color(), alpha=0.35, ms=4)
    ax2.axhline(1, color="0.5", ls="--", lw=1, label="ratio 1: equally far")
    ax2.set(xscale="log", xlabel="width n", ylabel="‖Θ − pNTK ⊗ I‖ / ‖Θ − Θ∞ ⊗ I‖", ylim=(0, None))
    ax2.set_title("ratio: below 1, the pNTK is closer to the eNTK", fontsize=10)
    ax2.legend(frameon=False, fontsize=8, loc="lower right")
    readable_log_axes(ax2, widths)
    fig.suptitle(title, fontsize=10)
    return fig


def accuracy_vs_width(widths, accuracies: dict, limit_accuracy: float, *, title: str, chance: float | None = None,
                      ax=None):
    """Test accuracy of kernel regression against width: ``accuracies`` {label: (W, S)} as means with
    min-max bars over seeds, the infinite-width kernel's accuracy as a dashed line (it has no width),
    and ``chance`` (e.g. 1/O) as a dotted line. Returns the Axes."""
    ax = ax or plt.subplots(figsize=(6.4, 4.4), layout="constrained")[1]
    widths = np.asarray(widths, float)
    for (label, values), marker in zip(accuracies.items(), "os^vD"):
        mean_with_range(ax, widths, values, fmt=marker + "-", label=f"{label} (mean, min-max over seeds)")
    ax.axhline(limit_accuracy, color="k", ls="--", lw=1, label=f"Θ∞ (infinite width): {limit_accuracy:.3f}")
    if chance is not None:
        ax.axhline(chance, color="0.6", ls=":", lw=1, label=f"chance: {chance:.2f}")
    ax.set(xscale="log", xlabel="width n (every hidden layer)", ylabel="test accuracy", ylim=(0, 1.02))
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    readable_log_axes(ax, widths)
    return ax


# ---------------------------------------------------------------- lesson 05: the pNTK in practice


def regression_accuracy_vs_width(rows, infinite_accuracy: float, *, title: str, fig=None):
    """Two panels against width: test accuracy of kernel regression (full eNTK, pNTK ⊗ I, Θ∞ ⊗ I as a
    dashed line) and of the trained network (and of regression with its trained pNTK); and the
    fraction of test digits on which the eNTK and pNTK regressions predict the same class.

    ``rows``: ``lessons.practice.RegressionRow`` objects (fields width, accuracy_entk, accuracy_pntk,
    accuracy_trained, accuracy_trained_pntk, agreement). Returns the figure.
    """
    fig = fig or plt.figure(figsize=(11, 4.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    widths = np.array([r.width for r in rows], float)

    def column(key):
        return 100 * np.array([getattr(r, key) for r in rows], float)

    for key, label, style in [("accuracy_entk", "kernel regression, full eNTK (one NO × NO solve)", "s-"),
                              ("accuracy_pntk", "kernel regression, pNTK ⊗ I (one N × N solve)", "o-"),
                              ("accuracy_trained", "the network after training", "^-"),
                              ("accuracy_trained_pntk", "kernel regression, pNTK of the trained network", "v:")]:
        ax1.plot(widths, column(key), style, ms=5, lw=1.2, label=label)
    ax1.axhline(100 * infinite_accuracy, ls="--", color="0.4", lw=1, label="kernel regression, Θ∞ ⊗ I (any width)")
    ax1.set(xscale="log", xlabel="width n of both hidden layers", ylabel="test accuracy (%)  [chance: 10%]")
    ax1.legend(frameon=False, fontsize=8, loc="lower right")
    ax2.plot(widths, column("agreement"), "o-", ms=5, lw=1.2, color="C4")
    ax2.set(xscale="log", xlabel="width n of both hidden layers",
            ylabel="test digits with the same predicted class (%)", title="eNTK vs pNTK ⊗ I predictions agree")
    ax2.title.set_fontsize(10)
    for ax in (ax1, ax2):
        readable_log_axes(ax, widths)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return fig


def cost_vs_size(records, fits, *, along: str, title: str, fig=None):
    """Log-log time and peak memory of each (kernel, method) against N or O (``along``), with the
    fitted lines; the legend gives each fitted exponent beside the theoretical one.

    ``records``: ``lessons.scaling.CostRecord`` list from ``scaling.cost_sweep(along, ...)``; ``fits``: the
    ``scaling.fit_exponents(records, along)`` result. Returns the figure.
    """
    fig = fig or plt.figure(figsize=(11, 4.2), layout="constrained")
    ax_time, ax_mem = fig.subplots(1, 2)
    sizes = sorted({getattr(r, along) for r in records})
    for i, fit in enumerate(fits):
        group = [r for r in records if (r.kernel, r.method) == (fit.kernel, fit.method)]
        x = np.array([getattr(r, along) for r in group], float)
        name = f"{'eNTK' if fit.kernel == 'entk' else 'pNTK'} ({fit.method})"
        for ax, values, slope, theory in [(ax_time, [r.seconds for r in group], fit.time_exponent, fit.theory_time),
                                          (ax_mem, [r.peak_bytes for r in group], fit.memory_exponent,
                                           fit.theory_memory)]:
            if slope is None or None in values:
                continue
            values = np.array(values, float)
            ax.loglog(x, values, "os^v"[i % 4], color=f"C{i}", ms=5,
                      label=f"{name}: fitted {slope:.2f}, theory {theory:g}")
            ax.loglog(x, power_law_line(x, values, slope, x), "--", color=f"C{i}", lw=1)
    label = "number of inputs N" if along == "N" else "number of outputs O"
    ax_time.set(xlabel=label, ylabel="wall time (s, median; machine-dependent)", title="time")
    ax_mem.set(xlabel=label, ylabel="peak memory (bytes, XLA's plan)", title="memory")
    for ax in (ax_time, ax_mem):
        ax.title.set_fontsize(10)
        ax.legend(frameon=False, fontsize=8)
        readable_log_axes(ax, sizes)
    fig.suptitle(title, fontsize=10)
    return fig


def gap_during_training(measured: dict, history=None, *, title: str, fig=None):
    """Four panels against the training step (symmetric-log axis, so step 0 shows): how well
    pNTK ⊗ I approximates the eNTK; the quantities that test an explanation; how far the readout
    and the eNTK move; and the network's accuracy.

    ``measured``: ``lessons.practice.GapMeasurements``. ``history``: optional
    ``(steps, train_accuracy, test_accuracy)`` arrays recorded more often than the checkpoints
    (``training.TrainingResult``), drawn as lines. Returns the figure.
    """
    fig = fig or plt.figure(figsize=(12, 8), layout="constrained")
    (ax1, ax2), (ax3, ax4) = fig.subplots(2, 2)
    steps = np.array(measured.step, float)
    curves = [("total", "‖Θ − pNTK⊗I‖/‖Θ‖ (total)", "o-"), ("diagonal", "  its diagonal blocks", "s--"),
              ("offdiagonal", "  its off-diagonal blocks", "^--"),
              ("lambda_max_rel_error", "λmax relative error", "D-"),
              ("total_initial_readout", "total, with the readout put back to its initial value", "x:")]
    for key, label, style in curves:
        ax1.plot(steps, getattr(measured, key), style, ms=5, lw=1.2, label=label)
    ax1.plot(steps, 1 - np.array(measured.argmax_agreement), "v-", ms=5, lw=1.2,
             label="1 − argmax agreement of the two regressions")
    ax1.set(ylabel="relative error / disagreement", title="pNTK ⊗ I against the eNTK", ylim=(0, None))
    ax2.axhline(0, color="0.6", lw=0.8)
    ax2.plot(steps, measured.gradient_correlation, "o-", ms=5, lw=1.2,
             label="mean correlation of different logits' gradients, Θ_jk(x,x)/√(Θ_jj Θ_kk)")
    ax2.plot(steps, np.array(measured.pntk_to_diagonal) - 1, "s-", ms=5, lw=1.2,
             label="pNTK(x,x) / mean_j Θ_jj(x,x) − 1")
    ax2.plot(steps, measured.column_cosine, "^-", ms=5, lw=1.2, label="mean |cos| between readout columns")
    ax2.set(ylabel="correlation / relative difference", title="testing the explanation")
    moved = steps > 0
    for key, label, style in [("kernel_movement", "‖Θ_t − Θ_0‖/‖Θ_0‖ (the eNTK)", "s-"),
                              ("readout_change", "‖W_t − W_0‖/‖W_0‖ (the readout weights)", "o-")]:
        ax3.plot(steps[moved], np.array(getattr(measured, key))[moved], style, ms=5, lw=1.2, label=label)
    ax3.set(yscale="log", ylabel="relative change since step 0", title="how far training moves")
    if history is not None:
        h_steps, h_train, h_test = (np.asarray(a, float) for a in history)
        ax4.plot(h_steps, 100 * h_train, "-", lw=1.2, label="training accuracy")
        ax4.plot(h_steps, 100 * h_test, "-", lw=1.2, label="test accuracy")
    else:
        ax4.plot(steps, 100 * np.array(measured.train_accuracy), "o-", label="training accuracy")
        ax4.plot(steps, 100 * np.array(measured.test_accuracy), "s-", label="test accuracy")
    ax4.set(ylabel="accuracy of the network (%)", title="the network", ylim=(0, 101))
    training_step_axes((ax1, ax2, ax3, ax4))
    fig.suptitle(title, fontsize=10)
    return fig


def training_step_axes(axes) -> None:
    """Style panels whose x axis is the training step: symmetric log (step 0 shows, linear below 10), legend, grid."""
    for ax in axes:
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0)
        ax.set_xlabel("training step (symmetric log scale: linear below 10)")
        ax.title.set_fontsize(10)
        ax.legend(frameon=False, fontsize=8)
        ax.grid(alpha=0.3)


def gap_before_after(table: dict, *, title: str, ax=None):
    """Grouped bars: for each network ({name: {"init": dict, "trained ...": dict}}, dicts {quantity: value}
    of ``lessons.practice.GapMeasurements`` at one step, from ``practice.first_and_last``), the total error
    of pNTK ⊗ I, the same with the readout put back to its initial value, the λmax relative error and the
    regression disagreement, at initialisation and after training. Returns the Axes."""
    ax = ax or plt.subplots(figsize=(9, 4), layout="constrained")[1]
    metrics = [("total", "‖Θ − pNTK⊗I‖/‖Θ‖"), ("total_initial_readout", "the same, readout\nput back to init"),
               ("lambda_max_rel_error", "λmax rel. error"), ("disagreement", "regression disagreement")]
    bars = [(f"{name}, {when}", values) for name, pair in table.items() for when, values in pair.items()]
    width = 0.8 / len(bars)
    for i, (label, values) in enumerate(bars):
        heights = [values[key] if key != "disagreement" else 1 - values["argmax_agreement"] for key, _ in metrics]
        ax.bar(np.arange(len(metrics)) + (i - (len(bars) - 1) / 2) * width, heights, width, label=label,
               hatch="//" if "trained" in label else None, color=f"C{i // 2}", alpha=0.55 if "init" in label else 0.9)
    ax.set_xticks(np.arange(len(metrics)), [m for _, m in metrics])
    ax.set(ylabel="relative error / fraction of test digits")
    ax.set_title(title, fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


def gap_by_optimiser(runs: dict, *, title: str, fig=None):
    """Lesson 07: the pNTK against the eNTK over training, one line per run ({label: ``GapMeasurements``}, e.g.
    {"SGD": ..., "Adam": ...}), on a symmetric-log step axis (step 0 shows): the total relative Frobenius error
    and the λmax relative error; its diagonal and off-diagonal block parts; and the mean correlation of different
    logits' gradients at one input. Returns the figure."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict {label: GapMeasurements}")
    fig = fig or plt.figure(figsize=(13, 4), layout="constrained")
    axes = fig.subplots(1, 3)
    for (label, m), colour in zip(runs.items(), ("C0", "C3", "C2", "C1")):
        steps = np.array(m.step, float)
        axes[0].plot(steps, m.total, "o-", color=colour, label=f"{label}: ‖Θ − Θ̂⊗I‖/‖Θ‖")
        axes[0].plot(steps, m.lambda_max_rel_error, "D--", color=colour, label=f"{label}: λmax relative error")
        axes[1].plot(steps, m.diagonal, "s-", color=colour, label=f"{label}: diagonal blocks")
        axes[1].plot(steps, m.offdiagonal, "^--", color=colour, label=f"{label}: off-diagonal blocks")
        axes[2].plot(steps, m.gradient_correlation, "o-", color=colour, label=label)
    axes[2].axhline(0, color="0.6", lw=0.8)
    axes[0].set(ylabel="relative error", title="Θ̂ ⊗ I against the eNTK", ylim=(0, None))
    axes[1].set(ylabel="relative Frobenius error", title="where the error sits", ylim=(0, None))
    axes[2].set(ylabel="mean Θ_jk(x,x)/√(Θ_jj Θ_kk), j ≠ k", title="correlation of different logits' gradients")
    training_step_axes(axes)
    fig.suptitle(title, fontsize=10)
    return fig


# ---------------------------------------------------------------- the figure standard, checked


_SLOPE_IN_LABEL = re.compile(r"(?:slope|fitted)\s*=?\s*([−-]?\d+(?:\.(\d+))?)")
_RUG_AXIS_IN_LABEL = re.compile(r"rug on the ([xy]) axis")


def _drawn(ax) -> bool:
    return bool(ax.lines or ax.collections or ax.images or ax.patches)


def _labelled_ticks_in_view(ax, axis: str) -> list[str]:
    """The non-empty tick labels of ``axis`` ("x" or "y") that lie inside the Axes' view limits."""
    low, high = sorted(ax.get_xlim() if axis == "x" else ax.get_ylim())
    labels = ax.get_xticklabels(minor=False) + ax.get_xticklabels(minor=True) if axis == "x" else \
        ax.get_yticklabels(minor=False) + ax.get_yticklabels(minor=True)
    position = (lambda t: t.get_position()[0]) if axis == "x" else (lambda t: t.get_position()[1])
    tolerance = 1e-9 * max(abs(low), abs(high))
    return [t.get_text() for t in labels if t.get_text().strip() and low - tolerance <= position(t) <= high + tolerance]


def _same_colour_scale(image, bar) -> bool:
    """True when the colour bar ``bar`` reads ``image`` too: same colour map and same limits (one bar for
    several panels on one scale)."""
    return bar.mappable.get_cmap().name == image.get_cmap().name and np.allclose(bar.mappable.get_clim(),
                                                                                  image.get_clim())


def _straight_slope(ax, line) -> float | None:
    """The slope of ``line`` in ``ax``'s scales (log10 on a log axis) if it is a straight line through two
    points or more, else None."""
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    if len(x) < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        lx = np.log10(x) if ax.get_xscale() == "log" else x
        ly = np.log10(y) if ax.get_yscale() == "log" else y
    if not (np.all(np.isfinite(lx)) and np.all(np.isfinite(ly))) or np.ptp(lx) == 0:
        return None
    slope, intercept = np.polyfit(lx, ly, 1)
    straight = np.max(np.abs(ly - (slope * lx + intercept))) <= 1e-6 * max(1.0, float(np.max(np.abs(ly))))
    return float(slope) if straight else None


def _legend_slope_problem(ax, line, quoted) -> str | None:
    """What is wrong with a legend entry that quotes a slope (regex match ``quoted``): the line it labels,
    or an unlabelled line of its colour (the fit drawn through its points), must be straight with that
    slope to the printed precision."""
    colour = line.get_color()
    candidates = [line] + [other for other in ax.lines if other is not line and other.get_label().startswith("_")
                           and other.get_color() == colour]
    drawn = [slope for slope in (_straight_slope(ax, c) for c in candidates) if slope is not None]
    value = float(quoted.group(1).replace("−", "-"))
    precision = 0.5 * 10.0 ** -len(quoted.group(2) or "") + 1e-9
    if not drawn:
        return (f"the legend quotes {quoted.group(0)!r} for {line.get_label()!r}, but no straight line of its "
                "colour is drawn")
    if all(abs(slope - value) > precision for slope in drawn):
        return (f"the legend says {quoted.group(0)!r} for {line.get_label()!r}, the line drawn has slope "
                f"{', '.join(f'{slope:.4g}' for slope in drawn)}")
    return None


def _same_y_axis(ax, axes) -> list:
    """The other panels whose y axis reads like ``ax``'s: shared with it, or in the same row with the same
    y limits and scale (side-by-side heat maps of one layout): a y label on one of them names ``ax``'s too."""
    row = ax.get_position()
    return [other for other in axes if other is not ax and (
        other in ax.get_shared_y_axes().get_siblings(ax)
        or (np.isclose(other.get_position().y0, row.y0) and np.isclose(other.get_position().height, row.height)
            and np.allclose(other.get_ylim(), ax.get_ylim()) and other.get_yscale() == ax.get_yscale()))]


def figure_standard_problems(fig) -> list[str]:
    """What keeps a figure from the course's figure standard; an empty list when it meets it.

    Checked on every Axes that draws something (colour bars and axes switched off, e.g. the digit
    images, are exempt where noted):

    * the figure has a title (a suptitle or an Axes title) that states the setup;
    * each such Axes labels its x and y axes (a y label may sit on a panel of the same row that shares or
      repeats the y axis);
    * every image has a colour bar (its own, or one bar for panels on the same scale and colour map),
      unless it is a picture (its Axes switched off or without ticks: the digits);
    * every log axis shows at least three labelled ticks inside its view limits;
    * every legend entry that quotes a slope ("slope -0.52", "fitted 2.01") labels a line, or sits beside
      an unlabelled line of its colour (the fit through its points), that is straight in the Axes'
      scales with that slope to the printed precision: the legend cannot disagree with the fit drawn;
    * every rug (a line of "|" or "_" markers at one constant coordinate) says in its label on which
      axis it lies ("rug on the y axis"), and lies there: "_" markers at one x, along the y axis.

    ``fig``: a matplotlib Figure. Draws its canvas once (tick labels exist only then); cost: one draw.
    """
    fig.canvas.draw()
    problems = []
    axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    bars = [im.colorbar for ax in axes for im in ax.images + ax.collections if getattr(im, "colorbar", None)]
    titled = bool(fig._suptitle is not None and fig._suptitle.get_text().strip()) or any(
        ax.get_title(loc).strip() for ax in axes for loc in ("left", "center", "right"))
    if not titled:
        problems.append("the figure has no title (suptitle or Axes title) stating its setup")
    for k, ax in enumerate(axes):
        if not _drawn(ax) or not ax.axison or (not len(ax.get_xticks()) and not len(ax.get_yticks())):
            continue  # nothing drawn, or a picture (axes off or no ticks: the digits), not a plot of values
        name = f"panel {k}" + (f" ({ax.get_title()!r})" if ax.get_title() else "")
        if not ax.get_xlabel().strip():
            problems.append(f"{name}: the x axis has no label")
        if not ax.get_ylabel().strip() and not any(other.get_ylabel().strip() for other in _same_y_axis(ax, axes)):
            problems.append(f"{name}: the y axis has no label")
        for image in ax.images:
            if image.colorbar is None and not any(_same_colour_scale(image, bar) for bar in bars):
                problems.append(f"{name}: an image without a colour bar")
        for axis in ("x", "y"):
            scale = ax.get_xscale() if axis == "x" else ax.get_yscale()
            if scale == "log":
                shown = _labelled_ticks_in_view(ax, axis)
                if len(shown) < 3:
                    problems.append(f"{name}: the log {axis} axis shows {len(shown)} labelled tick(s) "
                                    f"({', '.join(shown) or 'none'}), fewer than three")
        for line in ax.lines:
            label = line.get_label()
            if label.startswith("_"):
                continue
            x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            quoted = _SLOPE_IN_LABEL.search(label)
            if quoted is not None:
                problem = _legend_slope_problem(ax, line, quoted)
                if problem:
                    problems.append(f"{name}: {problem}")
            if line.get_marker() in ("|", "_") and len(x) >= 2:
                along = "x" if line.get_marker() == "|" else "y"
                fixed = y if along == "x" else x
                if np.ptp(fixed) == 0:
                    said = _RUG_AXIS_IN_LABEL.search(label)
                    if said is None:
                        problems.append(f"{name}: the rug {label!r} does not say on which axis it lies "
                                        f"(it lies on the {along} axis)")
                    elif said.group(1) != along:
                        problems.append(f"{name}: the rug {label!r} lies on the {along} axis, "
                                        f"not the {said.group(1)} axis")
    return problems


class FigureAudit:
    """The figure standard checked on every figure a notebook draws, in the notebook's own kernel.

    ``FigureAudit.install(get_ipython())`` runs :func:`figure_standard_problems` on every open figure after
    each cell, before the inline backend shows and closes it, and collects what it finds in
    :attr:`problems` ("cell starting 'fig = plots...': panel 0: ..."). ``make test-notebooks``
    (tools/nbval_rerun.py) installs it and fails a lesson whose figures fall below the standard.
    Cost: one canvas draw per figure shown.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._cell = ""

    @classmethod
    def install(cls, shell) -> "FigureAudit":
        """Hook a new audit into an IPython ``shell`` (``get_ipython()``); returns it."""
        if not hasattr(shell, "events"):
            raise TypeError(f"shell must be an IPython shell (get_ipython()), got {type(shell).__name__}")
        audit = cls()
        shell.events.register("pre_run_cell", audit._remember_cell)
        shell.events.callbacks["post_execute"].insert(0, audit._check_open_figures)  # before the inline backend
        return audit

    def _remember_cell(self, info) -> None:
        first = next((line for line in (info.raw_cell or "").splitlines() if line.strip()), "")
        self._cell = first.strip()[:60]

    def _check_open_figures(self) -> None:
        for num in plt.get_fignums():
            self.problems.extend(f"cell starting {self._cell!r}: {problem}"
                                 for problem in figure_standard_problems(plt.figure(num)))
