"""core.progress: tqdm bars that end as one line, so saved notebooks never show a stalled "0%| 0/12"."""

import importlib.util
from pathlib import Path

import pytest

from ntk_lessons.core.progress import progress_bar, summary_line

ROOT = Path(__file__).resolve().parents[1]


def test_summary_line_says_what_ran_how_far_and_how_long():
    assert summary_line("training", 300, 300, "00:04") == "training: 300/300 in 00:04"
    assert summary_line("points", 3, 12, "00:02") == "points: stopped at 3/12 after 00:02"
    assert summary_line("", 5, None, "00:01") == "done: 5 in 00:01"


def test_outside_a_notebook_it_is_plain_tqdm():
    assert sum(progress_bar(range(4), disable=True)) == 6
    assert list(progress_bar(range(3), desc="x", leave=False)) == [0, 1, 2]


@pytest.mark.notebooks
def test_a_saved_notebook_keeps_the_finished_line_not_the_starting_bar():
    nbformat = pytest.importorskip("nbformat")
    from nbformat.v4 import new_code_cell, new_notebook

    spec = importlib.util.spec_from_file_location("notebook_runner", ROOT / "tools" / "notebook_runner.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    nb = new_notebook(cells=[new_code_cell(
        "from ntk_lessons.core.progress import progress_bar\n"
        "total = sum(progress_bar(range(12), desc='sweep points'))\nprint(total)")])
    client = runner.LessonClient(nb, name="progress.ipynb", timeout=120, kernel_name="python3")
    client.execute()
    texts = [out.get("data", {}).get("text/plain", "") or out.get("text", "") for out in nb.cells[0].outputs]
    assert any(t.startswith("sweep points: 12/12 in ") for t in texts), texts
    assert not any("0%" in t for t in texts), texts
    assert "66\n" in texts
    del nbformat
