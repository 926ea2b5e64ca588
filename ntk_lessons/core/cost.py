"""What a kernel computation costs, as XLA compiles it: floating-point operations and peak memory.

Counting work is repeatable where wall-clock time is not (other processes, turbo clocks),
so lessons assert on these numbers and only *print* timings.
"""

from __future__ import annotations

from typing import Any, Callable

from . import kernels


def compiled_cost(jitted: Callable, *args) -> dict[str, float | int | None]:
    """XLA's own accounting for ``jitted(*args)`` (a ``jax.jit`` function), without running it.

    Returns ``{"flops": ..., "peak_bytes": ...}``: flops as counted by XLA's cost analysis
    (a loop body is counted once, so for programs with loops this is a lower bound), and
    arguments + output + temporaries from its memory analysis. None where the backend does
    not report a number. Cost: one compilation.
    """
    compiled = jitted.lower(*args).compile()
    flops = peak = None
    try:
        analysis = compiled.cost_analysis()
        analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
        flops = float(analysis["flops"]) if analysis and "flops" in analysis else None
    except Exception:  # optional in XLA backends
        pass
    try:
        m = compiled.memory_analysis()
        peak = int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes)
    except Exception:
        pass
    return {"flops": flops, "peak_bytes": peak}


def entk_cost(
    apply_fn: Callable, params: Any, x1: Any, x2: Any = None, *, method: str
) -> dict[str, float | int | None]:
    """:func:`compiled_cost` of ``kernels.entk(apply_fn, params, x1, x2, method=method)``.

    ``method``: "jacobian" or "structured" (loop-free programs, so the flop count is exact);
    "ntk_vp" reports peak memory and flops=None, because its loop over basis vectors is
    counted once by XLA. Cost: one compilation, no kernel is computed.
    """
    inputs = kernels.prepare(apply_fn, params, x1, x2)
    method = kernels.resolve_method(method, inputs.spec, ("jacobian", "ntk_vp", "structured"))
    fn, args = kernels.program(apply_fn, params, inputs, method)
    result = compiled_cost(fn, *args)
    return {**result, "flops": None} if method == "ntk_vp" else result
