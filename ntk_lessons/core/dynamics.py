r"""Training dynamics predicted by a kernel: gradient flow on the squared loss, in closed form.

Loss (lesson 01's convention, an unnormalised sum over the training set):

    L = 1/2 sum_{x in train} ||f(x) - y(x)||^2.

If the outputs move with a fixed kernel K (a linearised network: its eNTK frozen at
initialisation), each gradient-descent step of size ``lr`` changes them by
-lr K (f - y) (see ``linearization``). For small ``lr`` the steps follow the flow
d f / ds = -K (f - y) in flow time s = lr * t after t steps, solved by

    f_t(train) = y + exp(-s K) (f_0 - y),
    f_t(x*)    = f_0(x*) - K* K^{-1} (I - exp(-s K)) (f_0 - y)      (K* = kernel(x*, train)).

One eigendecomposition K = V diag(lam) V^T gives both at every time:

    f_t(train) = f_0 + V diag(expm1(-lam s)) V^T (f_0 - y),
    f_t(x*)    = f_0(x*) + K* V diag(expm1(-lam s) / lam) V^T (f_0 - y),

where expm1(-lam s) / lam -> -s as lam -> 0: a zero eigenvalue is no obstacle (that
direction never moves on the training set, but still moves the test outputs, linearly
in s), and t = 0 returns f_0 exactly. Eigenvalues that are negative by rounding
(see ``regression.PSD_RTOL``) are set to 0; more negative ones are an error.

With ``discrete=True`` the same formulas give the exact outputs of t full-batch
gradient-descent steps of the frozen-kernel (linearised) model, f_{t+1} = f_t - lr K (f_t - y):
exp(-lam s) is replaced by (1 - lr lam)^t, which it approximates while lr lam << 1
(expm1(-lam s) / lam -> -s as lam -> 0 in both).

The kernel may be N x N (used as K ⊗ I_O) or a full eNTK (N, N, O, O), exactly as in
``regression.fit_predict``.

neural-tangents' ``predict.gradient_descent_mse`` uses the *mean* loss
1/(2 N O) sum (f - y)^2, so its ``learning_rate`` eta corresponds to lr = eta / (N O) here.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import regression


class Trajectory(NamedTuple):
    """Outputs along gradient flow.

    train: (T, N, O) outputs on the training inputs at each time.
    test: (T, M, O) outputs on the test inputs, or None if they were not asked for.
    """

    train: jax.Array
    test: jax.Array | None


def mse_trajectory(
    k_train: Any,
    y_train: Any,
    f0_train: Any,
    times: Any,
    *,
    lr: float,
    k_test_train: Any = None,
    f0_test: Any = None,
    discrete: bool = False,
) -> Trajectory:
    """Outputs predicted by a fixed kernel under gradient flow on the squared loss (module docstring).

    Args:
      k_train: (N, N) kernel on the training inputs (used as K ⊗ I_O) or a full eNTK
        (N, N, O, O); symmetric, positive semi-definite, floating, finite.
      y_train: (N, O) targets.
      f0_train: (N, O) outputs at t = 0 on the training inputs.
      times: (T,) numbers of steps (may be fractional), finite and >= 0; flow time lr * t.
      lr: step size (> 0).
      k_test_train: (M, N), or (M, N, O, O) if ``k_train`` is full; kernel between the
        test and training inputs. Give it together with ``f0_test`` or not at all.
      f0_test: (M, O) outputs at t = 0 on the test inputs.
      discrete: False (default) for gradient flow; True for exactly t gradient-descent steps
        of size ``lr`` with the frozen kernel (``times`` must then be whole numbers).
    Returns:
      :class:`Trajectory` with ``train`` (T, N, O) and ``test`` (T, M, O) or None, in
      ``k_train``'s dtype (the other arrays are cast to it); float64 recommended.
    Raises:
      TypeError/ValueError naming the argument for bad inputs (shapes, dtypes, NaN/inf,
      negative or non-finite times, lr <= 0, a non-symmetric or non-PSD ``k_train``).
    Cost:
      n = N (N x N kernel, c = O right-hand sides) or N O (full eNTK, c = 1):
      one symmetric eigendecomposition, O(n^3) time and O(n^2) memory (the dominant term;
      slower than a Cholesky factorisation by a large constant), then O(T n^2 c) for the
      training outputs, O(M' n^2) once and O(T M' n c) for the test outputs
      (M' = M or M O). No time stepping: the cost does not grow with the times.
    """
    lr = _positive(lr, "lr")
    if not isinstance(discrete, bool):
        raise TypeError(f"discrete must be True or False, got {discrete!r}")
    y = regression.as_outputs(y_train, "y_train")
    n, out_dim = y.shape
    context = f"to match y_train of shape {tuple(y.shape)}"
    train = regression.as_flat_kernel(k_train, out_dim, name="k_train", rows=n, cols=n, symmetric=True, context=context)
    dtype = train.matrix.dtype
    f0 = regression.as_outputs(f0_train, "f0_train", shape=y.shape, dtype=dtype)
    steps = _step_counts(times, dtype)
    if discrete and not bool(jnp.all(steps == jnp.round(steps))):
        raise ValueError("times must be whole numbers of steps when discrete=True")
    flow_times = lr * steps
    if (k_test_train is None) != (f0_test is None):
        given, missing = ("k_test_train", "f0_test") if f0_test is None else ("f0_test", "k_test_train")
        raise ValueError(f"{given} was given without {missing}; test outputs need both (or pass neither)")
    test_matrix, f0_test_arr = None, None
    if k_test_train is not None:
        test = regression.as_flat_kernel(
            k_test_train, out_dim, name="k_test_train", cols=n, full=train.full, context=context
        )
        test_matrix = test.matrix.astype(dtype)
        m = test_matrix.shape[0] // (out_dim if train.full else 1)
        f0_test_arr = regression.as_outputs(f0_test, "f0_test", shape=(m, out_dim), dtype=dtype)

    eigenvalues, eigenvectors = jnp.linalg.eigh(train.matrix)
    regression.check_psd(float(eigenvalues[0]), train.matrix, name="k_train")
    residual = f0 - y.astype(dtype)
    residual = residual.reshape(-1, 1) if train.full else residual  # (n, c), sample-major rows
    train_change, test_change = _flow(eigenvalues, eigenvectors, residual, flow_times, test_matrix,
                                      lr if discrete else None)
    train_out = f0[None] + train_change.reshape(len(flow_times), n, out_dim)
    if test_change is None:
        return Trajectory(train_out, None)
    test_out = f0_test_arr[None] + test_change.reshape(len(flow_times), -1, out_dim)
    return Trajectory(train_out, test_out)


@jax.jit
def _flow(
    eigenvalues: jax.Array,
    eigenvectors: jax.Array,
    residual: jax.Array,
    flow_times: jax.Array,
    test_matrix: jax.Array | None,
    step_lr: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array | None]:
    """Changes of the outputs: train (T, n, c) and test (T, M', c) (or None); ``step_lr``: discrete steps of it."""
    lam = jnp.maximum(eigenvalues, 0)  # rounding-level negatives were checked by the caller
    if step_lr is None:
        decay = jnp.expm1(-lam[None, :] * flow_times[:, None])  # (T, n): exp(-lam s) - 1, exact 0 at s = 0
    else:
        decay = _steps_decay(lam, step_lr, flow_times / step_lr)  # (T, n): (1 - lr lam)^t - 1
    coefficients = eigenvectors.T @ residual  # (n, c)
    train_change = jnp.einsum("in,tn,nc->tic", eigenvectors, decay, coefficients)
    if test_matrix is None:
        return train_change, None
    positive = lam > 0
    integral = jnp.where(positive, decay / jnp.where(positive, lam, 1), -flow_times[:, None])  # (T, n)
    test_change = jnp.einsum("rn,tn,nc->trc", test_matrix @ eigenvectors, integral, coefficients)
    return train_change, test_change


def _steps_decay(lam: jax.Array, lr: jax.Array, steps: jax.Array) -> jax.Array:
    """(1 - lr lam)^t - 1 for whole t (T,) and lam (n,): (T, n), accurate when lr lam t is tiny."""
    rate, t = lr * lam[None, :], jnp.round(steps)[:, None]
    gentle = jnp.expm1(t * jnp.log1p(-jnp.minimum(rate, 0.5)))  # exact where rate <= 1/2
    sign = jnp.where(jnp.mod(t, 2) == 1, -1.0, 1.0).astype(lam.dtype)
    steep = jnp.where(rate < 1, 1.0, sign) * jnp.abs(1 - rate) ** t - 1  # 1 - rate < 0 alternates in sign
    return jnp.where(rate <= 0.5, gentle, steep)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive finite number, got {value!r} ({type(value).__name__})")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def _step_counts(times: Any, dtype: Any) -> jax.Array:
    """(T,) non-negative finite step counts as an array of ``dtype``."""
    if times is None:
        raise TypeError("times must be a 1-D array of step counts (T,), got None")
    arr = times if isinstance(times, (jax.Array, np.ndarray)) else np.asarray(times)
    if arr.dtype == bool or not (jnp.issubdtype(arr.dtype, jnp.integer) or jnp.issubdtype(arr.dtype, jnp.floating)):
        raise TypeError(f"times must hold real numbers of steps, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise ValueError(f"times must be a non-empty 1-D array of step counts (T,), got shape {tuple(arr.shape)}")
    arr = jnp.asarray(arr, dtype=dtype)
    bad = np.flatnonzero(~np.asarray(jnp.isfinite(arr) & (arr >= 0)))
    if bad.size:
        raise ValueError(
            f"times must be finite and >= 0 (numbers of steps, in {jnp.dtype(dtype).name}); "
            f"{bad.size} of {arr.shape[0]} are not, e.g. times[{bad[0]}] = {float(arr[bad[0]])}"
        )
    return arr
