r"""Lesson 04: finite networks meet their infinite-width kernel Θ_∞ as the widths grow.

As every hidden width n of an NTK-parameterised network grows, its eNTK at initialisation
Θ (N, N, O, O) tends to Θ_∞ ⊗ I_O (``infinite``; neural-tangents' ``kernel_fn`` for other
architectures). This module measures how, for one network at a time, in tidy records like
``convergence.convergence_sweep``'s ({model, width, seed, metric, value}), each point cached
on disk (``support.cache``) so that an interrupted sweep resumes.

The metrics of :func:`limit_errors` (all relative Frobenius norms, with one fixed yardstick:
‖Θ_∞ ⊗ I_O‖_F = √O ‖Θ_∞‖_F, which depends on the inputs but not on the width or seed):

=========================== ====================================================
``entk_diagonal``           ‖Θ_jj − Θ_∞‖ over the O diagonal blocks
``entk_offdiagonal``        ‖Θ_jk‖ over the blocks j ≠ k (Θ_∞ ⊗ I_O has zeros there)
``entk_vs_limit``           ‖Θ − Θ_∞ ⊗ I_O‖  (= hypot(diagonal, off-diagonal))
``pntk``                    ‖pNTK − Θ_∞‖ / ‖Θ_∞‖ (= ‖(pNTK − Θ_∞) ⊗ I_O‖ / yardstick)
``entk_diagonal_vs_pntk``   ‖Θ_jj − pNTK‖ over the diagonal blocks
``entk_vs_pntk``            ‖Θ − pNTK ⊗ I_O‖ (= hypot(that, off-diagonal))
``distance_ratio``          entk_vs_pntk / entk_vs_limit: < 1 when the pNTK is closer to the
                            eNTK than Θ_∞ is (lesson 04, section 4)
``diagonal_distance_ratio`` entk_diagonal_vs_pntk / entk_diagonal: the same on the diagonal blocks
``spectral_vs_limit``       ‖Θ − Θ_∞ ⊗ I_O‖_op / ‖Θ_∞‖_op (square kernels only, like the next four)
``spectral_vs_pntk``        ‖Θ − pNTK ⊗ I_O‖_op / ‖Θ_∞‖_op
``spectral_ratio``          spectral_vs_pntk / spectral_vs_limit
``lambda_max_error_limit``  |λ_max(Θ) − λ_max(Θ_∞)| / λ_max(Θ_∞)
``lambda_max_error_pntk``   |λ_max(Θ) − λ_max(pNTK)| / λ_max(Θ_∞)
=========================== ====================================================

Both distances of section 4 contain the same off-diagonal blocks, which no kernel of the
form k ⊗ I_O can represent; they differ only on the diagonal blocks.

:func:`mlp_point` adds kernel regression on held-out digits with the three kernels
(:func:`regression_metrics`). :func:`conv_point` does the same comparison for the digits
conv net of ``reference.conv_net`` (neural-tangents is imported only when it is called).
"""

from __future__ import annotations

import functools
import math
import types
from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..analysis import select, values_by_seed
from ..core import approximations, checks, infinite, kernels, models, regression
from ..support import config, data
from . import sweeps
from .networks import DigitsNetwork

LIMIT_METRICS = ("entk_diagonal", "entk_offdiagonal", "entk_vs_limit", "pntk", "entk_diagonal_vs_pntk",
                 "entk_vs_pntk", "distance_ratio", "diagonal_distance_ratio")
SPECTRAL_METRICS = ("spectral_vs_limit", "spectral_vs_pntk", "spectral_ratio", "lambda_max_error_limit",
                    "lambda_max_error_pntk")  # square kernels only (N1 = N2)
REGRESSION_METRICS = ("accuracy_entk", "accuracy_pntk", "accuracy_limit", "prediction_pntk_vs_entk",
                      "prediction_limit_vs_entk", "prediction_pntk_vs_limit")


def widest_float() -> np.dtype:
    """float64 when jax's 64-bit mode is on, else float32 (the dtype Θ_∞ and the conv net use)."""
    return np.dtype(jax.dtypes.canonicalize_dtype(np.float64))


