import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntk_lessons.core import blocks, kernels

from conftest import TOL, cast, conv_net, make_inputs, make_mlp, max_rel_err

METHODS = ("jacobian", "ntk_vp", "structured")


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize(
    "widths, activation, b_std",
    [((16,), "relu", 0.0), ((16, 8), "erf", 0.3), ((12, 10, 9), "relu", 0.1), ((8, 8), "relu", None),
     ((), "relu", 0.5)],
)
def test_methods_agree_on_mlps(dtype, widths, activation, b_std):
    apply_fn, params = make_mlp(widths, 4, 6, activation=activation, b_std=b_std, W_std=1.4, dtype=dtype)
    x1, x2 = make_inputs(5, 6, seed=1, dtype=dtype), make_inputs(3, 6, seed=2, dtype=dtype)
    ref = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    assert ref.shape == (5, 3, 4, 4) and ref.dtype == dtype
    for method in ("ntk_vp", "structured", "auto"):
        got = kernels.entk(apply_fn, params, x1, x2, method=method)
        assert got.dtype == dtype
        assert max_rel_err(got, ref) < TOL[dtype], method


def test_matches_the_definition_J_J_transpose():
    apply_fn, params = make_mlp((6,), 3, 4, b_std=0.2)
    x = make_inputs(4, 4)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    J = jax.jacobian(lambda v: apply_fn(unravel(v), x))(flat)  # (N, O, P)
    by_hand = jnp.einsum("njp,mkp->nmjk", J, J)
    for method in METHODS:
        assert max_rel_err(kernels.entk(apply_fn, params, x, method=method), by_hand) < 1e-12


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_generic_model_conv_net(dtype):
    init_fn, apply_fn = conv_net()
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 5, 5, 2))
    params = cast(params, dtype)
    x1 = jax.random.normal(jax.random.PRNGKey(1), (4, 5, 5, 2), dtype=dtype)
    x2 = jax.random.normal(jax.random.PRNGKey(2), (3, 5, 5, 2), dtype=dtype)
    ref = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    assert ref.shape == (4, 3, 3, 3)
    assert max_rel_err(kernels.entk(apply_fn, params, x1, x2, method="ntk_vp"), ref) < TOL[dtype]
    assert max_rel_err(kernels.entk(apply_fn, params, x1, x2), ref) < TOL[dtype]  # auto -> jacobian
    assert max_rel_err(kernels.pntk(apply_fn, params, x1, x2), ref.sum((2, 3)) / 3) < TOL[dtype]
    with pytest.raises(ValueError, match="structured"):
        kernels.entk(apply_fn, params, x1, x2, method="structured")


@pytest.mark.parametrize("method", ["jacobian", "structured"])
def test_pntk_is_mean_of_all_blocks(method):
    apply_fn, params = make_mlp((10, 7), 5, 4, b_std=0.4, activation="erf")
    x1, x2 = make_inputs(6, 4, seed=3), make_inputs(2, 4, seed=4)
    theta = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    p = kernels.pntk(apply_fn, params, x1, x2, method=method)
    assert p.shape == (6, 2)
    assert max_rel_err(p, theta.sum((2, 3)) / 5) < 1e-12


def test_pntk_equals_gradient_of_scaled_sum_by_hand():
    apply_fn, params = make_mlp((9,), 4, 3, b_std=0.1)
    x = make_inputs(3, 3)
    grads = [jax.grad(lambda p, xi=xi: apply_fn(p, xi[None]).sum() / 2.0)(params) for xi in x]  # sqrt(O) = 2
    flat = jnp.stack([jax.flatten_util.ravel_pytree(g)[0] for g in grads])
    assert max_rel_err(kernels.pntk(apply_fn, params, x), flat @ flat.T) < 1e-12


@settings(deadline=None)  # examples: the hypothesis profile (conftest)
@given(
    n1=st.integers(1, 5),
    n2=st.integers(1, 4),
    d=st.integers(1, 6),
    widths=st.lists(st.integers(1, 9), min_size=0, max_size=3),
    out_dim=st.integers(1, 4),
    activation=st.sampled_from(["relu", "erf"]),
    seed=st.integers(0, 2**16),
)
def test_hypothesis_shapes_methods_symmetry_psd(n1, n2, d, widths, out_dim, activation, seed):
    apply_fn, params = make_mlp(tuple(widths), out_dim, d, seed=seed, activation=activation, b_std=0.3)
    x1, x2 = make_inputs(n1, d, seed=seed + 1), make_inputs(n2, d, seed=seed + 2)
    ref = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    assert ref.shape == (n1, n2, out_dim, out_dim)
    for method in ("ntk_vp", "structured"):
        assert np.allclose(kernels.entk(apply_fn, params, x1, x2, method=method), ref, rtol=1e-9, atol=1e-9)
    # On one batch the eNTK is a Gram matrix: symmetric and PSD as an (N O) x (N O) matrix.
    for order in blocks.ORDERS:
        m = np.asarray(blocks.to_matrix(kernels.entk(apply_fn, params, x1), order))
        assert np.allclose(m, m.T, rtol=1e-12, atol=1e-12)
        assert np.linalg.eigvalsh(m).min() >= -1e-9 * max(1.0, np.abs(m).max())


