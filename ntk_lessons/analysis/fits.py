"""Power-law and floor fits with bootstrap intervals over seeds: what the lessons assert on.

Every fit takes widths (W,) and values (W, S), one column per seed (a seed is one network,
correlated across widths), and is lesson-agnostic: numpy only, plus ``core.checks``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from ..core import checks
from ..support import config


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


class PowerLawFit(NamedTuple):
    """values ~ c * width^slope; (low, high) a 95% bootstrap interval over seeds."""

    slope: float
    low: float
    high: float


class FloorFit(NamedTuple):
    """err^2 ≈ a / width + c: the part that falls with width and the floor c (95% interval over seeds).

    ``floor`` = sqrt(max(c, 0)), the error the fit predicts at infinite width.
    """

    a: float
    c: float
    c_low: float
    c_high: float

    @property
    def floor(self) -> float:
        return float(np.sqrt(max(self.c, 0.0)))


def _widths_and_values(widths: Sequence[float], values_by_seed: Any) -> tuple[np.ndarray, np.ndarray]:
    widths = np.asarray(widths, dtype=float)
    values = np.asarray(values_by_seed, dtype=float)
    if widths.ndim != 1 or widths.size < 2:
        raise ValueError(f"widths must be 1-D with at least 2 entries, got shape {widths.shape}")
    if values.ndim != 2 or values.shape[0] != widths.size or values.shape[1] < 1:
        raise ValueError(
            f"values_by_seed must have shape (len(widths), n_seeds) = ({widths.size}, S), got {values.shape}"
        )
    if np.any(widths <= 0) or np.any(~np.isfinite(values)):
        raise ValueError("widths must be positive and values_by_seed finite")
    return widths, values


def fit_power_law(
    widths: Sequence[float], values_by_seed: Any, *, n_boot: int = 2000, seed: int = 0
) -> PowerLawFit:
    """Slope of log(mean over seeds) against log(width), with a 95% bootstrap interval over seeds.

    ``values_by_seed`` (W, S): one column per seed. Each bootstrap replicate resamples the S
    seeds with replacement (whole columns: a seed is one network, correlated across
    widths), averages, and refits; (low, high) are the 2.5% and 97.5% quantiles. With one
    seed the interval is the point. Cost O(n_boot W S).
    """
    widths, values = _widths_and_values(widths, values_by_seed)
    if np.any(values <= 0):
        raise ValueError("values_by_seed must be positive for a log-log fit")
    n_boot = checks.positive_int(n_boot, "n_boot")
    slope = loglog_slope(widths, values.mean(axis=1))
    rng = config.rng(seed)  # shifted by NTK_LESSONS_SEED_OFFSET, like every seed a lesson draws
    idx = rng.integers(0, values.shape[1], size=(n_boot, values.shape[1]))
    means = values[:, idx].mean(axis=2)  # (W, n_boot)
    logw = np.log(widths) - np.log(widths).mean()
    logm = np.log(means) - np.log(means).mean(axis=0)
    slopes = logw @ logm / (logw @ logw)
    low, high = np.quantile(slopes, [0.025, 0.975])
    return PowerLawFit(slope, float(low), float(high))


def fit_floor(widths: Sequence[float], values_by_seed: Any, *, n_boot: int = 2000, seed: int = 0) -> FloorFit:
    """Least-squares fit of err^2 = a / width + c to the mean squared error over seeds.

    Why this model (lesson 03, Proposition 2): the off-diagonal blocks get two contributions,
    the last hidden layer's own weights, whose share of err^2 is ∝ 1/width, and the layers
    below it, whose share does not depend on the last width. They are not independent (they
    share the readout and the last layer's weights), but their covariance is also ∝ 1/width:
    it changes a, not c. So err^2 = a / width + c + o(1/width), c the floor at infinite last width.
    Weighted least squares (weights 1 / err^2: relative residuals). ``values_by_seed``
    (W, S); (c_low, c_high) a 95% bootstrap interval over seeds (weights held fixed).
    Cost O(n_boot W S).
    """
    widths, values = _widths_and_values(widths, values_by_seed)
    n_boot = checks.positive_int(n_boot, "n_boot")
    sq = (values**2).mean(axis=1)
    if np.any(sq <= 0):
        raise ValueError("values_by_seed must not be all zero at any width")
    # Weighted by 1 / err^2 (relative residuals), so that the small errors at large widths,
    # which decide the floor, count as much as the large ones at small widths.
    weights = 1.0 / sq
    design = np.stack([1.0 / widths, np.ones_like(widths)], axis=1) * weights[:, None]  # (W, 2)
    pinv = np.linalg.pinv(design)
    a, c = pinv @ (sq * weights)
    rng = config.rng(seed)
    idx = rng.integers(0, values.shape[1], size=(n_boot, values.shape[1]))
    cs = (pinv @ ((values[:, idx] ** 2).mean(axis=2) * weights[:, None]))[1]
    low, high = np.quantile(cs, [0.025, 0.975])
    return FloorFit(float(a), float(c), float(low), float(high))
