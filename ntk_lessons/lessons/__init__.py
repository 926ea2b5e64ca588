"""ntk_lessons.lessons: one driver per lesson -- its constants, cached sweeps, results and text reports.

Holds
    networks          ``DigitsNetwork``: the one description of "an mlp at initialisation on the digits",
                      shared by lessons 03, 04 and 06, and part of every cached point's key
    sweeps            the width x seed loop of cached points behind every sweep
    block_structure   02: the off-diagonal share of the eNTK against width
    convergence       03: each N x N kernel against the eNTK over widths and seeds (tidy records)
    width_limits      04: finite networks against their infinite-width kernel Θ_∞ (mlp and conv net)
    scaling           05: time and memory of the eNTK and the pNTK as N and O grow; extrapolations
    practice          05: regression on all the digits; the approximation during training (used by 07)
    trajectories      06: a network's training run against its kernels' predictions; look-ahead
    learning          07: the cross-entropy conservation law; the pNTK over training under SGD and Adam
    depth_and_residual  07: the pNTK's error against width for depth 1-8; a residual network with LayerNorm

Results that figures read are dataclasses with documented fields (``practice.RegressionRow``,
``practice.GapMeasurements``, ``trajectories.TrajectoryPoint``, ``trajectories.LookAheadStudy``) or
tidy records ({setting..., metric, value}); cached points are stored as JSON (``support.cache``).

May import: ``core``, ``analysis``, ``support``; ``reference`` only inside the functions that need
neural-tangents (the conv net, the comparisons with stax), never when a module is imported.
Imported by no other layer: ``teaching``'s widgets take a lesson's function or result as an argument.
"""

from . import (
    block_structure,
    convergence,
    depth_and_residual,
    learning,
    networks,
    practice,
    scaling,
    sweeps,
    trajectories,
    width_limits,
)

__all__ = ["block_structure", "convergence", "depth_and_residual", "learning", "networks", "practice", "scaling",
           "sweeps", "trajectories", "width_limits"]
