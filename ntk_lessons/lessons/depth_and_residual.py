r"""Lesson 07, sections 2 and 3: the pNTK's error at initialisation against width for deeper MLPs, and for a
residual network with LayerNorm.

**Depth (section 2).** :func:`depth_sweep` runs lesson 03's sweep (``convergence.convergence_sweep``: the
relative Frobenius error of pNTK ⊗ I_O against the eNTK, every point cached) for ReLU MLPs with 1, 2, 4 and 8
hidden layers, all of one width n, NTK parameterisation, σ_w = √2 (He: the forward signal keeps its size
with depth), σ_b = 0.1. :func:`depth_fits` fits, per depth, the log-log slope per seed (t-interval over
seeds, ``convergence.slope_per_seed``) and the constant C of e ≈ C n^(-1/2) per seed (the geometric mean of
e·√n over the widths), and :func:`constant_growth` the exponent γ of C ∝ L^γ (one fit per seed index).

What is derived (the lesson's page): conditionally on the body, averaging over the Gaussian readout,

    E_W ‖Θ − Θ̂ ⊗ I_O‖_F² = (O − 1) Σ_{x,x'} [(O + 2) ‖B(x,x')‖_F² + 2 tr B(x,x')²],   B = (σ_w²/n) A,

whatever the body is; (tr B)² cancels. So e² ∝ ‖A‖_F² / (tr A)² = 1 / (effective rank of A): n^(-1/2) when
A's effective rank grows like n (fixed depth, all layers wide). How the constant grows with depth is
measured, next to Hanin & Nica's β = L/n heuristic (C ∝ √L).

**A residual network with LayerNorm (section 3).** ``core.models.resnet`` (stem, pre-norm residual blocks
h + Dense(ReLU(LayerNorm(h))), optional head, readout of ReLU(LayerNorm(.))): its eNTK by
``core.structured.resnet_entk``. :func:`residual_sweep`: the pNTK's error against width at initialisation,
all layers wide or only the head (the layer the readout reads) wide above a fixed-width body, in NTK or
standard parameterisation; :func:`residual_training`: the network trained with Adam (lesson 05's recipe),
the pNTK's error and kernel regression (pNTK ⊗ I_O, one N x N solve, against the full eNTK, one NO x NO
solve, on lesson 05's split) at initialisation and after training, cached as a :class:`ResidualStudy`.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import jax
import numpy as np

from .. import analysis
from ..core import approximations, checks, models, structured
from ..support import cache, config, data
from . import convergence, practice, sweeps

DEPTHS = (1, 2, 4, 8)
"""Hidden layers of the MLPs of section 2."""

DEPTH_NETWORK = dict(regime="all_wide", parameterization="ntk", W_std=2.0**0.5, b_std=0.1, out_dim=10,
                     dtype="float32")
"""The section-2 MLPs' fields of ``networks.DigitsNetwork`` (all but width, seed and depth)."""


def _depth_list(depths: Sequence[int]) -> list[int]:
    if isinstance(depths, (str, bytes)) or not isinstance(depths, Sequence) or not depths:
        raise TypeError(f"depths must be a non-empty sequence of positive integers, got {depths!r}")
    out = [checks.positive_int(int(d) if isinstance(d, np.integer) else d, f"depths[{i}]")
           for i, d in enumerate(depths)]
    if len(set(out)) != len(out):
        raise ValueError(f"depths must not repeat, got {list(depths)}")
    return out


def depth_sweep(depths: Sequence[int], widths: Sequence[int], seeds: Sequence[int], *, n_train: int = 50,
                use_cache: bool = True, progress: bool = True) -> dict[int, list[dict]]:
    """Lesson 03's width x seed sweep of the pNTK's error, once per depth (:data:`DEPTH_NETWORK`).

    Args:
      depths: numbers of hidden layers L (each >= 1, distinct); widths: the common width n of every hidden
        layer; seeds: one network per seed (``config.key``, shifted by the seed offset).
      n_train: the N digits the kernels are computed on (O = 10).
    Returns:
      {L: tidy records of ``convergence.convergence_point`` (metric "total", "diagonal", "offdiagonal")}.
    Cost: len(depths) x len(widths) x len(seeds) structured eNTKs, each O(N² O² L n + N O L n²); every point
    cached on disk (``support.cache``). Points of one (L, n) share one compiled program, so extra seeds are cheap.
    """
    depths = _depth_list(depths)
    n_train = checks.positive_int(n_train, "n_train")
    return {depth: convergence.convergence_sweep(widths, seeds, depth=depth, n_train=n_train, use_cache=use_cache,
                                                 progress=progress, **DEPTH_NETWORK)
            for depth in depths}


