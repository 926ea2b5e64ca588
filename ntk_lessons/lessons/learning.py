r"""Lesson 07: what happens to the pNTK approximation while a network learns, and why.

The law the lesson is built on. For softmax cross-entropy, ℓ(f, y) = −log softmax(f)_y, the gradient
with respect to the logits is p − y, so Σ_j ∂ℓ/∂f_j = 1 − 1 = 0 for every input. The readout enters
only through f_j = (σ_w/√n) w_j·φ(x) + σ_b b_j, so the gradient's readout columns sum to zero on every
minibatch: Σ_j ∂L/∂w_j = 0 and Σ_j ∂L/∂b_j = 0. Any optimiser that applies the same linear map to
every column's gradient (SGD, with or without momentum) therefore keeps the mean readout row
w̄ = (1/√O) Σ_j w_j -- the readout direction the pNTK uses -- and Σ_j b_j at their initial values.
Adam divides each coordinate by its own running scale, and the quotients' column sum is not zero:
Adam moves w̄.

What is measured (the lesson-05 network and split, ``practice``):

* :func:`mean_readout_row`, :func:`conservation`: w̄ and its drift over a training run, next to how far
  the whole readout moved (a :class:`ConservationRecord`);
* :func:`logit_gradient_sums`: Σ_j ∂ℓ/∂f_j per input, for cross-entropy (0) and the squared error (not 0);
* :func:`learning_run`: one network trained with one optimiser (:data:`OPTIMISERS`), the pNTK's gap
  against the eNTK at every checkpoint (``practice.gap_during_training``) and the conservation record,
  cached on disk (``support.cache``) as a :class:`LearningRun`; ``network="conv"`` uses lesson 04's
  conv net (neural-tangents, imported only then).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..core import approximations, checks, kernels, models, training
from ..support import cache, data
from . import practice

OPTIMISERS: dict[str, dict[str, Any]] = {
    "sgd": dict(optimizer="sgd", lr=6.0),
    "adam": dict(optimizer="adam", lr=1e-3),
}
"""The MLP's two recipes (cross-entropy, minibatches of 100 otherwise, ``practice.TRAINING``): Adam as in
lesson 05, and plain SGD with a step size that reaches a training loss of the same order in as many steps."""

CONV_OPTIMISERS: dict[str, dict[str, Any]] = {
    "sgd": dict(optimizer="sgd", lr=0.5),
    "adam": dict(optimizer="adam", lr=1e-3),
}
"""The conv net's two recipes (its kernels are larger: a smaller SGD step is stable)."""

NETWORKS = ("mlp", "conv")
GAP_WIDTH = 512
"""Hidden width of the lesson's MLP (``practice.network``)."""


def mean_readout_row(params: Any) -> np.ndarray:
    """w̄ = (1/√O) Σ_j w_j (n_L,) in float64, from the readout matrix W (n_L, O) of a stax-style params list
    (``practice.readout_weights``). Cost O(n_L O)."""
    w = np.asarray(practice.readout_weights(params), np.float64)
    return w.sum(axis=1) / np.sqrt(w.shape[1])


def _bias_sum(params: Any) -> float:
    return float(np.asarray(params[-1][1], np.float64).sum())


@dataclasses.dataclass(frozen=True)
class ConservationRecord:
    """What happens to the mean readout row over a training run, one float per checkpoint (in ``step`` order):

    * ``mean_row_drift``: ‖w̄_t − w̄_0‖ / ‖w̄_0‖ (0 to rounding under SGD with cross-entropy);
    * ``readout_change``: ‖W_t − W_0‖_F / ‖W_0‖_F, how far the whole readout moved;
    * ``bias_sum_drift``: |Σ_j b_j(t) − Σ_j b_j(0)|.
    """

    step: list[int]
    mean_row_drift: list[float]
    readout_change: list[float]
    bias_sum_drift: list[float]


