r"""Lessons 05 and 07: the pNTK in practice -- kernel regression on all the digits (05), and the gap during
training (07, driven by ``lessons.learning``).

The setting (fixed, so that every number in the lesson can be reproduced):

* :func:`digits_split`: all 1,797 bundled digits in one fixed shuffle (``data.digits_inputs``
  with seed :data:`SPLIT_SEED`); the first 1,200 are the training pool, the last 597 the test
  set. A smaller training set is the first ``n_train`` of the pool; the test set never changes.
* :func:`network`: the lesson's mlp, two ReLU hidden layers of one width, NTK
  parameterisation, σ_w = 1, σ_b = 0.1, O = 10 outputs.
* :data:`TRAINING`: how the networks are trained (``training.train``): Adam, cross-entropy,
  minibatches of 100 -- the way a practitioner trains a classifier.

What is measured:

* :func:`regression_point` / :func:`regression_table`: test accuracy of kernel regression
  with the full eNTK (one NO x NO solve, :func:`full_entk_regression`, with its wall time and
  peak memory), with pNTK ⊗ I_O (one N x N solve), the argmax agreement of the two, and the
  test accuracy of the network after training -- per width a :class:`RegressionRow`, each width
  cached on disk (``support.cache``). :func:`infinite_width_accuracy`: the same regression with Θ_∞ ⊗ I_O.
* :func:`kernel_gap` / :func:`gap_during_training`: at each checkpoint of a training run,
  how far pNTK ⊗ I_O is from the eNTK (relative Frobenius error split into diagonal and
  off-diagonal blocks, λ_max error, regression agreement), and the measurements that test
  an explanation of what changes: the correlation between different logits' gradients
  (:func:`logit_gradient_correlation`), the pNTK against the eNTK's diagonal blocks, the same
  error with the readout weights put back to their initial values, the readout's relative
  change and its columns' cosines, and how far the eNTK itself has moved: a :class:`GapMeasurements`.
* :func:`conv_net_gap`: the same measurements for the lesson-04 conv net, whose kernels come
  from Jacobians built one input at a time (``kernels.flat_jacobian``), at initialisation and after training.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..core import approximations, checks, cost, infinite, kernels, models, regression, training
from ..core.progress import progress_bar as tqdm  # tqdm.auto, ending as one line in saved notebooks
from ..support import cache, config, data

N_DIGITS = 1797
N_TRAIN_POOL = 1200
N_TEST = N_DIGITS - N_TRAIN_POOL  # 597
SPLIT_SEED = 0
OUT_DIM = 10
HIDDEN_LAYERS = 2
B_STD = 0.1
RIDGE = 1e-3
"""Relative ridge of every kernel regression in the lesson (``regression.fit_predict``)."""

TRAINING: dict[str, Any] = dict(loss="cross_entropy", optimizer="adam", lr=1e-3, batch_size=100)
"""The training recipe (keyword arguments of ``training.train``)."""


# --------------------------------------------------------------------------- data and network


@dataclasses.dataclass(frozen=True)
class DigitsSplit:
    """A train/test split of the digits.

    ``x_train`` (N, 64), ``y_train`` (N, 10) one-hot, ``x_test`` (M, 64), ``y_test`` (M, 10);
    numpy arrays in one floating dtype (inputs normalised as in ``data.digits_inputs``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def labels_test(self) -> np.ndarray:
        """(M,) integer classes of the test digits."""
        return self.y_test.argmax(axis=1)

    @property
    def n_train(self) -> int:
        return self.x_train.shape[0]

    def first_of_each_class(self, per_class: int = 2) -> np.ndarray:
        """Indices (per_class x O,) into the training set: the first ``per_class`` digits of each class,
        in class order (the order in which lesson 02's class-major heat maps show blocks). Cost O(N)."""
        per_class = checks.positive_int(per_class, "per_class")
        labels = self.y_train.argmax(axis=1)
        picked = [np.flatnonzero(labels == c)[:per_class] for c in range(self.y_train.shape[1])]
        if any(len(p) < per_class for p in picked):
            raise ValueError(f"per_class must be at most the smallest class count in the training set "
                             f"({min(len(np.flatnonzero(labels == c)) for c in range(self.y_train.shape[1]))}), "
                             f"got {per_class}")
        return np.concatenate(picked)

    def describe(self) -> str:
        """One line: sizes and how the split was drawn."""
        return (f"{self.n_train} training / {self.x_test.shape[0]} test digits (fixed shuffle of all {N_DIGITS}, "
                f"seed {SPLIT_SEED}; test = the last {N_TEST}), O = {OUT_DIM}")


def digits_split(n_train: int = N_TRAIN_POOL, *, dtype: str = "float32") -> DigitsSplit:
    """The lesson's fixed split of all 1,797 digits: the first ``n_train`` of the 1,200-digit
    training pool and the 597 test digits.

    Args:
      n_train: 1 .. 1200 training digits (a prefix of the pool, so smaller sets are nested).
      dtype: "float32" or "float64" (JAX work on float64 needs ``support.config.enable_float64``).
    Returns:
      A :class:`DigitsSplit`. Cost O(1797 · 64).
    """
    n_train = checks.positive_int(n_train, "n_train")
    if n_train > N_TRAIN_POOL:
        raise ValueError(f"n_train must be at most the {N_TRAIN_POOL} digits of the training pool, got {n_train}")
    dtype = checks.one_of(dtype, "dtype", ("float32", "float64"))
    x, y = data.digits_inputs(N_DIGITS, seed=SPLIT_SEED, out_dim=OUT_DIM, dtype=dtype)
    return DigitsSplit(x[:n_train], y[:n_train], x[N_TRAIN_POOL:], y[N_TRAIN_POOL:])


def network(width: int, *, seed: int = 0, dtype: str = "float32") -> tuple[Callable, Any]:
    """The lesson's mlp: ``HIDDEN_LAYERS`` ReLU layers of ``width``, NTK parameterisation, σ_b = 0.1, O = 10.

    Returns ``(apply_fn, params)``, params drawn from PRNGKey(``seed``) for 64 inputs and cast to
    ``dtype``. (With ``jax_enable_x64`` on, jax draws them in float64 first: a different network
    from the one drawn with x64 off, which is why ``support.cache`` keys record the flag.) Cost O(P).
    """
    width = checks.positive_int(width, "width")
    dtype = checks.one_of(dtype, "dtype", ("float32", "float64"))
    init_fn, apply_fn = models.mlp([width] * HIDDEN_LAYERS, OUT_DIM, b_std=B_STD)
    _, params = init_fn(config.key(seed), (-1, 64))
    return apply_fn, jax.tree_util.tree_map(lambda a: a.astype(dtype), params)


def train_network(apply_fn: Callable, params: Any, split: DigitsSplit, *, steps: int,
                  checkpoint_steps: Sequence[int] = (), loss: str | None = None, seed: int = 0,
                  record_every: int = 10, progress: bool = True, optimizer: str | None = None,
                  lr: float | None = None) -> training.TrainingResult:
    """``training.train`` with the lesson's recipe (:data:`TRAINING`; ``loss``, ``optimizer`` ("sgd" or
    "adam") and ``lr`` override its entries, e.g. "mse" or SGD for a control run; full batches when the
    split has fewer training digits than a minibatch) on the split's training digits, test accuracy
    recorded every ``record_every`` steps, params kept at ``checkpoint_steps``. Cost O(steps · 100 · P)."""
    recipe = dict(TRAINING) if loss is None else dict(TRAINING, loss=loss)
    if optimizer is not None:
        recipe["optimizer"] = checks.one_of(optimizer, "optimizer", training.OPTIMIZERS)
    if lr is not None:
        recipe["lr"] = checks.nonnegative_float(lr, "lr")
    recipe["batch_size"] = min(recipe["batch_size"], split.n_train)  # full batch for tiny training sets
    return training.train(apply_fn, params, split.x_train, split.y_train, steps=steps, seed=config.lesson_seed(seed),
                          x_test=split.x_test, y_test=split.y_test, record_every=record_every,
                          checkpoint_steps=checkpoint_steps, progress=progress, **recipe)


def _f64(a: Any) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------- section 1: regression


@dataclasses.dataclass(frozen=True)
class FullSolveCost:
    """What the full-eNTK regression cost.

    ``rows``: N O, the side of the matrix solved; ``matrix_bytes``: (N O)^2 x 8 (float64);
    ``kernel_seconds``: wall time of the two eNTKs (train x train and test x train, structured,
    in the params' dtype); ``kernel_peak_bytes``: XLA's memory plan of the train x train eNTK
    program; ``solve_seconds``: wall time of ``regression.fit_predict`` (float64 Cholesky of the
    (N O) x (N O) system, condition estimate, predictions); ``cholesky_peak_bytes``: XLA's plan
    of the Cholesky factorisation alone (matrix + factor + workspace).
    """

    rows: int
    matrix_bytes: int
    kernel_seconds: float
    kernel_peak_bytes: int | None
    solve_seconds: float
    cholesky_peak_bytes: int | None


def full_entk_regression(apply_fn: Callable, params: Any, split: DigitsSplit, *,
                         ridge: float = RIDGE) -> tuple[np.ndarray, FullSolveCost]:
    """Kernel regression with the full eNTK: one (N O) x (N O) float64 solve.

    Args:
      apply_fn, params: an ``models.mlp`` network (structured eNTK), params in the split's dtype.
      split: the data; ridge: relative ridge (``regression.fit_predict``).
    Returns:
      ``(predictions (M, O) float64, FullSolveCost)``.
    Cost: the two eNTKs, O((N^2 + M N) O^2 sum_l n_l) time; the solve O((N O)^3 / 3) flops and
    about five (N O)^2 float64 arrays of memory (the kernel, its flattened copy and the three
    temporaries of ``fit_predict``): 1.15 GB each for N = 1200, O = 10.
    Needs float64 (``support.config.enable_float64``).
    """
    checks.require_float64("practice.full_entk_regression")
    peak = cost.entk_cost(apply_fn, params, split.x_train, method="structured")["peak_bytes"]
    start = time.perf_counter()
    theta_train = jax.block_until_ready(kernels.entk(apply_fn, params, split.x_train, method="structured"))
    theta_test = jax.block_until_ready(kernels.entk(apply_fn, params, split.x_test, split.x_train,
                                                    method="structured"))
    kernel_seconds = time.perf_counter() - start
    theta_train, theta_test = _f64(theta_train), _f64(theta_test)
    rows = theta_train.shape[0] * theta_train.shape[2]
    cholesky = cost.compiled_cost(jax.jit(jnp.linalg.cholesky), jax.ShapeDtypeStruct((rows, rows), jnp.float64))
    start = time.perf_counter()
    predictions = _f64(regression.fit_predict(theta_train, _f64(split.y_train), theta_test, ridge=ridge))
    solve_seconds = time.perf_counter() - start
    return predictions, FullSolveCost(rows, rows * rows * 8, kernel_seconds, peak, solve_seconds,
                                      cholesky["peak_bytes"])


def pntk_regression(apply_fn: Callable, params: Any, split: DigitsSplit, *, ridge: float = RIDGE,
                    method: str = "auto") -> np.ndarray:
    """Kernel regression with pNTK ⊗ I_O: one N x N float64 solve serves all O outputs.

    Returns the (M, O) float64 predictions. Cost: the pNTKs, one backward pass per input and
    O((N^2 + M N) sum_l n_l) for an mlp ("auto" = structured), O((N + M) P) memory otherwise;
    the solve O(N^3 / 3). Needs float64 (``support.config.enable_float64``).
    """
    checks.require_float64("practice.pntk_regression")
    return _pntk_fit(*_pntk_kernels(apply_fn, params, split, method), split, ridge)


def _pntk_kernels(apply_fn, params, split, method):
    """float64 pNTKs (N, N) on the training digits and (M, N) test x training."""
    return (_f64(kernels.pntk(apply_fn, params, split.x_train, method=method)),
            _f64(kernels.pntk(apply_fn, params, split.x_test, split.x_train, method=method)))


def _pntk_fit(k_train, k_test, split, ridge):
    return _f64(regression.fit_predict(k_train, _f64(split.y_train), k_test, ridge=ridge))


def infinite_width_accuracy(split: DigitsSplit, *, ridge: float = RIDGE) -> float:
    """Test accuracy of kernel regression with Θ_∞ ⊗ I_O of the lesson's mlp (any width: Θ_∞
    does not depend on it). Float64. Cost O((N + M) N d) for the kernels, O(N^3 / 3) for the solve."""
    checks.require_float64("practice.infinite_width_accuracy")
    apply_fn, _ = network(1)
    x_train, x_test = _f64(split.x_train), _f64(split.x_test)
    k_train = infinite.limit_kernels(apply_fn, x_train).ntk
    k_test = infinite.limit_kernels(apply_fn, x_test, x_train).ntk
    return regression.accuracy(regression.fit_predict(k_train, _f64(split.y_train), k_test, ridge=ridge),
                               split.labels_test)


@dataclasses.dataclass(frozen=True)
class RegressionRow:
    """Kernel regression and training for one width on the digits (:func:`regression_point`).

    ``width``, ``n_train``; test accuracies of kernel regression at initialisation with the full
    eNTK (``accuracy_entk``) and with pNTK ⊗ I_O (``accuracy_pntk``), and ``agreement``: the fraction
    of test digits on which the two predict the same class; ``accuracy_trained``: the network after
    training from the same initialisation; ``accuracy_trained_pntk``: regression with the trained
    network's pNTK; ``pntk_movement``: ||pNTK_trained − pNTK_init||_F / ||pNTK_init||_F on the
    training digits; ``entk_cost``: what the full eNTK cost (:class:`FullSolveCost`);
    ``pntk_seconds`` (kernels and solve) and ``train_seconds``: wall times when the row was computed.
    """

    width: int
    n_train: int
    accuracy_entk: float
    accuracy_pntk: float
    agreement: float
    accuracy_trained: float
    accuracy_trained_pntk: float
    pntk_movement: float
    entk_cost: FullSolveCost
    pntk_seconds: float
    train_seconds: float

    def to_json(self) -> dict:
        """The row as JSON-ready dicts (what the disk cache stores)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, row: dict) -> RegressionRow:
        """The row :meth:`to_json` wrote."""
        return cls(**dict(row, entk_cost=FullSolveCost(**row["entk_cost"])))


def regression_point(width: int, *, n_train: int = N_TRAIN_POOL, seed: int = 0, ridge: float = RIDGE,
                     train_steps: int = 1000, dtype: str = "float32",
                     on_stage: Callable[[str], None] | None = None) -> RegressionRow:
    """Kernel regression and training for one width on :func:`digits_split` (``n_train``).

    The network is :func:`network` (``width``, ``seed``; kernels computed in ``dtype``, every
    solve in float64); relative ``ridge``; the network trains for ``train_steps`` steps of
    :data:`TRAINING`. Returns a :class:`RegressionRow`.

    ``on_stage(name)`` is called after each stage ("eNTK", "pNTK", "training"), e.g. to move a
    progress bar. Cost: dominated by the (N O)^3 / 3 Cholesky (about 6e11 flops for N = 1200)
    and the training, O(train_steps · 100 · P).
    """
    stage = on_stage or (lambda name: None)
    split = digits_split(n_train, dtype=dtype)
    apply_fn, params = network(width, seed=seed, dtype=dtype)
    f_entk, entk_cost = full_entk_regression(apply_fn, params, split, ridge=ridge)
    stage("eNTK")
    start = time.perf_counter()
    k0, k0_test = _pntk_kernels(apply_fn, params, split, "auto")
    f_pntk = _pntk_fit(k0, k0_test, split, ridge)
    pntk_seconds = time.perf_counter() - start
    stage("pNTK")
    start = time.perf_counter()
    result = train_network(apply_fn, params, split, steps=train_steps, seed=seed, record_every=train_steps,
                           progress=False)
    train_seconds = time.perf_counter() - start
    k1, k1_test = _pntk_kernels(apply_fn, result.params, split, "auto")
    f_after = _pntk_fit(k1, k1_test, split, ridge)
    pntk_movement = float(np.linalg.norm(k1 - k0) / np.linalg.norm(k0))
    stage("training")
    labels = split.labels_test
    return RegressionRow(width=width, n_train=n_train,
                         accuracy_entk=regression.accuracy(f_entk, labels),
                         accuracy_pntk=regression.accuracy(f_pntk, labels),
                         agreement=regression.argmax_agreement(f_entk, f_pntk),
                         accuracy_trained=float(result.test_accuracy[-1]),
                         accuracy_trained_pntk=regression.accuracy(f_after, labels), pntk_movement=pntk_movement,
                         entk_cost=entk_cost, pntk_seconds=pntk_seconds, train_seconds=train_seconds)


def regression_table(widths: Sequence[int], *, n_train: int = N_TRAIN_POOL, seed: int = 0, ridge: float = RIDGE,
                     train_steps: int = 1000, dtype: str = "float32", use_cache: bool = True,
                     progress: bool = True) -> list[RegressionRow]:
    """:func:`regression_point` for every width, each cached on disk (``support.cache``, keyed by every
    argument, the training recipe and the split). A tqdm bar counts the stages.

    Returns one :class:`RegressionRow` per width, in order. Cost: len(widths) points (see :func:`regression_point`).
    """
    widths = [checks.positive_int(w, f"widths[{i}]") for i, w in enumerate(widths)]
    if not widths:
        raise ValueError("widths is empty; pass at least one width")
    rows = []
    with tqdm(total=3 * len(widths), desc="regression on the digits", disable=not progress) as bar:
        for width in widths:
            key = dict(kind="practice.regression_point", width=width, n_train=n_train, seed=seed, ridge=ridge,
                       train_steps=train_steps, dtype=dtype, training=TRAINING, split_seed=SPLIT_SEED,
                       hidden_layers=HIDDEN_LAYERS, b_std=B_STD)
            before = bar.n

            def compute(width=width):
                return regression_point(width, n_train=n_train, seed=seed, ridge=ridge, train_steps=train_steps,
                                        dtype=dtype, on_stage=lambda name: (bar.set_postfix_str(
                                            f"width {width}: {name} done"), bar.update())).to_json()

            rows.append(RegressionRow.from_json(cache.cached(key, compute, use_cache=use_cache)))
            bar.update(3 - (bar.n - before))  # a cached width moves the bar by all three stages
    return rows


def describe_full_solve(row: RegressionRow) -> str:
    """What the full eNTK of one :func:`regression_point` cost, as text (times are wall times measured when
    the row was computed, on whatever else the machine was doing then)."""
    c = row.entk_cost

    def gb(b):
        return "not reported" if b is None else f"{b / 1e9:.2f} GB"

    return "\n".join([
        f"width {row.width}: the full eNTK system is {c.rows:,} x {c.rows:,} float64 ({gb(c.matrix_bytes)})",
        f"  computing Θ (train x train and test x train, structured, float32): {c.kernel_seconds:.1f} s; "
        f"XLA's memory plan of the train x train program: {gb(c.kernel_peak_bytes)}",
        f"  solving (float64 Cholesky, condition estimate, predictions): {c.solve_seconds:.1f} s; "
        f"XLA's plan of the Cholesky alone: {gb(c.cholesky_peak_bytes)}",
        f"  pNTK ⊗ I on the same digits, kernels and solve: {row.pntk_seconds:.2f} s",
    ])


def solve_rate(row: RegressionRow) -> float:
    """Flops per second of the full-eNTK solve of a :func:`regression_point` row: (N O)^3 / 3 (one Cholesky
    factorisation) over the measured seconds of the whole ``fit_predict`` call -- a lower bound on the
    factorisation's own rate, measured on a matrix of the size that matters. Cost O(1)."""
    return row.entk_cost.rows ** 3 / 3 / row.entk_cost.solve_seconds


def format_regression_table(rows: Sequence[RegressionRow], infinite_accuracy: float) -> str:
    """The accuracy table as text: one line per width (test accuracy in %)."""
    lines = [f"{'width':>6} | {'eNTK (NO×NO)':>12} | {'pNTK ⊗ I':>9} | {'Θ∞ ⊗ I':>8} | {'trained net':>11} | "
             f"{'trained pNTK':>12} | {'eNTK–pNTK agreement':>19}"]
    for r in rows:
        lines.append(f"{r.width:>6} | {100 * r.accuracy_entk:11.1f}% | {100 * r.accuracy_pntk:8.1f}% | "
                     f"{100 * infinite_accuracy:7.1f}% | {100 * r.accuracy_trained:10.1f}% | "
                     f"{100 * r.accuracy_trained_pntk:11.1f}% | {100 * r.agreement:18.1f}%")
    return "\n".join(lines)


# --------------------------------------------------------------------------- sections 3-4: the gap


def readout_weights(params: Any) -> jax.Array:
    """The readout matrix W (n_L, O) of a stax-style network whose last layer is Dense: ``params[-1][0]``."""
    if not isinstance(params, (list, tuple)) or not params or not isinstance(params[-1], (list, tuple)) \
            or len(params[-1]) != 2 or getattr(params[-1][0], "ndim", 0) != 2:
        raise TypeError("params must be a stax-style list whose last entry is a Dense layer's (W, b)")
    return params[-1][0]


def with_readout(params: Any, readout: jax.Array) -> list:
    """A copy of ``params`` (stax-style list) with the readout matrix replaced by ``readout`` (same shape).

    The readout bias is kept: it does not enter the eNTK. Cost O(1) (arrays are shared, not copied).
    """
    old = readout_weights(params)
    if tuple(readout.shape) != tuple(old.shape) or readout.dtype != old.dtype:
        raise ValueError(f"readout must have shape {tuple(old.shape)} and dtype {old.dtype}, "
                         f"got {tuple(readout.shape)} / {readout.dtype}")
    return [*params[:-1], (readout, params[-1][1])]


def column_cosines(w: Any) -> np.ndarray:
    """(O, O) cosines between the columns of a readout matrix W (n, O): C_jk = w_j·w_k / (|w_j| |w_k|).

    Cost O(n O^2)."""
    w = _f64(w)
    if w.ndim != 2:
        raise ValueError(f"w must be a matrix (n, O), got shape {w.shape}")
    unit = w / np.linalg.norm(w, axis=0)
    return unit.T @ unit


GAP_METHODS = ("auto", "jacobian")
"""How :func:`kernel_gap` computes kernels, in ``kernels``' names: "auto" (``kernels.entk``/``kernels.pntk``,
structured for an mlp) or "jacobian" (Jacobian contraction, with the Jacobian built one input at a time by
``kernels.flat_jacobian``: any model, and for a conv net far cheaper than ``kernels.entk(method="jacobian")``,
which differentiates the whole batch at once)."""


def kernels_from_jacobians(j1: Any, j2: Any = None) -> tuple[jax.Array, jax.Array]:
    """The eNTK (N1, N2, O, O) and the pNTK (N1, N2) from Jacobians j1 (N1, O, P) and j2 (N2, O, P)
    (None: j2 = j1): Θ = J1 J2^T and pNTK = (sum_j J1_j / sqrt O)(sum_k J2_k / sqrt O)^T, which is
    Θ.sum((2, 3)) / O. Cost O(N1 N2 O^2 P)."""
    j1 = jnp.asarray(j1)
    j2 = j1 if j2 is None else jnp.asarray(j2)
    if j1.ndim != 3 or j2.ndim != 3 or j1.shape[1:] != j2.shape[1:]:
        raise ValueError(f"j1 and j2 must be Jacobians (N1, O, P) and (N2, O, P), got {j1.shape} and {j2.shape}")
    scale = np.sqrt(j1.shape[1])
    return jnp.einsum("njp,mkp->nmjk", j1, j2), (j1.sum(axis=1) / scale) @ (j2.sum(axis=1) / scale).T


def _kernel_pairs(apply_fn, params, x, x_test, method):
    """float64 numpy (eNTK, pNTK) on x x x and, unless x_test is None, on x_test x x.

    "auto": ``kernels.entk``/``kernels.pntk``; "jacobian": ``kernels.flat_jacobian`` (one
    input at a time, any model) once per input set, then :func:`kernels_from_jacobians`.
    """
    if method == "auto":
        pairs = [(kernels.entk(apply_fn, params, a, b), kernels.pntk(apply_fn, params, a, b))
                 for a, b in [(x, None)] + ([] if x_test is None else [(x_test, x)])]
    else:
        jx = kernels.flat_jacobian(apply_fn, params, x)
        pairs = [kernels_from_jacobians(jx)]
        if x_test is not None:
            pairs.append(kernels_from_jacobians(kernels.flat_jacobian(apply_fn, params, x_test), jx))
    return [(_f64(theta), _f64(k)) for theta, k in pairs]


def logit_gradient_correlation(theta: Any) -> float:
    """Mean correlation between the gradients of two different logits at the same input:
    mean over inputs x and pairs j != k of Θ_jk(x, x) / sqrt(Θ_jj(x, x) Θ_kk(x, x)).

    ``theta`` (N, N, O, O) (only its N diagonal O x O blocks are read). About 0 at
    initialisation, where distinct logits' gradients are nearly orthogonal (of size n^(-1/2));
    negative when the logits compete. Cost O(N O^2).
    """
    theta = checks.full_kernel(theta)
    if theta.shape[0] != theta.shape[1] or theta.shape[2] < 2:
        raise ValueError(f"theta must be an eNTK of shape (N, N, O, O) with O >= 2, got {theta.shape}")
    same_input = np.einsum("nnjk->njk", theta)  # (N, O, O)
    scale = np.sqrt(np.einsum("njj->nj", same_input))
    corr = same_input / (scale[:, :, None] * scale[:, None, :])
    off = ~np.eye(theta.shape[2], dtype=bool)
    return float(corr[:, off].mean())


def kernel_gap(apply_fn: Callable, params: Any, split: DigitsSplit, *, n_kernel: int = 100, n_test: int = 200,
               ridge: float = RIDGE, method: str = "auto") -> dict[str, Any]:
    """How far pNTK ⊗ I_O is from the eNTK for one set of parameters.

    Kernels on the first ``n_kernel`` training digits (and the first ``n_test`` test digits
    against them), computed in the params' dtype and compared in float64. Returns
    ``{"total", "diagonal", "offdiagonal"}`` (``approximations.block_errors``),
    ``"lambda_max_rel_error"`` (``approximations.spectrum``), ``"argmax_agreement"``,
    ``"prediction_rel_diff"``, ``"accuracy_entk"``, ``"accuracy_approx"``
    (``approximations.regression_agreement``, trained on those ``n_kernel`` digits), and
    ``"theta"``, ``"k"``: the train x train eNTK (n_kernel, n_kernel, O, O) and pNTK (n_kernel,
    n_kernel), float64, for further use.

    ``method``: one of :data:`GAP_METHODS`, "auto" or "jacobian" (Jacobians one input at a time).
    Cost: eNTKs on
    n_kernel x (n_kernel + n_test) pairs, an O((n_kernel O)^3) eigendecomposition and solve.
    Needs float64 (``support.config.enable_float64``).
    """
    checks.require_float64("practice.kernel_gap")
    method = checks.one_of(method, "method", GAP_METHODS)
    n_kernel = checks.positive_int(n_kernel, "n_kernel")
    n_test = checks.positive_int(n_test, "n_test")
    if n_kernel > split.n_train or n_test > split.x_test.shape[0]:
        raise ValueError(f"n_kernel <= {split.n_train} and n_test <= {split.x_test.shape[0]} (the split's sizes), "
                         f"got {n_kernel} and {n_test}")
    (theta, k), (theta_test, k_test) = _kernel_pairs(apply_fn, params, split.x_train[:n_kernel],
                                                     split.x_test[:n_test], method)
    out: dict[str, Any] = dict(approximations.block_errors(theta, k))
    out["lambda_max_rel_error"] = approximations.spectrum(theta, k)["lambda_max_rel_error"]
    out.update(approximations.regression_agreement(theta, k, theta_test, k_test, _f64(split.y_train[:n_kernel]),
                                                   split.labels_test[:n_test], ridge=ridge))
    out["theta"], out["k"] = theta, k
    return out


GAP_METRICS = ("total", "diagonal", "offdiagonal", "lambda_max_rel_error", "argmax_agreement",
               "prediction_rel_diff", "accuracy_entk", "accuracy_approx")
EXPLANATION_METRICS = ("total_initial_readout", "gradient_correlation", "pntk_to_diagonal", "readout_change",
                       "column_cosine", "kernel_movement")


@dataclasses.dataclass(frozen=True)
class GapMeasurements:
    """:func:`kernel_gap` at every checkpoint of a training run, and the measurements that test why it changes.

    Every field is a list with one float per checkpoint, in the order of ``step`` (the training
    steps, ints):

    * :data:`GAP_METRICS`, as :func:`kernel_gap` returns them: ``total``, ``diagonal``,
      ``offdiagonal`` (relative Frobenius errors of pNTK ⊗ I_O), ``lambda_max_rel_error``,
      ``argmax_agreement``, ``prediction_rel_diff``, ``accuracy_entk``, ``accuracy_approx``;
    * ``total_initial_readout``: the total error for the trained network with its readout matrix
      put back to its initial value (the body as trained);
    * ``gradient_correlation``: :func:`logit_gradient_correlation` of the eNTK on the n_kernel digits;
    * ``pntk_to_diagonal``: mean_x pNTK(x, x) / mean_x mean_j Θ_jj(x, x) on the n_kernel digits
      (1 when the pNTK is on the scale of the eNTK's diagonal blocks; since
      pNTK = (1/O) sum_jk Θ_jk, it is 1 + (O − 1) x (mean off-diagonal / mean diagonal entry));
    * ``readout_change``: ||W_t − W_0||_F / ||W_0||_F;
    * ``column_cosine``: the mean |cosine| between distinct readout columns (:func:`column_cosines`);
    * ``kernel_movement``: ||Θ_t − Θ_0||_F / ||Θ_0||_F on the n_kernel digits;
    * ``train_accuracy``/``test_accuracy``: the network's own accuracy at that step (NaN if the
      run did not record it there).
    """

    step: list[int]
    total: list[float]
    diagonal: list[float]
    offdiagonal: list[float]
    lambda_max_rel_error: list[float]
    argmax_agreement: list[float]
    prediction_rel_diff: list[float]
    accuracy_entk: list[float]
    accuracy_approx: list[float]
    total_initial_readout: list[float]
    gradient_correlation: list[float]
    pntk_to_diagonal: list[float]
    readout_change: list[float]
    column_cosine: list[float]
    kernel_movement: list[float]
    train_accuracy: list[float]
    test_accuracy: list[float]

    def at(self, index: int) -> dict[str, float]:
        """{quantity: value} at one checkpoint (``index`` into ``step``; -1 the last), ``step`` included."""
        return {f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)}


