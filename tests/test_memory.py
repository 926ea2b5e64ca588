import jax
import numpy as np
import pytest

from ntk_lessons.core import kernels, memory

from conftest import make_inputs, make_mlp


def test_guard_refuses_before_allocating():
    apply_fn, params = make_mlp((32, 32), 10, 5)
    x = make_inputs(50, 5)
    before = len(jax.live_arrays())
    for method in ("jacobian", "ntk_vp", "structured"):
        with pytest.raises(ValueError, match=r"GiB.*pntk"):
            kernels.entk(apply_fn, params, x, method=method, memory_budget=1000)
    with pytest.raises(ValueError, match="pntk"):
        kernels.pntk(apply_fn, params, x, memory_budget=1000)
    assert len(jax.live_arrays()) <= before + 1  # the validated copy of x at most


def test_refusal_message_gives_the_estimate():
    apply_fn, params = make_mlp((8,), 4, 5)
    x = make_inputs(3, 5)
    n_params = sum(a.size for a in jax.tree_util.tree_leaves(params))
    needed = memory.estimate_bytes("jacobian", n1=3, n2=3, out_dim=4, n_params=n_params, itemsize=8, same_inputs=True)
    with pytest.raises(ValueError) as info:
        kernels.entk(apply_fn, params, x, method="jacobian", memory_budget=needed - 1)
    assert f"{needed / memory.GIB:.2f} GiB" in str(info.value)
    kernels.entk(apply_fn, params, x, method="jacobian", memory_budget=needed)  # exactly at budget: allowed


def test_estimates_order_methods_as_expected():
    common = dict(n1=100, n2=100, out_dim=10, n_params=1_125_000, itemsize=4, same_inputs=True, widths=(1024, 1024))
    jac, vp, st = (memory.estimate_bytes(m, **common) for m in ("jacobian", "ntk_vp", "structured"))
    out = 100 * 100 * 10 * 10 * 4
    assert jac > 100 * vp and jac > 100 * st
    assert out < st < 10 * out + common["n_params"] * 4 * 2


def test_budget_from_environment(monkeypatch):
    monkeypatch.setenv(memory.BUDGET_ENV_VAR, "0.5")
    assert memory.default_budget_bytes() == memory.GIB // 2
    monkeypatch.setenv(memory.BUDGET_ENV_VAR, "lots")
    with pytest.raises(ValueError, match=memory.BUDGET_ENV_VAR):
        memory.default_budget_bytes()
    monkeypatch.delenv(memory.BUDGET_ENV_VAR)
    assert memory.default_budget_bytes() == memory.physical_memory_bytes() // 2


def test_huge_request_is_refused_by_default_budget():
    apply_fn, params = make_mlp((4096, 4096), 10, 5)
    x = np.ones((3000, 5))
    with pytest.raises(ValueError, match="memory budget"):
        kernels.entk(apply_fn, params, x, method="jacobian")