def conservation(result: training.TrainingResult) -> ConservationRecord:
    """The :class:`ConservationRecord` of a training run whose ``checkpoints`` include step 0.

    Raises TypeError for anything but a ``training.TrainingResult`` and ValueError without a step-0
    checkpoint. Cost O(checkpoints · n_L O)."""
    if not isinstance(result, training.TrainingResult):
        raise TypeError(f"result must be a training.TrainingResult, got {type(result).__name__}")
    if 0 not in result.checkpoints:
        raise ValueError("result.checkpoints must include step 0 (the initial parameters)")
    p0 = result.checkpoints[0]
    w0, wbar0, b0 = (np.asarray(practice.readout_weights(p0), np.float64), mean_readout_row(p0), _bias_sum(p0))
    out: dict[str, list] = {f.name: [] for f in dataclasses.fields(ConservationRecord)}
    for step in sorted(result.checkpoints):
        p = result.checkpoints[step]
        w = np.asarray(practice.readout_weights(p), np.float64)
        out["step"].append(int(step))
        out["mean_row_drift"].append(float(np.linalg.norm(mean_readout_row(p) - wbar0) / np.linalg.norm(wbar0)))
        out["readout_change"].append(float(np.linalg.norm(w - w0) / np.linalg.norm(w0)))
        out["bias_sum_drift"].append(abs(_bias_sum(p) - b0))
    return ConservationRecord(**out)


def logit_gradient_sums(f: Any, y: Any, loss: str) -> np.ndarray:
    """Σ_j ∂ℓ/∂f_j for each input (N,): ℓ the per-input loss ("cross_entropy": −Σ_j y_j log softmax(f)_j,
    "mse": ½‖f − y‖²), f (N, O) logits, y (N, O) targets. Zero for cross-entropy whenever each y sums to 1;
    Σ_j f_j − Σ_j y_j for the squared error. Cost O(N O)."""
    loss = checks.one_of(loss, "loss", training.LOSSES)
    f, y = jnp.asarray(f), jnp.asarray(y)
    if f.ndim != 2 or f.shape != y.shape:
        raise ValueError(f"f and y must be (N, O) arrays of one shape, got {f.shape} and {y.shape}")
    per_input = jax.vmap(jax.grad(lambda fi, yi: training.loss_value(fi[None], yi[None], loss)))
    return np.asarray(per_input(f, y).sum(axis=1))


@dataclasses.dataclass(frozen=True)
class LearningRun:
    """One network trained with one optimiser, measured at its checkpoints.

    ``network`` ("mlp" or "conv"), ``optimiser`` (a key of :data:`OPTIMISERS`), ``gap``
    (``practice.GapMeasurements``: the pNTK against the eNTK, and the quantities that explain it),
    ``conservation`` (:class:`ConservationRecord`), ``train_loss`` (one float per checkpoint: the loss
    on the whole training pool), ``spectrum`` (:func:`spectrum_over_training`: λ_max and condition numbers of the
    eNTK and the pNTK per checkpoint, kernels in float64).
    """

    network: str
    optimiser: str
    gap: practice.GapMeasurements
    conservation: ConservationRecord
    train_loss: list[float]
    spectrum: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return {"network": self.network, "optimiser": self.optimiser, "gap": dataclasses.asdict(self.gap),
                "conservation": dataclasses.asdict(self.conservation), "train_loss": list(self.train_loss),
                "spectrum": dict(self.spectrum)}

    @classmethod
    def from_json(cls, d: dict) -> "LearningRun":
        return cls(d["network"], d["optimiser"], practice.GapMeasurements(**d["gap"]),
                   ConservationRecord(**d["conservation"]), list(d["train_loss"]), dict(d.get("spectrum", {})))


SPECTRUM_KEYS = ("lambda_max_rel_error", "cond_entk", "cond_pntk", "log10_cond_ratio")


