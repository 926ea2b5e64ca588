r"""Lesson 05: what the eNTK and the pNTK cost as the number of inputs N and of outputs O grow.

Measured (:func:`cost_sweep` along N or along O): the wall time of each kernel
computation (median of repeats, after compilation and a warm-up run) and its peak memory
as XLA plans it (arguments + output + temporaries of the compiled program; deterministic,
so lessons assert on it and only print times). O is varied through the output layer of
an ``mlp``: the hidden layers, and their weights for a given seed, stay the same.

Fitted (:func:`fit_exponents`): log-log slopes of time and memory against N or O, beside
the leading-order exponents of :data:`THEORY` (fixed hidden widths n_l, P parameters).

Extrapolated (:func:`full_kernel_cost`, :func:`dataset_costs`): the memory of the full
kernel matrix, (N O)^2 vs N^2 entries, and the time of one Cholesky factorisation,
(N O)^3 / 3 vs N^3 / 3 flops at a measured flop rate, for datasets far beyond this machine.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Callable, Iterable, Sequence

import jax
import numpy as np

from ..analysis import loglog_slope
from ..core import checks, cost, kernels, memory, models
from ..core.progress import progress_bar as tqdm  # tqdm.auto, ending as one line in saved notebooks
from ..support import config, data, timing


@dataclasses.dataclass(frozen=True)
class Theory:
    """Leading-order cost of one (kernel, method) at fixed hidden widths n_l.

    ``time_formula``/``memory_formula``: the big-O terms (P parameters, B = kernels.VP_BATCH);
    ``exponents``: {"N": (time, memory), "O": (time, memory)}, the power of the leading term.
    P grows with O only through the readout (n_L O), which the exponents in O ignore.
    """

    time_formula: str
    memory_formula: str
    exponents: dict[str, tuple[int, int]]


THEORY: dict[tuple[str, str], Theory] = {
    ("entk", "structured"): Theory("N O P (O backward passes per input) + N^2 O^2 sum n_l",
                                   "N^2 O^2 + N O sum n_l", {"N": (2, 2), "O": (2, 2)}),
    ("entk", "jacobian"): Theory("N O P (O backward passes per input) + N^2 O^2 P",
                                 "N O P + N^2 O^2 (slope 1 while N O < P)", {"N": (2, 2), "O": (2, 2)}),
    ("entk", "ntk_vp"): Theory("N^2 O P (N O jvps over N inputs)", "N^2 O^2 + B (P + N sum n_l)",
                               {"N": (2, 2), "O": (1, 2)}),
    ("pntk", "structured"): Theory("N P + N^2 sum n_l (one backward pass per input)",
                                   "N^2 + N sum n_l (slope 1 while N < sum n_l)", {"N": (2, 2), "O": (0, 0)}),
    ("pntk", "jacobian"): Theory("N P + N^2 P (one backward pass per input)", "N P + N^2 (slope 1 while N < P)",
                                 {"N": (2, 2), "O": (0, 0)}),
}
KERNEL_METHOD_PAIRS: tuple[tuple[str, str], ...] = tuple(THEORY)
"""The five (kernel, method) pairs whose cost is measured, e.g. ("entk", "ntk_vp"): the keys of :data:`THEORY`."""

# (N training inputs, O classes)
DATASETS: dict[str, tuple[int, int]] = {"CIFAR-10": (50_000, 10), "ImageNet": (1_281_167, 1_000)}


@dataclasses.dataclass(frozen=True)
class CostRecord:
    """One measurement: ``kernel`` ("entk"/"pntk") by ``method`` on N inputs with O outputs
    took ``seconds`` (median wall time) and XLA planned ``peak_bytes`` (None if the backend
    does not say)."""

    kernel: str
    method: str
    N: int
    O: int
    seconds: float
    peak_bytes: int | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class ExponentFit:
    """Fitted log-log slopes of time and memory against ``along`` ("N" or "O") for one
    (kernel, method), beside :data:`THEORY`'s exponents and formulas."""

    kernel: str
    method: str
    along: str
    time_exponent: float
    memory_exponent: float | None
    theory_time: float
    theory_memory: float
    time_formula: str
    memory_formula: str