@dataclasses.dataclass(frozen=True)
class DepthFit:
    """The fits of one depth's sweep (:func:`depth_fits`).

    ``depth`` L; ``widths`` (W,) and ``errors`` (W, S) the relative Frobenius error of pNTK ⊗ I per width and
    seed; ``slope``: the log-log slope per seed, mean and t-interval (``convergence.SeedInterval``);
    ``constant``: C of e ≈ C n^(-1/2) per seed (geometric mean of e·√n over the widths), mean and t-interval.
    """

    depth: int
    widths: np.ndarray
    errors: np.ndarray
    slope: convergence.SeedInterval
    constant: convergence.SeedInterval

    def error_at(self, width: float) -> float:
        """The constant's prediction C n^(-1/2) at ``width`` (the seed mean of C)."""
        return self.constant.mean / float(width) ** 0.5


def constant_per_seed(widths: Sequence[float], errors) -> np.ndarray:
    """C_s = exp(mean_n log(e_s(n) √n)) for each seed s: the least-squares prefactor of e ≈ C n^(-1/2) in
    log space. ``widths`` (W,) positive, ``errors`` (W, S) positive. Returns (S,). Cost O(W S)."""
    widths = np.asarray(widths, dtype=float)
    errors = np.asarray(errors, dtype=float)
    if widths.ndim != 1 or widths.size < 1 or np.any(~np.isfinite(widths)) or np.any(widths <= 0):
        raise ValueError(f"widths must be a non-empty 1-D array of positive numbers, got {widths!r}")
    if errors.ndim != 2 or errors.shape[0] != widths.size:
        raise ValueError(f"errors must have shape (len(widths), S) = ({widths.size}, S), got {errors.shape}")
    if np.any(~np.isfinite(errors)) or np.any(errors <= 0):
        raise ValueError("errors must be finite and positive")
    return np.exp(np.mean(np.log(errors) + 0.5 * np.log(widths)[:, None], axis=0))


def depth_fits(sweeps: dict[int, list[dict]], *, metric: str = "total", level: float = 0.95) -> list[DepthFit]:
    """One :class:`DepthFit` per depth of :func:`depth_sweep`'s result, in increasing depth.

    ``metric``: "total", "diagonal" or "offdiagonal" (which error); ``level``: of the t-intervals.
    ValueError for an empty or malformed ``sweeps`` (records not forming a width x seed grid). Cost O(records).
    """
    if not isinstance(sweeps, dict) or not sweeps:
        raise ValueError("sweeps must be the non-empty {depth: records} dict of depth_sweep")
    metric = checks.one_of(metric, "metric", ("total", "diagonal", "offdiagonal"))
    out = []
    for depth in sorted(sweeps):
        widths, errors = analysis.values_by_seed(sweeps[depth], metric=metric, approximation="pntk")
        out.append(DepthFit(int(depth), widths, errors, convergence.slope_per_seed(widths, errors, level),
                            convergence.t_interval(constant_per_seed(widths, errors), level)))
    return out


def constant_growth(fits: Sequence[DepthFit], level: float = 0.95) -> convergence.SeedInterval:
    """The exponent γ of C(L) ∝ L^γ: for each seed index s, the log-log slope of C_s against the depths; mean and
    t-interval over s (seed s at different depths are different networks, so each s gives one independent
    estimate). ``fits``: at least two :class:`DepthFit` with the same number of seeds. Cost O(depths x seeds)."""
    if not fits or not all(isinstance(f, DepthFit) for f in fits) or len(fits) < 2:
        raise ValueError("fits must be at least two DepthFit (depth_fits)")
    per_seed = np.array([f.constant.per_seed for f in fits]) if len({f.constant.n_seeds for f in fits}) == 1 else None
    if per_seed is None:
        raise ValueError("every DepthFit must have the same number of seeds")
    depths = [f.depth for f in fits]
    return convergence.t_interval([analysis.loglog_slope(depths, per_seed[:, s]) for s in range(per_seed.shape[1])],
                                  level)


def format_depth_fits(fits: Sequence[DepthFit], reference_width: int = 256) -> str:
    """The fits as a table: per depth, the slope and the constant C with their intervals, and C n^(-1/2) at
    ``reference_width``."""
    if not fits or not all(isinstance(f, DepthFit) for f in fits):
        raise TypeError("fits must be a non-empty sequence of DepthFit")
    reference_width = checks.positive_int(reference_width, "reference_width")
    lines = [f"{'depth L':>7} | slope of the error against n (per seed, t-interval) | constant C of e ≈ C n^-1/2 "
             f"| C n^-1/2 at n = {reference_width}"]
    for f in fits:
        lines.append(f"{f.depth:>7} | {f.slope.describe(3):<52} | {f.constant.describe(2):<40} | "
                     f"{f.error_at(reference_width):.3f}")
    return "\n".join(lines)



