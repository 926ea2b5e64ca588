"""ntk_lessons: helper package for a course on the empirical NTK and its sum-of-logits approximation.

Modules, in lesson order (each one concept; import what you need):

Lesson 01 — the eNTK from scratch
    models          MLPs (NTK or standard parameterisation) as stax-style ``(init_fn, apply_fn)`` pairs
    kernels         ``entk`` (full (N1, N2, O, O) empirical NTK) and ``pntk`` (sum of logits); the one
                    internal contract (``prepare``, ``resolve_method``, ``guard_memory``, ``program``)
    blocks          flattening (sample-major / class-major) and diagonal / off-diagonal blocks
    linearization   one gradient-descent step predicted by the eNTK
    nt_reference    neural-tangents as a reference implementation (imported only there)
Lesson 02 — the readout layer's block structure
    structured      the per-layer (Hadamard-product) eNTK of an MLP, no Jacobian materialised
    readout         exact readout term (a multiple of I_O) + body term
    memory          byte estimates and the guard that refuses oversized kernels
    cost            XLA's flop and peak-memory accounting of a compiled kernel program
    benchmark       ``python -m ntk_lessons.benchmark``: ours vs neural-tangents
Lesson 03 — sum-of-logits convergence
    approximations  the N x N kernels (pNTK, mean trace, first logit, random projection) and their
                    metrics against the eNTK (block errors, spectrum, regression agreement)
    regression      kernel regression with an N x N kernel or a full eNTK
    experiments     width x seed sweeps (tidy records), power-law and floor fits
    cache           the per-point on-disk cache of sweeps
Lesson 04 — infinite width
    infinite        closed-form NNGP / NTK recursion of an mlp (no neural-tangents)
    width_limits    finite-width kernels against their infinite-width limit
Lesson 05 — the pNTK in practice
    training        a plain-JAX training loop with checkpoints; kernel movement
    scaling         time and memory of the eNTK vs the pNTK as N and O grow; extrapolations
    practice        regression on all the digits, the approximation during training
Lesson 06 — training dynamics
    dynamics        gradient flow with a kernel, in closed form
    trajectories    the network's trajectory against kernel predictions; look-ahead
Shared
    data            the bundled UCI digits
    config          quick mode (``NTK_LESSONS_QUICK=1``) for CI
    plots, widgets  figures, and ipywidgets wrappers around them
    exercises       self-checks of the exercises (reference solutions in ``solutions*``)
    runtime         each lesson's measured computing time and memory
    timing          wall-clock medians

The core never imports neural-tangents; only ``nt_reference`` and ``benchmark`` do, so
the core keeps working on current JAX.
"""

__version__ = "0.1.0"