# --------------------------------------------------------------------------- metrics

def limit_errors(theta: Any, k_limit: Any, pntk: Any = None) -> dict[str, float]:
    """How far an eNTK and its pNTK are from Θ_∞ ⊗ I_O, and from each other (module docstring).

    Args:
      theta: eNTK (N1, N2, O, O) of one network at initialisation.
      k_limit: Θ_∞ (N1, N2) on the same inputs (not identically zero).
      pntk: (N1, N2), default ``approximations.from_entk(theta, "pntk")``.
    Returns:
      {metric: float} for every name in :data:`LIMIT_METRICS`, and for square kernels (N1 = N2) every
      name in :data:`SPECTRAL_METRICS`, computed in float64.
    Cost O(N1 N2 O²), plus O((N O)³) for the spectral metrics of a square kernel.
    """
    theta = checks.full_kernel(theta, "theta", float64=True)
    n1, n2, o, _ = theta.shape
    k_limit = checks.matching_kernel(k_limit, (n1, n2), "k_limit")
    pntk = approximations.from_entk(theta, "pntk") if pntk is None else checks.matching_kernel(pntk, (n1, n2), "pntk")
    limit_norm = np.linalg.norm(k_limit)
    if not limit_norm > 0:
        raise ValueError("k_limit is identically zero, so errors relative to it are undefined")
    yardstick = math.sqrt(o) * limit_norm  # ‖Θ_∞ ⊗ I_O‖_F
    diagonal = np.diagonal(theta, axis1=2, axis2=3)  # (N1, N2, O): the blocks Θ_jj
    diag_vs_limit = np.linalg.norm(diagonal - k_limit[:, :, None]) / yardstick
    diag_vs_pntk = np.linalg.norm(diagonal - pntk[:, :, None]) / yardstick
    off = np.linalg.norm(theta * (1 - np.eye(o))) / yardstick
    vs_limit, vs_pntk = math.hypot(diag_vs_limit, off), math.hypot(diag_vs_pntk, off)
    spectral = _spectral_errors(theta, k_limit, pntk) if n1 == n2 else {}
    return spectral | {
        "entk_diagonal": float(diag_vs_limit),
        "entk_offdiagonal": float(off),
        "entk_vs_limit": vs_limit,
        "pntk": float(np.linalg.norm(pntk - k_limit) / limit_norm),
        "entk_diagonal_vs_pntk": float(diag_vs_pntk),
        "entk_vs_pntk": vs_pntk,
        "distance_ratio": vs_pntk / vs_limit if vs_limit > 0 else float("nan"),
        "diagonal_distance_ratio": float(diag_vs_pntk / diag_vs_limit) if diag_vs_limit > 0 else float("nan"),
    }


def _spectral_errors(theta: np.ndarray, k_limit: np.ndarray, pntk: np.ndarray) -> dict[str, float]:
    """Operator-norm distances and λ_max errors (module docstring), all relative to λ_max(Θ_∞).
    Cost: three symmetric eigendecompositions of (N O) x (N O) matrices, O((N O)^3)."""
    n, _, o, _ = theta.shape

    def flat(t):  # (N, N, O, O) -> symmetric (N O, N O)
        m = np.transpose(t, (0, 2, 1, 3)).reshape(n * o, n * o)
        return (m + m.T) / 2

    def minus(k):  # Θ − k ⊗ I_O
        d = theta.copy()
        d[:, :, np.arange(o), np.arange(o)] -= k[:, :, None]
        return flat(d)

    top = float(np.linalg.eigvalsh((k_limit + k_limit.T) / 2)[-1])
    if not top > 0:
        return {}
    lam_theta = float(np.linalg.eigvalsh(flat(theta))[-1])
    lam_pntk = float(np.linalg.eigvalsh((pntk + pntk.T) / 2)[-1])
    vs_limit = float(np.abs(np.linalg.eigvalsh(minus(k_limit))).max()) / top
    vs_pntk = float(np.abs(np.linalg.eigvalsh(minus(pntk))).max()) / top
    return {"spectral_vs_limit": vs_limit, "spectral_vs_pntk": vs_pntk,
            "spectral_ratio": vs_pntk / vs_limit if vs_limit > 0 else float("nan"),
            "lambda_max_error_limit": abs(lam_theta - top) / top,
            "lambda_max_error_pntk": abs(lam_theta - lam_pntk) / top}


