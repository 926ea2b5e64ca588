"""What the notebooks' setup cell does on Colab, after it has cloned this repository: the one place of that logic.

The setup cell (cell 1 of every notebook, written by ``tools/install_cell.py``) clones the repository
into ``/content/ntk-lessons`` on Colab, puts it on ``sys.path`` and calls :func:`setup`, passing the
in-kernel fact this file cannot see for itself: the version of jax the kernel has imported already, if any.
:func:`setup` then brings the pinned pair -- ``jax[cpu]==0.5.3`` + ``neural-tangents==0.6.5``, the newest
jax that neural-tangents works with -- where that can work, and otherwise keeps Colab's jax and says so
in one line:

* jax imported already (another version): it stays, and the neural-tangents cross-checks will be skipped
  (Runtime > Restart session, then run the setup cell first, to get them);
* the pinned versions installed already: nothing to do (instant, works offline);
* Python >= 3.14: jax 0.5.3 has no wheels there, so Colab's jax stays;
* otherwise: uninstall Colab's CUDA plugins built for its newer jax (they crash 0.5.3), pip-install the
  pair, and print what changed and which preinstalled packages now conflict (``pip check``).

It sets ``JAX_PLATFORMS=cpu`` (the lessons are written for the CPU). It imports neither jax nor the
course's package: it must run before anything imports jax. Only the standard library is used.
tests/test_install_cell.py runs it against a fake Colab.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys

PINNED = {"jax": "0.5.3", "jaxlib": "0.5.3", "neural-tangents": "0.6.5"}
INSTALL = ["jax[cpu]==0.5.3", "neural-tangents==0.6.5"]
NEWEST_PYTHON = (3, 13)  # the newest Python with jax 0.5.3 wheels


def installed() -> dict[str, str]:
    """{distribution name (normalised): version} of every installed package."""
    dists = importlib.metadata.distributions()
    return {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in dists if d.metadata["Name"]}


def run(*command: str) -> None:
    """Run ``command``; RuntimeError with the end of its output if it fails."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def conflicts() -> set[tuple[str, str]]:
    """{(package, a requirement it misses)}, from ``pip check``."""
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True).stdout
    return set(re.findall(r"^(\S+) \S+ (?:has requirement|requires) (.+?), (?:but|which)", check, re.M))


def setup(*, jax_imported: str | None) -> None:
    """Install the pinned pair where it can work, or say in one line why not (module docstring).

    ``jax_imported``: the version of jax this kernel has imported already, or None (the setup cell passes
    ``getattr(sys.modules.get("jax"), "__version__", None)``). Prints one line. Raises RuntimeError
    (with pip's output) if pip fails.
    """
    os.environ["JAX_PLATFORMS"] = "cpu"  # the lessons are written for the CPU
    before = installed()
    if jax_imported not in (None, PINNED["jax"]):
        print(f"jax {jax_imported} was imported before this cell ran, so it stays and the neural-tangents "
              "cross-checks will be skipped (to run them: Runtime > Restart session, then run this cell first).")
    elif all(before.get(name) == version for name, version in PINNED.items()):
        print("jax 0.5.3 and neural-tangents 0.6.5 are installed already.")
    elif sys.version_info[:2] > NEWEST_PYTHON:
        print(f"jax 0.5.3 has no wheels for Python {sys.version_info[0]}.{sys.version_info[1]}: the preinstalled "
              f"jax {before.get('jax')} stays and the neural-tangents cross-checks will be skipped.")
    else:
        old_conflicts = conflicts()
        # CUDA plugins built for Colab's newer jax crash jax 0.5.3.
        plugins = [name for name, version in before.items()
                   if re.fullmatch(r"jax-cuda\d+-(plugin|pjrt)", name) and version != PINNED["jax"]]
        if plugins:
            run(sys.executable, "-m", "pip", "uninstall", "-q", "-y", *plugins)
        run(sys.executable, "-m", "pip", "install", "-q", *INSTALL)
        after = installed()
        changed = [f"{name} {before.get(name, 'new')}->{after.get(name, 'removed')}"
                   for name in sorted(before.keys() | after.keys()) if before.get(name) != after.get(name)]
        new_conflicts = [f"{name} needs {need}" for name, need in sorted(conflicts() - old_conflicts)]
        print(f"Changed: {', '.join(changed)}. Now in conflict (pip check): {', '.join(new_conflicts) or 'nothing'}.")