def gap_during_training(apply_fn: Callable, result: training.TrainingResult, split: DigitsSplit, *,
                        n_kernel: int = 100, n_test: int = 200, ridge: float = RIDGE, method: str = "auto",
                        progress: bool = True) -> GapMeasurements:
    """:func:`kernel_gap` at every checkpoint of a training run, and the measurements that test why it changes.

    Args:
      apply_fn: the model; result: ``training.train``'s result with ``checkpoints`` including step 0
        (the initial parameters); split, n_kernel, n_test, ridge, method: as in :func:`kernel_gap`.
    Returns:
      A :class:`GapMeasurements`, one entry per checkpoint in every field.
    Cost: about two :func:`kernel_gap` computations per checkpoint. Needs float64 (``support.config.enable_float64``).
    """
    if not isinstance(result, training.TrainingResult):
        raise TypeError(f"result must be a training.TrainingResult, got {type(result).__name__}")
    if 0 not in result.checkpoints:
        raise ValueError("result.checkpoints must include step 0 (the initial parameters): "
                         "pass checkpoint_steps=[0, ...] to training.train")
    w0 = readout_weights(result.checkpoints[0])
    off = ~np.eye(w0.shape[1], dtype=bool)
    out: dict[str, list] = {f.name: [] for f in dataclasses.fields(GapMeasurements)}
    theta0 = None
    history = {int(s): i for i, s in enumerate(result.steps)}
    for step in tqdm(sorted(result.checkpoints), desc="kernels at checkpoints", disable=not progress):
        params = result.checkpoints[step]
        gap = kernel_gap(apply_fn, params, split, n_kernel=n_kernel, n_test=n_test, ridge=ridge, method=method)
        theta, k = gap.pop("theta"), gap.pop("k")
        theta0 = theta if theta0 is None else theta0
        w = readout_weights(params)
        if w is w0:  # the readout has not moved (step 0): putting it back changes nothing
            theta_reset, k_reset = theta, k
        else:
            ((theta_reset, k_reset),) = _kernel_pairs(apply_fn, with_readout(params, w0), split.x_train[:n_kernel],
                                                      None, method)
        out["step"].append(int(step))
        for key in GAP_METRICS:
            out[key].append(float(gap[key]))
        out["total_initial_readout"].append(approximations.block_errors(theta_reset, k_reset)["total"])
        diagonal_mean = np.einsum("nnjj->", theta) / (theta.shape[0] * theta.shape[2])
        out["pntk_to_diagonal"].append(float(np.trace(k) / theta.shape[0] / diagonal_mean))
        out["gradient_correlation"].append(logit_gradient_correlation(theta))
        out["readout_change"].append(float(np.linalg.norm(_f64(w) - _f64(w0)) / np.linalg.norm(_f64(w0))))
        out["column_cosine"].append(float(np.abs(column_cosines(w)[off]).mean()))
        out["kernel_movement"].append(float(np.linalg.norm(theta - theta0) / np.linalg.norm(theta0)))
        i = history.get(int(step))
        out["train_accuracy"].append(float("nan") if i is None else float(result.train_accuracy[i]))
        test = result.test_accuracy
        out["test_accuracy"].append(float("nan") if i is None or test is None else float(test[i]))
    return GapMeasurements(**out)