def total_ratio_from_diagonal(diagonal_ratio: Any, out_dim: int, gamma: float = 0.5) -> np.ndarray:
    r"""The ratio δ_pNTK / δ_∞ on the whole kernel predicted from the ratio on the diagonal blocks (lesson 04, §4).

    With V_d the mean squared Frobenius norm of one diagonal block's column-specific fluctuation,
    γ V_d that of one off-diagonal block, and q V_d that of the fluctuation common to every
    diagonal block: diagonal ratio² = 2(O − 1) / (O (q + 1)) and total ratio² =
    (O − 1)(2 + O γ) / (O (q + 1) + O (O − 1) γ). Eliminating q:
    total² = (O − 1)(2 + O γ) / (2 (O − 1) / diagonal² + O (O − 1) γ). γ ≈ 1/2 for a Gaussian readout.
    ``diagonal_ratio``: float or array (> 0); ``out_dim`` O ≥ 2; ``gamma`` > 0. Returns an array.
    """
    o = checks.positive_int(out_dim, "out_dim")
    if o < 2:
        raise ValueError(f"out_dim must be at least 2 (one output has no off-diagonal blocks), got {out_dim}")
    gamma = checks.nonnegative_float(gamma, "gamma")
    if gamma == 0:
        raise ValueError("gamma must be > 0")
    r = np.asarray(diagonal_ratio, np.float64)
    if np.any(~(r > 0)):
        raise ValueError("diagonal_ratio must be positive")
    return np.sqrt((o - 1) * (2 + o * gamma) / (2 * (o - 1) / r**2 + o * (o - 1) * gamma))


class SlopeInterval(NamedTuple):
    """Log-log slope of the mean over seeds, and a t-interval from the per-seed slopes (nan with one seed)."""

    slope: float
    low: float
    high: float
    n_seeds: int

    def text(self) -> str:
        """'slope [low, high] (t-interval over S seeds)', or 'slope (1 seed: no interval)'."""
        if self.n_seeds < 2:
            return f"{self.slope:.3f} (1 seed: no interval)"
        return f"{self.slope:.3f} [{self.low:.3f}, {self.high:.3f}] (95% t-interval over {self.n_seeds} seeds)"


_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def slope_interval(widths: Sequence[float], values_by_seed: Any) -> SlopeInterval:
    """Slope of log(mean over seeds) against log(width) with a 95% t-interval over the seeds' own slopes.

    With 2-10 seeds a bootstrap over seeds has few distinct resamples; a t-interval says honestly how
    little a few seeds pin down (with 2 seeds it is wide). ``values_by_seed`` (W, S), positive; W ≥ 2.
    """
    widths = np.asarray(widths, np.float64)
    values = np.asarray(values_by_seed, np.float64)
    if values.ndim != 2 or values.shape[0] != len(widths) or len(widths) < 2:
        raise ValueError(f"values_by_seed must be (W, S) with W = len(widths) >= 2, got {values.shape}")
    if np.any(~(values > 0)) or np.any(~(widths > 0)):
        raise ValueError("widths and values_by_seed must be positive for a log-log fit")
    logw = np.log(widths) - np.log(widths).mean()
    slope = float(logw @ np.log(values.mean(axis=1)) / (logw @ logw))
    s = values.shape[1]
    if s < 2:
        return SlopeInterval(slope, float("nan"), float("nan"), s)
    per_seed = logw @ (np.log(values) - np.log(values).mean(axis=0)) / (logw @ logw)
    half = _T975.get(s - 1, 1.96) * per_seed.std(ddof=1) / math.sqrt(s)
    return SlopeInterval(slope, slope - half, slope + half, s)


