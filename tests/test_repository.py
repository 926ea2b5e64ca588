"""The repository's promises: environment files agree, the core never imports
neural-tangents, notebooks follow the course conventions."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CORE = ["config", "models", "kernels", "blocks", "structured", "readout", "memory", "linearization",
        "experiments", "plots", "widgets", "data", "timing", "cost"]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    project = _pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    assert set(pip_section) - {"-e ."} == wanted
    assert "python=3.11" in env["dependencies"]


def test_direct_dependencies_are_pinned_and_in_the_lock():
    project = _pyproject()["project"]
    lock = {
        re.split(r"==", line)[0].lower().replace("_", "-"): line.split("==")[1]
        for line in (ROOT / "requirements/lock.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        name, version = req.split("==")
        name = re.sub(r"\[.*\]", "", name).lower().replace("_", "-")
        assert lock.get(name) == version, req
    assert lock["jax"] == "0.5.3" and lock["neural-tangents"] == "0.6.5"


def test_core_does_not_import_neural_tangents():
    code = ("import sys\n" + "".join(f"import ntk_lessons.{m}\n" for m in CORE)
            + "bad = [m for m in sys.modules if m.startswith(('neural_tangents', 'tensorflow'))]\n"
            + "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_conventions(nb):
    cells = json.loads(nb.read_text())["cells"]
    src = ["".join(c["source"]) for c in cells]
    repo = _pyproject()["project"]["urls"]["Repository"].removeprefix("https://github.com/")
    assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", nb.name)
    assert f"colab.research.google.com/github/{repo}/blob/main/notebooks/{nb.name}" in src[0]
    assert cells[1]["cell_type"] == "code" and "jax[cpu]==0.5.3" in src[1] and "import jax\n" not in src[1]
    assert src[1] == "".join(json.loads(NOTEBOOKS[0].read_text())["cells"][1]["source"]), "install cells must be identical"
    assert f"https://github.com/{repo}" in src[1]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in cells if c["cell_type"] == "code"), \
        "committed notebooks carry no outputs (make notebooks writes executed copies to build/)"
    assert any("config.pick" in s or "config.quick_mode" in s for s in src), "notebooks honour quick mode"
    assert sum(s.lstrip().startswith("# Check") for s in src) >= 2, "check cells assert the lesson's claims"
    assert any(s.lstrip().startswith("# Self-check") for s in src), "at least one exercise with a self-check"


def test_readme_leads_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block
    assert "make test" in (ROOT / ".ci/run").read_text()
