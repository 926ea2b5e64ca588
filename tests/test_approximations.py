"""Each N x N approximation equals its definition computed from a full eNTK, by every route; the metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import approximations, kernels

from conftest import conv_net, make_inputs, make_mlp, max_rel_err

NAMES = approximations.APPROXIMATIONS


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("name", NAMES)
def test_each_approximation_equals_its_definition_from_the_entk(name, parameterization):
    apply_fn, params = make_mlp((12, 9), 4, 5, b_std=0.3, W_std=1.2, parameterization=parameterization)
    x1, x2 = make_inputs(6, 5), make_inputs(3, 5, seed=4)
    key = jax.random.PRNGKey(3)
    theta = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    ref = approximations.from_entk(theta, name, key=key)
    for method in ("structured", "jacobian"):
        k = approximations.compute(name, apply_fn, params, x1, x2, key=key, method=method)
        assert k.shape == (6, 3)
        assert max_rel_err(k, ref) < 1e-12, method
    # the definitions themselves, written out
    if name == "pntk":
        np.testing.assert_allclose(ref, theta.sum((2, 3)) / 4, rtol=1e-12)
    elif name == "mean_trace":
        np.testing.assert_allclose(ref, np.trace(theta, axis1=2, axis2=3) / 4, rtol=1e-12)
    elif name == "first_logit":
        np.testing.assert_allclose(ref, theta[:, :, 0, 0], rtol=1e-12)


def test_generic_model_routes():
    init_fn, apply_fn = conv_net(channels=3, out_dim=3)
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 5, 5, 2))
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 5, 5, 2), dtype=jnp.float64)
    theta = kernels.entk(apply_fn, params, x, method="jacobian")
    for name in NAMES:
        k = approximations.compute(name, apply_fn, params, x, key=jax.random.PRNGKey(2))
        assert max_rel_err(k, approximations.from_entk(theta, name, key=jax.random.PRNGKey(2))) < 1e-12
    with pytest.raises(ValueError, match="structured"):
        approximations.compute("mean_trace", apply_fn, params, x, method="structured")


def test_random_direction_is_on_the_unit_sphere_and_reproducible():
    u = approximations.random_direction(jax.random.PRNGKey(0), 7)
    assert u.shape == (7,) and abs(float(jnp.linalg.norm(u)) - 1) < 1e-6
    assert jnp.array_equal(u, approximations.random_direction(jax.random.PRNGKey(0), 7))
    with pytest.raises(TypeError, match="key"):
        apply_fn, params = make_mlp((4,), 2, 3)
        approximations.random_projection(apply_fn, params, make_inputs(2, 3), key=None)


def test_block_errors_split_exactly_and_vanish_for_a_kronecker_kernel():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(5, 5, 3, 3))
    k = rng.normal(size=(5, 5))
    e = approximations.block_errors(theta, k)
    assert abs(e["total"] ** 2 - e["diagonal"] ** 2 - e["offdiagonal"] ** 2) < 1e-12
    direct = np.linalg.norm(theta - k[:, :, None, None] * np.eye(3)) / np.linalg.norm(theta)
    assert abs(e["total"] - direct) < 1e-12
    kron = k[:, :, None, None] * np.eye(3)
    assert approximations.block_errors(kron, k) == {"total": 0.0, "diagonal": 0.0, "offdiagonal": 0.0}


def test_spectrum_of_a_kronecker_kernel_is_that_of_k():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 6))
    k = a @ a.T + 0.1 * np.eye(6)
    s = approximations.spectrum(k[:, :, None, None] * np.eye(4), k)
    ev = np.linalg.eigvalsh(k)
    assert s["lambda_max_rel_error"] < 1e-12 and abs(s["cond_entk"] / (ev[-1] / ev[0]) - 1) < 1e-10
    assert abs(s["log10_cond_ratio"]) < 1e-10


def test_regression_agreement_is_perfect_for_the_same_kernel():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 4))
    k = np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 4)
    y = np.eye(3)[rng.integers(0, 3, 20)]
    kron = k[:, :, None, None] * np.eye(3)
    r = approximations.regression_agreement(kron[:20, :20], k[:20, :20], kron[20:, :20], k[20:, :20], y,
                                            rng.integers(0, 3, 10), ridge=1e-3)
    assert r["argmax_agreement"] == 1.0 and r["prediction_rel_diff"] < 1e-10
    assert r["accuracy_entk"] == r["accuracy_approx"]


@pytest.mark.parametrize("call, err, match", [
    (lambda: approximations.compute("nngp", *make_mlp((4,), 2, 3), make_inputs(2, 3)), ValueError, "name"),
    (lambda: approximations.compute("pntk", *make_mlp((4,), 2, 3), make_inputs(2, 4)), ValueError, "x1"),
    (lambda: approximations.compute("mean_trace", *make_mlp((4,), 2, 3), make_inputs(2, 3), method="fast"),
     ValueError, "method"),
    (lambda: approximations.block_errors(np.ones((2, 2, 3, 3)), np.ones((2, 3))), ValueError, "k must have shape"),
    (lambda: approximations.block_errors(np.ones((2, 2, 3)), np.ones((2, 2))), ValueError, "theta"),
    (lambda: approximations.spectrum(np.ones((2, 3, 2, 2)), np.ones((2, 3))), ValueError, "square"),
    (lambda: approximations.block_errors(np.zeros((2, 2, 2, 2)), np.zeros((2, 2))), ValueError, "zero"),
    (lambda: approximations.from_entk(np.ones((2, 2, 2, 2)), "random_projection"), TypeError, "key"),
])
def test_bad_inputs(call, err, match):
    with pytest.raises(err, match=match):
        call()


def test_params_in_another_dtype_are_cast_to_the_inputs_dtype():
    apply_fn, params = make_mlp((6,), 3, 4)  # float64 params
    x = np.asarray(make_inputs(3, 4), dtype=np.float32)
    for name in NAMES:
        for method in ("structured", "jacobian"):
            k = approximations.compute(name, apply_fn, params, x, key=jax.random.PRNGKey(0), method=method)
            assert k.dtype == np.float32, (name, method)