def regression_metrics(theta: Any, k_limit: Any, y: Any, n_train: int, *, ridge: float) -> dict[str, float]:
    """Kernel regression on the last N − n_train inputs, trained on the first n_train, with three kernels.

    Args:
      theta: eNTK (N, N, O, O) on all N inputs (train first); k_limit: Θ_∞ (N, N) on them;
      y: one-hot targets (N, O); n_train: how many inputs train (0 < n_train < N);
      ridge: relative ridge (``regression.fit_predict``).
    Returns:
      {"accuracy_entk", "accuracy_pntk", "accuracy_limit": test accuracies;
      "prediction_pntk_vs_entk": ‖F_pNTK − F_eNTK‖/‖F_eNTK‖, "prediction_limit_vs_entk": the same for
      Θ_∞, "prediction_pntk_vs_limit": ‖F_pNTK − F_∞‖/‖F_∞‖} (F: (N − n_train, O) test predictions).
    Cost: one (n_train O)³ solve (the eNTK couples the outputs) and two n_train³ solves.
    """
    theta = checks.full_kernel(theta, "theta", float64=True)
    n = theta.shape[0]
    k_limit = checks.matching_kernel(k_limit, (n, n), "k_limit")
    n_train = checks.positive_int(n_train, "n_train")
    if n_train >= n:
        raise ValueError(f"n_train must leave test inputs: got n_train={n_train} for N={n} inputs")
    y = np.asarray(y, np.float64)
    if y.shape != (n, theta.shape[-1]):
        raise ValueError(f"y must have shape {(n, theta.shape[-1])} (one-hot targets of the N inputs), got {y.shape}")
    train, test = slice(0, n_train), slice(n_train, n)
    p = approximations.from_entk(theta, "pntk")
    predictions = {name: np.asarray(regression.fit_predict(k[train, train], y[train], k[test, train], ridge=ridge),
                                    np.float64)
                   for name, k in (("entk", theta), ("pntk", p), ("limit", k_limit))}

    def rel(a, b):
        return float(np.linalg.norm(predictions[a] - predictions[b]) / np.linalg.norm(predictions[b]))

    out = {f"accuracy_{name}": regression.accuracy(f, y[test]) for name, f in predictions.items()}
    out.update(prediction_pntk_vs_entk=rel("pntk", "entk"), prediction_limit_vs_entk=rel("limit", "entk"),
               prediction_pntk_vs_limit=rel("pntk", "limit"))
    return out


# --------------------------------------------------------------------------- one network

def mlp_point(network: DigitsNetwork, *, n_train: int = 100, n_test: int = 100, ridge: float = 1e-3) -> list[dict]:
    """One mlp against Θ_∞: ``network`` (NTK parameterisation) on its first n_train + n_test digits.

    The eNTK is computed once (``kernels.entk``, structured) on all inputs; Θ_∞
    (``infinite.limit_kernels``) in float64 when jax's 64-bit mode is on. Kernel metrics
    (:func:`limit_errors`) on the n_train x n_train block; regression
    (:func:`regression_metrics`, relative ``ridge``) trains on those and tests on the rest.
    Returns tidy records {model: "mlp", width, seed, metric, value}.
    Cost: O(N² O² depth n + N O depth n²) for the eNTK (N = n_train + n_test), O((n_train O)³) regression.
    """
    n_train, n_test = checks.positive_int(n_train, "n_train"), checks.positive_int(n_test, "n_test")
    apply_fn, params, x, y = network.build(n_train + n_test)
    theta = np.asarray(kernels.entk(apply_fn, params, x), np.float64)
    k_limit = np.asarray(infinite.limit_kernels(apply_fn, jnp.asarray(x, widest_float())).ntk, np.float64)
    train = slice(0, n_train)
    values = limit_errors(theta[train, train], k_limit[train, train])
    values.update(regression_metrics(theta, k_limit, y, n_train, ridge=ridge))
    return _records("mlp", network.width, network.seed, values)


