"""tools/nbval_rerun.py: nbval runs each lesson, then every cell again in the same kernel.

``make test-notebooks`` loads the plugin on the lessons. Here it runs (in a child pytest, as make does) on tiny
notebooks that each break one rule, and every rule must fail its own item, naming the notebook and the cell:
a check cell that prints something else when re-run, a figure below the figure standard, a re-run that writes
the sweep cache again, and a kernel that goes quiet (which must fail within the quiet window, not the timeout).
"""

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbval")
pytest.importorskip("nbclient")  # tools.nbval_rerun shares the quiet-kernel test of tools/notebook_runner.py
from nbformat.v4 import new_code_cell, new_notebook  # noqa: E402

from tools import nbval_rerun  # noqa: E402  (python -m pytest puts the repository on sys.path)

pytestmark = pytest.mark.notebooks  # starts Jupyter kernels

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook(folder: Path, name: str, *sources: str) -> Path:
    nb = new_notebook(cells=[new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = KERNELSPEC
    path = folder / name
    nbformat.write(nb, path)
    return path


def run_plugin(tmp_path: Path, *notebooks: Path, quiet_seconds: float = 60) -> dict[str, tuple[str, str]]:
    """Run nbval with the plugin as `make test-notebooks` does; item name -> (outcome, message), in order."""
    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-p", "tools.nbval_rerun", "-p", "no:cacheprovider",
                    "--nbval-lax", "--nbval-cell-timeout=120", f"--quiet-seconds={quiet_seconds}",
                    f"--junitxml={report}", *map(str, notebooks)], cwd=ROOT, capture_output=True, text=True)
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name')}"  # classname: the notebook's file name
        bad = next(iter(case.findall("failure") + case.findall("error") + case.findall("skipped")), None)
        outcomes[name] = ("passed", "") if bad is None else (bad.tag, bad.get("message", "") + (bad.text or ""))
    return outcomes


def outcome(outcomes: dict, notebook: str, item: str) -> tuple[str, str]:
    matches = [value for name, value in outcomes.items() if notebook in name and name.endswith(f"::{item}")]
    assert len(matches) == 1, f"no single item {notebook}::{item} in {list(outcomes)}"
    return matches[0]


def test_every_cell_runs_twice_and_a_check_that_changes_on_rerun_fails(tmp_path):
    counts = write_notebook(tmp_path, "counts.ipynb", "n = globals().get('n', 0) + 1",
                            "# Check: the same every run\nprint('ok')", "# Check: counts the runs\nprint(n)",
                            "# Check: a timing line is left out\nprint(f'computed in {n} s')",
                            "import os\nassert 'ntk-lessons-cache-counts' in os.environ['NTK_LESSONS_CACHE_DIR']")
    outcomes = run_plugin(tmp_path, counts)
    names = [name.split("::")[-1] for name in outcomes]
    assert names == ["figure audit", "Cell 0", "Cell 1", "Cell 2", "Cell 3", "Cell 4", "figure standard",
                     "sweep cache after run 1", "Cell 0 (run 2)", "Cell 1 (run 2)", "Cell 2 (run 2)",
                     "Cell 3 (run 2)", "Cell 4 (run 2)", "sweep cache unchanged by run 2"]
    failed = {name.split("::")[-1]: message for name, (state, message) in outcomes.items() if state != "passed"}
    assert list(failed) == ["Cell 2 (run 2)"]
    assert "check cell 2 printed something else when run again" in failed["Cell 2 (run 2)"]
    assert "run 1: ['1']" in failed["Cell 2 (run 2)"] and "run 2: ['2']" in failed["Cell 2 (run 2)"]


def test_a_figure_below_the_standard_and_a_rewritten_cache_fail(tmp_path):
    untitled = write_notebook(tmp_path, "untitled.ipynb", "%matplotlib inline\nimport matplotlib.pyplot as plt",
                              "fig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])")
    rewrites = write_notebook(tmp_path, "rewrites.ipynb",
                              "import os, pathlib, time\nfolder = pathlib.Path(os.environ['NTK_LESSONS_CACHE_DIR'])\n"
                              "folder.mkdir(parents=True, exist_ok=True)\n"
                              "(folder / f'{time.monotonic_ns()}.json').write_text('{}')")
    outcomes = run_plugin(tmp_path, untitled, rewrites)
    state, message = outcome(outcomes, "untitled", "figure standard")
    assert state == "failure" and "figures below the figure standard" in message and "title" in message
    assert outcome(outcomes, "rewrites", "figure standard")[0] == "passed"
    state, message = outcome(outcomes, "rewrites", "sweep cache unchanged by run 2")
    assert state == "failure" and "recomputed (rewrote) cached sweep points" in message
    assert outcome(outcomes, "untitled", "sweep cache unchanged by run 2")[0] == "passed"


def test_a_cell_that_blocks_fails_fast_naming_notebook_and_cell(tmp_path):
    blocks = write_notebook(tmp_path, "blocks.ipynb", "x = 1", "import threading\nthreading.Event().wait()",
                            "print('never')")
    start = time.monotonic()
    outcomes = run_plugin(tmp_path, blocks, quiet_seconds=6)
    assert time.monotonic() - start < 60, "the quiet kernel was not caught within its 6 s window"
    state, message = outcome(outcomes, "blocks", "Cell 1")
    assert state == "failure" and "blocks.ipynb, Cell 1: no reply while the kernel used" in message
    assert "gone quiet" in message
    assert outcome(outcomes, "blocks", "Cell 2")[0] == "skipped"


def test_timing_lines_are_recognised():
    timing = nbval_rerun.TIMING_LINE
    assert timing.search("this lesson computed for 41 s in quick mode")
    assert timing.search("seconds per candidate: pNTK 0.012")
    assert timing.search("speed-up over retraining 12x")
    assert not timing.search("max relative difference: 3.1e-16")
    assert not timing.search("total error: slope -0.498, 95% interval [-0.55, -0.44]")
