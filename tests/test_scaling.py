import dataclasses

import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import cost, memory
from ntk_lessons.lessons import scaling
from ntk_lessons.support import timing

from conftest import make_inputs, make_mlp

FIELDS = ["kernel", "method", "N", "O", "seconds", "peak_bytes"]


def test_sweep_over_n_gives_tidy_positive_records():
    x = np.asarray(make_inputs(8, 6, dtype=jnp.float32))
    records = scaling.cost_sweep("N", (4, 8), out_dim=3, hidden_widths=(8,), x=x, repeats=1, progress=False)
    assert len(records) == 2 * len(scaling.KERNEL_METHOD_PAIRS)
    assert [f.name for f in dataclasses.fields(scaling.CostRecord)] == FIELDS
    assert {(r.kernel, r.method) for r in records} == set(scaling.KERNEL_METHOD_PAIRS)
    for r in records:
        assert r.N in (4, 8) and r.O == 3 and r.seconds > 0 and r.peak_bytes > 0
        assert list(r.as_dict()) == FIELDS
    # the eNTK's peak holds at least its (N O)^2 float32 output, the pNTK's its N^2 output
    for r in records:
        assert r.peak_bytes >= 4 * (r.N * (r.O if r.kernel == "entk" else 1)) ** 2
    # the same XLA plan as the cost module reports (the compilation is cached, so this is cheap)
    apply_fn, params = make_mlp((8,), 3, 6, dtype=jnp.float32)
    for r in records:
        if r.kernel == "entk":
            assert r.peak_bytes == cost.entk_cost(apply_fn, params, x[: r.N], method=r.method)["peak_bytes"]
    fits = scaling.fit_exponents(records, "N")
    assert [(f.kernel, f.method) for f in fits] == list(scaling.KERNEL_METHOD_PAIRS)
    assert all(np.isfinite(f.time_exponent) and np.isfinite(f.memory_exponent) for f in fits)


def test_entk_memory_grows_much_faster_in_o_than_the_pntk():
    methods = [("entk", "structured"), ("pntk", "structured")]
    records = scaling.cost_sweep("O", (4, 16, 64), n=16, hidden_widths=(32,), methods=methods, repeats=1,
                                      dtype="float32", progress=False)
    fits = {(f.kernel, f.method): f for f in scaling.fit_exponents(records, "O")}
    entk = fits["entk", "structured"].memory_exponent
    pntk = fits["pntk", "structured"].memory_exponent
    assert pntk < 0.3 and entk > pntk + 1.0, (entk, pntk)
    assert fits["entk", "structured"].theory_memory - fits["pntk", "structured"].theory_memory == 2


def test_fit_exponents_recovers_known_power_laws_and_validates():
    records = [scaling.CostRecord("entk", "structured", n, 10, 1e-3 * n**2, 100 * n**1.5) for n in (10, 20, 40)]
    (fit,) = scaling.fit_exponents(records, "N")
    assert fit.time_exponent == pytest.approx(2.0) and fit.memory_exponent == pytest.approx(1.5)
    assert (fit.theory_time, fit.theory_memory) == (2, 2) and "N^2 O^2" in fit.memory_formula
    with pytest.raises(ValueError, match="vary O"):
        scaling.fit_exponents(records + [scaling.CostRecord("entk", "structured", 80, 5, 1.0, 1)], "N")
    with pytest.raises(ValueError, match="two values of N"):
        scaling.fit_exponents(records[:1] * 2, "N")
    with pytest.raises(ValueError, match="along"):
        scaling.fit_exponents(records, "width")
    with pytest.raises(ValueError, match="empty"):
        scaling.fit_exponents([], "N")


def test_full_kernel_cost_arithmetic():
    est = scaling.full_kernel_cost(50_000, 10, flops_per_second=1e10)
    assert est.entk_bytes == {"float32": (500_000) ** 2 * 4, "float64": (500_000) ** 2 * 8}
    assert est.entk_bytes["float32"] == 10**12 and est.pntk_bytes["float64"] == 50_000**2 * 8
    assert est.entk_solve_flops == pytest.approx(500_000**3 / 3, rel=1e-15)
    assert est.pntk_solve_flops == pytest.approx(50_000**3 / 3, rel=1e-15)
    assert est.entk_solve_seconds == pytest.approx(est.entk_solve_flops / 1e10, rel=1e-15)
    assert est.entk_solve_seconds / est.pntk_solve_seconds == pytest.approx(1000.0)
    assert (est.entk_backward_passes, est.pntk_backward_passes) == (500_000, 50_000)
    costs = scaling.dataset_costs(flops_per_second=2e9)
    imagenet = costs["ImageNet"]
    assert (imagenet.N, imagenet.O) == (1_281_167, 1_000)
    assert imagenet.entk_bytes["float32"] == (1_281_167_000) ** 2 * 4
    assert imagenet.entk_bytes["float32"] // imagenet.pntk_bytes["float32"] == 1_000**2
    assert set(costs) == {"CIFAR-10", "ImageNet"}


