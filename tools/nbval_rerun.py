"""pytest plugin: nbval runs each lesson top to bottom, then every cell again in the SAME kernel.

Loaded by ``make test-notebooks``::

    python -m pytest -p tools.nbval_rerun --nbval-lax --dist loadfile -n 2 notebooks

Students re-run cells, and whole notebooks, without restarting. nbval's own run is "Restart & run all" in a
fresh kernel; this plugin appends, to each notebook's items, a second run of every code cell in the kernel
nbval used, so each lesson is executed once per environment plus one re-run (before, a separate harness ran
each lesson twice more in its own kernel). For every notebook, in order:

``figure audit``
    installs :class:`ntk_lessons.teaching.plots.FigureAudit` in the kernel (before the first cell);
``Cell k``
    nbval's items, unchanged (no cell may fail);
``figure standard``
    fails when a figure the lesson drew is below the figure standard
    (:func:`ntk_lessons.teaching.plots.figure_standard_problems`);
``Cell k (run 2)``
    every code cell again; a check cell ("# Check ...") must print what it printed in run 1, except lines
    reporting a wall-clock time (:data:`TIMING_LINE`) and the lesson clock's cell;
``sweep cache unchanged by run 2``
    run 2 found every sweep point run 1 cached: no cache file was written again.

Each notebook's kernel gets its own empty sweep cache (``$NTK_LESSONS_CACHE_DIR``, a temporary folder): the
tests never read a user's cache. A cell slower than :data:`SLOW_CELL_SECONDS` gets a warning naming it.

The quiet-kernel guard: nbval waits for a cell's reply with a blocking client. This plugin makes that wait
look every ``WATCH_EVERY`` seconds; when the kernel process used (almost) no CPU for ``--quiet-seconds`` (60)
while the cell had not replied, the cell fails at once (:class:`QuietKernelError`, naming the notebook and
the cell), and the notebook's remaining cells are skipped. ``--nbval-cell-timeout`` still bounds every cell.
"""

from __future__ import annotations

import collections
import os
import queue
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell
from nbval.plugin import IPyNbCell, IPyNbFile

from ntk_lessons.support.cache import CACHE_ENV_VAR
from tools.notebook_runner import QUIET_SECONDS, WATCH_EVERY, QuietWatch

SLOW_CELL_SECONDS = 120  # quick-mode cells take seconds; a slower one is reported
# A line that reports a wall-clock time or a speed measured from one: a number with a unit of time, or the words.
TIMING_LINE = re.compile(r"\d\s*(s|ms|µs|us|seconds?|minutes?|min)\b|seconds|speed-?up|\bfaster\b", re.IGNORECASE)
FIGURE_AUDIT_INSTALL = ("from ntk_lessons.teaching.plots import FigureAudit\n"
                        "_figure_audit = FigureAudit.install(get_ipython())")
FIGURE_AUDIT_REPORT = ("assert not _figure_audit.problems, 'figures below the figure standard:\\n' + "
                       "'\\n'.join(_figure_audit.problems)")


class QuietKernelError(RuntimeError):
    """A cell had no reply while its kernel used no CPU for ``--quiet-seconds``."""


def is_check_cell(source: str) -> bool:
    return source.lstrip().startswith("# Check")


def checked_lines(source: str, outputs) -> list[str]:
    """What a check cell printed (stdout) and the value it showed, without timing lines; stderr (tqdm) left out."""
    if "clock.check_stated" in source:  # the lesson clock reports this process's time and memory
        return []
    text = []
    for output in outputs or []:
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text.append(output.get("text", ""))
        elif output.get("output_type") == "execute_result":
            text.append(output.get("data", {}).get("text/plain", ""))
    return [line for line in "".join(text).splitlines() if not TIMING_LINE.search(line)]


def cache_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every cache entry: name -> (size, modification time in ns)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*.json")} if folder.exists() else {}


class HarnessCell(IPyNbCell):
    """Code the harness runs in the lesson's kernel (not a cell of the lesson); a failure fails the item."""

    def __init__(self, name, parent, source: str):
        cell = new_code_cell(source)
        super().__init__(name, parent, cell_num=-1, cell=cell, options=collections.defaultdict(bool))


class RerunCell(IPyNbCell):
    """A cell's second run in the same kernel; a check cell must print what it printed in the first."""

    def __init__(self, name, parent, first: IPyNbCell):
        super().__init__(name, parent, cell_num=first.cell_num, cell=first.cell, options=first.options)
        self.first = first

    def runtest(self):
        super().runtest()
        if is_check_cell(self.cell.source) and self.first.test_outputs is not None:
            before = checked_lines(self.cell.source, self.first.test_outputs)
            after = checked_lines(self.cell.source, self.test_outputs)
            if after != before:
                raise AssertionError(
                    f"check cell {self.cell_num} printed something else when run again in the same kernel:\n"
                    f"run 1: {before}\nrun 2: {after}")


