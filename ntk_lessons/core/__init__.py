"""ntk_lessons.core: the lesson-agnostic maths -- typed, documented with shapes and costs, tested on current jax.

Holds
    checks          input validation shared by every layer (TypeError / ValueError naming the argument)
    models          MLPs in NTK or standard parameterisation as stax-style ``(init_fn, apply_fn)`` pairs,
                    bit for bit ``neural_tangents.stax``
    kernels         ``entk`` (the full (N1, N2, O, O) empirical NTK) and ``pntk`` (sum of logits); the one
                    internal contract (``prepare``, ``resolve_method``, ``guard_memory``, ``program``)
    structured      the per-layer (Hadamard-product) eNTK of an mlp, no Jacobian materialised
    blocks          flattening (sample-major / class-major) and diagonal / off-diagonal blocks
    readout         the exact readout term (a multiple of I_O) + the body term
    approximations  the N x N kernels (pNTK, mean trace, first logit, random projection), ``from_entk``,
                    and their metrics against the eNTK (block errors, spectrum, regression agreement)
    infinite        the closed-form NNGP / NTK recursion of an mlp (``limit_kernels``)
    regression      kernel regression with an N x N kernel or a full eNTK
    dynamics        gradient flow (and steps) with a frozen kernel, in closed form
    linearization   one gradient-descent step predicted by the eNTK
    training        a plain-JAX training loop with checkpoints; kernel movement
    memory          byte estimates and the guard that refuses oversized kernels
    cost            XLA's flop and peak-memory accounting of a compiled kernel program
    progress        ``progress_bar``: tqdm.auto, ending as one line of text in saved notebooks

May import: jax, numpy, tqdm (IPython for progress in a notebook) and other modules of ``core`` --
nothing else of the package, and never neural-tangents, so the core keeps working on the newest jax.
Every other layer may import it
(``support`` only ``checks``).
"""

from . import (
               approximations,
               blocks,
               checks,
               cost,
               dynamics,
               infinite,
               kernels,
               linearization,
               memory,
               models,
               progress,
               readout,
               regression,
               structured,
               training,
)

__all__ = ["approximations", "blocks", "checks", "cost", "dynamics", "infinite", "kernels", "linearization",
           "memory", "models", "progress", "readout", "regression", "structured", "training"]