def conv_point(
    *,
    width: int,
    seed: int,
    depth: int = 1,
    pooling: str = "global_avg",
    out_dim: int = 10,
    W_std: float = 2.0**0.5,
    b_std: float | None = 0.1,
    n: int = 12,
    data_seed: int = 0,
    method: str = "ntk_vp",
) -> list[dict]:
    """The digits conv net (``reference.conv_net.digits_conv_net``, ``depth`` conv layers of ``width`` channels)
    against neural-tangents' infinite-width kernel of the same architecture (``kernel_fn(x, None, "ntk")``).

    Inputs: n digits (classes < out_dim) as 8 x 8 images; parameters from PRNGKey(seed).
    The eNTK goes through the generic ``kernels.entk(method=method)`` ("ntk_vp" or
    "jacobian"), the pNTK is ``approximations.from_entk`` of it. Everything is in :func:`widest_float`
    (neural-tangents' Conv fails on float32 when 64-bit mode is on). Needs neural-tangents.
    Returns tidy records {model: "conv", width (channels), seed, metric, value} of :func:`limit_errors`.
    Cost: ``kernels.entk`` on n inputs, O(n² O P) with P ≈ 9 (depth − 1) c² + (10 + O) c parameters
    for global-average pooling; Θ_∞ is computed once per architecture (cached in memory).
    """
    from ..reference import conv_net  # neural-tangents: imported only here, where it is needed

    method = checks.one_of(method, "method", ("ntk_vp", "jacobian"))
    channels = (checks.positive_int(width, "width"),) * checks.positive_int(depth, "depth")
    architecture = (checks.positive_int(out_dim, "out_dim"), checks.nonnegative_float(W_std, "W_std"),
                    checks.nonnegative_float(b_std, "b_std", allow_none=True),
                    checks.one_of(pooling, "pooling", conv_net.CONV_POOLINGS))
    n, data_seed = checks.positive_int(n, "n"), int(data_seed)
    init_fn, apply_fn, _ = _conv_net(channels, *architecture)
    images = _digit_images(n, data_seed, out_dim)
    _, params = init_fn(config.key(seed), images.shape)
    params = jax.tree_util.tree_map(lambda a: a.astype(images.dtype), params)
    theta = np.asarray(kernels.entk(apply_fn, params, images, method=method), np.float64)
    k_limit = _conv_limit(depth, *architecture, n, data_seed, str(images.dtype))
    return _records("conv", width, seed, limit_errors(theta, k_limit))


# --------------------------------------------------------------------------- sweeps

def mlp_sweep(widths: Sequence[int], seeds: Sequence[int], *, use_cache: bool = True, progress: bool = True,
              **point) -> list[dict]:
    """:func:`mlp_point` for every width x seed; tidy records, each point cached on disk.

    ``point``: fields of :class:`DigitsNetwork` (depth, out_dim, W_std, b_std, dtype, ...; its
    defaults: 2 hidden layers, O = 10, ReLU, σw = 1, σb = 0.1, float32) and keyword arguments of
    :func:`mlp_point`. A tqdm bar shows progress; ``use_cache=False`` recomputes.
    Cost: len(widths) x len(seeds) points.
    """
    points = sweeps.network_points("width_limits.mlp_point", mlp_point, widths, seeds, point)
    return sweeps.records(points, use_cache=use_cache, progress=progress, desc="mlp: widths x seeds")


def conv_sweep(channels: Sequence[int], seeds: Sequence[int], *, use_cache: bool = True, progress: bool = True,
               **point) -> list[dict]:
    """:func:`conv_point` for every channel count x seed; tidy records (``width`` = channels), cached per point.

    ``point``: keyword arguments of :func:`conv_point`. Needs neural-tangents. Cost: len(channels) x len(seeds) points.
    """
    points = [(dict(kind="width_limits.conv_point", width=width, seed=seed, **sweeps.as_json(point)),
               functools.partial(conv_point, width=width, seed=seed, **point))
              for width, seed in sweeps.grid(channels, seeds)]
    return sweeps.records(points, use_cache=use_cache, progress=progress, desc="conv net: channels x seeds")