# --------------------------------------------------------------------------- section 3: residual network

RESNET = dict(blocks=2, W_std=2.0**0.5, b_std=0.1, out_dim=10)
"""The residual network of section 3 (``models.resnet`` keywords): 2 blocks, σ_w = √2, σ_b = 0.1, O = 10."""

RESIDUAL_REGIMES = ("all_wide", "last_wide")
""""all_wide": stream width n, no head (the readout reads the stream); "last_wide": a stream of fixed width and a
head of width n (only the layer the readout reads widens)."""


def residual_network(width: int, *, regime: str = "all_wide", fixed_width: int = 64, parameterization: str = "ntk",
                     seed: int = 0, dtype: str = "float32"):
    """``(apply_fn, params)`` of section 3's ``models.resnet`` (:data:`RESNET`) for 64 inputs.

    ``regime`` (:data:`RESIDUAL_REGIMES`): "all_wide" (stream of ``width``) or "last_wide" (stream of
    ``fixed_width``, head of ``width``); params from ``config.key(seed)``, cast to ``dtype``. Cost O(P).
    """
    width = checks.positive_int(width, "width")
    regime = checks.one_of(regime, "regime", RESIDUAL_REGIMES)
    fixed_width = checks.positive_int(fixed_width, "fixed_width")
    dtype = checks.one_of(dtype, "dtype", ("float32", "float64"))
    stream, head = (width, None) if regime == "all_wide" else (fixed_width, width)
    init_fn, apply_fn = models.resnet(stream, head_width=head, parameterization=parameterization, **RESNET)
    _, params = init_fn(config.key(seed), (-1, 64))
    return apply_fn, jax.tree_util.tree_map(lambda a: a.astype(dtype), params)


def residual_point(width: int, seed: int, *, regime: str = "all_wide", fixed_width: int = 64,
                   parameterization: str = "ntk", n_train: int = 50) -> list[dict]:
    """The pNTK's block errors (``approximations.block_errors``) for one :func:`residual_network` at
    initialisation, on the first ``n_train`` digits (float32 kernels, compared in float64): tidy records
    {regime, parameterization, fixed_width, width, seed, approximation: "pntk", metric, value}.
    Cost: one ``structured.resnet_entk``, O(N O P + N² O² Σ_l n_l)."""
    n_train = checks.positive_int(n_train, "n_train")
    apply_fn, params = residual_network(width, regime=regime, fixed_width=fixed_width,
                                        parameterization=parameterization, seed=seed)
    x, _ = data.digits_inputs(n_train, seed=0, out_dim=RESNET["out_dim"])
    theta = np.asarray(structured.resnet_entk(apply_fn, params, x), np.float64)
    k = theta.sum(axis=(2, 3)) / theta.shape[2]  # the pNTK, Σ_jk Θ_jk / O
    base = dict(regime=regime, parameterization=parameterization, fixed_width=fixed_width, width=width, seed=seed,
                approximation="pntk")
    return [dict(base, metric=m, value=float(v)) for m, v in approximations.block_errors(theta, k).items()]


def residual_sweep(widths: Sequence[int], seeds: Sequence[int], *, regime: str = "all_wide", fixed_width: int = 64,
                   parameterization: str = "ntk", n_train: int = 50, use_cache: bool = True,
                   progress: bool = True) -> list[dict]:
    """:func:`residual_point` for every width x seed, each point cached on disk (``support.cache``).

    Returns the tidy records (``analysis.values_by_seed(records, metric="total")`` gives a width x seed grid).
    ValueError/TypeError for bad widths, regime, parameterization or n_train. Cost: len(widths) x len(seeds)
    points; points of one width share one compiled program.
    """
    regime = checks.one_of(regime, "regime", RESIDUAL_REGIMES)
    parameterization = checks.one_of(parameterization, "parameterization", models.PARAMETERIZATIONS)
    fixed_width = checks.positive_int(fixed_width, "fixed_width")
    n_train = checks.positive_int(n_train, "n_train")
    options = dict(regime=regime, fixed_width=fixed_width, parameterization=parameterization, n_train=n_train)
    points = [(dict(kind="depth_and_residual.residual_point", width=w, seed=s, network=RESNET, **options),
               lambda w=w, s=s: residual_point(w, s, **options)) for w, s in sweeps.grid(widths, seeds)]
    return sweeps.records(points, use_cache=use_cache, progress=progress, desc=f"resnet {parameterization} {regime}")


