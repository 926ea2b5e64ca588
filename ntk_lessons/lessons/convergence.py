"""Sweeps over widths and seeds, and the log-log slope fits the lessons assert on."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import numpy as np
from tqdm.auto import tqdm

from ..core import approximations as approximations_module
from ..core import blocks, checks, kernels, models, readout, regression
from ..support import cache as cache_module
from ..support import data


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


# ---------------------------------------------------------------- lesson 03: convergence sweeps

REGIMES = ("all_wide", "last_wide")
METRIC_GROUPS = ("blocks", "spectrum", "regression")


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
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.shape[1], size=(n_boot, values.shape[1]))
    means = values[:, idx].mean(axis=2)  # (W, n_boot)
    logw = np.log(widths) - np.log(widths).mean()
    logm = np.log(means) - np.log(means).mean(axis=0)
    slopes = logw @ logm / (logw @ logw)
    low, high = np.quantile(slopes, [0.025, 0.975])
    return PowerLawFit(slope, float(low), float(high))


def fit_floor(widths: Sequence[float], values_by_seed: Any, *, n_boot: int = 2000, seed: int = 0) -> FloorFit:
    """Least-squares fit of err^2 = a / width + c to the mean squared error over seeds.

    Why this model: the off-diagonal blocks get two independent contributions (lesson 03):
    the last hidden layer's own weights, whose fluctuations have variance ∝ 1/width, and
    the layers below it, whose share does not depend on the last width. Variances add, so
    err^2 is linear in 1/width with intercept c, the floor at infinite last width.
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
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.shape[1], size=(n_boot, values.shape[1]))
    cs = (pinv @ ((values[:, idx] ** 2).mean(axis=2) * weights[:, None]))[1]
    low, high = np.quantile(cs, [0.025, 0.975])
    return FloorFit(float(a), float(c), float(low), float(high))


def hidden_widths(regime: str, width: int, depth: int, fixed_width: int | None = None) -> list[int]:
    """The hidden widths of a sweep point: ``[width] * depth`` ("all_wide") or
    ``[fixed_width] * (depth - 1) + [width]`` ("last_wide": only the last hidden layer widens)."""
    if regime == "all_wide":
        return [width] * depth
    if regime == "last_wide":
        if fixed_width is None:
            raise ValueError("regime='last_wide' needs fixed_width (the width n_1 of the layers below the last)")
        return [fixed_width] * (depth - 1) + [width]
    raise ValueError(f"regime must be one of {REGIMES}, got {regime!r}")


def network_on_digits(
    *,
    width: int,
    seed: int,
    regime: str = "all_wide",
    parameterization: str = "ntk",
    fixed_width: int | None = None,
    depth: int = 2,
    out_dim: int = 10,
    activation: str = "relu",
    W_std: float = 1.0,
    b_std: float | None = 0.1,
    n: int = 50,
    data_seed: int = 0,
    dtype: str = "float32",
):
    """A freshly initialised mlp of one sweep point and the digits it is measured on.

    Returns ``(apply_fn, params, x (n, 64), y (n, out_dim) one-hot)``: hidden widths from
    :func:`hidden_widths`, params from PRNGKey(``seed``) in ``dtype``; the first ``n`` of a
    fixed shuffle of the digits with labels < out_dim (``data.digits_inputs(seed=data_seed)``).
    Cost O(n d + P).
    """
    x, y = data.digits_inputs(n, seed=data_seed, out_dim=out_dim, dtype=dtype)
    init_fn, apply_fn = models.mlp(hidden_widths(regime, width, depth, fixed_width), out_dim, activation=activation,
                                   W_std=W_std, b_std=b_std, parameterization=parameterization)
    _, params = init_fn(jax.random.PRNGKey(seed), x.shape)
    params = jax.tree_util.tree_map(lambda a: a.astype(x.dtype), params)
    return apply_fn, params, x, y


