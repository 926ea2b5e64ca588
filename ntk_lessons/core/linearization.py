r"""What the eNTK predicts: the change of every logit after one small gradient-descent step.

With squared loss L = 1/2 sum_{x' in train} ||f(x') - y(x')||^2 and one step
theta <- theta - lr * grad L, a first-order Taylor expansion gives

    Delta f(x) ≈ -lr * sum_{x'} Theta(x, x') (f(x') - y(x'))          (N_eval, O)

The error of this prediction is O(lr^2), so the *relative* error falls like lr.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import checks, kernels, models


def network_loss(apply_fn: Callable, params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
    """The squared loss of the network at ``params``: 1/2 sum over inputs and outputs of (f(x) - y)^2;
    x (N, d), y (N, O). Cost O(N P). (``lessons.trajectories.outputs_loss`` takes given outputs instead.)"""
    return 0.5 * jnp.sum((apply_fn(params, x) - y) ** 2)


def gd_step(apply_fn: Callable, params: Any, x: jax.Array, y: jax.Array, lr: float) -> Any:
    """Parameters after one gradient-descent step on :func:`network_loss` (a new pytree). Cost O(N P)."""
    grads = jax.grad(lambda p: network_loss(apply_fn, p, x, y))(params)
    return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)


def step_change(
    apply_fn: Callable, params: Any, x_train: Any, y_train: Any, x_eval: Any, lr: float
) -> tuple[jax.Array, jax.Array]:
    """Actual and eNTK-predicted change of the logits on ``x_eval`` after one GD step.

    Args:
      x_train (N, d), y_train (N, O): the batch the step is taken on.
      x_eval (M, d): where the change is measured.
      lr: the learning rate (> 0).
    Returns:
      ``(actual, predicted)``, both (M, O). Cost: one eNTK (M x N) plus two forward passes.
    """
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    x_train = checks.batch(x_train, "x_train")
    x_eval = checks.second_batch(x_eval, x_train, "x_eval")
    theta = kernels.entk(apply_fn, params, x_eval, x_train)  # validates apply_fn and params; (M, N, O, O)
    y_train = checks.batch(y_train, "y_train")
    expected = (x_train.shape[0], theta.shape[-1])
    if y_train.shape != expected:
        raise ValueError(
            f"y_train must have shape {expected} (one target per input and output), got {tuple(y_train.shape)}"
        )
    residual = apply_fn(params, x_train) - y_train  # dL/df, (N, O)
    predicted = -lr * jnp.einsum("mnjk,nk->mj", theta, residual)
    new_params = gd_step(apply_fn, params, x_train, y_train, lr)
    actual = apply_fn(new_params, x_eval) - apply_fn(params, x_eval)
    return actual, predicted


def prediction_error(actual: Any, predicted: Any) -> float:
    """How far a one-step prediction is from the actual change: ||actual - predicted||_F / ||actual||_F.

    (``lessons.trajectories.trajectory_error`` measures a whole trajectory instead.)"""
    actual, predicted = jnp.asarray(actual), jnp.asarray(predicted)
    return float(jnp.linalg.norm(actual - predicted) / jnp.linalg.norm(actual))


def error_vs_learning_rate(
    apply_fn: Callable, params: Any, x_train: Any, y_train: Any, x_eval: Any, lrs: Any
) -> np.ndarray:
    """Relative prediction error for each learning rate in ``lrs``: (len(lrs),). Cost: len(lrs) x step_change."""
    return np.array([prediction_error(*step_change(apply_fn, params, x_train, y_train, x_eval, lr)) for lr in lrs])


def activation_sign_flips(
    apply_fn: Callable, params: Any, x_train: Any, y_train: Any, x_eval: Any, lr: float
) -> int:
    """How many hidden pre-activations on ``x_eval`` change sign in one GD step (mlp only).

    Between such flips a ReLU network is a polynomial in its parameters (degree = number of
    dense layers), so every step's prediction by the eNTK has an O(lr^2) error; a flip adds a
    kink term, of the same order (the flipped units grow like lr, each moves f by O(lr)).
    Returns a count over all inputs, hidden layers and units. Cost: two forward passes.
    """
    spec = models.spec_of(apply_fn)
    if spec is None:
        raise TypeError("apply_fn must come from ntk_lessons.core.models.mlp")
    x_eval = checks.batch(x_eval, "x_eval")
    new_params = gd_step(apply_fn, params, x_train, y_train, lr)
    before, after = models.forward(spec, params, x_eval), models.forward(spec, new_params, x_eval)
    pre = range(1, len(before) - 1, 2)  # h_1, h_2, ... (pre-activations of the hidden layers)
    return int(sum(jnp.sum(jnp.sign(before[i]) != jnp.sign(after[i])) for i in pre))
