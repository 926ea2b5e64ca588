"""The digits ship as package data: found through importlib.resources, and inside a built wheel."""

import hashlib
import importlib.resources
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ntk_lessons.support import data

ROOT = Path(__file__).resolve().parents[1]


def test_importlib_resources_finds_the_digits():
    resource = importlib.resources.files("ntk_lessons") / data.PACKAGE_DATA / "digits.npz"
    assert resource.is_file()
    assert hashlib.sha256(resource.read_bytes()).hexdigest() == data.DIGITS_SHA256
    assert not (ROOT / "data" / "digits.npz").exists(), "one copy of the file: the package's"


def test_the_wheel_ships_the_digits_and_they_load_outside_the_checkout(tmp_path):
    """Build a wheel of a copy of the project, install it into a folder and load the digits from there."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "ntk_lessons", source / "ntk_lessons", ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("ntk_lessons-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        blob = archive.read("ntk_lessons/datasets/digits.npz")
    assert hashlib.sha256(blob).hexdigest() == data.DIGITS_SHA256

    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:  # what `pip install` puts in site-packages
        archive.extractall(target)
    code = ("import ntk_lessons, ntk_lessons.support.data as d; images, labels = d.load_digits(); "
            "print(ntk_lessons.__file__); print(images.shape, labels.shape)")
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop(data.DATA_DIR_ENV_VAR, None)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    module_file, shapes = run.stdout.strip().splitlines()
    assert Path(module_file).is_relative_to(target), "imported the installed copy, not the checkout"
    assert shapes == "(1797, 8, 8) (1797,)"


@pytest.mark.parametrize("name", ["make_digits.py", "README.md"])
def test_the_top_level_data_folder_keeps_provenance(name):
    assert (ROOT / "data" / name).is_file()