def spectrum_over_training(apply_fn: Any, result: training.TrainingResult, x: Any) -> dict[str, list[float]]:
    """λ_max and condition numbers of the eNTK (as an NO x NO matrix) and of pNTK ⊗ I_O at every checkpoint.

    Kernels on ``x`` (N, ...) with the checkpoint's params cast to float64 (a float32 kernel's small eigenvalues
    are rounding noise), ``approximations.spectrum``. Returns {"step": [...], "lambda_max_rel_error",
    "cond_entk", "cond_pntk", "log10_cond_ratio" (log10 cond(pNTK) / cond(eNTK), <= 0 by interlacing)}, one
    float per checkpoint in step order. TypeError for anything but a ``training.TrainingResult``. Cost per
    checkpoint: one eNTK and one pNTK on N inputs (structured for an mlp, else from Jacobians built one input at a
    time, ``kernels.flat_jacobian``) and an O((N O)^3)
    eigendecomposition. Needs float64 (``support.config.enable_float64``).
    """
    if not isinstance(result, training.TrainingResult):
        raise TypeError(f"result must be a training.TrainingResult, got {type(result).__name__}")
    checks.require_float64("learning.spectrum_over_training")
    x = jnp.asarray(x, jnp.float64)
    out: dict[str, list] = {"step": [], **{k: [] for k in SPECTRUM_KEYS}}
    for step in sorted(result.checkpoints):
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), result.checkpoints[step])
        if models.spec_of(apply_fn) is not None:  # an mlp: structured kernels
            theta, k = kernels.entk(apply_fn, params, x), kernels.pntk(apply_fn, params, x)
        else:  # e.g. the conv net: Jacobians one input at a time
            theta, k = practice.kernels_from_jacobians(kernels.flat_jacobian(apply_fn, params, x))
        theta, k = np.asarray(theta, np.float64), np.asarray(k, np.float64)
        s = approximations.spectrum(theta, k)
        out["step"].append(int(step))
        for key, name in zip(SPECTRUM_KEYS, ("lambda_max_rel_error", "cond_entk", "cond_approx", "log10_cond_ratio")):
            out[key].append(float(s[name]))
    return out


def _validated_steps(checkpoints: Sequence[int]) -> list[int]:
    if isinstance(checkpoints, (str, bytes)) or not isinstance(checkpoints, Sequence) or not checkpoints:
        raise TypeError(f"checkpoints must be a non-empty sequence of steps, got {checkpoints!r}")
    steps = sorted({checks.integer(s, "checkpoints", minimum=0) for s in checkpoints})
    if steps[0] != 0 or len(steps) < 2:
        raise ValueError(f"checkpoints must include step 0 and a later step, got {list(checkpoints)}")
    return steps


def learning_run(optimiser: str, *, network: str = "mlp", checkpoints: Sequence[int] = (0, 100, 300, 1000),
                 n_kernel: int = 100, n_test: int = 200, seed: int = 0, use_cache: bool = True,
                 progress: bool = True) -> LearningRun:
    """Train the lesson's network with one optimiser and measure the pNTK at every checkpoint, cached.

    Args:
      optimiser: "sgd" or "adam" (:data:`OPTIMISERS`, :data:`CONV_OPTIMISERS`).
      network: "mlp" (``practice.network(GAP_WIDTH)``, float32, kernels by the structured method) or
        "conv" (lesson 04's conv net, float64, kernels from Jacobians; needs neural-tangents; only the
        first and last checkpoints are measured).
      checkpoints: training steps, including 0; the run lasts until the last one.
      n_kernel, n_test, seed: as in ``practice.gap_during_training`` / ``practice.network``.
      use_cache: read and write ``support.cache``.
    Returns:
      A :class:`LearningRun`. Cost: the training, O(steps · 100 · P), and about two
      ``practice.kernel_gap`` per checkpoint. Needs float64 (``support.config.enable_float64``).
    """
    optimiser = checks.one_of(optimiser, "optimiser", tuple(OPTIMISERS))
    network = checks.one_of(network, "network", NETWORKS)
    steps = _validated_steps(checkpoints)
    n_kernel, n_test = checks.positive_int(n_kernel, "n_kernel"), checks.positive_int(n_test, "n_test")
    checks.require_float64("learning.learning_run")
    recipe = (OPTIMISERS if network == "mlp" else CONV_OPTIMISERS)[optimiser]
    key = {"what": "learning_run", "network": network, "optimiser": optimiser, "recipe": recipe,
           "checkpoints": steps, "n_kernel": n_kernel, "n_test": n_test, "seed": seed}

    def compute() -> dict:
        pool = practice.digits_split()
        every = math.gcd(*steps)  # history at every checkpoint
        if network == "mlp":
            apply_fn, params = practice.network(GAP_WIDTH, seed=seed)
            result = practice.train_network(apply_fn, params, pool, steps=steps[-1], checkpoint_steps=steps,
                                            seed=seed, record_every=every, progress=progress, **recipe)
            gap = practice.gap_during_training(apply_fn, result, pool, n_kernel=n_kernel, n_test=n_test,
                                               progress=progress)
            x_train = pool.x_train
        else:
            from ..reference import conv_net  # neural-tangents: only for the conv net
            apply_fn = conv_net.digits_conv_net((16, 16), out_dim=practice.OUT_DIM)[1]
            gap, result = practice.conv_net_gap(pool, steps=steps[-1], seed=seed, n_kernel=n_kernel, n_test=n_test,
                                                progress=progress, **recipe)
            x_train = np.asarray(data.digits_as_images(pool.x_train), np.float64)
        record = conservation(result)
        spectrum = spectrum_over_training(apply_fn, result, x_train[:n_kernel])
        y_train = pool.y_train.astype(x_train.dtype)
        losses = [float(training.evaluate(apply_fn, result.checkpoints[s], x_train, y_train,
                                          loss="cross_entropy")[0]) for s in record.step]
        return LearningRun(network, optimiser, gap, record, losses, spectrum).to_json()

    return LearningRun.from_json(cache.cached(key, compute, use_cache=use_cache))


