"""Sweeps over widths and seeds, and the log-log slope fits the lessons assert on."""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from . import blocks, models, readout


def loglog_slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x) (the exponent of a power law y ~ x^slope)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(f"x and y must be 1-D of equal length >= 2, got {x.shape} and {y.shape}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be positive for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def power_law_line(x: Sequence[float], y: Sequence[float], slope: float, at: Sequence[float]) -> np.ndarray:
    """c * at^slope, with c the least-squares prefactor of y ~ c x^slope on (x, y) (in log space).

    With ``slope = loglog_slope(x, y)`` this is the fitted line, evaluated at ``at``.
    """
    x, y, at = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(at, dtype=float)
    return np.exp(np.mean(np.log(y) - slope * np.log(x))) * at**slope


def decomposition_at(
    x: np.ndarray,
    width: int,
    seed: int,
    *,
    depth: int = 2,
    out_dim: int = 10,
    activation: str = "relu",
    W_std: float = 1.0,
    b_std: float | None = 0.0,
) -> readout.Decomposition:
    """Readout/body decomposition of a freshly initialised mlp ([width] * depth hidden layers)
    on ``x`` (N, d), parameters in x's dtype. Cost: one structured eNTK, O(N^2 O^2 depth n + N O depth n^2)."""
    init_fn, apply_fn = models.mlp([width] * depth, out_dim, activation=activation, W_std=W_std, b_std=b_std)
    _, params = init_fn(jax.random.PRNGKey(seed), x.shape)
    params = jax.tree_util.tree_map(lambda a: a.astype(x.dtype), params)
    return readout.decompose(apply_fn, params, x)


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

    ``model``: keyword arguments of :func:`decomposition_at` (depth, out_dim, activation, ...).
    Returns an array (len(widths), len(seeds)). Cost: len(widths) x len(seeds) structured eNTKs.
    """
    out = np.zeros((len(widths), len(seeds)))
    pairs = [(i, n, j, s) for i, n in enumerate(widths) for j, s in enumerate(seeds)]
    for i, n, j, seed in tqdm(pairs, desc="widths x seeds", disable=not progress):
        out[i, j] = float(blocks.offdiagonal_share(decomposition_at(x, n, seed, **model).full))
    return out