def test_flop_rate_is_measured():
    rate = timing.cholesky_flop_rate(64, repeats=1)
    assert rate > 1e6
    with pytest.raises(ValueError, match="size"):
        timing.cholesky_flop_rate(1)
    with pytest.raises(ValueError, match="dtype"):
        timing.cholesky_flop_rate(8, dtype="float16")


def test_validation_errors(monkeypatch):
    apply_fn, params = make_mlp((8,), 3, 6, dtype=jnp.float32)
    x = make_inputs(4, 6, dtype=jnp.float32)
    with pytest.raises(ValueError, match="kernel"):
        scaling.measure_kernel_cost(apply_fn, params, x, kernel="nngp", method="structured")
    with pytest.raises(ValueError, match="method"):
        scaling.measure_kernel_cost(apply_fn, params, x, kernel="pntk", method="ntk_vp")
    with pytest.raises(ValueError, match="along"):
        scaling.cost_sweep("width", (4,), progress=False)
    with pytest.raises(ValueError, match="methods"):
        scaling.cost_sweep("N", (4,), methods=[("pntk", "ntk_vp")], progress=False)
    with pytest.raises(ValueError, match=r"sizes\[1\]"):
        scaling.cost_sweep("N", (4, 0), progress=False)
    with pytest.raises(ValueError, match="out_dim"):
        scaling.cost_sweep("N", (4,), out_dim=0, progress=False)
    with pytest.raises(TypeError, match="dtype"):
        scaling.cost_sweep("N", (4,), x=np.ones((4, 6)), progress=False)
    with pytest.raises(ValueError, match="rows"):
        scaling.cost_sweep("O", (2, 3), n=10, x=np.ones((4, 6), dtype=np.float32), progress=False)
    with pytest.raises(ValueError, match="1,797"):
        scaling.cost_sweep("N", (2000,), progress=False)
    with pytest.raises(ValueError, match="flops_per_second"):
        scaling.full_kernel_cost(10, 2, flops_per_second=0)
    with pytest.raises(ValueError, match="out_dim"):
        scaling.full_kernel_cost(10, 0, flops_per_second=1.0)
    monkeypatch.setenv(memory.BUDGET_ENV_VAR, "1e-6")  # ~1 kB: refused before the kernel runs
    with pytest.raises(ValueError, match="memory budget"):
        scaling.measure_kernel_cost(apply_fn, params, x, kernel="entk", method="jacobian")


def test_format_relative_costs_puts_each_method_beside_the_reference():
    records = [scaling.CostRecord("entk", "structured", 10, 3, 0.002, 1000),
               scaling.CostRecord("entk", "jacobian", 10, 3, 0.02, 50_000),
               scaling.CostRecord("pntk", "structured", 10, 3, 0.001, None)]
    lines = scaling.format_relative_costs(records).splitlines()
    assert len(lines) == 4 and "time / entk (structured)" in lines[0]
    jacobian = lines[2].split()
    assert jacobian[2:4] == ["entk", "(jacobian)"] and jacobian[-2:] == ["10.00", "50.00"]
    assert lines[3].split()[-1] == "?"
    with pytest.raises(ValueError, match="reference"):
        scaling.format_relative_costs(records[1:])
    with pytest.raises(ValueError, match="empty"):
        scaling.format_relative_costs([])
    with pytest.raises(TypeError, match="CostRecord"):
        scaling.format_relative_costs([{"kernel": "entk"}])


def test_format_fits_shows_measured_beside_leading_order_and_formula():
    records = [scaling.CostRecord("pntk", "structured", n, 10, 1e-3 * n, 1000 * n) for n in (10, 20, 40)]
    text = scaling.format_fits(scaling.fit_exponents(records, "N"))
    time_line, memory_line = text.splitlines()
    assert "pNTK (structured) vs N" in time_line and "time  1.00 (leading order 2;" in time_line
    assert "memory  1.00 (leading order 2; N^2 + N sum n_l" in memory_line
    with pytest.raises(TypeError, match="ExponentFit"):
        scaling.format_fits([records[0]])