@dataclasses.dataclass(frozen=True)
class ResidualStudy:
    """Section 3's residual network at initialisation and after training (:func:`residual_training`).

    ``parameterization``, ``width``, ``steps``, ``n_kernel`` (training digits of the kernel regression),
    ``n_test``; then one two-entry list per quantity, [at initialisation, after training]: ``total``,
    ``diagonal``, ``offdiagonal`` (relative Frobenius errors of pNTK ⊗ I on the n_kernel digits),
    ``accuracy_entk`` (full eNTK regression, one NO x NO float64 solve), ``accuracy_pntk`` (pNTK ⊗ I, one N x N
    solve), ``agreement`` (fraction of test digits on which the two predict the same class),
    ``network_accuracy`` (the network's own test accuracy) and ``kernel_movement`` (‖Θ_t − Θ_0‖_F / ‖Θ_0‖_F).
    """

    parameterization: str
    width: int
    steps: int
    n_kernel: int
    n_test: int
    total: list[float]
    diagonal: list[float]
    offdiagonal: list[float]
    accuracy_entk: list[float]
    accuracy_pntk: list[float]
    agreement: list[float]
    network_accuracy: list[float]
    kernel_movement: list[float]


def residual_training(parameterization: str, *, width: int = 256, steps: int = 500, n_kernel: int = 200,
                      n_test: int = 597, seed: int = 0, use_cache: bool = True, progress: bool = True) -> ResidualStudy:
    """Train section 3's network (all layers of ``width``) with lesson 05's recipe (``practice.TRAINING``: Adam,
    cross-entropy, minibatches of 100 on the 1,200-digit pool of ``practice.digits_split``) for ``steps`` steps;
    at steps 0 and ``steps`` compare pNTK ⊗ I_O with the eNTK and their kernel regressions (the first ``n_kernel``
    training digits, the first ``n_test`` of the 597 test digits, relative ridge ``practice.RIDGE``).

    Returns a :class:`ResidualStudy`, cached on disk (``support.cache``). Cost: the training,
    O(steps · 100 · P), and per checkpoint two ``structured.resnet_entk`` (O((n_kernel + n_test) n_kernel O² Σ n_l))
    and an O((n_kernel O)³) solve. Needs float64 (``support.config.enable_float64``): kernels are compared and
    solved in float64 (the network trains in float32).
    """
    parameterization = checks.one_of(parameterization, "parameterization", models.PARAMETERIZATIONS)
    width = checks.positive_int(width, "width")
    steps = checks.positive_int(steps, "steps")
    n_kernel, n_test = checks.positive_int(n_kernel, "n_kernel"), checks.positive_int(n_test, "n_test")
    if n_kernel > practice.N_TRAIN_POOL or n_test > practice.N_TEST:
        raise ValueError(f"n_kernel <= {practice.N_TRAIN_POOL} and n_test <= {practice.N_TEST}, got {n_kernel}, "
                         f"{n_test}")
    checks.require_float64("depth_and_residual.residual_training")
    key = dict(what="residual_training", network=RESNET, parameterization=parameterization, width=width, steps=steps,
               n_kernel=n_kernel, n_test=n_test, seed=seed, training=practice.TRAINING, ridge=practice.RIDGE)

    def compute() -> dict:
        split = practice.digits_split()
        apply_fn, params = residual_network(width, parameterization=parameterization, seed=seed)
        result = practice.train_network(apply_fn, params, split, steps=steps, checkpoint_steps=[0, steps], seed=seed,
                                        record_every=steps, progress=progress)
        x, x_test = split.x_train[:n_kernel], split.x_test[:n_test]
        y, labels = np.asarray(split.y_train[:n_kernel], np.float64), split.labels_test[:n_test]
        out: dict = {k: [] for k in ("total", "diagonal", "offdiagonal", "accuracy_entk", "accuracy_pntk",
                                     "agreement", "network_accuracy", "kernel_movement")}
        theta0 = None
        for step in (0, steps):
            p = result.checkpoints[step]
            theta = np.asarray(structured.resnet_entk(apply_fn, p, x), np.float64)
            theta_test = np.asarray(structured.resnet_entk(apply_fn, p, x_test, x), np.float64)
            k, k_test = theta.sum(axis=(2, 3)) / theta.shape[2], theta_test.sum(axis=(2, 3)) / theta.shape[2]
            theta0 = theta if theta0 is None else theta0
            for name, value in approximations.block_errors(theta, k).items():
                out[name].append(value)
            agree = approximations.regression_agreement(theta, k, theta_test, k_test, y, labels, ridge=practice.RIDGE)
            out["accuracy_entk"].append(agree["accuracy_entk"])
            out["accuracy_pntk"].append(agree["accuracy_approx"])
            out["agreement"].append(agree["argmax_agreement"])
            f = np.asarray(apply_fn(p, split.x_test[:n_test]))
            out["network_accuracy"].append(float(np.mean(f.argmax(1) == labels)))
            out["kernel_movement"].append(float(np.linalg.norm(theta - theta0) / np.linalg.norm(theta0)))
        return dict(parameterization=parameterization, width=width, steps=steps, n_kernel=n_kernel, n_test=n_test,
                    **out)

    return ResidualStudy(**cache.cached(key, compute, use_cache=use_cache))


