"""Lesson 03: sum of logits -- how far each N x N kernel is from the eNTK, over widths and seeds.

One point (:func:`convergence_point`) is one :class:`~ntk_lessons.lessons.networks.DigitsNetwork`:
its eNTK (structured) against each approximation k ⊗ I_O of ``core.approximations``, as tidy
records {regime, parameterization, fixed_width, width, seed, approximation, metric, value}.
:func:`convergence_sweep` runs it for every width x seed, each point cached on disk; the fits
of ``analysis`` turn the records into slopes and floors.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..core import approximations, checks, kernels, regression
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