class DistanceComparison(NamedTuple):
    """Section 4's two distances for every width x seed, each (W, S), relative to ‖Θ_∞ ⊗ I_O‖_F.

    ``entk_vs_pntk`` ‖Θ − pNTK ⊗ I‖, ``entk_vs_limit`` ‖Θ − Θ_∞ ⊗ I‖, their ``ratio``, and
    ``diagonal_ratio`` the same ratio on the diagonal blocks alone; ``widths`` (W,).
    """

    widths: np.ndarray
    entk_vs_pntk: np.ndarray
    entk_vs_limit: np.ndarray
    ratio: np.ndarray
    diagonal_ratio: np.ndarray
    spectral_ratio: np.ndarray | None = None
    lambda_max_errors: tuple[np.ndarray, np.ndarray] | None = None

    def table(self) -> str:
        """One line per width: both distances (mean over seeds), the Frobenius ratios (mean, min-max), and
        where measured the operator-norm ratio and the λ_max errors of the pNTK and Θ_∞ (means)."""
        spectral = self.spectral_ratio is not None
        lines = ["width | ‖Θ − pNTK⊗I‖ | ‖Θ − Θ∞⊗I‖ | Frobenius ratio (min-max) | diagonal blocks only"
                 + (" | operator-norm ratio | λmax error pNTK, Θ∞" if spectral else "")]
        for i, w in enumerate(self.widths):
            r, d = self.ratio[i], self.diagonal_ratio[i]
            line = (f"{int(w):5d} | {self.entk_vs_pntk[i].mean():12.4f} | {self.entk_vs_limit[i].mean():10.4f} | "
                    f"{r.mean():.2f} ({r.min():.2f}-{r.max():.2f})          | "
                    f"{d.mean():.2f} ({d.min():.2f}-{d.max():.2f})")
            if spectral:
                lp, ll = self.lambda_max_errors
                line += (f"          | {self.spectral_ratio[i].mean():.2f}                | "
                         f"{lp[i].mean():.3f}, {ll[i].mean():.3f}")
            lines.append(line)
        return "\n".join(lines)


def distance_comparison(records: Sequence[dict], **where) -> DistanceComparison:
    """Collect section 4's distances from sweep records (``where`` filters them, e.g. model="mlp")."""
    def grid(metric):
        return values_by_seed(records, metric=metric, **where)

    widths, vs_pntk = grid("entk_vs_pntk")
    spectral = bool(select(records, metric="spectral_ratio", **where))
    return DistanceComparison(widths, vs_pntk, grid("entk_vs_limit")[1], grid("distance_ratio")[1],
                              grid("diagonal_distance_ratio")[1],
                              grid("spectral_ratio")[1] if spectral else None,
                              (grid("lambda_max_error_pntk")[1], grid("lambda_max_error_limit")[1])
                              if spectral else None)


# --------------------------------------------------------------------------- entries, for scatter plots

class Entries(NamedTuple):
    """Kernel entries of one network next to Θ_∞, for scatter plots (pairs n <= m only).

    ``limit`` (M,) Θ_∞(x_n, x_m); ``diagonal`` (M, O) Θ_jj; ``offdiagonal`` (M, O(O−1)) Θ_jk, j ≠ k;
    ``pntk`` (M,); M = N(N+1)/2 pairs. ``errors``: :func:`limit_errors` of the whole kernel (read-only).
    """

    width: int
    seed: int
    limit: np.ndarray
    diagonal: np.ndarray
    offdiagonal: np.ndarray
    pntk: np.ndarray
    errors: Any


def entries_at(width: int, seed: int, *, n: int = 20, **network) -> Entries:
    """eNTK, pNTK and Θ_∞ entries of one mlp (a :class:`DigitsNetwork`) on its first ``n`` digits.

    ``network``: the other fields of :class:`DigitsNetwork` (depth, out_dim, activation, W_std,
    b_std, data_seed, dtype, with its defaults). Remembered in memory (the last 32 settings), so
    that a figure and a widget showing the same network compute it once; the arrays are read-only.
    Cost: one structured eNTK on n inputs (O(n² O² depth width + n O depth width²)).
    """
    return _entries(DigitsNetwork(width=int(width), seed=int(seed), **network), n, str(widest_float()))


