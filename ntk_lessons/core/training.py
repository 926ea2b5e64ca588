r"""Training a network in plain JAX: SGD or Adam, full batch or minibatches, with checkpoints.

Losses, for outputs f (N, O) and targets y (N, O):

* ``"mse"``: L = 1/2 sum_x ||f(x) - y(x)||^2, the *unnormalised* sum over the training
  set (lessons 01 and 06). A full-batch SGD step with step size ``lr`` is then exactly
  the step whose first-order effect on the outputs is -lr * Theta (f - y), the kernel-flow
  formula with the same ``lr``. A minibatch of B of the N inputs uses (N / B) times its
  own sum, an unbiased estimate of L, so ``lr`` means the same in both modes.
* ``"cross_entropy"``: the mean over the batch of -sum_j y_j log softmax(f)_j; ``y`` holds
  one-hot (or probability) rows.

Accuracy is the fraction of inputs whose largest output is at the target's largest entry.

Optimisers, written out (no optax): ``"sgd"`` theta <- theta - lr g, and ``"adam"``
(Kingma & Ba, with bias correction; its moments are the optimiser state).

Minibatches: each epoch is a fresh permutation of the training set drawn from
``fold_in(PRNGKey(seed), epoch)``; batch b of the epoch is entries [bB, (b+1)B) of it
(the last N mod B inputs of each permutation are skipped). The batch of step t therefore
depends only on (seed, t), so a run restarted from a checkpoint sees the same batches.

The update is one compiled step, run with ``jax.lax.scan`` over blocks of ``SCAN_BLOCK``
steps between the steps where something is recorded, and singly for the remainder (two
compiled programs per model, loss, optimiser and data shape; cached across calls).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import numbers
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import checks, kernels
from .progress import progress_bar as tqdm  # tqdm.auto, ending as one line in saved notebooks

LOSSES = ("mse", "cross_entropy")
OPTIMIZERS = ("sgd", "adam")
SCAN_BLOCK = 16  # steps per compiled scan; longer scans are no faster on CPU (measured)


class AdamState(NamedTuple):
    """Adam's state: the number of updates taken and the first/second moment pytrees (like params)."""

    count: jax.Array
    mu: Any
    nu: Any