def conv_net_gap(split: DigitsSplit, *, channels: Sequence[int] = (16, 16), steps: int = 1000, seed: int = 0,
                 n_kernel: int = 100, n_test: int = 200, ridge: float = RIDGE, progress: bool = True,
                 optimizer: str | None = None, lr: float | None = None,
                 ) -> tuple[GapMeasurements, training.TrainingResult]:
    """:func:`gap_during_training` for the lesson-04 conv net (``reference.conv_net.digits_conv_net``) at
    initialisation and after ``steps`` steps of :data:`TRAINING` (``optimizer``, ``lr``: overrides, as in
    :func:`train_network`) on the split's digits as 8 x 8 images.

    Kernels by Jacobian contraction, the Jacobians built one input at a time (method "jacobian" of
    :data:`GAP_METHODS`: the conv net is not an mlp). With ``jax_enable_x64`` on (needed for the float64
    comparisons) neural-tangents' Conv needs float64 inputs and params, so everything here is float64.
    Imports neural-tangents (``reference.conv_net``).
    Returns ``(measurements at steps 0 and steps, the TrainingResult)``. Cost: the training,
    O(steps · 100 · 64 · 9 · sum_l c_(l-1) c_l), and Jacobians with (n_kernel + n_test) O P entries.
    """
    from ..reference import conv_net  # neural-tangents: imported only here, where it is needed

    checks.require_float64("practice.conv_net_gap")
    init_fn, apply_fn, _ = conv_net.digits_conv_net(tuple(channels), out_dim=OUT_DIM)
    images = DigitsSplit(_f64(data.digits_as_images(split.x_train)), _f64(split.y_train),
                         _f64(data.digits_as_images(split.x_test)), _f64(split.y_test))
    _, params = init_fn(config.key(seed), images.x_train.shape)
    params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
    result = train_network(apply_fn, params, images, steps=steps, seed=seed, record_every=steps,
                           checkpoint_steps=[0, steps], progress=progress, optimizer=optimizer, lr=lr)
    gap = gap_during_training(apply_fn, result, images, n_kernel=n_kernel, n_test=n_test, ridge=ridge,
                              method="jacobian", progress=progress)
    return gap, result


