"""Quick mode: one environment variable that shrinks every notebook for CI.

``NTK_LESSONS_QUICK=1`` (or ``true``/``yes``) selects smaller widths and fewer seeds.
Every claim a notebook asserts must hold in both modes.
"""

from __future__ import annotations

import os
from typing import TypeVar

QUICK_ENV_VAR = "NTK_LESSONS_QUICK"

T = TypeVar("T")


def quick_mode() -> bool:
    """True when ``NTK_LESSONS_QUICK`` is set to 1/true/yes (case-insensitive)."""
    return os.environ.get(QUICK_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise (e.g. a list of widths)."""
    return quick if quick_mode() else full