def measure_kernel_cost(apply_fn: Callable, params: Any, x: Any, *, kernel: str, method: str,
                        repeats: int = 3) -> CostRecord:
    """Time and peak memory of ``kernels.entk`` / ``kernels.pntk`` on x (N, ...) against itself.

    Args:
      apply_fn, params: the model (an mlp for method "structured").
      x: (N, ...) inputs; the kernel is (N, N, O, O) for "entk", (N, N) for "pntk".
      kernel: "entk" or "pntk"; method: "structured", "jacobian" or (entk only) "ntk_vp".
      repeats: timed runs after the warm-up (the median is reported).

    Returns:
      A :class:`CostRecord`. The compiled program behind ``kernels.entk``/``kernels.pntk``
      (``kernels.program``; the inputs validated by ``kernels.prepare``) is compiled once;
      XLA's memory plan of it is checked against the memory budget (``memory.guard``,
      ValueError before anything runs) and reported; then it is timed. Cost: one
      compilation plus 1 + ``repeats`` kernel computations.
    """
    kernel = checks.one_of(kernel, "kernel", ("entk", "pntk"))
    allowed = tuple(m for k, m in KERNEL_METHOD_PAIRS if k == kernel)
    method = checks.one_of(method, "method", allowed)
    repeats = checks.positive_int(repeats, "repeats")
    inputs = kernels.prepare(apply_fn, params, x)
    method = kernels.resolve_method(method, inputs.spec, allowed)
    fn, args = kernels.program(apply_fn, params, inputs, method, kernel=kernel)
    peak = cost.compiled_cost(fn, *args)["peak_bytes"]
    if peak is not None:
        memory.guard(peak, what=f"{kernel}(method={method!r}) on {inputs.x1.shape[0]} inputs with O={inputs.out_dim}")
    seconds = timing.median_seconds(lambda: fn(*args), repeats=repeats)
    return CostRecord(kernel, method, int(inputs.x1.shape[0]), int(inputs.out_dim), seconds, peak)


def _checked_pairs(methods: Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    if methods is None:
        return KERNEL_METHOD_PAIRS
    pairs = tuple(tuple(p) for p in methods)
    for pair in pairs:
        if pair not in KERNEL_METHOD_PAIRS:
            raise ValueError(f"methods must hold (kernel, method) pairs from {KERNEL_METHOD_PAIRS}; got {pair!r}")
    if not pairs:
        raise ValueError("methods is empty; pass at least one (kernel, method) pair")
    return pairs


def _sizes(values: Sequence[int], name: str) -> list[int]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of positive integers, got {values!r}")
    out = [checks.positive_int(v, f"{name}[{i}]") for i, v in enumerate(values)]
    if not out:
        raise ValueError(f"{name} is empty")
    return out


def _input_pool(x: Any, n_max: int, seed: int, dtype: str) -> np.ndarray:
    """The inputs the sweeps take their first N rows from: ``x`` or the bundled digits."""
    if x is None:
        if n_max > 1797:
            raise ValueError(f"the digits have 1,797 inputs; pass x with at least {n_max} rows")
        return data.digits_inputs(n_max, seed=seed, dtype=dtype)[0]
    x = np.asarray(checks.batch(x, "x"))
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, d) for an mlp, got {x.shape}")
    if x.shape[0] < n_max:
        raise ValueError(f"x has {x.shape[0]} rows but the sweep needs {n_max}")
    if x.dtype != np.dtype(dtype):
        raise TypeError(f"x has dtype {x.dtype} but dtype={dtype!r}; pass one dtype")
    return x


DEFAULT_SIZES = {"N": (16, 32, 64, 128), "O": (2, 5, 10, 20, 50)}


def cost_sweep(
    along: str,
    sizes: Sequence[int] | None = None,
    *,
    n: int = 16,
    out_dim: int = 10,
    hidden_widths: Sequence[int] = (128, 128),
    x: Any = None,
    methods: Iterable[tuple[str, str]] | None = None,
    repeats: int = 3,
    seed: int = 0,
    dtype: str = "float32",
    progress: bool = True,
) -> list[CostRecord]:
    """Cost of each (kernel, method) as N grows at fixed O (``along="N"``), or as O grows at
    fixed N (``along="O"``), for an mlp.

    Args:
      along: "N" or "O", the size that varies.
      sizes: its values (each >= 1); default ``DEFAULT_SIZES[along]``.
      n: the fixed N when along="O"; out_dim: the fixed O when along="N". O is changed
        through the output layer only (same hidden layers and weights for the seed), so
        no targets are needed.
      hidden_widths: the mlp's hidden widths (NTK parameterisation, ReLU, init seed ``seed``).
      x: (N_max, d) input pool in ``dtype`` whose first N rows are used, or None for the
        bundled digits (N_max <= 1797).
      methods: (kernel, method) pairs; default :data:`KERNEL_METHOD_PAIRS` (all five).
      repeats: timed runs per measurement; dtype: "float32" or "float64"; progress: tqdm bar.

    Returns:
      A list of :class:`CostRecord`, one per (size, kernel, method), sizes outermost.

    Cost: per size, one compilation and 1 + ``repeats`` runs of each method (see
    :data:`THEORY`); the memory guard refuses an oversized kernel before it runs. With the
    defaults each sweep takes about 10-15 s on 2 CPU cores (the Jacobian eNTK dominates).
    """
    along = checks.one_of(along, "along", ("N", "O"))
    sizes = _sizes(DEFAULT_SIZES[along] if sizes is None else sizes, "sizes")
    n = checks.positive_int(n, "n")
    out_dim = checks.positive_int(out_dim, "out_dim")
    grid = [(size, out_dim) if along == "N" else (n, size) for size in sizes]
    pairs = _checked_pairs(methods)
    widths = tuple(_sizes(hidden_widths, "hidden_widths"))
    repeats = checks.positive_int(repeats, "repeats")
    dtype = checks.one_of(dtype, "dtype", ("float32", "float64"))
    pool = _input_pool(x, max(size for size, _ in grid), seed, dtype)
    records = []
    models_by_o: dict[int, tuple] = {}
    jobs = [(size, o, k, m) for size, o in grid for k, m in pairs]
    for size, o, kernel, method in tqdm(jobs, desc=f"kernel cost vs {along}", disable=not progress):
        if o not in models_by_o:
            init_fn, apply_fn = models.mlp(widths, o)
            _, params = init_fn(config.key(seed), (-1, pool.shape[1]))
            models_by_o[o] = (apply_fn, jax.tree_util.tree_map(lambda a: a.astype(dtype), params))
        apply_fn, params = models_by_o[o]
        records.append(measure_kernel_cost(apply_fn, params, pool[:size], kernel=kernel, method=method,
                                           repeats=repeats))
    return records


