"""A small on-disk cache for sweep results: one JSON file per computed point, never stale.

Each entry is keyed by a SHA-256 hash of four things, all added here and only here:

* the point's configuration (every argument that changes the result, as JSON);
* a fingerprint of the code that computes it (:func:`code_fingerprint`: a hash of the
  source of every ``.py`` file of the package, computed once per process), so editing a
  driver, or pulling a fix, recomputes the points instead of showing old numbers;
* jax's 64-bit flag, because jax draws initial weights in float64 when it is on: another
  network, even for float32 inputs;
* the seed offset (``NTK_LESSONS_SEED_OFFSET``, ``config.seed_offset``): other seeds, other networks.

Entries are written atomically (a temporary file in the same folder, then ``os.replace``),
so an interrupted sweep loses only the point it was computing and a re-run resumes from the
rest. On reading, an entry whose file is corrupt (not JSON, truncated) or whose stored key
does not match is never used: it is recomputed and overwritten.

Folder: ``$NTK_LESSONS_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/ntk-lessons`` or
``~/.cache/ntk-lessons`` -- never inside the repository's tracked files. Old entries are
not deleted (delete the folder to reclaim the space).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from .config import float64_enabled, seed_offset

CACHE_ENV_VAR = "NTK_LESSONS_CACHE_DIR"
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # the ntk_lessons folder


def cache_dir() -> Path:
    """The cache folder in force (created on first write)."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ntk-lessons"


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 (hex) of the package's code: every ``.py`` file below ``ntk_lessons/``, by relative path.

    Computed once per process (a running kernel keeps the code it imported; restart it after
    editing the package). Cost: reads the package's source once, about 0.4 MB.
    """
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def full_key(config: dict) -> dict:
    """What an entry is keyed by: ``config`` (as it reads back from JSON), the code fingerprint and the x64 flag."""
    try:
        roundtrip = json.loads(json.dumps(config, sort_keys=True))
    except TypeError as err:
        raise TypeError(f"config must be JSON-serialisable (numbers, strings, lists, dicts): {err}") from None
    return {"config": roundtrip, "code": code_fingerprint(), "x64": float64_enabled(), "seed_offset": seed_offset()}


def key_of(config: dict) -> str:
    """SHA-256 (hex) of :func:`full_key` of ``config``."""
    return hashlib.sha256(json.dumps(full_key(config), sort_keys=True).encode()).hexdigest()


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
    if not isinstance(entry, dict) or entry.get("key") != full_key(config):
        return None
    return entry.get("value")


def store(config: dict, value: Any) -> Path:
    """Write ``value`` (JSON-serialisable) for ``config`` atomically; returns the file's path."""
    path = path_of(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps({"key": full_key(config), "value": value}, sort_keys=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def cached(config: dict, compute: Callable[[], Any], *, use_cache: bool = True) -> Any:
    """``compute()``, or the value cached for ``config``; stores a fresh result. ``use_cache=False`` bypasses.

    A fresh result is returned as it reads back from JSON (tuples as lists), so a point looks
    the same whether it was computed now or read from the cache.
    """
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {use_cache!r}")
    if use_cache:
        hit = load(config)
        if hit is not None:
            return hit
    value = json.loads(json.dumps(compute()))
    if use_cache:
        store(config, value)
    return value
