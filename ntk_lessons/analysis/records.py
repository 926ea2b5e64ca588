"""Tidy records: one dict per measured number, {<the setting's fields>, metric, value}.

The sweeps of ``lessons`` return lists of such records (JSON-ready, so they cache as they
are); these functions select from them and arrange one metric as a width x seed grid for
the fits of ``analysis.fits``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def select(records: Sequence[dict], **where) -> list[dict]:
    """The records whose fields equal every ``where`` item (e.g. metric="total")."""
    return [r for r in records if all(r.get(k) == v for k, v in where.items())]


def values_by_seed(records: Sequence[dict], **where) -> tuple[np.ndarray, np.ndarray]:
    """``(widths (W,), values (W, S))`` of the records matching ``where`` (one metric, one approximation).

    ValueError if the matching records do not form a full width x seed grid.
    """
    rows = select(records, **where)
    if not rows:
        raise ValueError(f"no records match {where}")
    widths = sorted({r["width"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    grid = np.full((len(widths), len(seeds)), np.nan)
    for r in rows:
        if not np.isnan(grid[widths.index(r["width"]), seeds.index(r["seed"])]):
            raise ValueError(f"more than one record per (width, seed) match {where}: add a filter")
        grid[widths.index(r["width"]), seeds.index(r["seed"])] = r["value"]
    if np.isnan(grid).any():
        raise ValueError(f"records matching {where} do not cover every width x seed")
    return np.asarray(widths), grid
