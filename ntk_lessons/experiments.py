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


def offdiagonal_share_vs_width(
    x: np.ndarray,
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    depth: int = 2,
    out_dim: int = 10,
    activation: str = "relu",
    W_std: float = 1.0,
    b_std: float | None = 0.0,
    progress: bool = True,
) -> np.ndarray:
    """Off-diagonal share ``blocks.offdiagonal_share`` of the eNTK on ``x`` (N, d).

    Every hidden layer has width ``n`` (``depth`` hidden layers), for each n in ``widths``
    and each seed. Returns an array (len(widths), len(seeds)). Cost per entry: one
    structured eNTK, O(N^2 O^2 depth n + N O depth n^2).
    """
    out = np.zeros((len(widths), len(seeds)))
    pairs = [(i, n, s_i, s) for i, n in enumerate(widths) for s_i, s in enumerate(seeds)]
    for i, n, s_i, seed in tqdm(pairs, desc="widths x seeds", disable=not progress):
        init_fn, apply_fn = models.mlp([n] * depth, out_dim, activation=activation, W_std=W_std, b_std=b_std)
        _, params = init_fn(jax.random.PRNGKey(seed), x.shape)
        params = jax.tree_util.tree_map(lambda a: a.astype(x.dtype), params)
        term = readout.decompose(apply_fn, params, x)
        out[i, s_i] = float(blocks.offdiagonal_share(term.full))
    return out
