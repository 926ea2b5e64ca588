"""tools/notebook_runner.py: the widget-cell stall is cured, and a quiet kernel fails fast with its cell named.

The stall's race (see the runner's docstring) is made certain here: nbclient's Output-widget mimic pauses
50 ms on each output, so the execute_reply has reached the shell socket before the mimic writes to it.
"""

import importlib.util
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from nbclient.output_widget import OutputWidget  # noqa: E402
from nbformat.v4 import new_code_cell, new_notebook  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("notebook_runner", ROOT / "tools" / "notebook_runner.py")
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)

pytestmark = pytest.mark.notebooks  # starts Jupyter kernels

WIDGET_SETUP = "import ipywidgets\ndef show(x):\n    print('x =', x)\n"
WIDGET_CELL = "ipywidgets.interact(show, x=ipywidgets.IntSlider(value=3, min=0, max=5));"


@pytest.fixture
def slow_output_mimic(monkeypatch):
    """The mimic takes 50 ms per output (a loaded machine): the reply always arrives before its send."""
    original = OutputWidget.output

    def slow(self, *args, **kwargs):
        time.sleep(0.05)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(OutputWidget, "output", slow)


def run_cells(client, nb):
    """Seconds each code cell took."""
    seconds = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            start = time.monotonic()
            client.execute_cell(cell, index)
            seconds.append(time.monotonic() - start)
    return seconds


def widget_notebook(n_widget_cells=3):
    widget_cells = [new_code_cell(WIDGET_CELL) for _ in range(n_widget_cells)]
    return new_notebook(cells=[new_code_cell(WIDGET_SETUP), *widget_cells])


def test_plain_nbclient_waits_out_the_timeout_on_a_widget_cell(slow_output_mimic):
    """The mechanism, shown: plain nbclient misses the reply and finds it only when its 8 s poll times out."""
    nb = widget_notebook(1)
    seconds = run_cells(nbclient.NotebookClient(nb, timeout=8, kernel_name="python3"), nb)
    assert seconds[-1] > 7.5, f"the widget cell took {seconds[-1]:.1f} s: nbclient no longer stalls here"


def test_lesson_client_does_not_stall_on_widget_cells(slow_output_mimic):
    nb = widget_notebook(3)
    client = runner.LessonClient(nb, name="widgets.ipynb", timeout=8, kernel_name="python3")
    seconds = run_cells(client, nb)
    assert max(seconds[1:]) < 4, f"widget cells took {[round(s, 1) for s in seconds]} s"
    # the mimic still captured the interact output into the widget's state, as a front end would
    captured = [state.get("outputs") for state in client.widget_state.values() if state.get("outputs")]
    assert captured and "x = 3" in captured[-1][0]["text"]


def test_a_cell_that_blocks_fails_fast_naming_notebook_and_cell():
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("import threading\nthreading.Event().wait()")])
    client = runner.LessonClient(nb, name="blocking.ipynb", quiet_seconds=6, timeout=600, kernel_name="python3")
    start = time.monotonic()
    with pytest.raises(runner.QuietKernelError) as failure:
        run_cells(client, nb)
    assert time.monotonic() - start < 6 + 3 * runner.WATCH_EVERY + 5
    text = str(failure.value)
    assert "blocking.ipynb, cell 1" in text and "no kernel message for" in text
    assert "status busy" in text and "execute_input" in text  # the last messages seen


def test_a_cell_that_computes_silently_is_left_alone():
    """No message for longer than quiet_seconds, but the kernel is busy: not quiet."""
    busy = "import time\nend = time.time() + 7\nwhile time.time() < end:\n    pass\nprint('done')"
    nb = new_notebook(cells=[new_code_cell(busy)])
    client = runner.LessonClient(nb, name="busy.ipynb", quiet_seconds=4, timeout=60, kernel_name="python3")
    run_cells(client, nb)
    assert nb.cells[0].outputs[0]["text"] == "done\n"


def test_default_quiet_window_is_a_minute():
    assert runner.QUIET_SECONDS == 60


def test_execute_notebook_writes_the_executed_copy(tmp_path):
    source = tmp_path / "in" / "tiny.ipynb"
    source.parent.mkdir()
    nbformat.write(new_notebook(cells=[new_code_cell("print(6 * 7)")]), source)
    out = runner.execute_notebook(source, tmp_path, timeout=60)
    assert nbformat.read(out, as_version=4).cells[0].outputs[0]["text"] == "42\n"
