"""ntk_lessons: helper package for a course on the empirical NTK and its sum-of-logits approximation.

Six subpackages, one per layer; each imports only the layers below it (tests/test_layers.py checks it):

core/         lesson-agnostic maths; imports jax, numpy and ``core`` only -- never neural-tangents
    checks (input validation) · models (MLPs, NTK or standard parameterisation) · kernels (``entk``,
    ``pntk``) · structured (per-layer eNTK) · blocks (flattening, diagonal/off-diagonal blocks) ·
    readout (readout + body terms) · approximations (pNTK, mean trace, ...; ``from_entk``; errors) ·
    infinite (NNGP / Θ_∞ recursion, ``limit_kernels``) · regression · dynamics (frozen-kernel
    trajectories) · linearization (one GD step) · training (a training loop) · memory · cost (XLA accounting)
analysis/     fits and tidy records; imports ``core``
    fits (``loglog_slope``, ``fit_power_law``, ``fit_floor``) · records (``select``, ``values_by_seed``)
support/      switches, data, cache, clocks; imports ``core.checks`` only
    config (quick mode, float64) · data (the bundled digits) · cache (sweep points keyed by their
    configuration, the package's code and the float64 flag) · timing · runtime (each lesson's clock)
lessons/      one driver per lesson: constants, cached sweeps, results, text reports; imports core,
              analysis, support (and reference only inside the functions that need neural-tangents)
    networks (``DigitsNetwork``, the shared "network on the digits") · sweeps · block_structure (02) ·
    convergence (03) · width_limits (04) · scaling, practice (05) · trajectories (06)
teaching/     what a student sees; imports core, analysis, support
    plots · widgets · exercises · solutions/ (reference solutions, one module per lesson)
reference/    neural-tangents, the reference -- the only importers of it; imports core, analysis, support
    nt_reference · conv_net (the lessons' stax conv net) · optional (cells that skip without it) ·
    benchmark (``python -m ntk_lessons.reference.benchmark``)

Lessons and the modules they use most:
    01 the eNTK from scratch      core.models, core.kernels, core.blocks, core.linearization, reference.nt_reference
    02 the readout layer          core.structured, core.readout, core.memory, core.cost, lessons.block_structure
    03 sum-of-logits convergence  core.approximations, core.regression, lessons.convergence, analysis
    04 infinite width             core.infinite, lessons.width_limits, reference.conv_net
    05 the pNTK in practice       core.training, lessons.scaling, lessons.practice
    06 training dynamics          core.dynamics, lessons.trajectories

Importing ``ntk_lessons`` itself imports nothing else; import the subpackages you need, e.g.
``from ntk_lessons.core import kernels, models`` or ``from ntk_lessons.teaching import plots``.
"""

__version__ = "0.1.0"
