"""Course-wide switches: quick mode and float64.

Quick mode: ``NTK_LESSONS_QUICK=1`` (or ``true``/``yes``) selects smaller widths and fewer
seeds. Every claim a notebook asserts must hold in both modes.

float64: call :func:`enable_float64` once, at the top of a notebook or script, before
creating any array. It is the one documented way to switch it on (it sets jax's
``jax_enable_x64``). Afterwards float64 inputs give float64 kernels; float32 stays the
default dtype of ``models.mlp`` params only if you pass ``dtype=jnp.float32`` -- with x64
on, jax's default float dtype is float64. The kernels compute in the inputs' dtype
(params of another floating dtype are cast to it), so choose the inputs' dtype explicitly.
"""

from __future__ import annotations

import os
from typing import TypeVar

import jax

from ..core.checks import float64_enabled, require_float64  # re-exported: the one place that reads the flag

QUICK_ENV_VAR = "NTK_LESSONS_QUICK"

T = TypeVar("T")

__all__ = ["QUICK_ENV_VAR", "enable_float64", "float64_enabled", "pick", "quick_mode", "require_float64"]


def quick_mode() -> bool:
    """True when ``NTK_LESSONS_QUICK`` is set to 1/true/yes (case-insensitive)."""
    return os.environ.get(QUICK_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise (e.g. a list of widths)."""
    return quick if quick_mode() else full


def enable_float64() -> None:
    """Switch jax to 64-bit mode (``jax.config.update("jax_enable_x64", True)``) for this process.

    Needed for float64 arrays anywhere in jax (:func:`float64_enabled` says whether it is on;
    :func:`require_float64` is the check of computations that need it). Call it before creating
    arrays: arrays made before keep their dtype. Idempotent; there is no matching "disable" on purpose (mixing
    modes inside one session is a source of silent float32 results).
    """
    jax.config.update("jax_enable_x64", True)


