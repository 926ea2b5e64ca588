"""Notebooks as students run them: top to bottom twice in ONE kernel (quick mode).

Students re-run cells, and whole notebooks, without restarting. Each notebook is executed
with nbclient, then every cell again in the same kernel; no cell may fail in either run,
and the printed output (stdout and the value shown) of every check cell ("# Check ...")
must be the same in both runs: checked numbers are reproducible, and re-running a cell
never sees state that a later cell left behind. ``make test-notebooks`` also runs each
notebook once in a fresh kernel under nbval ("Restart & run all").

Wall-clock and process-memory measurements differ between runs by nature, so lines
reporting them (a number of seconds, a speed-up, the lesson clock's cell) are left out of
the comparison. Sweeps cache their points in a temporary ``$NTK_LESSONS_CACHE_DIR``: CI
never reads a user's cache, and the second run must find every point there (no cache file
is written again).
"""

import copy
import importlib.util
import os
import re
import time
import warnings
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

pytestmark = [pytest.mark.notebooks, pytest.mark.neural_tangents]  # the notebooks compare with neural-tangents

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("notebook_runner", ROOT / "tools" / "notebook_runner.py")
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)  # LessonClient: nbclient without the widget-cell stall, failing fast when quiet
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = int(os.environ.get("NBVAL_TIMEOUT", "300"))  # hard limit; a quiet kernel fails within 60 s
# A line that reports a wall-clock time or a speed measured from one: a number with a unit of time, or the words.
TIMING_LINE = re.compile(r"\d\s*(s|ms|µs|us|seconds?|minutes?|min)\b|seconds|speed-?up|\bfaster\b", re.IGNORECASE)


def is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and cell.source.lstrip().startswith("# Check")


def checked_output(cell) -> list[str]:
    """What a check cell printed (stdout) and the value it showed, without timing lines; stderr (tqdm) left out."""
    if "clock.check_stated" in cell.source:  # the lesson clock reports this process's time and memory
        return []
    text = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name == "stdout":
            text.append(output.text)
        elif output.output_type == "execute_result":
            text.append(output.get("data", {}).get("text/plain", ""))
    lines = "".join(text).splitlines()
    return [line for line in lines if not TIMING_LINE.search(line)]


def cache_files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every cache entry: name -> (size, modification time in ns)."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*.json")} if folder.exists() else {}


SLOW_CELL_SECONDS = 120  # quick-mode cells take seconds; a slower one is reported (see run_all)


def run_all(client, nb, run: int, name: str) -> list:
    """Execute every code cell of a fresh copy of the notebook's cells in the client's kernel; return them.

    A cell slower than SLOW_CELL_SECONDS gets a warning naming it. A kernel that goes quiet (no message and
    no CPU for a minute) fails the test at once (runner.QuietKernelError), naming the notebook and the cell.
    """
    cells = copy.deepcopy(nb.cells)
    client.nb.cells = cells
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            continue
        start = time.monotonic()
        try:
            client.execute_cell(cell, index)
        except runner.QuietKernelError as err:
            pytest.fail(f"run {run} in the same kernel: {err}")
        except nbclient.exceptions.CellExecutionError as err:
            pytest.fail(f"{name}, run {run} in the same kernel: cell {index} failed:\n{err}")
        seconds = time.monotonic() - start
        if seconds > SLOW_CELL_SECONDS:
            warnings.warn(f"{name}, run {run}: cell {index} took {seconds:.0f} s", stacklevel=1)
    return cells


# Every figure the lesson draws meets the figure standard (teaching.plots.figure_standard_problems: a title,
# labelled axes and colour bars, three labelled ticks on log axes, legend slopes equal to the drawn ones, rugs on
# the axis they name), checked in the kernel after each cell, before the inline backend closes the figure.
FIGURE_AUDIT_INSTALL = ("from ntk_lessons.teaching.plots import FigureAudit\n"
                        "_figure_audit = FigureAudit.install(get_ipython())")
FIGURE_AUDIT_REPORT = ("assert not _figure_audit.problems, 'figures below the figure standard:\\n' + "
                       "'\\n'.join(_figure_audit.problems)")


def run_audit_cell(client, source: str, name: str) -> None:
    """Run one harness cell (not part of the notebook) in the lesson's kernel; a failure fails the test."""
    cell = nbformat.v4.new_code_cell(source)
    client.nb.cells = [cell]
    try:
        client.execute_cell(cell, 0)
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"{name}: {err}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_twice_in_one_kernel_with_identical_checks(path, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("NTK_LESSONS_QUICK", "1")
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(cache_dir))  # the kernel inherits this environment
    nb = nbformat.read(path, as_version=4)
    client = runner.LessonClient(
        copy.deepcopy(nb), name=path.name, timeout=CELL_TIMEOUT, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    with client.setup_kernel():
        run_audit_cell(client, FIGURE_AUDIT_INSTALL, path.name)
        first = run_all(client, nb, 1, path.name)
        run_audit_cell(client, FIGURE_AUDIT_REPORT, path.name)
        cached = cache_files(cache_dir)
        second = run_all(client, nb, 2, path.name)
    assert cache_files(cache_dir) == cached, "the second run recomputed (rewrote) cached sweep points"
    checks = [index for index, cell in enumerate(first) if is_check_cell(cell)]
    assert checks, f"{path.name} has no check cells"
    for index in checks:
        assert checked_output(second[index]) == checked_output(first[index]), \
            f"{path.name}: check cell {index} printed something else when run again in the same kernel"


def test_timing_lines_are_recognised():
    assert TIMING_LINE.search("this lesson computed for 41 s in quick mode")
    assert TIMING_LINE.search("seconds per candidate: pNTK 0.012")
    assert TIMING_LINE.search("speed-up over retraining 12x")
    assert not TIMING_LINE.search("max relative difference: 3.1e-16")
    assert not TIMING_LINE.search("total error: slope -0.498, 95% interval [-0.55, -0.44]")
