"""Course-wide switches: quick mode and float64.

Quick mode: ``NTK_LESSONS_QUICK=1`` (or ``true``/``yes``) selects smaller widths and fewer
seeds. Every claim a notebook asserts must hold in both modes.

Seed offset: ``NTK_LESSONS_SEED_OFFSET=k`` (an integer, default 0) is added to every seed a lesson
draws -- network initialisations, data splits, training batch orders, bootstrap resamples, random
candidates -- through :func:`lesson_seed`, :func:`key` and :func:`rng`, the only places that turn
a lesson's seed into randomness. A lesson's claims must hold for every offset (``make test-seeds``).
The offset is part of every cache key (``support.cache``), so points of other offsets never mix.

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
import numpy as np

from ..core.checks import float64_enabled, require_float64  # re-exported: the one place that reads the flag

QUICK_ENV_VAR = "NTK_LESSONS_QUICK"
SEED_OFFSET_ENV_VAR = "NTK_LESSONS_SEED_OFFSET"

T = TypeVar("T")

__all__ = ["QUICK_ENV_VAR", "SEED_OFFSET_ENV_VAR", "enable_float64", "float64_enabled", "key", "lesson_seed", "pick",
           "quick_mode", "require_float64", "rng", "seed_offset"]


def quick_mode() -> bool:
    """True when ``NTK_LESSONS_QUICK`` is set to 1/true/yes (case-insensitive)."""
    return os.environ.get(QUICK_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise (e.g. a list of widths)."""
    return quick if quick_mode() else full


def seed_offset() -> int:
    """The integer in ``NTK_LESSONS_SEED_OFFSET`` (default 0), added to every seed a lesson draws.

    Raises ValueError naming the variable when it is set to something that is not an integer.
    """
    text = os.environ.get(SEED_OFFSET_ENV_VAR, "").strip()
    if not text:
        return 0
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_OFFSET_ENV_VAR} must be an integer such as 0, 1 or 7, got {text!r}") from None


def lesson_seed(seed: int) -> int:
    """``seed + seed_offset()``: the seed a lesson's ``seed`` stands for. ``seed``: a non-negative int."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    shifted = int(seed) + seed_offset()
    if shifted < 0:
        raise ValueError(f"seed {seed} + {SEED_OFFSET_ENV_VAR}={seed_offset()} is negative")
    return shifted


def key(seed: int) -> jax.Array:
    """``jax.random.PRNGKey(lesson_seed(seed))``: a lesson's JAX key, shifted by the seed offset."""
    return jax.random.PRNGKey(lesson_seed(seed))


def rng(seed: int) -> np.random.Generator:
    """``np.random.default_rng(lesson_seed(seed))``: a lesson's NumPy generator, shifted by the seed offset."""
    return np.random.default_rng(lesson_seed(seed))


def enable_float64() -> None:
    """Switch jax to 64-bit mode (``jax.config.update("jax_enable_x64", True)``) for this process.

    Needed for float64 arrays anywhere in jax (:func:`float64_enabled` says whether it is on;
    :func:`require_float64` is the check of computations that need it). Call it before creating
    arrays: arrays made before keep their dtype. Idempotent; there is no matching "disable" on purpose (mixing
    modes inside one session is a source of silent float32 results).
    """
    jax.config.update("jax_enable_x64", True)