class CacheSnapshot(pytest.Item):
    """Records the notebook's sweep cache after run 1."""

    def runtest(self):
        self.parent.cache_after_run_1 = cache_files(self.parent.lesson_cache_dir)


class CacheUnchanged(pytest.Item):
    """Run 2 found every sweep point that run 1 cached: nothing was written again."""

    def runtest(self):
        before = getattr(self.parent, "cache_after_run_1", None)
        assert before is not None, "the cache snapshot after run 1 did not run"
        assert cache_files(self.parent.lesson_cache_dir) == before, \
            "the second run recomputed (rewrote) cached sweep points"


def pytest_addoption(parser):
    parser.addoption("--quiet-seconds", type=float, default=QUIET_SECONDS,
                     help="fail a notebook cell whose kernel used no CPU for this long without replying (60)")


def pytest_collection_modifyitems(session, config, items):
    """Per notebook: audit install, nbval's cells, figure standard, cache snapshot, run 2, cache check."""
    out, index = [], 0
    while index < len(items):
        item = items[index]
        if not isinstance(item.parent, IPyNbFile):
            out.append(item)
            index += 1
            continue
        parent = item.parent
        first_run = []
        while index < len(items) and items[index].parent is parent:
            first_run.append(items[index])
            index += 1
        out.append(HarnessCell.from_parent(parent, name="figure audit", source=FIGURE_AUDIT_INSTALL))
        out.extend(first_run)
        out.append(HarnessCell.from_parent(parent, name="figure standard", source=FIGURE_AUDIT_REPORT))
        out.append(CacheSnapshot.from_parent(parent, name="sweep cache after run 1"))
        out.extend(RerunCell.from_parent(parent, name=f"{cell.name} (run 2)", first=cell)
                   for cell in first_run if isinstance(cell, IPyNbCell))
        out.append(CacheUnchanged.from_parent(parent, name="sweep cache unchanged by run 2"))
    items[:] = out


def _guard(notebook: IPyNbFile, quiet_seconds: float) -> None:
    """Make nbval's blocking wait for a reply fail fast when the kernel goes quiet."""
    kernel = notebook.kernel
    wait_for_reply = kernel.await_reply
    pid = getattr(getattr(kernel.km, "provisioner", None), "pid", None)

    def await_reply(msg_id, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        watch = QuietWatch(pid, quiet_seconds)
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise queue.Empty  # nbval's own timeout handling: interrupt, report
            try:
                return wait_for_reply(msg_id, timeout=WATCH_EVERY if left is None else min(WATCH_EVERY, left))
            except queue.Empty:
                idle_cpu = watch.idle_cpu()
                if idle_cpu is not None:
                    notebook.went_quiet = notebook.current_cell
                    kernel.interrupt()
                    raise QuietKernelError(
                        f"{Path(str(notebook.fspath)).name}, {notebook.current_cell}: no reply while the kernel used "
                        f"{idle_cpu:.1f} s of CPU in {quiet_seconds:.0f} s -- the kernel has gone quiet "
                        f"(the notebook's remaining cells are skipped)") from None

    kernel.await_reply = await_reply


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Before nbval starts a notebook's kernel: its own sweep cache; once started: the quiet-kernel guard."""
    notebook = item.parent
    if not isinstance(notebook, IPyNbFile):
        return (yield)
    if getattr(notebook, "went_quiet", None):
        pytest.skip(f"the kernel went quiet in {notebook.went_quiet}")
    starting = notebook.kernel is None
    if starting:
        notebook.lesson_cache_dir = Path(tempfile.mkdtemp(prefix=f"ntk-lessons-cache-{Path(notebook.name).stem}-"))
        os.environ[CACHE_ENV_VAR] = str(notebook.lesson_cache_dir)  # the kernel inherits it
    result = yield
    if starting and notebook.kernel is not None:
        _guard(notebook, item.config.getoption("quiet_seconds"))
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    notebook = item.parent
    if not isinstance(notebook, IPyNbFile):
        yield
        return
    notebook.current_cell = item.name
    start = time.monotonic()
    yield
    seconds = time.monotonic() - start
    if seconds > SLOW_CELL_SECONDS:
        warnings.warn(f"{notebook.name}, {item.name} took {seconds:.0f} s", stacklevel=1)


def pytest_sessionfinish(session):
    for item in getattr(session, "items", []):
        folder = getattr(item.parent, "lesson_cache_dir", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
