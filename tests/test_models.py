import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import models

from conftest import make_inputs, make_mlp


def test_shapes_and_parameter_layout():
    init_fn, apply_fn = models.mlp([7, 6], 4, b_std=0.1)
    out_shape, params = init_fn(jax.random.PRNGKey(0), (-1, 3))
    assert out_shape == (-1, 4)
    assert [jax.tree_util.tree_map(jnp.shape, p) for p in params] == [
        ((3, 7), (1, 7)), (), ((7, 6), (1, 6)), (), ((6, 4), (1, 4))
    ]
    assert apply_fn(params, jnp.ones((5, 3))).shape == (5, 4)
    assert models.parameter_count(params) == 3 * 7 + 7 + 7 * 6 + 6 + 6 * 4 + 4


def test_no_bias_when_b_std_is_none():
    init_fn, apply_fn = models.mlp([5], 2, b_std=None)
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 3))
    assert params[0][1] is None and params[2][1] is None
    assert apply_fn(params, jnp.ones((2, 3))).shape == (2, 2)


def test_forward_matches_ntk_parameterisation_by_hand():
    apply_fn, params = make_mlp((4,), 2, 3, b_std=0.5, W_std=2.0, activation="erf")
    x = make_inputs(6, 3)
    (W0, b0), _, (W1, b1) = params
    h = 2.0 / np.sqrt(3) * np.asarray(x) @ np.asarray(W0) + 0.5 * np.asarray(b0)
    a = np.asarray(jax.scipy.special.erf(h))
    f = 2.0 / np.sqrt(4) * a @ np.asarray(W1) + 0.5 * np.asarray(b1)
    np.testing.assert_allclose(apply_fn(params, x), f, rtol=1e-12)


def test_outputs_have_unit_scale_at_init():
    # NTK parameterisation keeps pre-activations O(1) whatever the width.
    x = make_inputs(64, 10) * 1.0
    for n in (64, 4096):
        apply_fn, params = make_mlp((n,), 1, 10, seed=3)
        assert 0.2 < float(jnp.std(apply_fn(params, x))) < 5


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(hidden_widths=[0], out_dim=2), ValueError, r"hidden_widths\[0\]"),
        (dict(hidden_widths=[4, -1], out_dim=2), ValueError, r"hidden_widths\[1\]"),
        (dict(hidden_widths=[2.5], out_dim=2), TypeError, r"hidden_widths\[0\]"),
        (dict(hidden_widths=4, out_dim=2), TypeError, "hidden_widths"),
        (dict(hidden_widths=[4], out_dim=0), ValueError, "out_dim"),
        (dict(hidden_widths=[4], out_dim=2, activation="tanh"), ValueError, "activation"),
        (dict(hidden_widths=[4], out_dim=2, W_std=-1.0), ValueError, "W_std"),
        (dict(hidden_widths=[4], out_dim=2, b_std=float("nan")), ValueError, "b_std"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, err, match):
    with pytest.raises(err, match=match):
        models.mlp(**kwargs)


def test_apply_rejects_wrong_feature_dimension():
    apply_fn, params = make_mlp((4,), 2, 3)
    with pytest.raises(ValueError, match="features"):
        apply_fn(params, jnp.ones((2, 5)))


def test_apply_rejects_params_of_another_model():
    apply_fn, _ = make_mlp((4,), 2, 3)
    _, other = make_mlp((4, 4), 2, 3)
    with pytest.raises(ValueError, match="params"):
        apply_fn(other, jnp.ones((2, 3)))


def test_init_rejects_bad_input_shape():
    init_fn, _ = models.mlp([4], 2)
    with pytest.raises(ValueError, match="input_shape"):
        init_fn(jax.random.PRNGKey(0), (3,))
    with pytest.raises(ValueError, match=r"input_shape\[-1\]"):
        init_fn(jax.random.PRNGKey(0), (-1, 0))


def test_init_rejects_a_non_key():
    init_fn, _ = models.mlp([4], 2)
    with pytest.raises(TypeError, match="key must be a JAX PRNG key"):
        init_fn(0, (-1, 3))
    init_fn(jax.random.key(0), (-1, 3))  # new-style typed keys work too


def test_init_dtype():
    init_fn, apply_fn = models.mlp([5, 4], 3, b_std=0.1)
    key = jax.random.PRNGKey(7)
    _, default = init_fn(key, (-1, 3))
    _, explicit_none = init_fn(key, (-1, 3), dtype=None)
    for a, b in zip(jax.tree_util.tree_leaves(default), jax.tree_util.tree_leaves(explicit_none)):
        assert a.dtype == jnp.zeros(()).dtype == jnp.dtype(jnp.float64)  # jax's default float (x64 on in tests)
        np.testing.assert_array_equal(a, b)
    _, p32 = init_fn(key, (-1, 3), dtype=jnp.float32)
    assert {a.dtype for a in jax.tree_util.tree_leaves(p32)} == {jnp.dtype(jnp.float32)}
    assert apply_fn(p32, jnp.ones((2, 3), jnp.float32)).dtype == jnp.float32
    _, p32_by_name = init_fn(key, (-1, 3), dtype="float32")
    for a, b in zip(jax.tree_util.tree_leaves(p32), jax.tree_util.tree_leaves(p32_by_name)):
        np.testing.assert_array_equal(a, b)
    _, standard = models.mlp([5], 2, parameterization="standard")[0](key, (-1, 3), dtype=jnp.float32)
    assert standard[0][0].dtype == jnp.float32


@pytest.mark.parametrize("dtype, err", [("int32", TypeError), (jnp.uint8, TypeError), ("floaty", TypeError),
                                         (3.5, TypeError)])
def test_init_rejects_a_non_floating_dtype(dtype, err):
    init_fn, _ = models.mlp([4], 2)
    with pytest.raises(err, match="dtype"):
        init_fn(jax.random.PRNGKey(0), (-1, 3), dtype=dtype)


def test_init_float64_without_x64_names_the_switch():
    init_fn, _ = models.mlp([4], 2)
    jax.config.update("jax_enable_x64", False)
    try:
        with pytest.raises(ValueError, match="enable_float64"):
            init_fn(jax.random.PRNGKey(0), (-1, 3), dtype=jnp.float64)
    finally:
        jax.config.update("jax_enable_x64", True)
