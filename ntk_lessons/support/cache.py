"""A small on-disk cache for sweep results: one JSON file per computed point.

Each entry is keyed by a SHA-256 hash of the point's full configuration (every argument
that changes the result, as JSON) and the package version, and written atomically
(a temporary file in the same folder, then ``os.replace``), so an interrupted sweep
loses only the point it was computing and a re-run resumes from the rest. On reading, an
entry whose file is corrupt (not JSON, truncated) or stale (another package version or
configuration) is never used: it is recomputed and overwritten.

Folder: ``$NTK_LESSONS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ntk-lessons`` or
``~/.cache/ntk-lessons`` -- never inside the repository's tracked files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .. import __version__

CACHE_ENV_VAR = "NTK_LESSONS_CACHE_DIR"


def cache_dir() -> Path:
    """The cache folder in force (created on first write)."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ntk-lessons"


def key_of(config: dict) -> str:
    """SHA-256 (hex) of ``config`` (JSON-serialisable, keys sorted) and the package version."""
    try:
        blob = json.dumps({"config": config, "version": __version__}, sort_keys=True)
    except TypeError as err:
        raise TypeError(f"config must be JSON-serialisable (numbers, strings, lists, dicts): {err}") from None
    return hashlib.sha256(blob.encode()).hexdigest()


def path_of(config: dict) -> Path:
    """Where the entry for ``config`` lives."""
    return cache_dir() / f"{key_of(config)}.json"


def load(config: dict) -> Any | None:
    """The cached value for ``config``, or None if absent, corrupt or stale. Cost: one small file read."""
    path = path_of(config)
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get("version") != __version__ or entry.get("config") != _roundtrip(config):
        return None
    return entry.get("value")


def store(config: dict, value: Any) -> Path:
    """Write ``value`` (JSON-serialisable) for ``config`` atomically; returns the file's path."""
    path = path_of(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps({"version": __version__, "config": config, "value": value}, sort_keys=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached(config: dict, compute: Callable[[], Any], *, cache: bool = True) -> Any:
    """``compute()``, or the value cached for ``config``; stores a fresh result. ``cache=False`` bypasses."""
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be True or False, got {cache!r}")
    if cache:
        hit = load(config)
        if hit is not None:
            return hit
    value = compute()
    if cache:
        store(config, value)
    return value


def _roundtrip(config: dict) -> Any:
    """``config`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(config, sort_keys=True))