def test_x2_none_same_object_and_copy_agree():
    apply_fn, params = make_mlp()
    x = np.asarray(make_inputs(4, 5))  # a numpy array: validation converts it, the shortcut must still apply
    for method in METHODS:
        a = kernels.entk(apply_fn, params, x, method=method)
        b = kernels.entk(apply_fn, params, x, x, method=method)
        c = kernels.entk(apply_fn, params, x, x.copy(), method=method)
        assert max_rel_err(a, b) < 1e-13 and max_rel_err(a, c) < 1e-13
    # The same object twice is budgeted (and computed) as one batch, a copy as two.
    from ntk_lessons.core import memory
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(params))
    one = memory.estimate_bytes("jacobian", n1=4, n2=4, out_dim=3, n_params=n_params, itemsize=8, same_inputs=True)
    kernels.entk(apply_fn, params, x, x, method="jacobian", memory_budget=one)
    with pytest.raises(ValueError, match="memory budget"):
        kernels.entk(apply_fn, params, x, x.copy(), method="jacobian", memory_budget=one)


@pytest.mark.parametrize("budget", ["lots", -5, 0, True])
def test_bad_memory_budget(budget):
    apply_fn, params = make_mlp()
    with pytest.raises(ValueError, match="memory_budget must be a positive number"):
        kernels.entk(apply_fn, params, make_inputs(2, 5), memory_budget=budget)


# ---- bad input: clear errors naming the argument, nothing mutated --------------------------------


@pytest.mark.parametrize(
    "x1, x2, err, match",
    [
        (np.ones(5), None, ValueError, "x1 must have rank"),
        (np.ones((0, 5)), None, ValueError, "x1 is an empty batch"),
        (np.full((2, 5), np.nan), None, ValueError, "x1 contains NaN"),
        (np.ones((2, 4)), None, ValueError, r"x1 has shape \(2, 4\)"),
        (np.ones((2, 5)), np.ones((3, 4)), ValueError, "x2 has per-example shape"),
        (np.ones((2, 5)), np.ones((0, 5)), ValueError, "x2 is an empty batch"),
        (np.ones((2, 5)), np.array([[np.inf] * 5]), ValueError, "x2 contains NaN or infinite"),
        (np.ones((2, 5), dtype=int), None, TypeError, "x1 must have a floating dtype"),
        (None, None, TypeError, "x1"),
        (np.ones((2, 5), dtype=np.float32), np.ones((2, 5)), TypeError, "x2 has dtype float64 but x1 has float32"),
    ],
)
@pytest.mark.parametrize("fn", [kernels.entk, kernels.pntk])
def test_bad_inputs(fn, x1, x2, err, match):
    apply_fn, params = make_mlp()
    with pytest.raises(err, match=match):
        fn(apply_fn, params, x1, x2)


def test_bad_inputs_generic_model():
    init_fn, apply_fn = conv_net()
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 5, 5, 2))
    with pytest.raises(ValueError, match="x1 of shape"):
        kernels.entk(apply_fn, params, np.ones((2, 5, 5, 3)))  # wrong channel count
    with pytest.raises(TypeError, match="apply_fn must be callable"):
        kernels.entk("not a function", params, np.ones((2, 5, 5, 2)))


def test_bad_method_and_params():
    apply_fn, params = make_mlp()
    x = make_inputs(2, 5)
    with pytest.raises(ValueError, match="method must be one of"):
        kernels.entk(apply_fn, params, x, method="fast")
    with pytest.raises(ValueError, match="params contains NaN"):
        kernels.entk(apply_fn, jax.tree_util.tree_map(lambda a: a * np.nan, params), x)
    with pytest.raises(ValueError, match="params"):
        kernels.entk(apply_fn, params[:-1], x)


