"""ntk_lessons.reference.optional: cells that need neural-tangents run where it imports and print one line elsewhere."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from ntk_lessons.reference import nt_reference, optional

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
NEEDS_NEURAL_TANGENTS = re.compile(r"\bnt_reference\b|\b(import|from) neural_tangents\b|\bbenchmark\.")


@pytest.fixture(autouse=True)
def fresh_answer():
    optional.neural_tangents_available.cache_clear()
    yield
    optional.neural_tangents_available.cache_clear()


def _pretend_import(monkeypatch, *, works: bool) -> list:
    calls = []

    def fake_import():
        calls.append(1)
        if not works:
            raise ImportError("neural-tangents could not be imported with jax 0.10.2 (AttributeError: ...)")
        return object()

    monkeypatch.setattr(nt_reference, "import_neural_tangents", fake_import)
    return calls


def test_importing_the_module_imports_neither_neural_tangents_nor_jax():
    code = ("import sys, ntk_lessons.reference.optional\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('neural_tangents', 'tensorflow', 'jax')]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unavailable_prints_one_line_naming_what_and_how(monkeypatch, capsys):
    _pretend_import(monkeypatch, works=False)
    assert optional.skip_unless_neural_tangents("the agreement with neural-tangents' kernel_fn") is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("Skipped: the agreement with neural-tangents' kernel_fn")
    assert optional.INSTALL_COMMAND in out and "Python <= 3.13" in out
    assert f"jax {jax.__version__}" in out  # the version the reader has, so the reason is visible


def test_available_runs_the_cell_silently(monkeypatch, capsys):
    _pretend_import(monkeypatch, works=True)
    assert optional.skip_unless_neural_tangents("a cross-check") is True
    assert capsys.readouterr().out == ""


def test_the_import_is_tried_once(monkeypatch, capsys):
    calls = _pretend_import(monkeypatch, works=False)
    for _ in range(3):
        assert optional.skip_unless_neural_tangents("a cross-check") is False
    assert len(calls) == 1
    assert capsys.readouterr().out.count("Skipped: a cross-check") == 3  # one line per skipped cell


def test_answer_matches_this_environment():
    # The pinned environment (jax 0.5.3 + neural-tangents 0.6.5) can import it; the newest-jax one cannot.
    expected = importlib.util.find_spec("neural_tangents") is not None and jax.__version__ == "0.5.3"
    assert optional.neural_tangents_available() is expected


@pytest.mark.parametrize("what, error", [(None, TypeError), (3, TypeError), ("", ValueError), ("  ", ValueError)])
def test_what_must_be_a_description(what, error):
    with pytest.raises(error, match="what must"):
        optional.skip_unless_neural_tangents(what)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_cells_that_need_neural_tangents_are_marked(nb):
    """Each code cell that uses neural-tangents runs it only under ``if optional.skip_unless_neural_tangents(...):``."""
    unmarked = []
    for cell in json.loads(nb.read_text())["cells"]:
        source = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
        uses = [line for line in source.splitlines()
                if NEEDS_NEURAL_TANGENTS.search(line) and not line.lstrip().startswith("#")]
        if uses and ("if optional.skip_unless_neural_tangents(" not in source or any(u == u.lstrip() for u in uses)):
            unmarked.append(source.splitlines()[0])
    assert not unmarked, (f"{nb.name}: wrap these cells' bodies in "
                          f"`if optional.skip_unless_neural_tangents(...):`: {unmarked}")
