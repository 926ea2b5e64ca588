"""dynamics.mse_trajectory against neural_tangents.predict.gradient_descent_mse (pinned environment only)."""

import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import blocks, dynamics
from ntk_lessons.reference import nt_reference

pytestmark = pytest.mark.neural_tangents

N, M, O = 7, 4, 3
TIMES = np.array([0.0, 0.5, 3.0, 40.0, 900.0])


@pytest.fixture(scope="module")
def nt():
    return nt_reference.import_neural_tangents()


def make_problem(full: bool, seed=0):
    """PD kernels in float64: N x N from features, or a full (N, N, O, O) eNTK with class coupling."""
    rng = np.random.default_rng(seed)
    rows = O if full else 1
    j, j_test = rng.normal(size=(N * rows, 25)) / 5, rng.normal(size=(M * rows, 25)) / 5
    k, k_test = j @ j.T, j_test @ j.T
    if full:
        k, k_test = blocks.from_matrix(k, N, N), blocks.from_matrix(k_test, M, N)
    arrays = (k, k_test, rng.normal(size=(N, O)), rng.normal(size=(N, O)), rng.normal(size=(M, O)))
    return tuple(jnp.asarray(a, dtype=jnp.float64) for a in arrays)


@pytest.mark.parametrize("full", [False, True], ids=["nxn_trace_axes_last", "full_trace_axes_empty"])
def test_matches_gradient_descent_mse(nt, full):
    k, k_test, y, f0, f0_test = make_problem(full)
    nt_learning_rate = 0.7
    # neural-tangents (predict.py, _make_expm1_fn(y_train.size)) evolves exp(-eta t K / y_train.size): its loss
    # is the mean 1/(2 N O) sum (f - y)^2 over all N O entries of y_train, whatever trace_axes is. Ours is the
    # unnormalised sum 1/2 sum (f - y)^2, so the same trajectory needs lr = eta / (N O).
    lr = nt_learning_rate / y.size
    predict_fn = nt.predict.gradient_descent_mse(k, y, learning_rate=nt_learning_rate, diag_reg=0.0,
                                                 trace_axes=() if full else (-1,))
    nt_train, nt_test = predict_fn(t=TIMES, fx_train_0=f0, fx_test_0=f0_test, k_test_train=k_test)
    ours = dynamics.mse_trajectory(k, y, f0, TIMES, lr=lr, k_test_train=k_test, f0_test=f0_test)
    assert ours.train.shape == nt_train.shape == (len(TIMES), N, O)
    assert ours.test.shape == nt_test.shape == (len(TIMES), M, O)
    scale = float(jnp.max(jnp.abs(nt_train)))
    assert float(jnp.max(jnp.abs(ours.train - nt_train))) < 1e-8 * scale
    assert float(jnp.max(jnp.abs(ours.test - nt_test))) < 1e-8 * float(jnp.max(jnp.abs(nt_test)))
    # the comparison is not vacuous: the outputs moved a lot by the last time
    assert float(jnp.max(jnp.abs(ours.train[-1] - f0))) > 0.5
    # and the wrong conversion (lr = eta / N, ignoring O) would not agree
    wrong = dynamics.mse_trajectory(k, y, f0, TIMES, lr=nt_learning_rate / N)
    assert float(jnp.max(jnp.abs(wrong.train - nt_train))) > 1e-3 * scale