def first_and_last(measured: GapMeasurements) -> dict[str, dict[str, float]]:
    """``{"init": {quantity: value at the first checkpoint}, "trained <steps> steps": {... at the last}}`` from
    :func:`gap_during_training`'s measurements (the input of ``plots.gap_before_after``). Cost O(number of fields)."""
    if not isinstance(measured, GapMeasurements) or not measured.step:
        raise ValueError("measured must be the GapMeasurements of gap_during_training (with at least one step)")
    return {"init": measured.at(0), f"trained {measured.step[-1]} steps": measured.at(-1)}


def format_gap_table(measured: GapMeasurements, *, keys: Sequence[str] = ("total", "diagonal", "offdiagonal",
                     "lambda_max_rel_error", "argmax_agreement", "total_initial_readout", "gradient_correlation",
                     "pntk_to_diagonal", "readout_change", "column_cosine", "kernel_movement", "train_accuracy",
                     "test_accuracy")) -> str:
    """The measurements of :func:`gap_during_training` as text: one row per quantity, one column per step."""
    lines = [f"{'step':>22} " + " ".join(f"{s:>7d}" for s in measured.step)]
    for key in keys:
        lines.append(f"{key:>22} " + " ".join(f"{v:7.3f}" for v in getattr(measured, key)))
    return "\n".join(lines)


