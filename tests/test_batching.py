"""Kernels computed in blocks of rows of x1 (``batch_size=``) equal the one-shot kernels."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import kernels, memory

from conftest import conv_net, make_inputs, make_mlp, max_rel_err

ENTK_METHODS = ("jacobian", "ntk_vp", "structured")
PNTK_METHODS = ("jacobian", "structured")
N1 = 7  # batch sizes 1 and 3 give blocks (3 does not divide it); 7 and 10 mean one shot

# A block's rows go through matrix products of another shape than the one-shot ones, so a
# blocked kernel equals the one-shot kernel to rounding (in practice bit-for-bit in float32
# except for blocks of one row), not always bit for bit.
ROUNDING = {jnp.float32: 1e-6, jnp.float64: 4e-15}


def _cases():
    for kernel, methods in (("entk", ENTK_METHODS), ("pntk", PNTK_METHODS)):
        for method in methods:
            yield kernel, method


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("with_x2", [False, True], ids=["x2=None", "x2"])
@pytest.mark.parametrize("kernel, method", list(_cases()))
def test_blocks_equal_one_shot_mlp(kernel, method, with_x2, dtype):
    apply_fn, params = make_mlp((9, 6), 3, 5, b_std=0.2, dtype=dtype)
    x1 = make_inputs(N1, 5, dtype=dtype)
    x2 = make_inputs(4, 5, seed=3, dtype=dtype) if with_x2 else None
    fn = getattr(kernels, kernel)
    one_shot = fn(apply_fn, params, x1, x2, method=method)
    for batch_size in (1, 3, N1, 10):
        blocked = fn(apply_fn, params, x1, x2, method=method, batch_size=batch_size)
        assert blocked.shape == one_shot.shape and blocked.dtype == dtype
        assert max_rel_err(blocked, one_shot) <= ROUNDING[dtype], batch_size
        if batch_size >= N1:  # one shot: the very same computation
            np.testing.assert_array_equal(blocked, one_shot)


def test_blocks_with_x2_none_are_the_kernel_of_x1_with_itself():
    """x2=None in blocks: rows of x1 against all of x1, so the result is symmetric like the one-shot one."""
    apply_fn, params = make_mlp((8,), 3, 5, b_std=0.1)
    x = make_inputs(6, 5)
    for method in ENTK_METHODS:
        blocked = kernels.entk(apply_fn, params, x, method=method, batch_size=4)
        assert max_rel_err(blocked, kernels.entk(apply_fn, params, x, x.copy(), method=method)) < 1e-14
        matrix = np.asarray(blocked).transpose(0, 2, 1, 3).reshape(18, 18)
        np.testing.assert_allclose(matrix, matrix.T, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("method", ["jacobian", "ntk_vp"])
def test_blocks_equal_one_shot_generic_model(method):
    init_fn, apply_fn = conv_net()
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 4, 4, 2))
    x1 = jax.random.normal(jax.random.PRNGKey(1), (5, 4, 4, 2))
    x2 = jax.random.normal(jax.random.PRNGKey(2), (3, 4, 4, 2))
    one_shot = kernels.entk(apply_fn, params, x1, x2, method=method)
    assert max_rel_err(kernels.entk(apply_fn, params, x1, x2, method=method, batch_size=2), one_shot) < 4e-15
    assert max_rel_err(kernels.pntk(apply_fn, params, x1, batch_size=3), kernels.pntk(apply_fn, params, x1)) < 4e-15


def test_default_picks_the_largest_block_under_the_budget():
    """A kernel whose one-shot computation does not fit the budget but whose blocks do is computed."""
    apply_fn, params = make_mlp((32, 32), 4, 5, b_std=0.1)
    x = make_inputs(40, 5)
    inputs = kernels.prepare(apply_fn, params, x)
    one_shot_bytes = kernels.estimate_memory(inputs, "structured")
    budget = one_shot_bytes - 1
    with pytest.raises(ValueError, match="memory budget"):  # one shot alone would be refused
        kernels.guard_memory(inputs, "structured", what="one shot", memory_budget=budget)
    rows = kernels.plan_batch_size(inputs, "structured", what="test", memory_budget=budget)
    assert rows is not None and 1 <= rows < 40
    largest = max(b for b in range(1, 40) if kernels.estimate_memory(inputs, "structured", batch_size=b) <= budget)
    blocks = -(-40 // largest)
    assert rows == -(-40 // blocks)  # the largest block, evened out over the same number of blocks
    assert kernels.estimate_memory(inputs, "structured", batch_size=rows) <= budget
    theta = kernels.entk(apply_fn, params, x, memory_budget=budget)
    assert max_rel_err(theta, kernels.entk(apply_fn, params, x)) < 4e-15
    k = kernels.pntk(apply_fn, params, x, memory_budget=kernels.estimate_memory(inputs, "structured", out_dim=1) - 1)
    assert max_rel_err(k, kernels.pntk(apply_fn, params, x)) < 4e-15


def test_one_shot_when_it_fits():
    apply_fn, params = make_mlp((8,), 2, 5)
    inputs = kernels.prepare(apply_fn, params, make_inputs(6, 5))
    assert kernels.plan_batch_size(inputs, "jacobian", what="test") is None
    assert kernels.plan_batch_size(inputs, "jacobian", what="test", batch_size=6) is None
    assert kernels.plan_batch_size(inputs, "jacobian", what="test", batch_size=2) == 2


def test_refused_when_even_one_row_does_not_fit():
    apply_fn, params = make_mlp((8,), 2, 5)
    x = make_inputs(6, 5)
    with pytest.raises(ValueError, match=r"one row of x1 it would still need.*batch_size="):
        kernels.entk(apply_fn, params, x, memory_budget=100)


def test_explicit_blocks_are_guarded_too():
    apply_fn, params = make_mlp((8,), 2, 5)
    x = make_inputs(6, 5)
    inputs = kernels.prepare(apply_fn, params, x)
    needed = kernels.estimate_memory(inputs, "jacobian", batch_size=2)
    assert needed < kernels.estimate_memory(inputs, "jacobian", batch_size=5)
    kernels.entk(apply_fn, params, x, method="jacobian", batch_size=2, memory_budget=needed)
    with pytest.raises(ValueError, match="memory budget"):
        kernels.entk(apply_fn, params, x, method="jacobian", batch_size=2, memory_budget=needed - 1)


def test_memory_guard_suggests_batch_size():
    with pytest.raises(ValueError, match=r"batch_size=.*memory_budget=") as info:
        memory.guard(10 * memory.GIB, what="a huge kernel", memory_budget=memory.GIB)
    assert "10.00 GiB" in str(info.value)


@pytest.mark.parametrize(
    "batch_size, err",
    [(0, ValueError), (-3, ValueError), (2.0, TypeError), (True, TypeError), ("2", TypeError),
     (np.float64(2), TypeError)],
)
@pytest.mark.parametrize("fn", [kernels.entk, kernels.pntk], ids=["entk", "pntk"])
def test_bad_batch_size_is_named(fn, batch_size, err):
    apply_fn, params = make_mlp((4,), 2, 3)
    with pytest.raises(err, match="batch_size"):
        fn(apply_fn, params, make_inputs(3, 3), batch_size=batch_size)


def test_numpy_integer_batch_size_is_fine():
    apply_fn, params = make_mlp((4,), 2, 3)
    x = make_inputs(5, 3)
    blocked = kernels.entk(apply_fn, params, x, batch_size=np.int64(2))
    assert max_rel_err(blocked, kernels.entk(apply_fn, params, x)) < 4e-15
