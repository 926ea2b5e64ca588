"""Wall-clock timing of JAX computations: compile once, then the median of repeated runs."""

from __future__ import annotations

import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..core import checks


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


def cholesky_flop_rate(size: int = 1024, *, dtype: str = "float32", repeats: int = 3) -> float:
    """Floating-point operations per second of this machine, from a timed Cholesky factorisation.

    Factorises a random symmetric positive-definite ``size`` x ``size`` matrix (size^3 / 3
    flops) with ``jax.numpy.linalg.cholesky``, compiled, median of ``repeats`` runs after a
    warm-up. A larger matrix factorises at a somewhat higher rate, so extrapolations from
    this rate err on the slow side. ``dtype``: "float32" or "float64" (needs jax_enable_x64;
    about half the float32 rate).
    Cost: O(size^3) per run, about 0.1 s for size 1024 on 2 CPU cores; memory O(size^2).
    """
    if checks.positive_int(size, "size") < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")
    checks.float_dtype(checks.one_of(dtype, "dtype", ("float32", "float64")), "dtype")  # float64 needs 64-bit mode
    g = jax.random.normal(jax.random.PRNGKey(0), (size, size), dtype=dtype)
    spd = g @ g.T / size + jnp.eye(size, dtype=dtype)
    factorise = jax.jit(jnp.linalg.cholesky)
    seconds = median_seconds(lambda: factorise(spd), repeats=repeats)
    return size**3 / 3 / seconds
