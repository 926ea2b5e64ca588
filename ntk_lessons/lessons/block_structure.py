"""Lesson 02: the readout layer's block structure -- how the eNTK's off-diagonal share falls with width."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import blocks, readout
from ..core.progress import progress_bar as tqdm  # tqdm.auto, ending as one line in saved notebooks
from ..support import config


def offdiagonal_share_vs_width(
    x: np.ndarray,
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    progress: bool = True,
    **model,
) -> np.ndarray:
    """Off-diagonal share (``blocks.offdiagonal_share``) of the eNTK on ``x`` (N, d) for each
    width n in ``widths`` (all ``depth`` hidden layers of width n) and each seed.

    ``model``: keyword arguments of ``readout.decompose_at_init`` (depth, out_dim, activation, ...).
    Returns an array (len(widths), len(seeds)). Cost: len(widths) x len(seeds) structured eNTKs.
    """
    out = np.zeros((len(widths), len(seeds)))
    pairs = [(i, n, j, s) for i, n in enumerate(widths) for j, s in enumerate(seeds)]
    for i, n, j, seed in tqdm(pairs, desc="widths x seeds", disable=not progress):
        dec = readout.decompose_at_init(x, n, config.lesson_seed(seed), **model)
        out[i, j] = float(blocks.offdiagonal_share(dec.full))
    return out


# Student t quantiles t_{0.975, df} for df = 1..30 (two-sided 95%), so that the core needs no scipy.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def slope_per_seed(widths: Sequence[int], shares: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Log-log slope of ``shares`` (len(widths), S) against ``widths`` for each seed, and a 95% t-interval.

    Returns (slopes (S,), mean, half_width), half_width = t_{0.975, S-1} sd(slopes) / sqrt(S): a t-interval over
    seeds, the honest interval for 2-30 seeds (a bootstrap over 3 seeds has at most 10 distinct resamples).
    ValueError if ``shares`` is not (len(widths), S) with 2 <= S <= 31, or a width or share is not positive.
    """
    widths = np.asarray(widths, dtype=float)
    shares = np.asarray(shares, dtype=float)
    if shares.ndim != 2 or shares.shape[0] != len(widths):
        raise ValueError(f"shares must have shape (len(widths), seeds) = ({len(widths)}, S), got {shares.shape}")
    if not 2 <= shares.shape[1] <= len(_T975) + 1:
        raise ValueError(f"shares needs 2 to {len(_T975) + 1} seeds (columns) for a t-interval, got {shares.shape[1]}")
    if len(widths) < 2 or np.any(widths <= 0) or np.any(shares <= 0):
        raise ValueError("widths (at least 2) and shares must be positive for a log-log slope")
    slopes = np.array([np.polyfit(np.log(widths), np.log(shares[:, s]), 1)[0] for s in range(shares.shape[1])])
    half = _T975[len(slopes) - 2] * slopes.std(ddof=1) / np.sqrt(len(slopes))
    return slopes, float(slopes.mean()), float(half)
