"""The repository's promises: environment files agree, the core never imports
neural-tangents, notebooks follow the course conventions."""

import json
import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Every module of the package outside ntk_lessons.reference, the one subpackage that imports neural-tangents.
CORE = sorted(m.name.removeprefix("ntk_lessons.")
              for m in pkgutil.walk_packages([str(ROOT / "ntk_lessons")], "ntk_lessons.")
              if not m.name.startswith("ntk_lessons.reference"))


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


def test_core_list_is_derived_from_the_package():
    assert {"core.kernels", "core.models", "teaching.exercises", "teaching.plots"} <= set(CORE)
    assert not any("nt_reference" in m or "benchmark" in m for m in CORE)


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
    assert cells[1]["cell_type"] == "code" and "colab_setup.setup(" in src[1] and "import jax\n" not in src[1]
    assert len(src[1].splitlines()) <= 12, "the setup cell is short: its logic lives in colab_setup.py"
    first_install_cell = "".join(json.loads(NOTEBOOKS[0].read_text())["cells"][1]["source"])
    assert src[1] == first_install_cell, "setup cells must be identical"
    assert f"https://github.com/{repo}" in src[1]
    assert all(not c.get("outputs") and not c.get("execution_count") for c in cells if c["cell_type"] == "code"), \
        "committed notebooks carry no outputs (make notebooks writes executed copies to build/)"
    assert any("config.pick" in s or "config.quick_mode" in s for s in src), "notebooks honour quick mode"
    assert sum(s.lstrip().startswith("# Check") for s in src) >= 2, "check cells assert the lesson's claims"
    assert any(s.lstrip().startswith("# Self-check") for s in src), "at least one exercise with a self-check"


def _sources(nb):
    cells = json.loads(nb.read_text())["cells"]
    return cells, ["".join(c["source"]) for c in cells]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_use_the_exercises_module_and_keep_solutions_out_of_the_notebook(nb):
    """CONTRIBUTING.md: one self-check mechanism; reference solutions live in ntk_lessons/teaching/solutions/."""
    from ntk_lessons.teaching import exercises

    cells, src = _sources(nb)
    self_checks = [s for s in src if s.lstrip().startswith("# Self-check")]
    ids = [i for s in self_checks for i in re.findall(r'exercises\.check\(\s*"([^"]+)"', s)]
    assert len(ids) == len(self_checks), "each # Self-check cell makes one exercises.check(\"LL.name\", ...) call"
    assert all(i.startswith(nb.name[:2] + ".") for i in ids), f"exercise ids start with the lesson number: {ids}"
    assert set(ids) <= set(exercises.registered()), f"unregistered exercises: {set(ids) - set(exercises.registered())}"
    assert not any(re.search(r"reference solution|_reference\(", s, re.I) for c, s in zip(cells, src)
                   if c["cell_type"] == "code" and not s.lstrip().startswith("# Self-check")), \
        "reference solutions belong in ntk_lessons/teaching/solutions/, not in the student's notebook"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_each_lesson_asks_a_prediction_before_measuring(nb):
    _, src = _sources(nb)
    reveals = [k for k, s in enumerate(src) if "exercises.reveal(" in s]
    assert reveals, "at least one 'predict before you run' question (exercises.reveal)"
    for k in reveals:
        guess = re.search(r"exercises\.reveal\(\s*(\w+)", src[k]).group(1)
        assert any(re.match(rf"{guess}\s*=\s*None\b", s.strip()) for s in src[:k]), \
            f"the guess {guess} = None is set in an earlier cell, before the measurement"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_the_top_states_what_the_lesson_needs_and_the_last_cell_checks_it(nb):
    _, src = _sources(nb)
    top = " ".join(src[0].split())
    assert "**What it needs:**" in top, "cell 0 states what the lesson needs (CONTRIBUTING.md)"
    needs = top[top.index("**What it needs:**"):]
    unit = r"(s|seconds?|minutes?)"
    times = re.search(rf"about (\d+) {unit} of computing in full mode and (\d+) {unit} in quick mode", needs)
    memory = re.search(r"under ([\d.]+) GB", needs)
    assert times and memory, "the statement reads: about N s of computing in full mode and M s in quick mode ...; " \
                             "under G GB of memory"
    seconds = lambda n, u: int(n) * (60 if u.startswith("minute") else 1)  # noqa: E731
    full, quick = seconds(*times.group(1, 2)), seconds(*times.group(3, 4))
    uses_x64 = any('jax.config.update("jax_enable_x64", True)' in s for s in src)
    assert ("float64" in needs) == uses_x64 and ("float32" in needs or uses_x64), (
        "the stated precision matches the code"
    )
    assert "clock = runtime.LessonClock()" in src[2], "the clock starts in the import cell"
    last = src[-1]
    assert last.lstrip().startswith("# Check"), "the last cell is the check of the stated needs"
    assert f"clock.check_stated(full_seconds={full}, quick_seconds={quick}, memory_gb={memory.group(1)})" in last, \
        "the last cell checks exactly the needs stated at the top"


def test_readme_leads_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make lab" in first_block and "make test" in first_block
    assert "make test" in (ROOT / ".ci/run").read_text()


def _stated_needs(nb) -> tuple[int, int, str]:
    """(full seconds, quick seconds, memory GB as written) from the notebook's last cell, which checks its top."""
    last = _sources(nb)[1][-1]
    found = re.search(r"clock\.check_stated\(full_seconds=(\d+), quick_seconds=(\d+), memory_gb=([\d.]+)\)", last)
    assert found, f"{nb.name}: the last cell calls clock.check_stated(full_seconds=N, quick_seconds=M, memory_gb=G)"
    return int(found.group(1)), int(found.group(2)), found.group(3)


def test_the_readme_states_what_each_lesson_states_it_needs():
    readme = (ROOT / "README.md").read_text()
    rows = {m.group(1): (int(m.group(2)), int(m.group(3)), m.group(4)) for m in re.finditer(
        r"^\| (\d\d) \| about (\d+) s \| about (\d+) s \| under ([\d.]+) GB", readme, re.MULTILINE)}
    assert sorted(rows) == [nb.name[:2] for nb in NOTEBOOKS], "one README row per lesson (In class, with JupyterLab)"
    for nb in NOTEBOOKS:
        assert rows[nb.name[:2]] == _stated_needs(nb), f"README and {nb.name} state different needs"
