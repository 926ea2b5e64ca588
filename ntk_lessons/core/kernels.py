r"""The empirical NTK and the sum-of-logits kernel (pNTK).

For a network f(x; theta) in R^O with Jacobian J(x) = d f(x) / d theta in R^{O x P}:

* ``entk``: Theta(x, x') = J(x) J(x')^T, returned for batches as (N1, N2, O, O) --
  ``theta[n, m, j, k] = <d f_j(x1[n]), d f_k(x2[m])>``, the layout of
  ``neural_tangents.empirical_ntk_fn(f, trace_axes=())``.
* ``pntk``: <grad sum_j f_j(x) / sqrt(O), grad sum_k f_k(x') / sqrt(O)>, shape (N1, N2);
  equal to ``entk(...).sum((2, 3)) / O``. One backward pass per input instead of O
  (both of its methods backpropagate the single summed output).

Methods for ``entk``:
  "jacobian"    materialise J for both batches (``jax.jacrev`` of each batch: one loop-free
                program, so ``cost`` counts it exactly) and contract leaf by leaf.
                Memory O((N1 + N2) O P), time O(N1 N2 O^2 P) for the contraction, plus
                N O backward passes *through the whole batch* for each Jacobian: N^2 O
                single-input passes' worth, which dominates for a conv net (each
                weight is reused at every position). ``flat_jacobian`` goes one input
                at a time instead.
  "ntk_vp"      NTK-vector products: for each of the N2 O basis vectors e, one vjp on a
                single input of x2 then one jvp on x1 gives a column Theta e. No
                Jacobian; memory O(N1 N2 O^2 + B (P + N1 sum_l n_l)) for B = VP_BATCH
                vectors at a time; time O(N1 N2 O P) (N2 O jvps over N1 inputs).
  "structured"  ``mlp`` networks only: per-layer Hadamard products of Gram matrices
                (see ``structured``); by far the cheapest.
  "auto"        "structured" when ``apply_fn`` comes from ``models.mlp``, else "jacobian".

All inputs are validated (see ``checks``) and a memory guard (see ``memory``) refuses
computations above the budget before anything is allocated. A kernel whose one-shot
computation would not fit is computed in blocks of rows of x1 (``batch_size=``, chosen
automatically when needed; see :func:`plan_batch_size`).

Precision: the inputs decide it. Params whose floating dtype differs from x1's are cast
(a copy; the caller's params are untouched) to x1's dtype, so float32 inputs give a float32
kernel and float64 inputs (after ``config.enable_float64()``) a float64 kernel.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
from jax import lax

from . import checks, memory, models, structured

METHODS = ("auto", "jacobian", "ntk_vp", "structured")
VP_BATCH = 8  # basis vectors pushed through one vjp/jvp at a time by "ntk_vp"


class KernelInputs(NamedTuple):
    """Validated arguments of a kernel computation (see :func:`prepare`).

    ``x1`` (N1, ...); ``x2`` (N2, ...) or None when the caller passed x2 = x1 (one backward
    pass then serves both sides); ``out_dim`` O; ``spec`` the ``models.MLPSpec`` of an mlp
    or None for any other model; ``n_params`` P; ``params`` the validated params in x1's
    dtype (the caller's object itself when it already had that dtype, else a cast copy).
    """

    x1: jax.Array
    x2: jax.Array | None
    out_dim: int
    spec: models.MLPSpec | None
    n_params: int
    params: Any

    @property
    def n2(self) -> int:
        return self.x1.shape[0] if self.x2 is None else self.x2.shape[0]


def params_in_dtype(params: Any, dtype: Any) -> Any:
    """``params`` with every array leaf in ``dtype``: the same object if all already are, else a cast copy.

    The caller's arrays are never modified (``astype`` copies). Cost O(P) when a cast is needed.
    """
    dtype = jnp.dtype(dtype)
    leaves = jax.tree_util.tree_leaves(params)
    if all(leaf.dtype == dtype for leaf in leaves):
        return params
    return jax.tree_util.tree_map(lambda leaf: leaf if leaf.dtype == dtype else jnp.asarray(leaf).astype(dtype), params)


def prepare(apply_fn: Callable, params: Any, x1: Any, x2: Any = None) -> KernelInputs:
    """Validate the arguments every kernel function takes; the one place that does so.

    Checks that ``apply_fn`` is callable, ``params`` is a finite floating pytree (for an
    mlp: the layout its init_fn makes), ``x1``/``x2`` are finite floating non-empty batches
    of the same per-example shape and dtype, and the model maps them to (N, O) logits.
    Params of another floating dtype than x1 are cast to x1's dtype (a copy, in
    ``KernelInputs.params``): the inputs decide the precision of the computation.
    Raises TypeError/ValueError naming the argument; nothing is modified.
    Cost: one pass over params and inputs (finiteness), no FLOPs of the model.
    """
    if not callable(apply_fn):
        raise TypeError(f"apply_fn must be callable as apply_fn(params, x), got {type(apply_fn).__name__}")
    params = checks.params_tree(params)
    same = x2 is None or x2 is x1  # the caller's objects: the same batch twice needs one pass
    x1 = checks.batch(x1, "x1")
    x2 = None if same else checks.second_batch(x2, x1, "x2")
    params = params_in_dtype(params, x1.dtype)
    spec = models.spec_of(apply_fn)
    if spec is not None:  # an mlp: its shapes are known without tracing the model
        layers = models.check_params(spec, params)
        if x1.ndim != 2 or x1.shape[1] != layers[0][0].shape[0]:
            raise ValueError(
                f"x1 has shape {tuple(x1.shape)} but this mlp takes inputs of shape (N, {layers[0][0].shape[0]})"
            )
        out_dim = spec.out_dim
    else:
        out_dim = checks.output_shape(apply_fn, params, x1, "x1")[1]
    return KernelInputs(x1, x2, out_dim, spec, models.parameter_count(params), params)


def resolve_method(method: str, spec: models.MLPSpec | None, choices: tuple[str, ...] = METHODS) -> str:
    """Check ``method`` against ``choices``; "auto" -> "structured" for an mlp, else "jacobian".

    ValueError for an unknown name, or for "structured" on a model that is not an mlp.
    """
    method = checks.one_of(method, "method", choices)
    if method == "auto":
        return "structured" if spec is not None else "jacobian"
    if method == "structured" and spec is None:
        raise ValueError(
            "method='structured' needs a model built by ntk_lessons.core.models.mlp; "
            "use method='jacobian' (or 'ntk_vp' for entk) for other models"
        )
    return method


def estimate_memory(
    inputs: KernelInputs, method: str, *, out_dim: int | None = None, batch_size: int | None = None
) -> int:
    """Bytes ``method`` needs on ``inputs`` (see ``memory.estimate_bytes``), one shot or in blocks.

    ``method``: "jacobian", "ntk_vp", "structured" or "pntk"; ``out_dim``: the number of
    outputs the method differentiates (default: the model's O; 1 for a kernel of one
    projected output). ``batch_size`` B < N1: blocks of B rows of x1 against all of x2
    (x2 = x1 when it is None), i.e. one block's needs plus the assembled (N1, N2, O, O)
    output. Cost O(depth).
    """
    o = inputs.out_dim if out_dim is None else out_dim
    n1, n2 = inputs.x1.shape[0], inputs.n2
    blocked = batch_size is not None and batch_size < n1
    itemsize = inputs.x1.dtype.itemsize
    needed = memory.estimate_bytes(
        method,
        n1=batch_size if blocked else n1,
        n2=n2,
        out_dim=o,
        n_params=inputs.n_params,
        itemsize=itemsize,
        same_inputs=inputs.x2 is None and not blocked,
        widths=inputs.spec.hidden_widths if inputs.spec is not None else (),
        vp_batch=VP_BATCH,
    )
    return needed + (n1 * n2 * o * o * itemsize if blocked else 0)


def guard_memory(
    inputs: KernelInputs,
    method: str,
    *,
    what: str,
    out_dim: int | None = None,
    memory_budget: int | None = None,
    batch_size: int | None = None,
) -> None:
    """Estimate the bytes ``method`` needs on ``inputs`` and refuse (ValueError) above the budget.

    Arguments as in :func:`estimate_memory`. The one call every kernel function makes
    before allocating anything. Cost O(depth).
    """
    needed = estimate_memory(inputs, method, out_dim=out_dim, batch_size=batch_size)
    memory.guard(needed, what=what, memory_budget=memory_budget)


def plan_batch_size(
    inputs: KernelInputs,
    method: str,
    *,
    what: str,
    out_dim: int | None = None,
    memory_budget: int | None = None,
    batch_size: int | None = None,
) -> int | None:
    """Rows of x1 per block for a kernel computation, or None for one shot; guards memory.

    ``batch_size``: None (default) computes in one shot when the estimate fits the budget;
    when it does not but blocks would, it picks the largest block B under the budget and
    then evens the blocks out (the same number of blocks, ceil(N1 / B) of them, with
    ceil(N1 / blocks) rows each). An int >= 1 is used as given (values >= N1 mean one shot).
    Raises TypeError/ValueError for a batch_size that is not a positive int, and the
    memory guard's ValueError when even the chosen blocks do not fit. Cost O(depth log N1).
    """
    n1 = inputs.x1.shape[0]
    if batch_size is not None:
        batch_size = checks.positive_int(batch_size, "batch_size")
        batch_size = None if batch_size >= n1 else batch_size
    elif n1 > 1:
        budget = memory.budget_bytes(memory_budget)
        if estimate_memory(inputs, method, out_dim=out_dim) > budget:
            single_row = estimate_memory(inputs, method, out_dim=out_dim, batch_size=1)
            if single_row > budget:
                what += f" (in blocks of one row of x1 it would still need {single_row / memory.GIB:.2f} GiB)"
            else:  # the estimate grows with B: bisect for the largest block that fits
                low, high = 1, n1 - 1
                while low < high:
                    mid = (low + high + 1) // 2
                    if estimate_memory(inputs, method, out_dim=out_dim, batch_size=mid) <= budget:
                        low = mid
                    else:
                        high = mid - 1
                blocks = -(-n1 // low)
                batch_size = -(-n1 // blocks)
    guard_memory(inputs, method, what=what, out_dim=out_dim, memory_budget=memory_budget, batch_size=batch_size)
    return batch_size


def program(apply_fn: Callable, params: Any, inputs: KernelInputs, method: str, *, kernel: str = "entk"):
    """The compiled function and its arguments that compute ``kernel`` by ``method``.

    Returns ``(jitted_fn, args)`` with ``jitted_fn(*args)`` the kernel: for ``cost`` and
    ``benchmark``, which time or inspect the compiled program (``jitted_fn.lower(*args)``).
    ``kernel``: "entk" ((N1, N2, O, O); methods "jacobian", "ntk_vp", "structured") or
    "pntk" ((N1, N2); methods "jacobian", "structured"). ``method`` must be resolved
    (not "auto"). ``params`` are cast to the inputs' dtype like :func:`prepare` does. No
    validation or memory guard: call :func:`prepare` and :func:`guard_memory` first.
    """
    x1, x2, spec = inputs.x1, inputs.x2, inputs.spec
    params = params_in_dtype(params, x1.dtype)
    if kernel == "entk":
        if method == "structured":
            return structured.entk_unchecked, (spec, params, x1, x2)
        if method == "jacobian":
            return _entk_jacobian, (apply_fn, params, x1, x2, False)
        if method == "ntk_vp":
            return _entk_ntk_vp, (apply_fn, params, x1, x1 if x2 is None else x2)
    elif kernel == "pntk":
        if method == "structured":
            return structured.pntk_unchecked, (spec, params, x1, x2)
        if method == "jacobian":
            return _pntk_jacobian, (apply_fn, params, x1, x2)
    raise ValueError(f"no {kernel!r} program for method {method!r}")


def run_program(apply_fn: Callable, inputs: KernelInputs, method: str, *, kernel: str = "entk",
                batch_size: int | None = None) -> jax.Array:
    """Run :func:`program` on ``inputs``, in one shot or in blocks of ``batch_size`` rows of x1.

    Blocks: rows ``x1[s:s+B]`` against all of x2 (all of x1 when x2 is None), written in
    place into the (N1, N2, ...) result; every block has B rows (the last one ends at N1
    and recomputes a few rows of its predecessor), so the program compiles once. Memory:
    the result + one block's intermediates; time: the one-shot cost plus one backward
    pass over x2 per block. No validation: use :func:`prepare` and :func:`plan_batch_size`.
    """
    if batch_size is None or batch_size >= inputs.x1.shape[0]:
        fn, args = program(apply_fn, inputs.params, inputs, method, kernel=kernel)
        return fn(*args)
    x1 = inputs.x1
    x2 = x1 if inputs.x2 is None else inputs.x2
    n1 = x1.shape[0]
    starts = [min(start, n1 - batch_size) for start in range(0, n1, batch_size)]
    result = None
    for start in starts:
        block_inputs = inputs._replace(x1=lax.slice_in_dim(x1, start, start + batch_size), x2=x2)
        fn, args = program(apply_fn, inputs.params, block_inputs, method, kernel=kernel)
        block = fn(*args)
        if result is None:
            result = jnp.zeros((n1, *block.shape[1:]), block.dtype)
        result = _write_rows(result, block, start)
        del block
    return result


@functools.partial(jax.jit, donate_argnums=0)
def _write_rows(result: jax.Array, block: jax.Array, start) -> jax.Array:
    """``result[start:start + len(block)] = block``, in place (``result`` is donated)."""
    return lax.dynamic_update_slice_in_dim(result, block, start, axis=0)


def entk(
    apply_fn: Callable,
    params: Any,
    x1: Any,
    x2: Any = None,
    *,
    method: str = "auto",
    memory_budget: int | None = None,
    batch_size: int | None = None,
) -> jax.Array:
    """Full empirical NTK, shape (N1, N2, O, O).

    Args:
      apply_fn: ``apply_fn(params, x) -> (N, O)`` (any stax-style model).
      params: its parameter pytree (cast to x1's dtype if it has another floating dtype).
      x1: inputs (N1, ...), floating, finite, non-empty.
      x2: inputs (N2, ...) with the same per-example shape, or None for x2 = x1.
      method: "auto" (default), "jacobian", "ntk_vp" or "structured" (module docstring).
      memory_budget: bytes this call may use; default ``memory.default_budget_bytes()``.
      batch_size: rows of x1 per block (an int >= 1), or None: one shot if it fits the
        budget, else the largest block that fits (blocks then evened out; see
        :func:`plan_batch_size`). Blocks give the same kernel to rounding.

    Returns:
      ``theta`` with ``theta[n, m, j, k] = d f_j(x1[n]) . d f_k(x2[m])`` in x1's dtype.

    Cost: see the module docstring; "structured" is O(N^2 O^2 sum_l n_l) for an mlp. In
    blocks, the backward pass over x2 is repeated once per block.
    """
    inputs = prepare(apply_fn, params, x1, x2)
    method = resolve_method(method, inputs.spec)
    what = f"entk(method={method!r}) on {inputs.x1.shape[0]} x {inputs.n2} inputs with O={inputs.out_dim}"
    rows = plan_batch_size(inputs, method, what=what, memory_budget=memory_budget, batch_size=batch_size)
    return run_program(apply_fn, inputs, method, batch_size=rows)


def pntk(
    apply_fn: Callable,
    params: Any,
    x1: Any,
    x2: Any = None,
    *,
    method: str = "auto",
    memory_budget: int | None = None,
    batch_size: int | None = None,
) -> jax.Array:
    """Sum-of-logits kernel (Mohamadi, Bae & Sutherland 2023), shape (N1, N2).

    ``pntk[n, m] = <grad_theta sum_j f_j(x1[n]) / sqrt(O), grad_theta sum_k f_k(x2[m]) / sqrt(O)>``
    ``= entk[n, m].sum() / O``: the eNTK approximated as ``pntk ⊗ I_O``.

    Args as in :func:`entk` (``batch_size`` included); ``method`` is "auto", "jacobian"
    (per-input gradients of the summed logit: one backward pass per input, memory
    O((N1 + N2) P), time O(N1 N2 P)) or "structured" (mlp only: one backward pass per
    input, then O(N1 N2 sum_l n_l) for the Grams; memory O(N1 N2 + N sum_l n_l)).
    """
    inputs = prepare(apply_fn, params, x1, x2)
    method = resolve_method(method, inputs.spec, ("auto", "jacobian", "structured"))
    rows = plan_batch_size(inputs, "structured" if method == "structured" else "pntk", out_dim=1,
                           memory_budget=memory_budget, batch_size=batch_size,
                           what=f"pntk on {inputs.x1.shape[0]} x {inputs.n2} inputs")
    return run_program(apply_fn, inputs, method, kernel="pntk", batch_size=rows)


def flat_jacobian(apply_fn: Callable, params: Any, x: Any) -> jax.Array:
    """J(x) with all parameters flattened into one axis: (N, O, P). Memory O(N O P).

    For teaching (Theta = J J^T by hand) and for any model whose batch Jacobian is costly:
    it goes one input at a time (:func:`per_input_jacobian`), N O single-input backward
    passes. ``entk`` never needs J flattened.
    """
    inputs = prepare(apply_fn, params, x, None)
    guard_memory(inputs, "jacobian", what="flat_jacobian")
    flat, unravel = jax.flatten_util.ravel_pytree(inputs.params)
    return per_input_jacobian(lambda v, x: apply_fn(unravel(v), x), flat, inputs.x1)


def per_input_jacobian(fn: Callable, params: Any, x: jax.Array) -> Any:
    """d fn(params, x[n]) / d params for each input separately: leaves (N, O, *leaf.shape).

    Unchecked (``flat_jacobian`` validates); ``fn(params, x)`` maps a batch (B, ...) to (B, O).

    The inputs are taken one after another (``lax.map``): N O single-input backward passes.
    ``jax.jacrev`` of the whole batch would push each of the N O output directions through all
    N inputs (N^2 O passes' worth of work and activation memory), and ``jax.vmap`` over the
    inputs turns a convolution's weight gradient into a grouped convolution that XLA runs
    slowly on CPU; for lesson 05's conv net on 100 + 200 digits the three took about 1 s, 448 s
    and 192 s.
    """
    def one(x_n):
        return jax.jacrev(lambda p: fn(p, x_n[None])[0])(params)

    return lax.map(one, x)


@functools.partial(jax.jit, static_argnums=(0,))
def _pntk_jacobian(apply_fn, params, x1, x2):
    return _entk_jacobian(apply_fn, params, x1, x2, True)[:, :, 0, 0]


def _summed(apply_fn: Callable, params: Any, x: jax.Array) -> jax.Array:
    """The pNTK's scalar output sum_j f_j(x) / sqrt(O), kept as shape (N, 1)."""
    f = apply_fn(params, x)
    return f.sum(axis=1, keepdims=True) / math.sqrt(f.shape[1])


@functools.partial(jax.jit, static_argnums=(0, 4))
def _entk_jacobian(apply_fn, params, x1, x2, sum_logits):
    fn = functools.partial(_summed, apply_fn) if sum_logits else apply_fn
    j1 = jax.jacrev(fn)(params, x1)  # leaves (N1, O, *leaf.shape)
    j2 = j1 if x2 is None else jax.jacrev(fn)(params, x2)
    n1 = x1.shape[0]

    def contract(a, b):
        a = a.reshape(a.shape[0] * a.shape[1], -1)
        b = b.reshape(b.shape[0] * b.shape[1], -1)
        return a @ b.T

    blocks = jax.tree_util.tree_leaves(jax.tree_util.tree_map(contract, j1, j2))
    mat = functools.reduce(jnp.add, blocks)  # (N1 O, N2 O), sample-major
    n2 = n1 if x2 is None else x2.shape[0]
    o = mat.shape[0] // n1
    return mat.reshape(n1, o, n2, o).transpose(0, 2, 1, 3)


@functools.partial(jax.jit, static_argnums=(0,))
def _entk_ntk_vp(apply_fn, params, x1, x2):
    n2 = x2.shape[0]
    o = jax.eval_shape(apply_fn, params, x1).shape[1]
    dtype = x1.dtype

    def column(index):
        # One basis vector e_(m, k) of the output space of x2:  Theta(x1, x2) e = J(x1) J(x2_m)^T e_k.
        m, k = index // o, index % o
        xm = lax.dynamic_slice_in_dim(x2, m, 1, axis=0)
        _, vjp = jax.vjp(lambda p: apply_fn(p, xm), params)
        (grad,) = vjp(jax.nn.one_hot(k, o, dtype=dtype)[None, :])
        _, tangent = jax.jvp(lambda p: apply_fn(p, x1), (params,), (grad,))
        return tangent  # (N1, O) = theta[:, m, :, k]

    cols = lax.map(column, jnp.arange(n2 * o), batch_size=min(VP_BATCH, n2 * o))  # (N2 O, N1, O)
    return cols.reshape(n2, o, x1.shape[0], o).transpose(2, 0, 3, 1)
