"""What a lesson needs, measured while it runs: computing time and peak memory.

Each notebook states at the top what it needs (time in full and quick mode, memory). Its
import cell starts a clock, ``clock = runtime.LessonClock()``, and its last cell, a check
cell, compares the measurement with that statement::

    clock.check_stated(full_seconds=20, quick_seconds=15, memory_gb=2)

so the statement stays true as the lesson changes (tests/test_repository.py checks that the
numbers in the text and in this call agree). The clock counts only time spent *running
cells* (IPython's ``pre_run_cell``/``post_run_cell`` events), not the time a reader spends
between cells; outside IPython it counts wall time since it started. The time bound is
generous -- ``factor`` x the stated time x the machine's load share + ``slack_seconds`` -- so a
slower or busier machine passes and a lesson that has grown does not. The load share is the
1-minute load average per core, averaged over the time spent running cells, and never below 1:
on a quiet machine the bound is ``factor`` x stated + slack; on 2 cores shared by two lessons
(load about 4) it doubles, as the lesson's own run time does.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from . import config

_ACTIVE: "LessonClock | None" = None  # the clock whose IPython hooks are registered


def peak_memory_gb() -> float | None:
    """Peak resident memory of this process so far, in GB (1e9 bytes); None where the OS does not say."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e9 if sys.platform == "darwin" else peak * 1024 / 1e9  # macOS reports bytes, Linux KiB


def load_per_core() -> float | None:
    """The 1-minute load average divided by the number of cores; None where the OS does not say (Windows)."""
    try:
        return os.getloadavg()[0] / (os.cpu_count() or 1)
    except (AttributeError, OSError):
        return None


def _ipython_shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


class LessonClock:
    """Seconds spent running cells since this clock started (or wall seconds outside IPython).

    Creating a new clock (re-running the import cell) retires the previous one. The cell
    that creates the clock counts from the moment of creation.
    """

    def __init__(self, shell: Any = None):
        global _ACTIVE
        self._shell = shell if shell is not None else _ipython_shell()
        self._busy = 0.0
        self._load_seconds = 0.0  # sum over cells of (cell seconds x load per core at its end)
        self._started = time.perf_counter()
        self._cell_start: float | None = self._started
        self._wall_clock = self._shell is None or not hasattr(self._shell, "events")
        if self._wall_clock:
            self._shell = None
        else:
            if _ACTIVE is not None:
                _ACTIVE.stop()
            self._shell.events.register("pre_run_cell", self._pre)
            self._shell.events.register("post_run_cell", self._post)
            _ACTIVE = self

    def _pre(self, *_: Any) -> None:
        self._cell_start = time.perf_counter()

    def _post(self, *_: Any) -> None:
        if self._cell_start is not None:
            spent = time.perf_counter() - self._cell_start
            self._busy += spent
            self._load_seconds += spent * (load_per_core() or 1.0)
            self._cell_start = None

    def stop(self) -> None:
        """Stop counting (unregister the IPython hooks)."""
        global _ACTIVE
        if self._shell is not None:
            self._post()
            for event, hook in (("pre_run_cell", self._pre), ("post_run_cell", self._post)):
                try:
                    self._shell.events.unregister(event, hook)
                except ValueError:
                    pass
            self._shell = None
        if _ACTIVE is self:
            _ACTIVE = None

    def seconds(self) -> float:
        """Seconds counted so far, including the cell running now."""
        if self._wall_clock:
            return time.perf_counter() - self._started
        running = time.perf_counter() - self._cell_start if self._cell_start is not None else 0.0
        return self._busy + running

    def load_share(self) -> float:
        """How busy the machine was while the cells ran: the 1-minute load average per core, averaged
        over the time spent running cells (outside IPython: now), and at least 1."""
        if self._wall_clock or self._busy <= 0:
            return max(1.0, load_per_core() or 1.0)
        return max(1.0, self._load_seconds / self._busy)

    def check_stated(self, *, full_seconds: float, quick_seconds: float, memory_gb: float,
                     factor: float = 3.0, slack_seconds: float = 30.0) -> None:
        """Print the measured time and memory next to the stated ones; AssertionError if either
        exceeds its bound (time: ``factor`` x stated x :meth:`load_share` + ``slack_seconds``;
        memory: the stated GB)."""
        mode = "quick" if config.quick_mode() else "full"
        stated = config.pick(full=full_seconds, quick=quick_seconds)
        spent, memory = self.seconds(), peak_memory_gb()
        memory_text = "not reported on this system" if memory is None else f"{memory:.2f} GB"
        share = self.load_share()
        print(f"this lesson computed for {spent:.0f} s in {mode} mode (the top of the notebook says about "
              f"{stated:.0f} s on a quiet machine; this one's load per core: {share:.1f}); peak memory {memory_text} "
              f"(it says under {memory_gb:g} GB)")
        bound = factor * stated * share + slack_seconds
        assert spent <= bound, (
            f"the lesson took {spent:.0f} s, more than {factor:g} x the stated {stated:.0f} s x the load share "
            f"{share:.1f} + {slack_seconds:.0f} s: measure it again and update the statement at the top and in this "
            "cell")
        assert memory is None or memory <= memory_gb, (
            f"peak memory {memory:.2f} GB exceeds the stated {memory_gb:g} GB: "
            "update the statement at the top and here")
