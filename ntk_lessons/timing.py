"""Wall-clock timing of JAX computations: compile once, then the median of repeated runs."""

from __future__ import annotations

import time
from typing import Callable

import jax
import numpy as np


def median_seconds(fn: Callable[[], object], *, repeats: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs, after one untimed warm-up run
    (which pays for jit compilation). Waits for asynchronous JAX results."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def compare(fns: dict[str, Callable[[], object]], *, repeats: int = 5, baseline: str | None = None) -> dict[str, float]:
    """Median seconds of each callable in ``fns`` (same order); prints a table with ratios
    to ``baseline`` (default: the first entry). Returns {name: seconds}."""
    times = {name: median_seconds(fn, repeats=repeats) for name, fn in fns.items()}
    base = times[baseline if baseline is not None else next(iter(times))]
    width = max(map(len, times))
    print(f"{'':{width}}  median time   time / {baseline or next(iter(times))}'s")
    for name, t in times.items():
        print(f"{name:{width}}  {t * 1e3:9.2f} ms   {t / base:8.3f}")
    return times
