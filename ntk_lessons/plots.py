"""Figures for the lessons. Each function draws on a given (or new) matplotlib Axes/Figure and returns it."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from . import blocks, experiments


def step_prediction(actual, predicted, ax=None):
    """Scatter of actual vs eNTK-predicted logit changes (any matching shapes), with the diagonal."""
    ax = ax or plt.subplots(figsize=(4, 4))[1]
    a, p = np.ravel(actual), np.ravel(predicted)
    lim = 1.05 * max(np.abs(a).max(), np.abs(p).max())
    ax.plot([-lim, lim], [-lim, lim], color="0.7", lw=1, zorder=0)
    ax.scatter(a, p, s=12)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="actual change of f", ylabel="eNTK prediction", aspect="equal")
    return ax


def loglog_fit(x, y, slope: float, *, xlabel: str, ylabel: str, label: str | None = None, ax=None):
    """Log-log plot of y against x with the fitted power law (slope given) drawn through the points."""
    ax = ax or plt.subplots(figsize=(4.5, 3.5))[1]
    x, y = np.asarray(x, float), np.asarray(y, float)
    line = ax.loglog(x, y, "o", label=label)[0]
    ax.loglog(x, experiments.power_law_line(x, y, slope, x), "--", color=line.get_color(), lw=1, label=f"slope {slope:.2f}")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.legend(frameon=False)
    return ax


def kernel_heatmaps(kernels: dict, *, order: str = "sample", fig=None, cmap: str = "RdBu_r"):
    """One heat map per (N1, N2, O, O) kernel in ``kernels`` ({title: theta}), flattened in ``order``.

    A shared, symmetric colour scale so that the same colour means the same value in every panel;
    thin grey lines mark the blocks (O x O per input pair in sample-major order, N1 x N2 per
    class pair in class-major order).
    """
    n1, n2, o, _ = np.shape(next(iter(kernels.values())))
    row_step, col_step = (o, o) if order == "sample" else (n1, n2)
    mats = {title: np.asarray(blocks.to_matrix(theta, order)) for title, theta in kernels.items()}
    vmax = max(np.abs(m).max() for m in mats.values())
    fig = fig or plt.figure(figsize=(3.3 * len(mats), 3.3))
    axes = fig.subplots(1, len(mats), squeeze=False)[0]
    for ax, (title, m) in zip(axes, mats.items()):
        im = ax.imshow(m, cmap=cmap, vmin=-vmax, vmax=vmax, interpolation="nearest")
        for r in range(row_step, m.shape[0], row_step):
            ax.axhline(r - 0.5, color="0.6", lw=0.4)
        for c in range(col_step, m.shape[1], col_step):
            ax.axvline(c - 0.5, color="0.6", lw=0.4)
        ax.set_title(title, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    fig.suptitle(f"{order}-major order", fontsize=10)
    return fig


def share_vs_width(widths: Sequence[int], shares: np.ndarray, slope: float, ax=None):
    """Off-diagonal share (widths x seeds): every seed as a dot, the mean with its power-law fit."""
    ax = ax or plt.subplots(figsize=(4.5, 3.5))[1]
    widths = np.asarray(widths, float)
    for s in range(shares.shape[1]):
        ax.loglog(widths, shares[:, s], ".", color="0.6", label="single seed" if s == 0 else None)
    loglog_fit(widths, shares.mean(axis=1), slope, xlabel="hidden width n", ylabel="off-diagonal share",
               label="mean over seeds", ax=ax)
    return ax
