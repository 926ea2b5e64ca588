"""Lesson 03: sum of logits -- how far each N x N kernel is from the eNTK, over widths and seeds.

One point (:func:`convergence_point`) is one :class:`~ntk_lessons.lessons.networks.DigitsNetwork`:
its eNTK (structured) against each approximation k ⊗ I_O of ``core.approximations``, as tidy
records {regime, parameterization, fixed_width, width, seed, approximation, metric, value}.
:func:`convergence_sweep` runs it for every width x seed, each point cached on disk; the fits
of ``analysis`` turn the records into slopes and floors.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from .. import analysis
from ..core import approximations, blocks, checks, kernels, regression
from ..support import config
from . import sweeps
from .networks import DigitsNetwork

METRIC_GROUPS = ("blocks", "spectrum", "regression")


def convergence_point(
    network: DigitsNetwork,
    *,
    n_train: int = 50,
    n_test: int = 50,
    compare: Sequence[str] = ("pntk",),
    metrics: Sequence[str] = ("blocks",),
    ridge: float = 1e-4,
) -> list[dict]:
    """Compare each N x N approximation in ``compare`` with the eNTK of ``network``; tidy records.

    The network is measured on its first ``n_train`` digits (+ ``n_test`` more with
    "regression"). ``compare``: names of ``approximations.APPROXIMATIONS``. ``metrics``: any of
    "blocks" (``approximations.block_errors`` on the training kernel), "spectrum"
    (``approximations.spectrum``), "regression" (``approximations.regression_agreement``,
    train on the first n_train, test on the rest, relative ``ridge``).
    Returns a list of dicts with keys regime, parameterization, fixed_width, width, seed,
    approximation, metric, value. Cost: one structured eNTK on N = n_train (+ n_test with
    "regression") inputs, O(N^2 O^2 sum_l n_l); plus O((N O)^3) for spectrum/regression.
    """
    for m in metrics:
        checks.one_of(m, "metrics", METRIC_GROUPS)
    for a in compare:
        checks.one_of(a, "compare", approximations.APPROXIMATIONS)
    n_all = n_train + (n_test if "regression" in metrics else 0)
    apply_fn, params, x, y = network.build(n_all)
    theta = np.asarray(kernels.entk(apply_fn, params, x), np.float64)
    tr = slice(0, n_train)
    te = slice(n_train, n_all)
    base = dict(regime=network.regime, parameterization=network.parameterization, fixed_width=network.fixed_width,
                width=network.width, seed=network.seed)
    # the eNTK's own eigenvalues and predictions, computed once for every approximation
    ev = approximations.entk_eigenvalues_of(theta[tr, tr]) if "spectrum" in metrics else None
    y_train = np.asarray(y[tr], np.float64)
    f_theta = (regression.fit_predict(theta[tr, tr], y_train, theta[te, tr], ridge=ridge)
               if "regression" in metrics else None)
    records = []
    for name in compare:
        k = np.asarray(approximations.compute(name, apply_fn, params, x, key=config.key(10_000 + network.seed)),
                       np.float64)
        values: dict[str, float] = {}
        if "blocks" in metrics:
            values.update(approximations.block_errors(theta[tr, tr], k[tr, tr]))
        if "spectrum" in metrics:
            values.update(approximations.spectrum(theta[tr, tr], k[tr, tr], entk_eigenvalues=ev))
        if "regression" in metrics:
            values.update(approximations.regression_agreement(
                theta[tr, tr], k[tr, tr], theta[te, tr], k[te, tr], y_train, y[te].argmax(1), ridge=ridge,
                entk_predictions=f_theta))
        records += [dict(base, approximation=name, metric=m, value=float(v)) for m, v in values.items()]
    return records


def convergence_sweep(
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    use_cache: bool = True,
    progress: bool = True,
    **point,
) -> list[dict]:
    """:func:`convergence_point` for every width x seed; tidy records, each point cached on disk.

    ``point``: the fields of :class:`DigitsNetwork` but width and seed (regime, parameterization,
    fixed_width, depth, ...) and the keyword arguments of :func:`convergence_point` (n_train,
    metrics, compare, ...). Every point is cached separately (``support.cache``: keyed by the
    network, the options and the package's code), so an interrupted sweep resumes where it
    stopped; ``use_cache=False`` recomputes everything. A tqdm bar shows progress.
    Cost: len(widths) x len(seeds) points (see convergence_point).
    """
    points = sweeps.network_points("convergence.convergence_point", convergence_point, widths, seeds, point)
    desc = f"{point.get('parameterization', 'ntk')} {point.get('regime', 'all_wide')}"
    return sweeps.records(points, use_cache=use_cache, progress=progress, desc=desc)


class SeedInterval(NamedTuple):
    """A statistic fitted once per seed: its mean over seeds and a t-interval for that mean.

    ``per_seed`` holds the S per-seed values. With S >= 2 seeds, (low, high) is the
    two-sided ``level`` Student-t interval mean ± t_{(1+level)/2, S-1} sd / √S (the honest
    interval for 2-3 seeds, where a bootstrap has at most 10 distinct resamples). With one
    seed, low and high are NaN: one seed gives no interval (``describe`` says so).
    """

    mean: float
    low: float
    high: float
    per_seed: tuple[float, ...]
    level: float

    @property
    def n_seeds(self) -> int:
        return len(self.per_seed)

    def describe(self, digits: int = 3) -> str:
        """"-0.452, 95% t-interval over 3 seeds [-0.50, -0.40]" or "-0.452 (1 seed: no interval)"."""
        if self.n_seeds < 2:
            return f"{self.mean:.{digits}f} (1 seed: no interval)"
        return (f"{self.mean:.{digits}f}, {100 * self.level:.0f}% t-interval over {self.n_seeds} seeds "
                f"[{self.low:.{digits}f}, {self.high:.{digits}f}]")


def t_interval(per_seed: Sequence[float], level: float = 0.95) -> SeedInterval:
    """The mean of ``per_seed`` (one value per seed) with its Student-t interval (NaN for one seed).

    ValueError if ``per_seed`` is empty or not finite, or ``level`` is not in (0, 1).
    """
    values = np.asarray(per_seed, dtype=float)
    if values.ndim != 1 or values.size < 1 or not np.all(np.isfinite(values)):
        raise ValueError(f"per_seed must be a non-empty 1-D array of finite numbers, got {per_seed!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    mean = float(values.mean())
    if values.size < 2:
        return SeedInterval(mean, float("nan"), float("nan"), tuple(values.tolist()), float(level))
    from scipy import stats  # a dependency of jax

    half = float(stats.t.ppf((1 + level) / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size))
    return SeedInterval(mean, mean - half, mean + half, tuple(values.tolist()), float(level))


def slope_per_seed(widths: Sequence[float], values_by_seed, level: float = 0.95) -> SeedInterval:
    """Log-log slope of the error against width fitted separately for each seed, and their t-interval.

    ``values_by_seed`` (W, S), one column per seed (one network per seed, across widths).
    ValueError on mismatched shapes or non-positive values (``analysis.loglog_slope``).
    """
    values = np.asarray(values_by_seed, dtype=float)
    if values.ndim != 2 or values.shape[0] != len(widths):
        raise ValueError(f"values_by_seed must have shape (len(widths), S), got {values.shape}")
    return t_interval([analysis.loglog_slope(widths, values[:, s]) for s in range(values.shape[1])], level)


def floor_per_seed(widths: Sequence[float], values_by_seed, level: float = 0.95) -> SeedInterval:
    """The floor c of err^2 = a / width + c fitted separately for each seed (``analysis.fit_floor``), t-interval.

    ``values_by_seed`` (W, S). The interval is over seeds: each seed's c is one network's floor.
    """
    values = np.asarray(values_by_seed, dtype=float)
    if values.ndim != 2 or values.shape[0] != len(widths):
        raise ValueError(f"values_by_seed must have shape (len(widths), S), got {values.shape}")
    return t_interval([analysis.fit_floor(widths, values[:, s:s + 1], n_boot=1).c
                       for s in range(values.shape[1])], level)


def interlacing(theta: Any, v: Any) -> dict[str, Any]:
    """Eigenvalues of Θ (NO x NO) and of its compression Vᵀ Θ V (N x N), and how far they are from interlacing.

    ``theta``: an (N, N, O, O) eNTK (flattened sample-major, ``blocks.to_matrix``) or an (NO, NO)
    matrix; ``v``: (NO, N). Poincaré separation: if VᵀV = I_N then, eigenvalues in decreasing
    order, λ_i(Θ) >= λ_i(VᵀΘV) >= λ_{i+NO-N}(Θ) for i = 1..N. Returns {"theta": Θ's eigenvalues,
    "compressed": VᵀΘV's (both decreasing), "upper": max_i λ_i(VᵀΘV) - λ_i(Θ), "lower":
    max_i λ_{i+NO-N}(Θ) - λ_i(VᵀΘV)} (both <= 0, up to rounding, when V's columns are
    orthonormal), "orthonormality": max |VᵀV - I|, "scale": λ_max(Θ)}. Cost O((NO)^3).
    """
    theta = np.asarray(theta, dtype=np.float64)
    if theta.ndim == 4:
        theta = np.asarray(blocks.to_matrix(theta), dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if theta.ndim != 2 or theta.shape[0] != theta.shape[1]:
        raise ValueError(f"theta must be (N, N, O, O) or a square matrix, got shape {theta.shape}")
    if v.ndim != 2 or v.shape[0] != theta.shape[0] or v.shape[1] > v.shape[0]:
        raise ValueError(f"v must have shape ({theta.shape[0]}, N) with N <= {theta.shape[0]}, got {v.shape}")
    sym = (theta + theta.T) / 2
    ev = np.linalg.eigvalsh(sym)[::-1]
    ek = np.linalg.eigvalsh(v.T @ sym @ v)[::-1]
    n, total = v.shape[1], v.shape[0]
    return {"theta": ev, "compressed": ek, "upper": float(np.max(ek - ev[:n])),
            "lower": float(np.max(ev[total - n:] - ek)),
            "orthonormality": float(np.abs(v.T @ v - np.eye(n)).max()), "scale": float(ev[0])}
