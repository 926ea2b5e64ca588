"""The setup cell: one short template (tools/install_cell.py) in every notebook, and what it and the file it
calls (colab_setup.py) do on a (fake) Colab.

Each scenario runs the template in a fresh Python process with a stand-in ``google.colab`` in
sys.modules, a fake list of installed packages (importlib.metadata.distributions) and a fake
``subprocess.run`` that records every pip / git command instead of running it; the fake ``git clone``
makes the clone folder and copies this repository's colab_setup.py into it, which the cell then imports.
"""

import ast
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
_spec = importlib.util.spec_from_file_location("install_cell", ROOT / "tools" / "install_cell.py")
install_cell = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(install_cell)
_spec = importlib.util.spec_from_file_location("colab_setup", ROOT / "colab_setup.py")
colab_setup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(colab_setup)

TEST_REPOSITORY = "https://github.com/ntk-lessons/ntk-lessons-install-cell-test"
COLAB_2026 = {"jax": "0.7.2", "jaxlib": "0.7.2", "jax-cuda12-plugin": "0.7.2", "jax-cuda12-pjrt": "0.7.2",
              "flax": "0.12.0", "chex": "0.1.91", "tensorflow": "2.20.0", "numpy": "2.0.2", "matplotlib": "3.10.0"}
PINNED = {"jax": "0.5.3", "jaxlib": "0.5.3", "neural-tangents": "0.6.5"}
# What pip really changes, and what pip check says, with one conflict that was there before the install.
PIP_INSTALL_RESULT = {**PINNED, "tensorflow": "2.21.0", "tf2jax": "0.3.7"}
CHECK_BEFORE = "tensorflow-text 2.19.0 has requirement tensorflow<2.20,>=2.19.0, but you have tensorflow 2.20.0.\n"
CHECK_AFTER = CHECK_BEFORE + (
    "flax 0.12.0 has requirement jax>=0.6.0, but you have jax 0.5.3.\n"
    "chex 0.1.91 has requirement jax>=0.7.0, but you have jax 0.5.3.\n"
    "chex 0.1.91 has requirement jaxlib>=0.7.0, but you have jaxlib 0.5.3.\n"
    "orbax-checkpoint 0.11.25 requires humanize, which is not installed.\n")

HARNESS = textwrap.dedent("""\
    import json, os, shutil, subprocess, sys, types, importlib.metadata
    scenario = json.loads(sys.argv[1])
    if scenario["colab"]:
        sys.modules["google.colab"] = types.ModuleType("google.colab")
    if scenario["imported_jax"]:
        sys.modules["jax"] = types.SimpleNamespace(__version__=scenario["imported_jax"])
    if scenario["python"]:
        sys.version_info = tuple(scenario["python"])
    installed = dict(scenario["installed"])
    importlib.metadata.distributions = lambda: [
        types.SimpleNamespace(metadata={"Name": name}, version=version) for name, version in installed.items()]
    calls = []

    def fake_run(command, check=False, **kwargs):
        command = [str(part) for part in command]
        calls.append(command[1:] if command[0] == sys.executable else command)
        stdout, code = "", 0
        if command[:2] == ["git", "clone"]:  # the repository, as far as the cell needs it
            os.makedirs(command[-1])
            shutil.copy(scenario["colab_setup"], command[-1])
        elif command[1:4] == ["-m", "pip", "uninstall"]:
            for name in command[6:]:
                installed.pop(name)
        elif command[1:4] == ["-m", "pip", "install"]:
            code = scenario["pip_install_code"]
            if code == 0:
                installed.update(scenario["pip_install_result"])
        elif command[1:4] == ["-m", "pip", "check"]:
            stdout = scenario["check_after"] if "neural-tangents" in installed else scenario["check_before"]
            code = 1 if stdout else 0
        if check and code:
            raise subprocess.CalledProcessError(code, command)
        return subprocess.CompletedProcess(command, code, stdout, "ERROR: no network" if code else "")

    subprocess.run = fake_run
    path_before = list(sys.path)
    try:
        exec(compile(sys.stdin.read(), "install_cell", "exec"), {"__name__": "__main__"})
    finally:
        with open(scenario["report"], "w") as report:
            json.dump({"calls": calls, "added_to_path": [p for p in sys.path if p not in path_before],
                       "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS")}, report)
""")