def fit_exponents(records: Sequence[CostRecord], along: str) -> list[ExponentFit]:
    """Log-log slopes of seconds and peak bytes against ``along`` ("N" or "O"), per (kernel, method).

    Args:
      records: from ``cost_sweep(along, ...)`` with the same ``along``; within each
        (kernel, method) the other size must be fixed and ``along`` take two values or more.
    Returns:
      One :class:`ExponentFit` per (kernel, method), in first-seen order; memory_exponent
      is None if some peak is unknown. Cost O(len(records)).
    """
    along = checks.one_of(along, "along", ("N", "O"))
    other = "O" if along == "N" else "N"
    groups: dict[tuple[str, str], list[CostRecord]] = {}
    for r in records:
        if not isinstance(r, CostRecord):
            raise TypeError(f"records must be CostRecord objects, got {type(r).__name__}")
        groups.setdefault((r.kernel, r.method), []).append(r)
    if not groups:
        raise ValueError("records is empty")
    fits = []
    for (kernel, method), group in groups.items():
        if len({getattr(r, other) for r in group}) != 1:
            raise ValueError(f"records for {kernel}/{method} vary {other} as well as {along}; fit one sweep at a time")
        sizes = [getattr(r, along) for r in group]
        if len(set(sizes)) < 2:
            raise ValueError(
                f"records for {kernel}/{method} need at least two values of {along}, got {sorted(set(sizes))}"
            )
        peaks = [r.peak_bytes for r in group]
        theory = THEORY[(kernel, method)]
        theory_time, theory_memory = theory.exponents[along]
        fits.append(ExponentFit(
            kernel, method, along,
            time_exponent=loglog_slope(sizes, [r.seconds for r in group]),
            memory_exponent=None if None in peaks else loglog_slope(sizes, peaks),
            theory_time=theory_time, theory_memory=theory_memory,
            time_formula=theory.time_formula, memory_formula=theory.memory_formula,
        ))
    return fits


def format_fits(fits: Sequence[ExponentFit]) -> str:
    """Fitted exponents beside the theory's leading-order ones and formulas, one line per (kernel, method)
    and quantity: a measured slope below the theory's reads against the formula's lower-order terms."""
    lines = []
    for f in fits:
        if not isinstance(f, ExponentFit):
            raise TypeError(f"fits must be ExponentFit objects, got {type(f).__name__}")
        name = f"{'eNTK' if f.kernel == 'entk' else 'pNTK'} ({f.method}) vs {f.along}"
        memory = "?" if f.memory_exponent is None else f"{f.memory_exponent:5.2f}"
        lines.append(f"{name:<26} time {f.time_exponent:5.2f} (leading order {f.theory_time:g}; {f.time_formula})")
        lines.append(f"{'':<26} memory {memory} (leading order {f.theory_memory:g}; {f.memory_formula})")
    return "\n".join(lines)


