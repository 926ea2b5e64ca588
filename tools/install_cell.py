"""The notebooks' setup cell, written once: the template, and a script that puts it into cell 1 of each notebook.

The cell is short (at most 12 lines): on Colab it clones the repository and calls ``colab_setup.setup``
(the repository's top-level colab_setup.py, where the logic lives); elsewhere it does nothing.

    python tools/install_cell.py --write notebooks/*.ipynb   # replace cell 1 of each notebook with the template
    python tools/install_cell.py --check notebooks/*.ipynb   # report (as a diff) every notebook whose cell 1 differs

The repository's URL comes from pyproject.toml's [project.urls] Repository. Only cell 1's
source changes; the rest of the file is written back byte for byte (same key order, indent
and final newline). tests/test_install_cell.py compares every notebook with the template and
runs the template, and colab_setup.py, against a fake Colab.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL_CELL_INDEX = 1  # cell 0 is the title and Colab badge

# What a student reads first: at most 12 lines; the logic lives in colab_setup.py (tested by
# tests/test_install_cell.py). @REPOSITORY@ and @CLONE@ are filled in from pyproject.toml.
TEMPLATE = '''\
# Setup cell: run it first. On Colab it fetches this course's repository and installs jax 0.5.3 + neural-tangents
# 0.6.5 where they can work -- Python <= 3.13, jax not imported yet (colab_setup.py says how); elsewhere it does
# nothing (use `make lab`). Without neural-tangents the lessons still run; only the cross-checks with it are skipped.
import os, subprocess, sys
if "google.colab" in sys.modules:
    REPOSITORY, CLONE = "@REPOSITORY@", "@CLONE@"
    if not os.path.isdir(CLONE):
        subprocess.run(["git", "clone", "-q", "--depth", "1", REPOSITORY, CLONE], check=True)
    if CLONE not in sys.path:
        sys.path.insert(0, CLONE)
    import colab_setup
    colab_setup.setup(jax_imported=getattr(sys.modules.get("jax"), "__version__", None))
'''
MAX_LINES = 12


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """pyproject.toml's [project.urls] Repository, e.g. "https://github.com/ntk-lessons/ntk-lessons". Reads one file."""
    return tomllib.loads(pyproject.read_text())["project"]["urls"]["Repository"]


def install_cell_source(repository: str | None = None, clone: str | None = None) -> str:
    """The install cell's source (a str, no final newline) for ``repository`` (default: pyproject's), which it clones
    on Colab into ``clone`` (default /content/<name>). Cost: O(template length)."""
    repository = repository_url() if repository is None else repository
    clone = "/content/" + repository.rstrip("/").rsplit("/", 1)[-1] if clone is None else clone
    return TEMPLATE.replace("@REPOSITORY@", repository).replace("@CLONE@", clone).rstrip("\n")


def _read(path: Path) -> tuple[dict, bool]:
    text = path.read_text(encoding="utf-8")
    return json.loads(text), text.endswith("\n")


def current_install_cell(path: Path) -> str:
    """The source of cell 1 of the notebook at ``path`` (ValueError if it is not a code cell). Cost: reads the file."""
    notebook, _ = _read(path)
    cells = notebook["cells"]
    if len(cells) <= INSTALL_CELL_INDEX or cells[INSTALL_CELL_INDEX]["cell_type"] != "code":
        raise ValueError(f"{path}: cell {INSTALL_CELL_INDEX} must be the install cell (a code cell)")
    source = cells[INSTALL_CELL_INDEX]["source"]
    return source if isinstance(source, str) else "".join(source)


def write_install_cell(path: Path, source: str) -> bool:
    """Replace cell 1's source of the notebook at ``path`` with ``source``; True if the file changed.

    Every other byte is kept: same key order, one-space indent, final newline as before. Cost: one read and
    one write of the file."""
    if current_install_cell(path) == source:
        return False
    notebook, final_newline = _read(path)
    notebook["cells"][INSTALL_CELL_INDEX]["source"] = source.splitlines(keepends=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + ("\n" if final_newline else ""),
                    encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="write the template into cell 1 of each notebook")
    action.add_argument("--check", action="store_true", help="report notebooks whose cell 1 differs (exit 1)")
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    wanted = install_cell_source()
    differ = 0
    for path in args.notebooks:
        if args.write:
            print(f"{'updated' if write_install_cell(path, wanted) else 'unchanged'}  {path}")
            continue
        have = current_install_cell(path)
        if have != wanted:
            differ += 1
            sys.stdout.writelines(difflib.unified_diff(have.splitlines(keepends=True), wanted.splitlines(keepends=True),
                                                       f"{path} (cell {INSTALL_CELL_INDEX})", "template"))
            print()
    if args.check:
        print(f"{differ} of {len(args.notebooks)} notebook(s) differ from the template"
              + (": run python tools/install_cell.py --write notebooks/*.ipynb" if differ else ""))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
