"""How many bytes a kernel computation needs, and a guard that refuses oversized ones.

The full eNTK on N inputs with O outputs has (N O)^2 entries; the Jacobian route also
holds an (N O) x P Jacobian. Both grow fast enough to exhaust a laptop (or a Colab
runtime) in one innocent-looking call, so ``kernels.entk`` calls :func:`guard` *before*
allocating anything.

Budget: ``memory_budget`` argument if given, else the environment variable
``NTK_LESSONS_MEMORY_BUDGET_GB``, else half of this machine's physical memory.
"""

from __future__ import annotations

import os

from .structured import row_chunks

BUDGET_ENV_VAR = "NTK_LESSONS_MEMORY_BUDGET_GB"
GIB = 1024**3


def physical_memory_bytes() -> int:
    """Total physical memory of this machine (bytes); 8 GiB if it cannot be read."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


def default_budget_bytes() -> int:
    """The budget in force: ``$NTK_LESSONS_MEMORY_BUDGET_GB`` or half the physical memory."""
    raw = os.environ.get(BUDGET_ENV_VAR)
    if raw:
        try:
            gb = float(raw)
        except ValueError:
            raise ValueError(f"{BUDGET_ENV_VAR} must be a number of GiB, got {raw!r}") from None
        if gb <= 0:
            raise ValueError(f"{BUDGET_ENV_VAR} must be positive, got {raw!r}")
        return int(gb * GIB)
    return physical_memory_bytes() // 2


def estimate_bytes(
    method: str,
    *,
    n1: int,
    n2: int,
    out_dim: int,
    n_params: int,
    itemsize: int,
    same_inputs: bool,
    widths: tuple[int, ...] = (),
    vp_batch: int = 1,
) -> int:
    """Bytes of the output kernel plus the largest intermediates of one method.

    ``method``: "jacobian" (output + Jacobians, (n1 + n2) O P entries, or n1 O P when
    x2 is x1), "ntk_vp" (output + ``vp_batch`` gradient vectors and their tangents of
    P entries each, and the jvp's activations over x1), "structured" (output + the
    per-layer products of one row block of x1 (see ``structured.row_chunks``) + the
    backpropagated deltas (n1 + n2) O n_l per layer, twice + activations + input Grams),
    "pntk" (output n1 n2 + per-input gradients (n1 + n2) P). ``widths`` are the MLP's
    hidden widths (structured). Estimates are upper-bound style (they ignore buffer reuse)
    and cost O(len(widths)).
    """
    out = n1 * n2 * out_dim * out_dim
    n_rows = n1 if same_inputs else n1 + n2
    if method == "jacobian":
        entries = out + n_rows * out_dim * n_params
    elif method == "ntk_vp":
        entries = out + 3 * vp_batch * n_params + 2 * vp_batch * n1 * (out_dim + sum(widths))
    elif method == "structured":
        rows_per_block = -(-n1 // row_chunks(n1, len(widths)))
        block_products = (len(widths) + 2) * rows_per_block * n2 * out_dim * out_dim
        acts = sum(n_rows * w for w in widths) * 3
        deltas = 2 * sum(n_rows * out_dim * w for w in widths)
        entries = out + block_products + acts + deltas + (len(widths) + 1) * n1 * n2
    elif method == "pntk":
        entries = n1 * n2 + n_rows * n_params
    else:
        raise ValueError(f"method must be 'jacobian', 'ntk_vp', 'structured' or 'pntk', got {method!r}")
    return int(entries) * int(itemsize) + int(n_params) * int(itemsize)


def budget_bytes(memory_budget: int | float | None = None) -> int | float:
    """``memory_budget`` checked (a positive number of bytes), or the default budget when None."""
    if memory_budget is not None and (
        isinstance(memory_budget, bool) or not isinstance(memory_budget, (int, float)) or not memory_budget > 0
    ):
        raise ValueError(f"memory_budget must be a positive number of bytes (or None), got {memory_budget!r}")
    return default_budget_bytes() if memory_budget is None else memory_budget


def guard(needed: int, *, what: str, memory_budget: int | None = None) -> None:
    """Raise ValueError if ``needed`` bytes exceed the budget; does nothing otherwise."""
    budget = budget_bytes(memory_budget)
    if needed > budget:
        raise ValueError(
            f"{what} needs about {needed / GIB:.2f} GiB, over the memory budget of "
            f"{budget / GIB:.2f} GiB. Use kernels.pntk (O^2 times smaller), compute the kernel "
            f"in blocks of rows of x1 with batch_size=... (kernels.entk/pntk), use method='structured' "
            f"for an mlp, or raise the budget with memory_budget=... or ${BUDGET_ENV_VAR}."
        )