def format_relative_costs(records: Sequence[CostRecord], reference: tuple[str, str] = ("entk", "structured")) -> str:
    """The records of one sweep as text: per size, each (kernel, method)'s time and peak memory, and
    both as multiples of ``reference``'s at the same size (the ratios side by side). Cost O(len(records))."""
    if not records:
        raise ValueError("records is empty")
    for r in records:
        if not isinstance(r, CostRecord):
            raise TypeError(f"records must be CostRecord objects, got {type(r).__name__}")
    by_size: dict[tuple[int, int], dict[tuple[str, str], CostRecord]] = {}
    for r in records:
        by_size.setdefault((r.N, r.O), {})[(r.kernel, r.method)] = r
    name = f"{reference[0]} ({reference[1]})"
    lines = [f"{'N':>5} {'O':>4}  {'kernel (method)':<18} {'time (ms)':>10} {'peak (MB)':>10}  "
             f"{'time / ' + name:>24} {'memory / ' + name:>26}"]
    for (n, o), group in by_size.items():
        ref = group.get(reference)
        if ref is None:
            raise ValueError(f"reference {reference} was not measured at N = {n}, O = {o}")
        for (kernel, method), r in group.items():
            peak = "?" if r.peak_bytes is None else f"{r.peak_bytes / 1e6:10.2f}"
            mem_ratio = "?" if None in (r.peak_bytes, ref.peak_bytes) else f"{r.peak_bytes / ref.peak_bytes:26.2f}"
            lines.append(f"{n:>5} {o:>4}  {kernel + ' (' + method + ')':<18} {r.seconds * 1e3:10.2f} {peak:>10}  "
                         f"{r.seconds / ref.seconds:24.2f} {mem_ratio:>26}")
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class FullKernelCost:
    """What the full kernels of a dataset with N inputs and O classes would cost.

    ``*_bytes``: {"float32": ..., "float64": ...}, the kernel matrix alone ((N O)^2 or N^2
    entries times the itemsize). ``*_solve_flops``: one Cholesky factorisation, M^3 / 3 for
    an M x M matrix. ``*_solve_seconds``: those flops at ``flops_per_second``.
    ``*_backward_passes``: per-input backward passes to build the kernel (N O vs N).
    """

    N: int
    O: int
    flops_per_second: float
    entk_bytes: dict[str, int]
    pntk_bytes: dict[str, int]
    entk_solve_flops: float
    pntk_solve_flops: float
    entk_solve_seconds: float
    pntk_solve_seconds: float
    entk_backward_passes: int
    pntk_backward_passes: int


def full_kernel_cost(n: int, out_dim: int, *, flops_per_second: float) -> FullKernelCost:
    """Memory and Cholesky time of the full eNTK ((N O) x (N O)) and the pNTK (N x N).

    Args:
      n: N, inputs; out_dim: O, outputs; flops_per_second: the machine's rate (> 0),
        e.g. from ``timing.cholesky_flop_rate()``.
    Returns:
      A :class:`FullKernelCost` (bytes exact as Python ints). Cost O(1).
    """
    n = checks.positive_int(n, "n")
    out_dim = checks.positive_int(out_dim, "out_dim")
    if isinstance(flops_per_second, bool) or not isinstance(flops_per_second, numbers.Real) or not flops_per_second > 0:
        raise ValueError(f"flops_per_second must be a positive number, got {flops_per_second!r}")
    rate = float(flops_per_second)
    sizes = {"float32": 4, "float64": 8}
    entk_flops, pntk_flops = (n * out_dim) ** 3 / 3, n**3 / 3
    return FullKernelCost(
        N=n, O=out_dim, flops_per_second=rate,
        entk_bytes={k: (n * out_dim) ** 2 * s for k, s in sizes.items()},
        pntk_bytes={k: n**2 * s for k, s in sizes.items()},
        entk_solve_flops=entk_flops, pntk_solve_flops=pntk_flops,
        entk_solve_seconds=entk_flops / rate, pntk_solve_seconds=pntk_flops / rate,
        entk_backward_passes=n * out_dim, pntk_backward_passes=n,
    )


def dataset_costs(flops_per_second: float | None = None,
                  datasets: dict[str, tuple[int, int]] | None = None) -> dict[str, FullKernelCost]:
    """:func:`full_kernel_cost` for each dataset (default :data:`DATASETS`: CIFAR-10 and ImageNet).

    ``flops_per_second``: None measures it with ``timing.cholesky_flop_rate()`` (float32;
    a float64 solve runs at about half that rate; well under a second). Returns {name: FullKernelCost}.
    Cost O(len(datasets)) after the measurement.
    """
    datasets = DATASETS if datasets is None else datasets
    if not isinstance(datasets, dict) or not datasets:
        raise TypeError("datasets must be a non-empty dict {name: (N, O)}")
    rate = timing.cholesky_flop_rate() if flops_per_second is None else flops_per_second
    return {name: full_kernel_cost(n, o, flops_per_second=rate) for name, (n, o) in datasets.items()}