def run_cell(tmp_path, *, colab=True, imported_jax=None, python=None, installed=COLAB_2026, pip_install_code=0):
    """Run the template as on Colab; returns (printed lines, pip/git commands, sys.path additions, JAX_PLATFORMS).

    The clone folder is ``tmp_path / "clone"``: a second call with the same tmp_path finds it there."""
    scenario = {"colab": colab, "imported_jax": imported_jax, "python": python, "installed": installed,
                "pip_install_code": pip_install_code, "pip_install_result": PIP_INSTALL_RESULT,
                "check_before": CHECK_BEFORE, "check_after": CHECK_AFTER, "report": str(tmp_path / "report.json"),
                "colab_setup": str(ROOT / "colab_setup.py")}
    done = subprocess.run([sys.executable, "-c", HARNESS, json.dumps(scenario)], capture_output=True, text=True,
                          input=install_cell.install_cell_source(TEST_REPOSITORY, clone(tmp_path)),
                          env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    return done, report


def clone(tmp_path):
    return str(tmp_path / "clone")


def _git_calls(report):
    return [call for call in report["calls"] if call[0] == "git"]


def _pip_calls(report):
    return [call for call in report["calls"] if call[:2] == ["-m", "pip"]]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_starts_with_the_template(nb):
    assert install_cell.current_install_cell(nb) == install_cell.install_cell_source(), (
        f"cell 1 of {nb.name} differs from the template: python tools/install_cell.py --write notebooks/*.ipynb")


def test_template_is_short_and_names_the_repository():
    source = install_cell.install_cell_source()
    assert len(source.splitlines()) <= install_cell.MAX_LINES == 12
    assert f'"{install_cell.repository_url()}", "/content/ntk-lessons"' in source
    assert "jax 0.5.3 + neural-tangents" in source and "colab_setup.setup(" in source
    assert "import jax\n" not in source  # it must run before anything imports jax
    compile(source, "install_cell", "exec")


def test_colab_setup_pins_the_pair_and_imports_no_jax():
    assert colab_setup.INSTALL == ["jax[cpu]==0.5.3", "neural-tangents==0.6.5"]
    tree = ast.parse((ROOT / "colab_setup.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported  # standard library only


def test_fresh_colab_python_313_installs_the_pinned_pair(tmp_path):
    done, report = run_cell(tmp_path, python=[3, 13, 9, "final", 0])
    assert done.returncode == 0, done.stderr
    assert _pip_calls(report) == [
        ["-m", "pip", "check"],
        ["-m", "pip", "uninstall", "-q", "-y", "jax-cuda12-plugin", "jax-cuda12-pjrt"],
        ["-m", "pip", "install", "-q", "jax[cpu]==0.5.3", "neural-tangents==0.6.5"],
        ["-m", "pip", "check"],
    ]
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout  # one line: what changed and what now conflicts
    for change in ("jax 0.7.2->0.5.3", "jaxlib 0.7.2->0.5.3", "neural-tangents new->0.6.5", "tf2jax new->0.3.7",
                   "jax-cuda12-plugin 0.7.2->removed", "tensorflow 2.20.0->2.21.0"):
        assert change in lines[0]
    assert ("chex needs jax>=0.7.0, chex needs jaxlib>=0.7.0, flax needs jax>=0.6.0, "
            "orbax-checkpoint needs humanize") in lines[0]
    assert "tensorflow-text" not in lines[0]  # that conflict was there before the install
    assert report["calls"][0] == ["git", "clone", "-q", "--depth", "1", TEST_REPOSITORY, clone(tmp_path)]
    assert report["added_to_path"] == [clone(tmp_path)] and report["JAX_PLATFORMS"] == "cpu"


def test_jax_already_imported_keeps_it_and_says_which(tmp_path):
    done, report = run_cell(tmp_path, imported_jax="0.7.2", python=[3, 13, 9, "final", 0])
    assert done.returncode == 0, done.stderr
    assert _pip_calls(report) == []
    assert done.stdout.count("\n") == 1
    assert "jax 0.7.2 was imported" in done.stdout and "cross-checks will be skipped" in done.stdout
    assert "Restart session" in done.stdout
    assert report["added_to_path"] == [clone(tmp_path)]  # the lessons still run


def test_python_314_keeps_the_preinstalled_jax(tmp_path):
    done, report = run_cell(tmp_path, python=[3, 14, 0, "final", 0])
    assert done.returncode == 0, done.stderr
    assert _pip_calls(report) == []
    assert "Python 3.14" in done.stdout and "jax 0.7.2 stays" in done.stdout
    assert "cross-checks will be skipped" in done.stdout and done.stdout.count("\n") == 1
    assert report["added_to_path"] == [clone(tmp_path)]


@pytest.mark.parametrize("imported_jax", [None, "0.5.3"], ids=["before-import", "re-run-after-import"])
def test_right_versions_installed_skip_pip(tmp_path, imported_jax):
    done, report = run_cell(tmp_path, imported_jax=imported_jax, installed={**COLAB_2026, **PINNED})
    assert done.returncode == 0, done.stderr
    assert _pip_calls(report) == []  # instant, and works offline
    assert done.stdout == "jax 0.5.3 and neural-tangents 0.6.5 are installed already.\n"


def test_failed_install_shows_pips_error(tmp_path):
    done, report = run_cell(tmp_path, pip_install_code=1)
    assert done.returncode != 0
    assert "RuntimeError" in done.stderr and "pip install" in done.stderr and "ERROR: no network" in done.stderr


def test_a_second_run_finds_the_clone(tmp_path):
    done, report = run_cell(tmp_path, installed={**COLAB_2026, **PINNED})
    assert done.returncode == 0 and _git_calls(report) == [["git", "clone", "-q", "--depth", "1", TEST_REPOSITORY,
                                                            clone(tmp_path)]]
    done, report = run_cell(tmp_path, installed={**COLAB_2026, **PINNED})
    assert done.returncode == 0, done.stderr
    assert _git_calls(report) == [] and report["added_to_path"] == [clone(tmp_path)]


def test_outside_colab_it_does_nothing(tmp_path):
    done, report = run_cell(tmp_path, colab=False)
    assert done.returncode == 0 and done.stdout == ""
    assert report == {"calls": [], "added_to_path": [], "JAX_PLATFORMS": None}


def _notebook(path, install_source, final_newline=True):
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Lesson\n"]},
                          {"cell_type": "code", "execution_count": None, "id": "cell-1", "metadata": {}, "outputs": [],
                           "source": install_source.splitlines(keepends=True)},
                          {"cell_type": "code", "execution_count": None, "id": "cell-2", "metadata": {}, "outputs": [],
                           "source": ["import jax"]}],
                "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + ("\n" if final_newline else ""))


@pytest.mark.parametrize("final_newline", [True, False])
def test_write_replaces_only_cell_1_and_check_reports_differences(tmp_path, capsys, final_newline):
    path = tmp_path / "01_lesson.ipynb"
    _notebook(path, "# an old install cell\nimport os", final_newline)
    assert install_cell.main(["--check", str(path)]) == 1
    assert "-# an old install cell" in capsys.readouterr().out
    assert install_cell.main(["--write", str(path)]) == 0
    expected = tmp_path / "expected.ipynb"
    _notebook(expected, install_cell.install_cell_source(), final_newline)
    assert path.read_text() == expected.read_text()  # byte for byte: only cell 1 changed
    assert install_cell.main(["--check", str(path)]) == 0
    assert install_cell.main(["--write", str(path)]) == 0 and "unchanged" in capsys.readouterr().out


def test_a_notebook_without_an_install_cell_is_refused(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "markdown", "metadata": {}, "source": []}]}))
    with pytest.raises(ValueError, match="cell 1 must be the install cell"):
        install_cell.current_install_cell(path)
