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