@dataclasses.dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` returns.

    Attributes:
      params: the parameters after the last step.
      steps: (R,) int, the steps at which the history was recorded (step t = after t updates).
      train_loss, train_accuracy: (R,) on the whole training set at those steps.
      test_loss, test_accuracy: (R,), or None when no test data was given.
      checkpoints: {step: params} at the requested checkpoint steps.
      optimizer_states: {step: optimiser state} at the same steps (None for SGD, an
        :class:`AdamState` for Adam); pass one back to :func:`train` to resume exactly.
      outputs: {step: (f_train (N, O), f_test (M, O) or None)} as numpy arrays at the
        requested output steps.
      loss, optimizer: the names used.
    """

    params: Any
    steps: np.ndarray
    train_loss: np.ndarray
    train_accuracy: np.ndarray
    test_loss: np.ndarray | None
    test_accuracy: np.ndarray | None
    checkpoints: dict[int, Any]
    optimizer_states: dict[int, Any]
    outputs: dict[int, tuple[np.ndarray, np.ndarray | None]]
    loss: str
    optimizer: str


@dataclasses.dataclass(frozen=True)
class _Config:
    """Everything static about a run (hashable: it keys the compiled programs)."""

    apply_fn: Callable
    loss: str
    optimizer: str
    n_train: int
    batch_size: int | None  # None: full batch
    b1: float
    b2: float
    eps: float


def loss_value(f: jax.Array, y: jax.Array, loss: str) -> jax.Array:
    """The loss of outputs ``f`` (N, O) against targets ``y`` (N, O): "mse" gives
    1/2 sum ||f - y||^2 (a sum over inputs), "cross_entropy" the mean over inputs of
    -sum_j y_j log softmax(f)_j. A scalar. Cost O(N O)."""
    loss = checks.one_of(loss, "loss", LOSSES)
    return _loss(f, y, loss)


def _loss(f, y, loss):
    if loss == "mse":
        return 0.5 * jnp.sum((f - y) ** 2)
    return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(f, axis=-1), axis=-1))


def _accuracy(f, y):
    return jnp.mean(jnp.argmax(f, axis=-1) == jnp.argmax(y, axis=-1))


@functools.partial(jax.jit, static_argnames=("apply_fn", "loss"))
def _evaluate(apply_fn, loss, params, x, y):
    f = apply_fn(params, x)
    return _loss(f, y, loss), _accuracy(f, y), f


def evaluate(apply_fn: Callable, params: Any, x: Any, y: Any, *, loss: str = "mse") -> tuple[float, float]:
    """(loss, accuracy) of the network on inputs ``x`` (N, ...) with targets ``y`` (N, O);
    the loss as in the module docstring. Cost: one forward pass, O(N P)."""
    loss = checks.one_of(loss, "loss", LOSSES)
    x, y, params, _ = _validated_data(apply_fn, params, x, y, "x", "y", loss)
    value, accuracy, _ = _evaluate(apply_fn, loss, params, x, y)
    return float(value), float(accuracy)


def _batch_for_step(config: _Config, key, step, x, y):
    """Inputs, targets and the loss scale of step ``step``'s (mini)batch."""
    if config.batch_size is None:
        return x, y, None
    per_epoch = config.n_train // config.batch_size
    perm = jax.random.permutation(jax.random.fold_in(key, step // per_epoch), config.n_train)
    idx = lax.dynamic_slice_in_dim(perm, (step % per_epoch) * config.batch_size, config.batch_size)
    scale = config.n_train / config.batch_size if config.loss == "mse" else None
    return x[idx], y[idx], scale


def _update(config: _Config, params, state, grads, lr):
    if config.optimizer == "sgd":
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), state
    count = state.count + 1
    mu = jax.tree_util.tree_map(lambda m, g: config.b1 * m + (1 - config.b1) * g, state.mu, grads)
    nu = jax.tree_util.tree_map(lambda v, g: config.b2 * v + (1 - config.b2) * g * g, state.nu, grads)
    c1 = 1 - config.b1 ** count.astype(lr.dtype)
    c2 = 1 - config.b2 ** count.astype(lr.dtype)
    new = jax.tree_util.tree_map(lambda p, m, v: p - lr * (m / c1) / (jnp.sqrt(v / c2) + config.eps), params, mu, nu)
    return new, AdamState(count, mu, nu)


@functools.partial(jax.jit, static_argnames=("config", "length"))
def _advance(config: _Config, length: int, params, state, step, lr, key, x, y):
    """``length`` optimiser steps from step ``step`` (one compiled scan)."""

    def one_step(carry, _):
        params, state, step = carry
        xb, yb, scale = _batch_for_step(config, key, step, x, y)

        def objective(p):
            value = _loss(config.apply_fn(p, xb), yb, config.loss)
            return value if scale is None else scale * value

        grads = jax.grad(objective)(params)
        params, state = _update(config, params, state, grads, lr)
        return (params, state, step + 1), None

    (params, state, step), _ = lax.scan(one_step, (params, state, step), None, length=length)
    return params, state, step


def _copy_tree(tree):
    """Fresh JAX buffers for every leaf, so nothing aliases the caller's (numpy) arrays."""
    return jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True), tree)


def _validated_data(apply_fn, params, x, y, x_name, y_name, loss, *, like=None):
    """Validate one (inputs, targets) pair against the model; return JAX copies and O."""
    x = checks.batch(x, x_name) if like is None else checks.second_batch(x, like, x_name)
    if like is None:
        params = checks.params_tree(params)
        dtypes = {leaf.dtype for leaf in jax.tree_util.tree_leaves(params)}
        if dtypes != {x.dtype}:
            raise TypeError(
                f"params have dtype(s) {sorted(map(str, dtypes))} but {x_name} has {x.dtype}; cast one to match"
            )
    n, out_dim = checks.output_shape(apply_fn, params, x, x_name)
    y = checks.batch(y, y_name)
    if y.shape != (n, out_dim):
        raise ValueError(
            f"{y_name} must have shape {(n, out_dim)} (one target per input and output), got {tuple(y.shape)}"
        )
    if y.dtype != x.dtype:
        raise TypeError(f"{y_name} has dtype {y.dtype} but {x_name} has {x.dtype}; use one dtype")
    if loss == "cross_entropy" and not (
        bool(jnp.all(y >= 0)) and bool(jnp.allclose(y.sum(axis=1), 1.0, atol=1e-5))
    ):
        raise ValueError(f"{y_name} must hold one-hot (or probability) rows for loss='cross_entropy'")
    return x, y, params, out_dim


def _step_list(values: Sequence[int], name: str, start: int, stop: int) -> list[int]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of integer steps, got {values!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must hold integers, got {v!r}")
        if not start <= v <= stop:
            raise ValueError(f"{name} must lie in [{start}, {stop}] (start_step..steps), got {v}")
        out.append(int(v))
    return sorted(set(out))


def _fresh_state(optimizer: str, params):
    if optimizer == "sgd":
        return None
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    return AdamState(jnp.zeros((), jnp.int32), zeros, zeros)


def _checked_state(optimizer: str, state, params):
    if state is None:
        return _fresh_state(optimizer, params)
    if optimizer == "sgd":
        raise ValueError("optimizer_state must be None for optimizer='sgd' (plain SGD has no state)")
    fresh = _fresh_state(optimizer, params)
    if not isinstance(state, AdamState) or jax.tree_util.tree_structure(state) != jax.tree_util.tree_structure(fresh):
        raise TypeError("optimizer_state must be an AdamState from TrainingResult.optimizer_states, for these params")
    for a, b in zip(jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(fresh)):
        if a.shape != b.shape or a.dtype != b.dtype:
            raise ValueError(
                f"optimizer_state has a leaf of shape {a.shape} / {a.dtype}, expected {b.shape} / {b.dtype}"
            )
    return _copy_tree(state)


def train(
    apply_fn: Callable,
    params: Any,
    x_train: Any,
    y_train: Any,
    *,
    steps: int,
    lr: float,
    loss: str = "mse",
    optimizer: str = "sgd",
    batch_size: int | None = None,
    seed: int = 0,
    x_test: Any = None,
    y_test: Any = None,
    record_every: int = 1,
    checkpoint_steps: Sequence[int] = (),
    output_steps: Sequence[int] = (),
    start_step: int = 0,
    optimizer_state: Any = None,
    adam_betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
    progress: bool = True,
) -> TrainingResult:
    """Train ``apply_fn``'s parameters on (x_train, y_train) and record what happened.

    Args:
      apply_fn: ``apply_fn(params, x) -> (N, O)`` (``models.mlp`` or any stax-style model).
      params: the initial parameter pytree (floating, in x_train's dtype). Not modified;
        the result holds fresh arrays.
      x_train: (N, ...) floating inputs; y_train: (N, O) targets in the same dtype.
      steps: the step to stop at (>= start_step); steps - start_step updates are made.
      lr: step size (> 0).
      loss: "mse" (1/2 sum of squares, unnormalised) or "cross_entropy" (mean); see the
        module docstring.
      optimizer: "sgd" or "adam".
      batch_size: None (or N) for full-batch steps, else B < N inputs per step, reshuffled
        every epoch with ``seed``.
      seed: seeds the shuffling (the initial params are the caller's).
      x_test, y_test: optional held-out (M, ...) inputs and (M, O) targets, both or neither.
      record_every: the loss/accuracy history is recorded at start_step, at every multiple
        of ``record_every`` and at ``steps``.
      checkpoint_steps: steps (in [start_step, steps]) whose params are kept
        (start_step = the initial params).
      output_steps: steps at which the network's outputs on x_train and x_test are kept.
      start_step, optimizer_state: resume a run: pass ``checkpoints[k]`` as params,
        ``start_step=k`` and ``optimizer_state=optimizer_states[k]`` (Adam); the rest of
        the run is then bit-for-bit the same as the uninterrupted one.
      adam_betas, adam_eps: Adam's (beta1, beta2) and epsilon.
      progress: show a tqdm progress bar.

    Returns:
      A :class:`TrainingResult`.

    Cost: per step O(B P) for the gradient (B = batch size, P = parameter count); per
    recorded step one forward pass on the training and test sets, O((N + M) P); memory
    O(P) per checkpoint and O((N + M) O) per recorded output.
    """
    loss = checks.one_of(loss, "loss", LOSSES)
    optimizer = checks.one_of(optimizer, "optimizer", OPTIMIZERS)
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    for name, value in (("steps", steps), ("start_step", start_step), ("seed", seed)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if steps < start_step:
        raise ValueError(f"steps ({steps}) must be >= start_step ({start_step}): steps is the step to stop at")
    record_every = checks.positive_int(record_every, "record_every")
    if not (isinstance(progress, bool)):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    betas = tuple(adam_betas) if isinstance(adam_betas, (tuple, list)) else ()
    if len(betas) != 2 or not all(isinstance(b, numbers.Real) and 0 <= b < 1 for b in betas):
        raise ValueError(f"adam_betas must be two numbers (beta1, beta2) in [0, 1), got {adam_betas!r}")
    b1, b2 = (float(b) for b in betas)
    eps = checks.nonnegative_float(adam_eps, "adam_eps")

    x_train, y_train, params, _ = _validated_data(apply_fn, params, x_train, y_train, "x_train", "y_train", loss)
    has_test = x_test is not None or y_test is not None
    if has_test:
        if x_test is None or y_test is None:
            raise ValueError("pass both x_test and y_test, or neither")
        x_test, y_test, _, _ = _validated_data(apply_fn, params, x_test, y_test, "x_test", "y_test", loss, like=x_train)
    n_train = x_train.shape[0]
    if batch_size is not None:
        batch_size = checks.positive_int(batch_size, "batch_size")
        if batch_size > n_train:
            raise ValueError(f"batch_size must be at most the {n_train} training inputs, got {batch_size}")
        if batch_size == n_train:
            batch_size = None
    checkpoint_steps = _step_list(checkpoint_steps, "checkpoint_steps", start_step, steps)
    output_steps = _step_list(output_steps, "output_steps", start_step, steps)
    record_steps = sorted(
        {start_step, steps, *range(-(-start_step // record_every) * record_every, steps + 1, record_every)}
    )

    config = _Config(apply_fn, loss, optimizer, n_train, batch_size, b1, b2, eps)
    params = _copy_tree(params)
    state = _checked_state(optimizer, optimizer_state, params)
    lr_array = jnp.asarray(lr, dtype=x_train.dtype)
    key = jax.random.PRNGKey(seed)
    step = jnp.asarray(start_step, dtype=jnp.int32)

    history: list[tuple] = []
    checkpoints: dict[int, Any] = {}
    states: dict[int, Any] = {}
    raw_outputs: dict[int, tuple] = {}
    boundaries = sorted({*record_steps, *checkpoint_steps, *output_steps})
    current = start_step
    with tqdm(total=steps - start_step, desc=f"training ({optimizer}, {loss})", disable=not progress) as bar:
        for boundary in boundaries:
            length = boundary - current
            blocks, singles = divmod(length, SCAN_BLOCK)
            for scan_length in [SCAN_BLOCK] * blocks + [1] * singles:
                params, state, step = _advance(
                    config, scan_length, params, state, step, lr_array, key, x_train, y_train
                )
            current = boundary
            if boundary in checkpoint_steps:
                checkpoints[boundary], states[boundary] = params, state
            if boundary in record_steps or boundary in output_steps:
                train_eval = _evaluate(apply_fn, loss, params, x_train, y_train)
                test_eval = _evaluate(apply_fn, loss, params, x_test, y_test) if has_test else None
                if boundary in record_steps:
                    history.append((boundary, train_eval[:2], test_eval[:2] if has_test else None))
                if boundary in output_steps:
                    raw_outputs[boundary] = (train_eval[2], test_eval[2] if has_test else None)
                if progress:
                    bar.set_postfix(train_loss=float(train_eval[0]), refresh=False)
            if progress:
                step.block_until_ready()  # so that the bar shows finished work, not queued work
            bar.update(length)

    def column(i, j):
        return np.array([float(h[i][j]) for h in history])

    return TrainingResult(
        params=params,
        steps=np.array([h[0] for h in history], dtype=int),
        train_loss=column(1, 0),
        train_accuracy=column(1, 1),
        test_loss=column(2, 0) if has_test else None,
        test_accuracy=column(2, 1) if has_test else None,
        checkpoints=checkpoints,
        optimizer_states=states,
        outputs={s: (np.asarray(f), None if g is None else np.asarray(g)) for s, (f, g) in raw_outputs.items()},
        loss=loss,
        optimizer=optimizer,
    )


def kernel_movement(
    apply_fn: Callable,
    checkpoints: dict[int, Any],
    x: Any,
    *,
    reference_step: int = 0,
    method: str = "auto",
) -> dict[int, float]:
    """How far the eNTK has moved: {step: ||Theta_t - Theta_ref||_F / ||Theta_ref||_F}.

    Args:
      apply_fn: the model; checkpoints: {step: params}, e.g. ``TrainingResult.checkpoints``.
      x: (N, ...) inputs on which the kernels (N, N, O, O) are compared.
      reference_step: the checkpoint Theta_ref is taken at (default 0, initialisation).
      method: passed to ``kernels.entk`` ("auto" is the structured method for an mlp).

    Returns:
      {step: relative Frobenius distance} for every checkpoint, in step order (0 at the
      reference).

    Cost: one eNTK per checkpoint -- structured (mlp): O(N^2 O^2 sum_l n_l + N O P) time,
    O(N^2 O^2) memory; otherwise O(N^2 O^2 P) time and O(N O P) memory (Jacobians).
    Two kernels are held at a time.
    """
    if not isinstance(checkpoints, dict) or not checkpoints:
        raise TypeError("checkpoints must be a non-empty dict {step: params}, e.g. TrainingResult.checkpoints")
    if reference_step not in checkpoints:
        raise ValueError(f"reference_step={reference_step!r} is not a checkpoint; available: {sorted(checkpoints)}")
    reference = kernels.entk(apply_fn, checkpoints[reference_step], x, method=method)
    scale = jnp.linalg.norm(reference.ravel())
    if not float(scale) > 0:
        raise ValueError(f"the eNTK at reference_step={reference_step} is zero; relative movement is undefined")
    out = {}
    for step in sorted(checkpoints):
        theta = reference if step == reference_step else kernels.entk(apply_fn, checkpoints[step], x, method=method)
        out[step] = float(jnp.linalg.norm((theta - reference).ravel()) / scale)
    return out