def format_residual_studies(studies: Sequence[ResidualStudy]) -> str:
    """Several :class:`ResidualStudy` as a table: per parameterisation, init -> trained for every quantity."""
    if not studies or not all(isinstance(s, ResidualStudy) for s in studies):
        raise TypeError("studies must be a non-empty sequence of ResidualStudy")
    keys = ("total", "diagonal", "offdiagonal", "accuracy_entk", "accuracy_pntk", "agreement", "network_accuracy",
            "kernel_movement")
    lines = [f"{'':>18} " + " ".join(f"{s.parameterization + ' init':>14} {s.parameterization + ' trained':>16}"
                                     for s in studies)]
    for key in keys:
        lines.append(f"{key:>18} " + " ".join(f"{getattr(s, key)[0]:14.3f} {getattr(s, key)[1]:16.3f}"
                                              for s in studies))
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class StaxComparison:
    """What :func:`compare_with_stax` found: ``rows``, one dict per parameterisation with keys
    ``parameterization`` (str), ``same_params`` and ``same_outputs`` (bool: bit-for-bit equal) and ``entk_gap``
    (float: max |ours - stax| / max |stax| over the eNTK's entries); ``text``, one printable line per row."""

    rows: tuple
    text: str

    def __str__(self) -> str:
        return self.text


def compare_with_stax(width: int = 32, n: int = 8) -> StaxComparison:
    """``models.resnet`` against the same network built with neural-tangents' stax (``reference.residual``), in
    both parameterisations: are the params drawn for one key identical, the outputs identical, and how far apart
    are the eNTKs (``structured.resnet_entk`` against neural-tangents' ``empirical_ntk_fn``, float64, ``n`` digits,
    eNTKs of shape (n, n, 10, 10))? Returns a :class:`StaxComparison` (one row per parameterisation, and its text),
    for a check cell to assert on. Needs neural-tangents and float64. Raises ValueError for a ``width`` or ``n``
    that is not a positive integer. Cost: two small eNTKs."""
    from ..reference import nt_reference, residual  # neural-tangents: only here

    width, n = checks.positive_int(width, "width"), checks.positive_int(n, "n")
    checks.require_float64("depth_and_residual.compare_with_stax")
    x, _ = data.digits_inputs(n, seed=0, out_dim=RESNET["out_dim"], dtype="float64")
    rows, lines = [], []
    for parameterization in models.PARAMETERIZATIONS:
        init_fn, apply_fn = models.resnet(width, parameterization=parameterization, **RESNET)
        stax_init, stax_apply, _ = residual.stax_resnet(apply_fn.spec)
        _, ours = init_fn(config.key(0), x.shape)
        _, theirs = stax_init(config.key(0), x.shape)
        same_params = bool(jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(theirs)
                           and all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(ours),
                                                                         jax.tree_util.tree_leaves(theirs))))
        same_outputs = bool(np.array_equal(apply_fn(theirs, x), stax_apply(theirs, x)))
        ref = np.asarray(nt_reference.entk(stax_apply, theirs, x), np.float64)
        ours_theta = np.asarray(structured.resnet_entk(apply_fn, theirs, x), np.float64)
        gap = float(np.abs(ours_theta - ref).max() / np.abs(ref).max())
        rows.append({"parameterization": parameterization, "same_params": same_params, "same_outputs": same_outputs,
                     "entk_gap": gap})
        lines.append(f"{parameterization:>8} param., width {width}: same params {same_params}, same outputs "
                     f"{same_outputs}, eNTK max relative difference {gap:.1e} (float64 rounding)")
    return StaxComparison(rows=tuple(rows), text="\n".join(lines))
