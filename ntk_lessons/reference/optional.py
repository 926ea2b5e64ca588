"""neural-tangents as an optional extra: cells that need it run where it imports and are skipped elsewhere.

neural-tangents 0.6.5 imports only with jax <= 0.5.3, and jax 0.5.3 has no wheels for
Python >= 3.14, so a lesson must also run without it. A notebook cell that needs it reads::

    if optional.skip_unless_neural_tangents("the agreement with neural-tangents' kernel_fn"):
        ...  # the cell's body, indented

Where neural-tangents imports, the body runs and nothing is printed; elsewhere the cell
prints one line saying what it would have shown and how to get it. This module does not
import neural-tangents (nor jax) when it is imported: the first question does, once.
"""

from __future__ import annotations

import functools
import importlib.metadata

INSTALL_COMMAND = 'pip install "jax[cpu]==0.5.3" "neural-tangents==0.6.5"'
PYTHON_NEEDED = "Python <= 3.13"


@functools.cache
def neural_tangents_available() -> bool:
    """Whether ``nt_reference.import_neural_tangents()`` succeeds here (asked once, then cached).

    The first call imports neural-tangents (TensorFlow included: seconds, about 1 GB of
    memory) or finds that it cannot; later calls cost O(1). ``neural_tangents_available.cache_clear()``
    asks again (after installing it in the running kernel's environment).
    """
    from . import nt_reference

    try:
        nt_reference.import_neural_tangents()
    except ImportError:
        return False
    return True


def _installed_version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def skip_unless_neural_tangents(what: str) -> bool:
    """True when the cell that shows ``what`` can run; otherwise print one line saying why not and return False.

    Args:
      what: what the cell would have shown, as a phrase that follows "skipped:" (e.g. "the
        agreement with neural-tangents' kernel_fn"). A non-empty str.

    Returns:
      ``neural_tangents_available()``. When False, one line is printed: what is skipped, the
      jax and neural-tangents versions found, and the command that brings the pinned pair
      (``INSTALL_COMMAND``, on ``PYTHON_NEEDED``). Cost: that of :func:`neural_tangents_available`.
    """
    if not isinstance(what, str):
        raise TypeError(f"what must be a str describing what the cell shows, got {type(what).__name__}")
    if not what.strip():
        raise ValueError("what must describe what the cell shows, got an empty string")
    if neural_tangents_available():
        return True
    print(f"Skipped: {what.strip()} -- it needs neural-tangents, which does not import here "
          f"(jax {_installed_version('jax')}, neural-tangents {_installed_version('neural-tangents')}). "
          f"To see it: {INSTALL_COMMAND} ({PYTHON_NEEDED}), then restart the kernel.")
    return False
