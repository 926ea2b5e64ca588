"""ntk_lessons: helper package for a course on the empirical NTK and its sum-of-logits approximation.

Modules, in lesson order (each one concept; import what you need):

Lesson 01 — the eNTK from scratch
    models          MLPs in NTK parameterisation as stax-style ``(init_fn, apply_fn)`` pairs
    kernels         ``entk`` (full (N1, N2, O, O) empirical NTK) and ``pntk`` (sum of logits)
    blocks          flattening (sample-major / class-major) and diagonal / off-diagonal blocks
    linearization   one gradient-descent step predicted by the eNTK
    nt_reference    neural-tangents as a reference implementation (imported only there)
Lesson 02 — the readout layer's block structure
    structured      the per-layer (Hadamard-product) eNTK of an MLP, no Jacobian materialised
    readout         exact readout term (a multiple of I_O) + body term
    memory          byte estimates and the guard that refuses oversized kernels
    experiments     width x seed sweeps
    plots, widgets  figures, and ipywidgets wrappers around them
    benchmark       ``python -m ntk_lessons.benchmark``: ours vs neural-tangents
Shared
    data            the bundled UCI digits
    config          quick mode (``NTK_LESSONS_QUICK=1``) for CI

Lessons 03-05 (pNTK convergence, infinite width, practice) add modules of the same shape
(approximations, infinite, regression) as their issues land.

The core never imports neural-tangents; only ``nt_reference`` and ``benchmark`` do, so
the core keeps working on current JAX.
"""

__version__ = "0.1.0"
