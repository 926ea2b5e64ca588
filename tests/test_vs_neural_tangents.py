"""Agreement with neural-tangents 0.6.5 (pinned environment only: it needs jax <= 0.5.3)."""

import contextlib

import jax
import jax.experimental
import jax.numpy as jnp
import pytest

from ntk_lessons.core import kernels, models
from ntk_lessons.reference import nt_reference

from conftest import TOL, cast, make_inputs, max_rel_err

pytestmark = pytest.mark.neural_tangents


@pytest.fixture(scope="module")
def nt():
    return nt_reference.import_neural_tangents()


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("activation, b_std", [("relu", 0.1), ("erf", None)])
def test_mlp_is_stax_serial_exactly(nt, activation, b_std, parameterization):
    init_fn, apply_fn = models.mlp([12, 7], 3, activation=activation, W_std=1.3, b_std=b_std,
                                   parameterization=parameterization)
    s_init, s_apply, _ = nt_reference.stax_mlp(apply_fn.spec)
    key = jax.random.PRNGKey(42)
    (shape, params), (s_shape, s_params) = init_fn(key, (-1, 5)), s_init(key, (-1, 5))
    assert shape == s_shape
    assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(s_params)
    for a, b in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(s_params)):
        assert jnp.array_equal(a, b)
    x = make_inputs(6, 5)
    assert jnp.array_equal(apply_fn(params, x), s_apply(params, x))  # bit for bit


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("implementation", [1, 2])
def test_entk_matches_neural_tangents_on_an_mlp(nt, dtype, implementation, parameterization):
    init_fn, apply_fn = models.mlp([16, 16], 4, activation="erf", W_std=1.5, b_std=0.2,
                                   parameterization=parameterization)
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 6))
    params = cast(params, dtype)
    x1, x2 = make_inputs(5, 6, seed=1, dtype=dtype), make_inputs(3, 6, seed=2, dtype=dtype)
    ref = nt_reference.entk(apply_fn, params, x1, x2, implementation=implementation)
    assert ref.shape == (5, 3, 4, 4)
    for method in ("jacobian", "ntk_vp", "structured"):
        assert max_rel_err(kernels.entk(apply_fn, params, x1, x2, method=method), ref) < TOL[dtype], method
    assert max_rel_err(kernels.pntk(apply_fn, params, x1, x2), ref.sum((2, 3)) / 4) < TOL[dtype]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_entk_matches_neural_tangents_on_a_stax_conv_net(nt, dtype):
    # stax.Conv's apply_fn in neural-tangents 0.6.5 mixes a float64 into a float32
    # convolution when x64 is enabled (its limitation, not ours), so the float32 case runs
    # with x64 switched off, as a float32 user would.
    with jax.experimental.disable_x64() if dtype == jnp.float32 else contextlib.nullcontext():
        stax = nt.stax
        init_fn, apply_fn, _ = stax.serial(
            stax.Conv(4, (3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
            stax.Conv(3, (2, 2), W_std=1.4, b_std=0.1), stax.Erf(),
            stax.Flatten(), stax.Dense(3, W_std=1.2, b_std=0.1),
        )
        _, params = init_fn(jax.random.PRNGKey(0), (-1, 6, 6, 2))
        params = cast(params, dtype)
        x1 = jax.random.normal(jax.random.PRNGKey(1), (4, 6, 6, 2), dtype=dtype)
        x2 = jax.random.normal(jax.random.PRNGKey(2), (2, 6, 6, 2), dtype=dtype)
        ref = nt_reference.entk(apply_fn, params, x1, x2, implementation=1)
        assert ref.shape == (4, 2, 3, 3) and ref.dtype == dtype
        for method in ("jacobian", "ntk_vp"):
            assert max_rel_err(kernels.entk(apply_fn, params, x1, x2, method=method), ref) < TOL[dtype], method
        assert max_rel_err(kernels.pntk(apply_fn, params, x1, x2), ref.sum((2, 3)) / 3) < TOL[dtype]


def test_quiet_import_is_cached(nt):
    assert nt_reference.import_neural_tangents() is nt
