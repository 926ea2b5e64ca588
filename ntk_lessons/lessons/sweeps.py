"""Width x seed sweeps of cached points: the one loop behind every lesson's sweep.

A sweep is a list of points, each a (cache key, computation) pair; every point is read
from or written to the disk cache (``support.cache``) on its own, so an interrupted sweep
resumes where it stopped, and a tqdm bar counts the points.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..core import checks
from ..core.progress import progress_bar as tqdm  # tqdm.auto, ending as one line in saved notebooks
from ..support import cache
from .networks import DigitsNetwork, split_fields


def grid(widths: Sequence[int], seeds: Sequence[int]) -> list[tuple[int, int]]:
    """Every (width, seed), widths outer; widths positive ints (numpy integers accepted), both non-empty."""
    widths = [checks.positive_int(int(w) if isinstance(w, np.integer) else w, "widths[i]") for w in widths]
    seeds = [int(s) for s in seeds]
    if not widths or not seeds:
        raise ValueError("widths and seeds must be non-empty")
    return [(w, s) for w in widths for s in seeds]


def as_json(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with tuples as lists, the way they read back from a cache file."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}


def network_point(kind: str, compute: Callable[..., Any], point: dict[str, Any],
                  **network_defaults: Any) -> tuple[dict, Callable[[], Any]]:
    """(cache key, computation) of one point computed on a :class:`DigitsNetwork`: ``compute(network, **options)``.

    ``point``: the network's fields (``network_defaults`` fill in those it lacks) and the point's other
    keyword arguments, its options. The key: ``kind`` (the computing function's name), ``network.key()``
    and the options as JSON -- all but ``progress``, which changes no number.
    """
    fields, options = split_fields(point)
    network = DigitsNetwork(**{**network_defaults, **fields})
    measured = {k: v for k, v in options.items() if k != "progress"}
    key = dict(kind=kind, network=network.key(), **as_json(measured))
    return key, functools.partial(compute, network, **options)


def network_points(kind: str, compute: Callable[..., Any], widths: Sequence[int], seeds: Sequence[int],
                   point: dict[str, Any]) -> list[tuple[dict, Callable[[], Any]]]:
    """:func:`network_point` for every width x seed of :func:`grid` (``point``: the other fields and options)."""
    return [network_point(kind, compute, dict(point, width=w, seed=s)) for w, s in grid(widths, seeds)]


def run(points: Iterable[tuple[dict, Callable[[], Any]]], *, use_cache: bool, progress: bool, desc: str) -> list:
    """The value of every point, from the cache when it holds it (``cache.cached``), in order.

    ``points``: (key, compute) pairs, ``compute()`` returning a JSON-ready value. Cost: the
    points that are not cached yet.
    """
    points = list(points)
    return [cache.cached(key, compute, use_cache=use_cache)
            for key, compute in tqdm(points, desc=desc, disable=not progress, leave=False)]


def records(points: Iterable[tuple[dict, Callable[[], list[dict]]]], *, use_cache: bool, progress: bool,
            desc: str) -> list[dict]:
    """:func:`run` for points whose values are lists of tidy records: all the records, in order."""
    return [r for value in run(points, use_cache=use_cache, progress=progress, desc=desc) for r in value]