def format_dataset_costs(costs: dict) -> str:
    """``scaling.dataset_costs`` as text: memory of the kernel matrix and one Cholesky solve, eNTK vs pNTK."""
    def size(b):
        for unit, scale in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
            if b >= scale:
                return f"{b / scale:.3g} {unit}"
        return f"{b:.3g} B"

    def duration(s):
        for unit, scale in (("years", 3.156e7), ("days", 86400), ("hours", 3600), ("min", 60)):
            if s >= scale:
                return f"{s / scale:.3g} {unit}"
        return f"{s:.3g} s"

    lines = [f"{'dataset':>9} {'N':>10} {'O':>5} | {'eNTK float32':>12} {'pNTK float32':>12} | "
             f"{'eNTK solve':>13} {'pNTK solve':>11} | backward passes eNTK / pNTK"]
    for name, c in costs.items():
        lines.append(f"{name:>9} {c.N:>10,} {c.O:>5,} | {size(c.entk_bytes['float32']):>12} "
                     f"{size(c.pntk_bytes['float32']):>12} | {duration(c.entk_solve_seconds):>13} "
                     f"{duration(c.pntk_solve_seconds):>11} | {c.entk_backward_passes:,} / {c.pntk_backward_passes:,}")
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class ExerciseKernels:
    """The kernels lesson 05's exercises work on (float64 numpy): ``k_train`` (N, N) and ``k_test_train``
    (M, N) pNTKs, ``theta_train`` (N, N, O, O) and ``theta_test_train`` (M, N, O, O) eNTKs, ``y_train`` (N, O)."""

    k_train: np.ndarray
    k_test_train: np.ndarray
    theta_train: np.ndarray
    theta_test_train: np.ndarray
    y_train: np.ndarray


def exercise_kernels(n_train: int = 40, n_test: int = 25, width: int = 64) -> ExerciseKernels:
    """eNTK and pNTK of :func:`network` (``width``, float64) on the first ``n_train`` training digits and
    ``n_test`` test digits of :func:`digits_split`. Cost: two small structured eNTKs and pNTKs,
    O((n_train + n_test) n_train O^2 width). Needs float64 (``support.config.enable_float64``)."""
    checks.require_float64("practice.exercise_kernels")
    split = digits_split(n_train, dtype="float64")
    n_test = checks.positive_int(n_test, "n_test")
    apply_fn, params = network(width, dtype="float64")
    x, x_test = split.x_train, split.x_test[:n_test]
    return ExerciseKernels(
        k_train=_f64(kernels.pntk(apply_fn, params, x)), k_test_train=_f64(kernels.pntk(apply_fn, params, x_test, x)),
        theta_train=_f64(kernels.entk(apply_fn, params, x)),
        theta_test_train=_f64(kernels.entk(apply_fn, params, x_test, x)), y_train=_f64(split.y_train))