@pytest.mark.parametrize("params_dtype, x_dtype", [(jnp.float64, jnp.float32), (jnp.float32, jnp.float64)])
def test_params_are_cast_to_the_inputs_dtype(params_dtype, x_dtype):
    """The inputs decide the precision: params of another dtype are cast (a copy), never mutated."""
    apply_fn, params = make_mlp(dtype=params_dtype)
    before = [np.array(a) for a in jax.tree_util.tree_leaves(params)]
    x = make_inputs(4, 5, dtype=x_dtype)
    by_hand = cast(params, x_dtype)
    for method in METHODS:
        got = kernels.entk(apply_fn, params, x, method=method)
        assert got.dtype == x_dtype
        np.testing.assert_array_equal(got, kernels.entk(apply_fn, by_hand, x, method=method))
    np.testing.assert_array_equal(kernels.pntk(apply_fn, params, x), kernels.pntk(apply_fn, by_hand, x))
    inputs = kernels.prepare(apply_fn, params, x)
    assert {leaf.dtype for leaf in jax.tree_util.tree_leaves(inputs.params)} == {jnp.dtype(x_dtype)}
    for leaf, saved in zip(jax.tree_util.tree_leaves(params), before):
        assert leaf.dtype == params_dtype
        np.testing.assert_array_equal(leaf, saved)
    same = kernels.prepare(apply_fn, by_hand, x)
    assert same.params is by_hand  # no copy when the dtypes already match


def test_inputs_are_not_mutated():
    apply_fn, params = make_mlp()
    x = np.asarray(make_inputs(3, 5))
    x_copy = x.copy()
    leaves = [np.array(a) for a in jax.tree_util.tree_leaves(params)]
    for method in METHODS:
        kernels.entk(apply_fn, params, x, method=method)
    kernels.pntk(apply_fn, params, x)
    np.testing.assert_array_equal(x, x_copy)
    for a, b in zip(jax.tree_util.tree_leaves(params), leaves):
        np.testing.assert_array_equal(a, b)


def test_compiled_cost_structured_does_far_less_work_than_jacobian():
    from ntk_lessons.core import cost

    apply_fn, params = make_mlp((128, 128), 10, 16, b_std=0.1, dtype=jnp.float32)
    x = make_inputs(20, 16, dtype=jnp.float32)
    jac = cost.entk_cost(apply_fn, params, x, method="jacobian")
    st = cost.entk_cost(apply_fn, params, x, method="structured")
    vp = cost.entk_cost(apply_fn, params, x, method="ntk_vp")
    assert jac["flops"] > 10 * st["flops"] > 0
    assert vp["flops"] is None and vp["peak_bytes"] < jac["peak_bytes"]
    with pytest.raises(ValueError, match="structured"):
        cost.entk_cost(lambda p, x: apply_fn(p, x), params, x, method="structured")


@pytest.mark.parametrize("width, out_dim, n", [(16, 4, 50), (8, 10, 30), (64, 3, 30)])
def test_structured_peak_memory_is_at_most_three_outputs_plus_params(width, out_dim, n):
    """XLA's memory plan (arguments + output + temporaries) of the structured eNTK, deterministic.

    Before the eNTK was summed in row blocks the first two cases planned 3.17x and 3.03x
    (all per-layer products alive at once); the third is dominated by the deltas (2.7x).
    """
    from ntk_lessons.core import cost, models

    apply_fn, params = make_mlp((width, width), out_dim, 8, b_std=0.1, dtype=jnp.float32)
    x = make_inputs(n, 8, dtype=jnp.float32)
    peak = cost.entk_cost(apply_fn, params, x, method="structured")["peak_bytes"]
    floor = (n * n * out_dim**2 + models.parameter_count(params)) * 4
    assert peak <= 3 * floor
    inputs = kernels.prepare(apply_fn, params, x)
    assert kernels.estimate_memory(inputs, "structured") >= peak  # the guard's estimate is an upper bound


def test_structured_pntk_backpropagates_one_output():
    from ntk_lessons.core import structured

    apply_fn, params = make_mlp((7, 6), 5, 4)
    x = make_inputs(3, 4)
    _, deltas = structured.backprop_deltas(apply_fn.spec, params, x, sum_logits=True)
    assert [d.shape for d in deltas] == [(3, 1, 7), (3, 1, 6)]
    _, full = structured.backprop_deltas(apply_fn.spec, params, x)
    for d, f in zip(deltas, full):  # the summed output's delta is the mean of the logits' deltas times sqrt(O)
        np.testing.assert_allclose(d[:, 0], f.sum(axis=1) / np.sqrt(5), rtol=1e-12)


def test_flat_jacobian_one_input_at_a_time_equals_the_batch_jacobian():
    init_fn, apply_fn = conv_net()
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 6, 6, 2))
    params = cast(params, jnp.float64)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 6, 6, 2), jnp.float64)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    batch = jax.jacrev(lambda v: apply_fn(unravel(v), x))(flat)  # (N, O, P), the whole batch at once
    got = kernels.flat_jacobian(apply_fn, params, x)
    assert got.shape == batch.shape and max_rel_err(got, batch) < 1e-13
    leaves = kernels.per_input_jacobian(apply_fn, params, x)  # the same, leaf by leaf
    assert jax.tree_util.tree_structure(leaves) == jax.tree_util.tree_structure(params)
    assert all(leaf.shape == (5, 3) + p.shape for leaf, p in zip(jax.tree_util.tree_leaves(leaves),
                                                                  jax.tree_util.tree_leaves(params)))
