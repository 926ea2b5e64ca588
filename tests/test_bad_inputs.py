"""What a new user gets wrong, across the public API: each mistake gets a ValueError/TypeError (or a
clear warning) naming the argument and what was expected -- never a raw JAX/XLA trace -- and the
caller's arrays are left untouched. Issue 10's list, one case per test id."""

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons import analysis
from ntk_lessons.core import approximations, dynamics, infinite, kernels, memory, models, readout, regression, training
from ntk_lessons.lessons import convergence, networks
from ntk_lessons.support import cache

from conftest import make_inputs, make_mlp

APPLY, PARAMS = make_mlp((6, 5), 3, 4, b_std=0.1)
X = np.asarray(make_inputs(5, 4))
OTHER_APPLY, OTHER_PARAMS = make_mlp((7,), 3, 4)
K = X @ X.T + np.eye(5)
Y = np.eye(3)[[0, 1, 2, 0, 1]]


def with_nan(a):
    a = np.array(a)
    a[0, 0] = np.nan
    return a


def missing_layer(params):
    return params[:-2]


CASES = {
    # (call, error type, words the message must contain)
    "x1 as a nested list of ints": (lambda: kernels.entk(APPLY, PARAMS, [[1, 2, 3, 4]]), TypeError, "floating"),
    "x1 one-dimensional": (lambda: kernels.entk(APPLY, PARAMS, X[0]), ValueError, "x1"),
    "x1 with the wrong feature size": (lambda: kernels.entk(APPLY, PARAMS, X[:, :3]), ValueError, "x1"),
    "x2 with another feature size": (lambda: kernels.pntk(APPLY, PARAMS, X, X[:, :3]), ValueError, "x2"),
    "x1 empty batch": (lambda: kernels.entk(APPLY, PARAMS, X[:0]), ValueError, "empty"),
    "x1 integer array": (lambda: kernels.pntk(APPLY, PARAMS, X.astype(int)), TypeError, "floating"),
    "x1 contains NaN": (lambda: kernels.entk(APPLY, PARAMS, with_nan(X)), ValueError, "NaN"),
    "x1 contains inf": (lambda: kernels.entk(APPLY, PARAMS, np.where(X > 0.5, np.inf, X)), ValueError, "infinite"),
    "params from another model": (lambda: kernels.entk(APPLY, OTHER_PARAMS, X), ValueError, "params"),
    "params with a missing layer": (lambda: kernels.entk(APPLY, missing_layer(PARAMS), X), ValueError, "params"),
    "params containing NaN": (lambda: kernels.entk(APPLY, jax.tree_util.tree_map(lambda a: a * jnp.nan, PARAMS), X),
                              ValueError, "params"),
    "params empty": (lambda: kernels.entk(APPLY, [], X), ValueError, "params"),
    "apply_fn not callable": (lambda: kernels.entk("mlp", PARAMS, X), TypeError, "apply_fn"),
    "unknown method": (lambda: kernels.entk(APPLY, PARAMS, X, method="fastest"), ValueError, "method"),
    "structured on a non-mlp": (lambda: kernels.entk(lambda p, x: APPLY(p, x), PARAMS, X, method="structured"),
                                ValueError, "structured"),
    "memory budget 0": (lambda: kernels.entk(APPLY, PARAMS, X, memory_budget=0), ValueError, "memory_budget"),
    "memory budget too small": (lambda: kernels.entk(APPLY, PARAMS, X, memory_budget=100), ValueError, "budget"),
    "batch_size 0": (lambda: kernels.entk(APPLY, PARAMS, X, batch_size=0), ValueError, "batch_size"),
    "width 0": (lambda: models.mlp([0], 3), ValueError, "hidden_widths"),
    "width as a float": (lambda: models.mlp([2.5], 3), TypeError, "hidden_widths"),
    "out_dim 0": (lambda: models.mlp([4], 0), ValueError, "out_dim"),
    "unknown activation": (lambda: models.mlp([4], 2, activation="tanh"), ValueError, "activation"),
    "unknown parameterization": (lambda: models.mlp([4], 2, parameterization="mup"), ValueError, "parameterization"),
    "negative W_std": (lambda: models.mlp([4], 2, W_std=-1.0), ValueError, "W_std"),
    "unknown approximation": (lambda: approximations.compute("ntk", APPLY, PARAMS, X), ValueError, "name"),
    "random projection without key": (lambda: approximations.random_projection(APPLY, PARAMS, X, key=None),
                                      TypeError, "key"),
    "metric: kernel of the wrong shape": (lambda: approximations.block_errors(np.ones((5, 5, 3, 3)), np.ones((4, 5))),
                                          ValueError, "k must have shape"),
    "decompose on a non-mlp": (lambda: readout.decompose(lambda p, x: APPLY(p, x), PARAMS, X), TypeError, "mlp"),
    "regression: negative ridge": (lambda: regression.fit_predict(K, Y, K, ridge=-1.0), ValueError, "ridge"),
    "regression: kernel of the wrong shape": (lambda: regression.fit_predict(K[:, :4], Y, K, ridge=0.1),
                                              ValueError, "k_train"),
    "regression: kernel not PSD": (lambda: regression.fit_predict(K - 10 * np.eye(5), Y, K, ridge=0.0),
                                   ValueError, "positive semi-definite"),
    "regression: labels of the wrong length": (lambda: regression.fit_predict(K, Y[:4], K, ridge=0.1),
                                               ValueError, "y_train"),
    "regression: integer kernel": (lambda: regression.fit_predict(K.astype(int), Y, K, ridge=0.1),
                                   TypeError, "k_train"),
    "dynamics: negative time": (lambda: dynamics.mse_trajectory(K, Y, np.zeros_like(Y), [-1.0], lr=0.1),
                                ValueError, "times"),
    "dynamics: lr 0": (lambda: dynamics.mse_trajectory(K, Y, np.zeros_like(Y), [1.0], lr=0.0), ValueError, "lr"),
    "infinite: n_hidden < 0": (lambda: infinite.mlp_kernels(X, n_hidden=-1), ValueError, "n_hidden"),
    "infinite: unknown activation": (lambda: infinite.mlp_kernels(X, n_hidden=1, activation="gelu"),
                                     ValueError, "activation"),
    "infinite: mismatched features": (lambda: infinite.mlp_kernels(X, X[:, :3], n_hidden=1), ValueError, "x2"),
    "infinite: not an mlp": (lambda: infinite.limit_kernels(lambda p, x: x, X), TypeError, "apply_fn"),
    "sweep: unknown regime": (lambda: networks.hidden_widths("deepest", 8, 2), ValueError, "regime"),
    "sweep: last_wide without fixed width": (lambda: networks.hidden_widths("last_wide", 8, 2), ValueError,
                                             "fixed_width"),
    "sweep: no widths": (lambda: convergence.convergence_sweep([], [0]), ValueError, "widths"),
    "fit: values of the wrong shape": (lambda: analysis.fit_power_law([1, 2, 4], np.ones((2, 3))), ValueError,
                                       "values_by_seed"),
    "training: negative lr": (lambda: training.train(APPLY, PARAMS, X, Y, steps=1, lr=-0.1, progress=False),
                              ValueError, "lr"),
    "training: unknown loss": (lambda: training.train(APPLY, PARAMS, X, Y, steps=1, lr=0.1, loss="hinge",
                                                      progress=False), ValueError, "loss"),
    "training: labels of the wrong length": (lambda: training.train(APPLY, PARAMS, X, Y[:4], steps=1, lr=0.1,
                                                                    progress=False), ValueError, "y_train"),
    "cache: config that is not JSON": (lambda: cache.key_of({"x": object()}), TypeError, "config"),
    "memory env budget not a number": (None, ValueError, "NTK_LESSONS_MEMORY_BUDGET_GB"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_clear_error_naming_the_argument(case, monkeypatch):
    call, err, words = CASES[case]
    if call is None:  # the environment variable case
        monkeypatch.setenv(memory.BUDGET_ENV_VAR, "lots")
        call = memory.default_budget_bytes
    before = [np.array(a, copy=True) for a in (X, K, Y)]
    with pytest.raises(err) as info:
        call()
    message = str(info.value)
    assert words.lower() in message.lower(), message
    assert "Traceback" not in message and "XlaRuntimeError" not in message and len(message) < 2000
    assert all(np.array_equal(a, b) for a, b in zip(before, (X, K, Y)))  # the caller's arrays are untouched
    assert not re.search(r"jax\._src|jaxlib", message), message


def test_there_are_at_least_thirty_distinct_cases():
    assert len(CASES) >= 30


def test_a_cache_file_truncated_or_from_other_code_is_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    config = {"case": "bad cache"}
    cache.store(config, [1])
    path = cache.path_of(config)
    path.write_text(path.read_text()[:5])
    assert cache.cached(config, lambda: [2]) == [2]
    entry = json.loads(path.read_text())
    entry["key"]["code"] = "another version of the package"
    path.write_text(json.dumps(entry))
    assert cache.cached(config, lambda: [3]) == [3]


def test_ill_conditioned_float32_regression_warns():
    k = np.diag(np.logspace(0, -6, 6)).astype(np.float32)  # condition number 1e6: x eps(float32) = 0.1
    with pytest.warns(regression.IllConditionedWarning, match="float32"):
        regression.fit_predict(k, np.ones((6, 1), np.float32), k, ridge=0.0)