def convergence_point(
    *,
    width: int,
    seed: int,
    regime: str = "all_wide",
    parameterization: str = "ntk",
    fixed_width: int | None = None,
    depth: int = 2,
    out_dim: int = 10,
    activation: str = "relu",
    W_std: float = 1.0,
    b_std: float | None = 0.1,
    n_train: int = 50,
    n_test: int = 50,
    data_seed: int = 0,
    approximations: Sequence[str] = ("pntk",),
    metrics: Sequence[str] = ("blocks",),
    ridge: float = 1e-4,
    dtype: str = "float32",
) -> list[dict]:
    """Compare each N x N approximation with the eNTK for one network; tidy records.

    The network: an mlp with :func:`hidden_widths` (``regime``, ``width``, ``depth``,
    ``fixed_width``), ``parameterization``, initialised from PRNGKey(``seed``), on
    ``n_train + n_test`` digits (``data.digits_inputs(seed=data_seed)``, classes < out_dim)
    in ``dtype`` ("float64" needs ``jax_enable_x64``). ``metrics``: any of "blocks"
    (``approximations.block_errors`` on the training kernel), "spectrum"
    (``approximations.spectrum``), "regression" (``approximations.regression_agreement``,
    train on the first n_train, test on the rest, relative ``ridge``).
    Returns a list of dicts with keys regime, parameterization, fixed_width, width, seed,
    approximation, metric, value. Cost: one structured eNTK on N = n_train (+ n_test with
    "regression") inputs, O(N^2 O^2 sum_l n_l); plus O((N O)^3) for spectrum/regression.
    """
    approx = approximations_module
    for m in metrics:
        checks.one_of(m, "metrics", METRIC_GROUPS)
    for a in approximations:
        checks.one_of(a, "approximations", approx.APPROXIMATIONS)
    n_all = n_train + (n_test if "regression" in metrics else 0)
    apply_fn, params, x, y = network_on_digits(
        width=width, seed=seed, regime=regime, parameterization=parameterization, fixed_width=fixed_width,
        depth=depth, out_dim=out_dim, activation=activation, W_std=W_std, b_std=b_std, n=n_all,
        data_seed=data_seed, dtype=dtype)
    theta = np.asarray(kernels.entk(apply_fn, params, x), np.float64)
    tr = slice(0, n_train)
    te = slice(n_train, n_all)
    base = dict(regime=regime, parameterization=parameterization, fixed_width=fixed_width, width=width, seed=seed)
    # the eNTK's own eigenvalues and predictions, computed once for every approximation
    ev = approx.entk_eigenvalues_of(theta[tr, tr]) if "spectrum" in metrics else None
    y_train = np.asarray(y[tr], np.float64)
    f_theta = (regression.fit_predict(theta[tr, tr], y_train, theta[te, tr], ridge=ridge)
               if "regression" in metrics else None)
    records = []
    for name in approximations:
        k = np.asarray(approx.compute(name, apply_fn, params, x, key=jax.random.PRNGKey(10_000 + seed)), np.float64)
        values: dict[str, float] = {}
        if "blocks" in metrics:
            values.update(approx.block_errors(theta[tr, tr], k[tr, tr]))
        if "spectrum" in metrics:
            values.update(approx.spectrum(theta[tr, tr], k[tr, tr], entk_eigenvalues=ev))
        if "regression" in metrics:
            values.update(approx.regression_agreement(theta[tr, tr], k[tr, tr], theta[te, tr], k[te, tr], y_train,
                                                      y[te].argmax(1), ridge=ridge, entk_predictions=f_theta))
        records += [dict(base, approximation=name, metric=m, value=float(v)) for m, v in values.items()]
    return records


def convergence_sweep(
    widths: Sequence[int],
    seeds: Sequence[int],
    *,
    cache: bool = True,
    progress: bool = True,
    **point,
) -> list[dict]:
    """:func:`convergence_point` for every width x seed; tidy records, each point cached on disk.

    ``point``: the keyword arguments of :func:`convergence_point` (regime, parameterization,
    fixed_width, depth, metrics, ...). Every point is cached separately (``cache`` module:
    keyed by its full configuration and the package version, written atomically), so an
    interrupted sweep resumes where it stopped; ``cache=False`` recomputes everything.
    A tqdm bar shows progress. Cost: len(widths) x len(seeds) points (see convergence_point).
    """
    widths = [checks.positive_int(int(w) if isinstance(w, np.integer) else w, "widths[i]") for w in widths]
    seeds = [int(s) for s in seeds]
    if not widths or not seeds:
        raise ValueError("widths and seeds must be non-empty")
    desc = f"{point.get('parameterization', 'ntk')} {point.get('regime', 'all_wide')}"
    records: list[dict] = []
    for width, seed in tqdm([(w, s) for w in widths for s in seeds], desc=desc, disable=not progress, leave=False):
        # jax draws the initial weights in float64 when x64 is on: a different network, so part of the key
        config = dict(point, width=width, seed=seed, kind="convergence_point", x64=bool(jax.config.jax_enable_x64))
        config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
        records += cache_module.cached(config, lambda w=width, s=seed: convergence_point(width=w, seed=s, **point),
                                    cache=cache)
    return records


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
