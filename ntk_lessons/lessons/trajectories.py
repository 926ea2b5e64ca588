r"""Lesson 06: the whole training run of a real network against the predictions of its kernels.

A network trained by full-batch gradient descent on L = 1/2 sum_x ||f(x) - y(x)||^2 with
step size ``lr`` (``training.train``), and three frozen kernels that predict its outputs at
every step (``dynamics.mse_trajectory`` with ``discrete=True``: exactly t steps of the
linearised model f_{t+1} = f_t - lr K (f_t - y), nothing else approximated):

* ``"entk"``: the eNTK at initialisation, (N, N, O, O);
* ``"pntk"``: the sum-of-logits kernel at initialisation, used as pNTK ⊗ I_O;
* ``"infinite"``: Θ_∞ ⊗ I_O, the infinite-width NTK (``infinite.limit_kernels``; NTK parameterisation only).

All three start from the network's own outputs at initialisation f_0. The step size is set
relative to the largest eigenvalue of the network's eNTK at initialisation on the training
inputs: ``lr = threshold_fraction * 2 / lambda_max``; 2 / lambda_max is the largest step for which
the linearised model converges (its steps multiply the top mode by 1 - lr lambda_max): its
linear-stability threshold eta_c (not Cohen et al.'s "edge of stability", which is about the
network's sharpness during training).

How far a prediction is from the network (:func:`trajectory_error`): over the recorded steps
t > 0,

    err = sqrt(sum_t ||f_net(t) - f_pred(t)||^2) / sqrt(sum_t ||f_net(t) - f_net(0)||^2),

the distance from the network's trajectory relative to how far the network's outputs moved.

Precision: the networks train in ``dtype`` (float32 by default); every kernel is cast to
float64 before the eigendecomposition of the predictions (condition numbers of 10^3-10^6),
so these functions need ``jax_enable_x64``.

Results: one training run and its predictions is a :class:`TrajectoryPoint`, a look-ahead
study a :class:`LookAheadStudy` (dataclasses with documented fields, what ``teaching.plots``
reads); both are cached on disk as JSON (``support.cache``), keyed by their
:class:`~ntk_lessons.lessons.networks.DigitsNetwork` and options.

Look-ahead (:func:`look_ahead_study`): for each candidate c of a pool, predict with the pNTK
how the test outputs after training would change if (x_c, y_c) joined the training set --
the same formula on N + 1 training inputs -- and compare with retraining the network.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from ..analysis import loglog_slope, values_by_seed
from ..core import blocks, checks, dynamics, infinite, kernels, training
from ..core.progress import progress_bar as tqdm  # tqdm.auto, ending as one line in saved notebooks
from ..support import cache
from . import sweeps
from .networks import DigitsNetwork
from .width_limits import SlopeInterval, slope_interval  # noqa: F401 -- re-exported for lesson 06

PREDICTORS = ("entk", "pntk", "infinite")
SPLITS = ("train", "test")
DIVERGED = 10.0  # a relative trajectory error above this means the prediction ran away (summary text)


def time_grid(steps: int, count: int) -> np.ndarray:
    """About ``count`` whole steps from 0 to ``steps``, geometrically spaced (dense early, where
    the outputs move fastest), always including 0, 1 and ``steps``. Returns sorted unique ints (T,)."""
    steps = checks.positive_int(steps, "steps")
    count = checks.positive_int(count, "count")
    grid = np.round(np.geomspace(1, steps, max(count - 1, 1))).astype(int)
    return np.unique(np.concatenate([[0, 1], grid, [steps]]))


def largest_stable_lr(theta_train: Any) -> tuple[float, float]:
    """``(2 / lambda_max, lambda_max)`` of a training kernel: (N, N, O, O) eNTK or (N, N).

    Steps of the linearised model larger than 2 / lambda_max make its top mode grow.
    Cost: one symmetric eigendecomposition, O((N O)^3) (full eNTK) or O(N^3), in float64.
    """
    theta = np.asarray(theta_train, dtype=np.float64)
    if theta.ndim == 4:
        theta = np.asarray(blocks.to_matrix(theta, "sample"))
    if theta.ndim != 2 or theta.shape[0] != theta.shape[1]:
        raise ValueError(f"theta_train must be (N, N, O, O) or (N, N), got shape {np.shape(theta_train)}")
    lambda_max = float(np.linalg.eigvalsh(theta)[-1])
    if not lambda_max > 0:
        raise ValueError(f"theta_train has largest eigenvalue {lambda_max:.3g} <= 0: not a non-zero kernel")
    return 2.0 / lambda_max, lambda_max


class InitKernels(NamedTuple):
    """Kernels of one network at initialisation, float64 numpy: ``train`` (N, N[, O, O]) and
    ``test_train`` (M, N[, O, O]); the eNTK has the O axes, pNTK and Θ_∞ do not."""

    train: np.ndarray
    test_train: np.ndarray


def init_kernels(apply_fn: Callable, params: Any, x_train: Any, x_test: Any,
                 predictors: Sequence[str] = PREDICTORS) -> dict[str, InitKernels]:
    """The kernels named in ``predictors`` (see the module docstring) at ``params``.

    ``x_train`` (N, d), ``x_test`` (M, d). Returns {name: InitKernels}. Cost: structured eNTK
    O((N^2 + M N) O^2 sum_l n_l), pNTK O((N^2 + M N) sum_l n_l), Θ_∞ O((N^2 + M N)(d + L)).
    """
    for name in predictors:
        checks.one_of(name, "predictors", PREDICTORS)
    compute = {
        "entk": lambda a, b: kernels.entk(apply_fn, params, a, b),
        "pntk": lambda a, b: kernels.pntk(apply_fn, params, a, b),
        "infinite": lambda a, b: infinite.limit_kernels(apply_fn, a, b).ntk,
    }
    return {name: InitKernels(np.asarray(compute[name](x_train, None), np.float64),
                              np.asarray(compute[name](x_test, x_train), np.float64)) for name in predictors}


def predict(kernel: InitKernels, y_train: Any, f0_train: Any, f0_test: Any, times: Any, *,
            lr: float) -> dynamics.Trajectory:
    """The frozen kernel's outputs after each number of steps in ``times`` (exact discrete steps).

    ``y_train``, ``f0_train`` (N, O); ``f0_test`` (M, O); ``times`` (T,) whole steps.
    Returns a :class:`dynamics.Trajectory` of numpy float64 arrays, train (T, N, O) and test
    (T, M, O). Cost: one eigendecomposition, O((N O)^3) for the eNTK, O(N^3) otherwise.
    """
    checks.require_float64("trajectories")
    as64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    out = dynamics.mse_trajectory(kernel.train, as64(y_train), as64(f0_train), np.asarray(times), lr=lr,
                                  k_test_train=kernel.test_train, f0_test=as64(f0_test), discrete=True)
    return dynamics.Trajectory(np.asarray(out.train), np.asarray(out.test))


def trajectory_error(reference: Any, other: Any, start: Any) -> float:
    """How far a trajectory is from a reference one, relative to how far the reference moved:
    sqrt(sum_t ||reference_t - other_t||^2) / sqrt(sum_t ||reference_t - start||^2).

    ``reference``, ``other``: (T, ...) trajectories (e.g. the network's and a prediction);
    ``start``: (...) the outputs at t = 0 (steps where reference equals start add nothing to
    the denominator). Cost O(T size).
    """
    reference, other = np.asarray(reference, np.float64), np.asarray(other, np.float64)
    start = np.asarray(start, np.float64)
    if reference.shape != other.shape or reference.shape[1:] != start.shape:
        raise ValueError(f"reference {reference.shape} and other {other.shape} must match, and start "
                         f"{start.shape} must be one step of them")
    moved = np.sqrt(np.sum((reference - start[None]) ** 2))
    if not moved > 0:
        raise ValueError("the reference trajectory never leaves its start: relative error undefined")
    return float(np.sqrt(np.sum((reference - other) ** 2)) / moved)


def outputs_loss(f: Any, y: Any) -> np.ndarray:
    """The squared loss of given outputs: 1/2 sum ||f - y||^2 over the last two axes, f (..., N, O), y (N, O) -> (...).

    (``core.linearization.network_loss`` is the same loss as a function of a network's parameters.)
    Cost O(size)."""
    return 0.5 * np.sum((np.asarray(f, np.float64) - np.asarray(y, np.float64)) ** 2, axis=(-2, -1))


# ---------------------------------------------------------------- one network, its kernels, its run


@dataclasses.dataclass(frozen=True)
class Traces:
    """Two logits of the first inputs of one split over the recorded steps: the true class's and the next class's.

    ``labels``: the classes of those inputs; ``curves``: {"network" | predictor: rows}, two rows per
    input (its true class's logit, then the next class's), each a list of values at the
    point's ``times``.
    """

    labels: list[int]
    curves: dict[str, list[list[float]]]


@dataclasses.dataclass(frozen=True)
class TrajectoryPoint:
    """One network trained by gradient descent, and its run predicted by each kernel (:func:`trajectory_point`).

    Setup: ``network`` (:class:`DigitsNetwork`), ``threshold_fraction``, ``steps``, ``n_train``,
    ``n_test``; ``lr`` = threshold_fraction * 2 / ``lambda_max`` (the eNTK's at initialisation on the
    training inputs); ``lambda_max_final``: the same at the last step.
    Results: ``times`` (T,) the recorded steps; ``metrics`` {name: float} -- ``error_{train,test}_{predictor}``
    (:func:`trajectory_error` against the network), ``gap_{train,test}`` (pNTK's prediction against
    the eNTK's, same formula), ``movement`` (||Θ_T − Θ_0||_F / ||Θ_0||_F at the last step, on the
    training inputs, as ``training.kernel_movement``), ``lambda_ratio`` (lambda_max at the end / at
    the start), ``loss_initial``, ``loss_final``, ``accuracy_test``; ``movement_curve`` {step (str):
    movement}; ``loss`` {"network" | predictor: (T,) training loss}; ``traces`` {"train" | "test": :class:`Traces`}.
    Predictors: :data:`PREDICTORS` (no "infinite" in standard parameterisation).
    """

    network: DigitsNetwork
    threshold_fraction: float
    steps: int
    n_train: int
    n_test: int
    lr: float
    lambda_max: float
    lambda_max_final: float
    times: list[int]
    metrics: dict[str, float]
    movement_curve: dict[str, float]
    loss: dict[str, list[float]]
    traces: dict[str, Traces]

    @property
    def width(self) -> int:
        return self.network.width

    @property
    def seed(self) -> int:
        return self.network.seed

    @property
    def parameterization(self) -> str:
        return self.network.parameterization

    @property
    def predictors(self) -> list[str]:
        """The kernels that predicted this run, in :data:`PREDICTORS` order."""
        return [name for name in PREDICTORS if name in self.loss]

    def to_json(self) -> dict:
        """The point as JSON-ready dicts (what the disk cache stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, point: dict) -> TrajectoryPoint:
        """The point :meth:`to_json` wrote."""
        return cls(**dict(point, network=DigitsNetwork.from_key(point["network"]),
                          traces={split: Traces(**t) for split, t in point["traces"].items()}))


def _traces(trajectory: np.ndarray, labels: np.ndarray, count: int) -> list[list[float]]:
    """Outputs of the first ``count`` inputs over time: the true class's logit and the next class's."""
    out_dim = trajectory.shape[-1]
    rows = []
    for i in range(min(count, trajectory.shape[1])):
        for j in (int(labels[i]), (int(labels[i]) + 1) % out_dim):
            rows.append(trajectory[:, i, j].tolist())
    return rows


def trajectory_point(
    network: DigitsNetwork,
    *,
    threshold_fraction: float = 0.25,
    steps: int = 100,
    n_train: int = 64,
    n_test: int = 64,
    time_points: int = 16,
    movement_points: int = 4,
    trace_inputs: int = 1,
    progress: bool = False,
) -> TrajectoryPoint:
    """Train one network and predict its run with each kernel; everything the lesson plots.

    ``network`` is measured on its first n_train + n_test digits (train: the first n_train). It
    takes ``steps`` full-batch steps of ``lr = threshold_fraction * 2 / lambda_max`` (lambda_max of its
    eNTK at initialisation on the training inputs); about ``time_points`` steps are recorded
    (:func:`time_grid`), the kernel movement at ``movement_points`` steps, the traces of the first
    ``trace_inputs`` inputs of each split. Returns a :class:`TrajectoryPoint`.
    Predictors: entk, pntk, and infinite in NTK parameterisation.

    Cost: ``steps`` training steps O(steps N P); the kernels of :func:`init_kernels`; two
    O((N O)^3) eigendecompositions; ``movement_points`` - 1 structured eNTKs on N inputs.
    """
    checks.require_float64("trajectories.trajectory_point")
    threshold_fraction = float(checks.nonnegative_float(threshold_fraction, "threshold_fraction"))
    if threshold_fraction == 0:
        raise ValueError("threshold_fraction must be > 0 (the step size as a fraction of 2 / lambda_max)")
    steps = checks.positive_int(steps, "steps")
    apply_fn, params, x, y = network.build(n_train + n_test)
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    predictors = PREDICTORS if network.parameterization == "ntk" else ("entk", "pntk")
    init = init_kernels(apply_fn, params, x_train, x_test, predictors)
    eta_c, lambda_max = largest_stable_lr(init["entk"].train)
    lr = threshold_fraction * eta_c
    times = time_grid(steps, time_points)
    checkpoints = sorted({0, steps, *np.round(np.linspace(0, steps, movement_points)).astype(int).tolist()})
    run = training.train(apply_fn, params, x_train, y_train, steps=steps, lr=lr, x_test=x_test, y_test=y_test,
                         output_steps=times.tolist(), checkpoint_steps=checkpoints, progress=progress)
    net = {"train": np.stack([run.outputs[int(t)][0] for t in times]),
           "test": np.stack([run.outputs[int(t)][1] for t in times])}
    f0 = {split: net[split][0] for split in SPLITS}
    predicted = {name: predict(init[name], y_train, f0["train"], f0["test"], times, lr=lr) for name in predictors}
    metrics = {}
    for split in SPLITS:
        for name in predictors:
            metrics[f"error_{split}_{name}"] = trajectory_error(net[split][1:], getattr(predicted[name], split)[1:],
                                                                f0[split])
        metrics[f"gap_{split}"] = trajectory_error(getattr(predicted["entk"], split)[1:],
                                                   getattr(predicted["pntk"], split)[1:], f0[split])
    movement, lambda_final = _movement(apply_fn, run.checkpoints, x_train, init["entk"].train)
    metrics.update(movement=movement[steps], lambda_ratio=lambda_final / lambda_max,
                   loss_initial=float(outputs_loss(f0["train"], y_train)),
                   loss_final=float(outputs_loss(net["train"][-1], y_train)),
                   accuracy_test=float(run.test_accuracy[-1]))
    labels = {"train": np.argmax(np.asarray(y_train), 1), "test": np.argmax(np.asarray(y_test), 1)}
    traces = {split: Traces(labels=labels[split][:trace_inputs].tolist(), curves={
        "network": _traces(net[split], labels[split], trace_inputs),
        **{name: _traces(getattr(predicted[name], split), labels[split], trace_inputs) for name in predictors}})
        for split in SPLITS}
    return TrajectoryPoint(
        network=network, threshold_fraction=threshold_fraction, steps=steps, n_train=n_train, n_test=n_test,
        lr=lr, lambda_max=lambda_max, lambda_max_final=lambda_final, times=times.tolist(), metrics=metrics,
        movement_curve={str(k): v for k, v in movement.items()},
        loss={"network": outputs_loss(net["train"], y_train).tolist(),
              **{name: outputs_loss(predicted[name].train, y_train).tolist() for name in predictors}},
        traces=traces,
    )


def _movement(apply_fn, checkpoints, x_train, theta_0):
    """({step: ||Θ_t − Θ_0||_F / ||Θ_0||_F}, λmax of the last Θ_t): ``training.kernel_movement``'s
    measure, reusing Θ_0 and keeping the last kernel for its top eigenvalue."""
    scale, movement = np.linalg.norm(theta_0), {}
    for step in sorted(checkpoints):
        theta = theta_0 if step == 0 else np.asarray(kernels.entk(apply_fn, checkpoints[step], x_train), np.float64)
        movement[step] = float(np.linalg.norm(theta - theta_0) / scale)
    return movement, largest_stable_lr(theta)[1]


def _point_as_json(network: DigitsNetwork, **options) -> dict:
    return trajectory_point(network, **options).to_json()


def _point_job(point: dict) -> tuple[dict, Callable[[], dict]]:
    """(cache key, computation) of one :func:`trajectory_point`; ``point``: network fields and its options."""
    return sweeps.network_point("trajectories.trajectory_point", _point_as_json, point)


def cached_point(*, use_cache: bool = True, **point) -> TrajectoryPoint:
    """:func:`trajectory_point` through the disk cache (``support.cache``), keyed by the network and the
    options. ``point``: the fields of :class:`DigitsNetwork` (width and seed included) and the keyword
    arguments of :func:`trajectory_point`. ``use_cache=False`` recomputes."""
    key, compute = _point_job(point)
    return TrajectoryPoint.from_json(cache.cached(key, compute, use_cache=use_cache))


def trajectory_sweep(widths: Sequence[int], seeds: Sequence[int], *, use_cache: bool = True, progress: bool = True,
                     **point) -> list[TrajectoryPoint]:
    """:func:`trajectory_point` for every width x seed (``point``: the other fields of :class:`DigitsNetwork`
    and the keyword arguments of :func:`trajectory_point`), each point cached on disk separately, with a
    tqdm bar. Returns the points, widths outer. Cost: len(widths) x len(seeds) points."""
    jobs = [_point_job(dict(point, width=w, seed=s)) for w, s in sweeps.grid(widths, seeds)]
    desc = f"{point.get('parameterization', 'ntk')} param., step {point.get('threshold_fraction', 0.25):g} x 2/λmax"
    return [TrajectoryPoint.from_json(p) for p in sweeps.run(jobs, use_cache=use_cache, progress=progress, desc=desc)]


def tidy(points: Sequence[TrajectoryPoint]) -> list[dict]:
    """One record per point and metric -- width, seed, parameterization, threshold_fraction, metric,
    value -- for ``analysis.values_by_seed(records, metric=...)``."""
    return [dict(width=p.width, seed=p.seed, parameterization=p.parameterization,
                 threshold_fraction=p.threshold_fraction,
                 metric=m, value=v) for p in points for m, v in p.metrics.items()]


def metric_by_seed(points: Sequence[TrajectoryPoint], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """``(widths (W,), values (W, S))`` of one metric over a sweep's points (``analysis.values_by_seed``)."""
    return values_by_seed(tidy(points), metric=metric)


# ---------------------------------------------------------------- look-ahead with the pNTK


def _with_candidate(kernel: InitKernels, k_cand_train: np.ndarray, k_cand_diag: np.ndarray,
                    k_test_cand: np.ndarray, c: int) -> InitKernels:
    """The kernels of the training set plus candidate c (appended last)."""
    row = k_cand_train[c]  # (N[, O, O])
    corner = k_cand_diag[c]  # ([O, O])
    full = row.ndim == 3
    column = np.swapaxes(row, -1, -2) if full else row
    top = np.concatenate([kernel.train, column[:, None]], axis=1)
    bottom = np.concatenate([row[None], corner[None, None]], axis=1)
    return InitKernels(np.concatenate([top, bottom], axis=0),
                       np.concatenate([kernel.test_train, k_test_cand[:, c][:, None]], axis=1))


def _candidate_kernels(name: str, apply_fn, params, x_train, x_test, x_candidates):
    """(candidates x train, each candidate with itself, test x candidates) kernels, float64."""
    fn = {"entk": kernels.entk, "pntk": kernels.pntk}[name]
    own = np.asarray(fn(apply_fn, params, x_candidates), np.float64)  # (C, C[, O, O])
    diagonal = own[np.arange(len(own)), np.arange(len(own))]  # (C[, O, O])
    return (np.asarray(fn(apply_fn, params, x_candidates, x_train), np.float64), diagonal,
            np.asarray(fn(apply_fn, params, x_test, x_candidates), np.float64))


class LookAhead(NamedTuple):
    """Predicted test outputs after training with each candidate added.

    ``changes`` (C, M, O): predicted change of the test outputs at the last step, against
    training without the candidate; ``loss_changes`` (C,): the predicted change of the test
    loss; ``kernel_seconds``: computing the kernels once; ``seconds_per_candidate``: the
    median time of one candidate's prediction.
    """

    changes: np.ndarray
    loss_changes: np.ndarray
    kernel_seconds: float
    seconds_per_candidate: float


def look_ahead(apply_fn: Callable, params: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any,
               x_pool: Any, y_pool: Any, candidates: Sequence[int], *, lr: float, steps: int,
               kernel: str = "pntk") -> LookAhead:
    """For each pool index in ``candidates``: the kernel's prediction of the test outputs after
    ``steps`` steps of size ``lr`` on the training set plus (x_pool[c], y_pool[c]), minus its
    prediction without it (:func:`predict` on N + 1 inputs; both start at the network's f_0).

    Shapes: x_train (N, d), y_train (N, O), x_test (M, d), y_test (M, O), x_pool (C0, d), y_pool
    (C0, O). ``kernel``: "pntk" (pNTK ⊗ I_O) or "entk". Cost: kernels once (pool x train, test
    x pool); then per candidate one eigendecomposition, O(N^3) for the pNTK, O((N O)^3) for
    the eNTK -- O^3 = 1000 x more for O = 10.
    """
    kernel = checks.one_of(kernel, "kernel", ("pntk", "entk"))
    start = time.perf_counter()
    candidates = np.asarray(candidates, dtype=int)
    x_candidates, y_candidates = np.asarray(x_pool)[candidates], np.asarray(y_pool, np.float64)[candidates]
    base = init_kernels(apply_fn, params, x_train, x_test, (kernel,))[kernel]
    k_cand_train, k_cand_diag, k_test_cand = _candidate_kernels(kernel, apply_fn, params, x_train, x_test,
                                                                x_candidates)
    f0_train, f0_test, f0_cand = (np.asarray(apply_fn(params, x), np.float64) for x in (x_train, x_test, x_candidates))
    kernel_seconds = time.perf_counter() - start
    times = np.array([steps])
    without = predict(base, y_train, f0_train, f0_test, times, lr=lr).test[-1]
    y_train64 = np.asarray(y_train, np.float64)
    changes, seconds = [], []
    for i in range(len(candidates)):
        start = time.perf_counter()
        grown = _with_candidate(base, k_cand_train, k_cand_diag, k_test_cand, i)
        with_c = predict(grown, np.concatenate([y_train64, y_candidates[i:i + 1]]),
                         np.concatenate([f0_train, f0_cand[i:i + 1]]), f0_test, times, lr=lr).test[-1]
        changes.append(with_c - without)
        seconds.append(time.perf_counter() - start)
    changes = np.stack(changes)
    loss_changes = outputs_loss(without[None] + changes, y_test) - outputs_loss(without, y_test)
    return LookAhead(changes, loss_changes, kernel_seconds, float(np.median(seconds[1:] or seconds)))


def retrained_changes(apply_fn: Callable, params: Any, x_train: Any, y_train: Any, x_test: Any, y_test: Any,
                      x_pool: Any, y_pool: Any, candidates: Sequence[int], *, lr: float, steps: int,
                      progress: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """The network's actual answer: retrain from ``params`` on the training set plus each candidate.

    Returns ``(changes (C, M, O), loss_changes (C,), seconds_per_candidate)``: the test outputs
    after ``steps`` steps minus those of the run without a candidate; the median wall time of
    one retraining. Cost: C + 1 training runs, O(steps (N + 1) P) each.
    """
    def final_test(x_tr, y_tr):
        run = training.train(apply_fn, params, x_tr, y_tr, steps=steps, lr=lr, output_steps=[steps],
                             x_test=x_test, y_test=y_test, progress=False)
        return np.asarray(run.outputs[steps][1], np.float64)

    without = final_test(x_train, y_train)
    changes, seconds = [], []
    for c in tqdm(list(candidates), desc="retraining with each candidate", disable=not progress, leave=False):
        start = time.perf_counter()
        with_c = final_test(np.concatenate([x_train, x_pool[c:c + 1]]), np.concatenate([y_train, y_pool[c:c + 1]]))
        seconds.append(time.perf_counter() - start)
        changes.append(with_c - without)
    changes = np.stack(changes)
    loss_changes = outputs_loss(without[None] + changes, y_test) - outputs_loss(without, y_test)
    return changes, loss_changes, float(np.median(seconds[1:] or seconds))


def spread_candidates(scores: Any, count: int) -> np.ndarray:
    """Indices of ``count`` entries of ``scores`` (C,) spread evenly over its sorted order (the
    lowest and the highest included), so that a few retrained candidates span the whole range."""
    order = np.argsort(np.asarray(scores))
    count = min(checks.positive_int(count, "count"), len(order))
    return order[np.unique(np.round(np.linspace(0, len(order) - 1, count)).astype(int))]


def rank_correlation(a: Any, b: Any) -> float:
    """Spearman's rank correlation of two (C,) arrays (no ties expected). Cost O(C log C)."""
    ranks = [np.argsort(np.argsort(np.asarray(v, np.float64))).astype(float) for v in (a, b)]
    ranks = [r - r.mean() for r in ranks]
    return float(ranks[0] @ ranks[1] / np.sqrt((ranks[0] @ ranks[0]) * (ranks[1] @ ranks[1])))


def correlation_lower_bound(r: float, n: int, level: float = 0.95) -> float:
    """One-sided lower confidence bound of a Pearson correlation ``r`` from ``n`` pairs (Fisher z:
    atanh(r) ± z / sqrt(n − 3)); n ≥ 4. With few pairs it is low: 4 pairs cannot show much."""
    n = checks.positive_int(n, "n")
    if n < 4:
        raise ValueError(f"n must be at least 4 pairs for Fisher's z, got {n}")
    if not -1 < float(r) < 1:
        raise ValueError(f"r must be in (-1, 1), got {r}")
    if not 0.5 < float(level) < 1:
        raise ValueError(f"level must be in (0.5, 1), got {level}")
    z = {0.9: 1.2816, 0.95: 1.6449, 0.99: 2.3263}.get(round(float(level), 2))
    if z is None:
        raise ValueError("level must be 0.9, 0.95 or 0.99")
    return float(np.tanh(np.arctanh(float(r)) - z / np.sqrt(n - 3)))


@dataclasses.dataclass(frozen=True)
class LookAheadStudy:
    """Look-ahead on one network (:func:`look_ahead_study`): the pNTK's predictions against retraining.

    Setup: ``network``, ``threshold_fraction``, ``steps``, ``lr``, ``n_train``, ``n_test``, ``n_pool``.
    ``candidates`` (R,): the pool indices retrained, spread over the predicted test-loss changes;
    ``predicted_loss_change`` (n_pool,): the pNTK's predicted change of the test loss for every
    candidate; for the R retrained ones ``actual_loss_change``, ``entk_loss_change`` (the eNTK's
    prediction), and the relative errors of the predicted output changes ``pntk_change_error`` /
    ``entk_change_error`` (||Δ_pred − Δ_net|| / ||Δ_net||); ``rank_correlation`` (Spearman) and
    ``loss_change_correlation`` (Pearson) of the pNTK's predicted against the actual loss changes;
    seconds (wall times when the study was computed): ``pntk_kernel_seconds``,
    ``pntk_seconds_per_candidate``, ``entk_seconds_per_candidate``, ``retrain_seconds_per_candidate``.
    """

    network: DigitsNetwork
    threshold_fraction: float
    steps: int
    lr: float
    n_train: int
    n_test: int
    n_pool: int
    candidates: list[int]
    predicted_loss_change: list[float]
    actual_loss_change: list[float]
    entk_loss_change: list[float]
    pntk_change_error: list[float]
    entk_change_error: list[float]
    rank_correlation: float
    loss_change_correlation: float
    pntk_kernel_seconds: float
    pntk_seconds_per_candidate: float
    entk_seconds_per_candidate: float
    retrain_seconds_per_candidate: float

    @property
    def width(self) -> int:
        return self.network.width

    def speedup(self, candidates: int | None = None) -> float:
        """Retraining ``candidates`` times (default: the whole pool) over the pNTK's look-ahead for them,
        *including* computing its kernels once: C t_retrain / (t_kernels + C t_pNTK)."""
        c = self.n_pool if candidates is None else checks.positive_int(candidates, "candidates")
        return c * self.retrain_seconds_per_candidate / (self.pntk_kernel_seconds
                                                         + c * self.pntk_seconds_per_candidate)

    def to_json(self) -> dict:
        """The study as JSON-ready dicts (what the disk cache stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, study: dict) -> LookAheadStudy:
        """The study :meth:`to_json` wrote."""
        return cls(**dict(study, network=DigitsNetwork.from_key(study["network"])))


def look_ahead_study(network: DigitsNetwork, *, threshold_fraction: float = 0.25, steps: int = 100, n_train: int = 64,
                     n_test: int = 64, n_pool: int = 200, retrained: int = 4,
                     progress: bool = True) -> LookAheadStudy:
    """Look-ahead on one network (NTK parameterisation): pNTK predictions for the whole pool,
    retraining for ``retrained`` candidates spread over the predicted test-loss changes, and the
    eNTK's predictions for those same candidates.

    Digits: n_train training, n_test test, n_pool candidates (one draw, split in that order).
    Step size as in :func:`trajectory_point`. Returns a :class:`LookAheadStudy`.
    Cost: the pNTK on (n_pool + n_test) x n_train; n_pool O(N^3) solves; R O((N O)^3) solves;
    R + 2 training runs.
    """
    checks.require_float64("trajectories.look_ahead_study")
    apply_fn, params, x, y = network.build(n_train + n_test + n_pool)
    split = np.split(np.arange(len(x)), [n_train, n_train + n_test])
    (x_train, x_test, x_pool), (y_train, y_test, y_pool) = ([a[i] for i in split] for a in (x, y))
    lr = threshold_fraction * largest_stable_lr(kernels.entk(apply_fn, params, x_train))[0]
    data = (apply_fn, params, x_train, y_train, x_test, y_test, x_pool, y_pool)
    pool = look_ahead(*data, range(n_pool), lr=lr, steps=steps, kernel="pntk")
    chosen = spread_candidates(pool.loss_changes, retrained)
    entk = look_ahead(*data, chosen, lr=lr, steps=steps, kernel="entk")
    actual, actual_loss, retrain_seconds = retrained_changes(*data, chosen, lr=lr, steps=steps, progress=progress)

    def change_errors(predicted):
        return (np.linalg.norm((predicted - actual).reshape(len(chosen), -1), axis=1)
                / np.linalg.norm(actual.reshape(len(chosen), -1), axis=1)).tolist()

    return LookAheadStudy(
        network=network, threshold_fraction=threshold_fraction, steps=steps, lr=lr, n_train=n_train, n_test=n_test,
        n_pool=n_pool, candidates=chosen.tolist(), predicted_loss_change=pool.loss_changes.tolist(),
        actual_loss_change=actual_loss.tolist(), entk_loss_change=entk.loss_changes.tolist(),
        pntk_change_error=change_errors(pool.changes[chosen]), entk_change_error=change_errors(entk.changes),
        rank_correlation=rank_correlation(pool.loss_changes[chosen], actual_loss),
        loss_change_correlation=float(np.corrcoef(pool.loss_changes[chosen], actual_loss)[0, 1]),
        pntk_kernel_seconds=pool.kernel_seconds, pntk_seconds_per_candidate=pool.seconds_per_candidate,
        entk_seconds_per_candidate=entk.seconds_per_candidate, retrain_seconds_per_candidate=retrain_seconds,
    )


def cached_look_ahead(*, use_cache: bool = True, **study) -> LookAheadStudy:
    """:func:`look_ahead_study` through the disk cache (its timings are those of the first run).

    ``study``: the fields of :class:`DigitsNetwork` (width; seed 0 unless given) and the keyword
    arguments of :func:`look_ahead_study`."""
    key, compute = sweeps.network_point("trajectories.look_ahead_study", _study_as_json, study, seed=0)
    return LookAheadStudy.from_json(cache.cached(key, compute, use_cache=use_cache))


def _study_as_json(network: DigitsNetwork, **options) -> dict:
    return look_ahead_study(network, **options).to_json()


def summary(settings: dict[str, Sequence[TrajectoryPoint]], study: LookAheadStudy | None = None) -> str:
    """Lesson 06's numbers as text: for each setting ({label: sweep points}) the test trajectory
    errors of every predictor and the kernel movement against width (means over seeds, fitted
    slopes), then the look-ahead's agreement and times (a :class:`LookAheadStudy`)."""
    lines = []
    for label, points in settings.items():
        lines.append(f"{label}:")
        metrics = [m for m in ("error_test_entk", "error_test_pntk", "error_test_infinite", "gap_test", "movement")
                   if m in points[0].metrics]
        diverged = not np.all(metric_by_seed(points, "error_test_entk")[1] < DIVERGED)
        if diverged:
            lines.append("  the kernels' predictions diverge (the linearised model's steps grow without bound)")
        for metric in metrics:
            if diverged and metric.startswith(("error", "gap")):
                continue
            widths, values = metric_by_seed(points, metric)
            mean = values.mean(axis=1)
            slope = loglog_slope(widths, mean) if len(mean) > 1 and np.all(mean > 0) else float("nan")
            cells = ", ".join(f"{w}: {v:.3g}" for w, v in zip(widths.tolist(), mean))
            lines.append(f"  {metric:20s} {cells}  (log-log slope {slope:.2f})")
    if study is not None:
        speedup = study.speedup()
        lines.append(
            f"look-ahead (width {study.width}, {study.n_pool} candidates, {len(study.candidates)} retrained): "
            f"test-loss change correlation {study.loss_change_correlation:.3f} (Spearman "
            f"{study.rank_correlation:.2f}); median relative error of the output changes: pNTK "
            f"{np.median(study.pntk_change_error):.2f}, eNTK {np.median(study.entk_change_error):.2f}; "
            f"seconds per candidate: pNTK {study.pntk_seconds_per_candidate:.3g}, "
            f"eNTK {study.entk_seconds_per_candidate:.3g}, "
            f"retraining {study.retrain_seconds_per_candidate:.3g}; pNTK kernels once {study.pntk_kernel_seconds:.3g} "
            f"(speed-up for the {study.n_pool} candidates, kernels included: {speedup:.1f}x)")
    return "\n".join(lines)