def format_runs(runs: Sequence[LearningRun], keys: Sequence[str] = ("total", "diagonal", "offdiagonal",
                "lambda_max_rel_error", "argmax_agreement", "gradient_correlation", "pntk_to_diagonal",
                "total_initial_readout", "kernel_movement", "test_accuracy")) -> str:
    """Several :class:`LearningRun` side by side as text: per run, its mean-row drift, readout change and
    training loss, then the chosen ``practice.GapMeasurements`` quantities, one column per checkpoint."""
    if not runs or not all(isinstance(r, LearningRun) for r in runs):
        raise TypeError("runs must be a non-empty sequence of LearningRun")
    lines = []
    for r in runs:
        c = r.conservation
        lines.append(f"{r.network}, {r.optimiser}: steps " + " ".join(f"{s:>8d}" for s in c.step))
        rows = [("mean readout row drift", c.mean_row_drift, "8.1e"), ("readout change", c.readout_change, "8.3f"),
                ("training loss", r.train_loss, "8.3f")]
        rows += [(k, getattr(r.gap, k), "8.3f") for k in keys]
        for name, values, fmt in rows:
            lines.append(f"  {name:>24} " + " ".join(format(v, fmt) for v in values))
    return "\n".join(lines)


def format_spectrum(runs: Sequence[LearningRun]) -> str:
    """λ_max error and condition numbers over training for several :class:`LearningRun` (one block per run,
    one column per checkpoint; kernels in float64), with the regressions' test accuracies with the trained
    kernels (``gap.accuracy_entk``, ``gap.accuracy_approx``) beside them."""
    if not runs or not all(isinstance(r, LearningRun) and r.spectrum for r in runs):
        raise TypeError("runs must be a non-empty sequence of LearningRun with a spectrum")
    lines = []
    for r in runs:
        s = r.spectrum
        lines.append(f"{r.network}, {r.optimiser}: steps " + " ".join(f"{step:>9d}" for step in s["step"]))
        rows = [("λmax rel. error", s["lambda_max_rel_error"], "9.3f"), ("cond(eNTK)", s["cond_entk"], "9.3g"),
                ("cond(pNTK ⊗ I)", s["cond_pntk"], "9.3g"), ("log10 cond ratio", s["log10_cond_ratio"], "9.2f"),
                ("accuracy, eNTK regr.", r.gap.accuracy_entk, "9.3f"),
                ("accuracy, pNTK regr.", r.gap.accuracy_approx, "9.3f")]
        for name, values, fmt in rows:
            lines.append(f"  {name:>22} " + " ".join(format(v, fmt) for v in values))
    return "\n".join(lines)