@functools.lru_cache(maxsize=32)
def _entries(network: DigitsNetwork, n: int, limit_dtype: str) -> Entries:
    apply_fn, params, x, _ = network.build(n)
    theta = np.asarray(kernels.entk(apply_fn, params, x), np.float64)
    k_limit = np.asarray(infinite.limit_kernels(apply_fn, jnp.asarray(x, limit_dtype)).ntk, np.float64)
    o = theta.shape[-1]
    rows, cols = np.triu_indices(n)
    pairs = theta[rows, cols]  # (M, O, O)
    arrays = (k_limit[rows, cols], np.diagonal(pairs, axis1=1, axis2=2).copy(), pairs[:, ~np.eye(o, dtype=bool)],
              approximations.from_entk(theta, "pntk")[rows, cols])
    for a in arrays:
        a.setflags(write=False)
    return Entries(network.width, network.seed, *arrays, types.MappingProxyType(limit_errors(theta, k_limit)))


# --------------------------------------------------------------------------- section 2: vs neural-tangents

def closed_form_vs_neural_tangents(
    x1: Any, x2: Any = None, *, depths: Sequence[int] = (1, 2, 3), activations: Sequence[str] = ("relu", "erf"),
    W_std: float = 1.0, b_std: float | None = 0.1,
) -> list[dict]:
    """``infinite.mlp_kernels`` against neural-tangents' ``stax.serial(...).kernel_fn`` for the same mlps.

    Args: x1 (N1, d), x2 (N2, d) or None; each depth (hidden layers) and activation is one mlp.
    Returns records {depth, activation, kernel: "nngp"/"ntk", max_rel_error: max|ours − nt| / max|nt|}.
    Needs neural-tangents. Cost: 2 x O(N1 N2 (d + depth)) per architecture.
    """
    from ..reference import nt_reference  # neural-tangents: imported only here, where it is needed

    records = []
    for activation in activations:
        for depth in depths:
            _, apply_fn = models.mlp([8] * depth, 1, activation=activation, W_std=W_std, b_std=b_std)
            _, _, kernel_fn = nt_reference.stax_mlp(apply_fn.spec)
            theirs = kernel_fn(x1, x2, ("nngp", "ntk"))
            ours = infinite.mlp_kernels(x1, x2, n_hidden=depth, activation=activation, W_std=W_std, b_std=b_std)
            for name in ("nngp", "ntk"):
                a, b = np.asarray(getattr(ours, name), np.float64), np.asarray(getattr(theirs, name), np.float64)
                records.append(dict(depth=depth, activation=activation, kernel=name,
                                    max_rel_error=float(np.abs(a - b).max() / np.abs(b).max())))
    return records


# --------------------------------------------------------------------------- helpers

def _records(model: str, width: int, seed: int, values: dict[str, float]) -> list[dict]:
    return [dict(model=model, width=int(width), seed=int(seed), metric=m, value=float(v)) for m, v in values.items()]


@functools.lru_cache(maxsize=32)
def _conv_net(channels: tuple[int, ...], out_dim: int, W_std: float, b_std: float | None, pooling: str):
    """One stax conv net per architecture, so that jax's compiled kernels are reused across seeds."""
    from ..reference import conv_net  # neural-tangents: imported only here, where it is needed

    return conv_net.digits_conv_net(channels, out_dim=out_dim, W_std=W_std, b_std=b_std, pooling=pooling)


def _digit_images(n: int, data_seed: int, out_dim: int) -> jax.Array:
    x, _ = data.digits_inputs(n, seed=data_seed, out_dim=out_dim, dtype=str(widest_float()))
    return data.digits_as_images(x)


@functools.lru_cache(maxsize=8)
def _conv_limit(depth: int, out_dim: int, W_std: float, b_std: float | None, pooling: str, n: int,
                data_seed: int, dtype: str) -> np.ndarray:
    """Θ_∞ (n, n) of the conv net, read-only: the same for every channel count (neural-tangents' kernel_fn).

    ``dtype`` (that of the images, set by 64-bit mode) only keys the cache."""
    _, _, kernel_fn = _conv_net((1,) * depth, out_dim, W_std, b_std, pooling)
    images = _digit_images(n, data_seed, out_dim)
    k = np.asarray(kernel_fn(images, None, "ntk"), np.float64)
    k.setflags(write=False)
    return k
