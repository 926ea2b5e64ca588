"""The sweep cache: hit, miss, corruption, interruption -- and it cannot serve stale results.

An entry is keyed by its configuration, a fingerprint of the package's code and jax's float64
flag (support.cache). Change any of them and the point is recomputed: the tests below change the
code for real (a copy of the package, one driver edited, in a fresh process) and by monkeypatching
the fingerprint.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ntk_lessons import analysis
from ntk_lessons.lessons import convergence
from ntk_lessons.support import cache, config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    return tmp_path


def test_cache_hit_miss_corruption_and_staleness(cache_dir):
    calls = []

    def compute():
        calls.append(1)
        return [{"value": len(calls)}]

    key = {"width": 8, "seeds": (0, 1)}
    assert cache.cached(key, compute) == [{"value": 1}]            # miss: computed and stored
    assert cache.cached(key, compute) == [{"value": 1}] and len(calls) == 1   # hit
    assert cache.cached({"width": 9, "seeds": (0, 1)}, compute) == [{"value": 2}]  # another config: miss
    path = cache.path_of(key)
    assert path.parent == cache_dir
    path.write_text(path.read_text()[:10])                            # truncated file: recomputed
    assert cache.cached(key, compute) == [{"value": 3}]
    entry = json.loads(path.read_text())
    entry["key"]["code"] = "0" * 64                                   # written by other code: recomputed, never used
    path.write_text(json.dumps(entry))
    assert cache.cached(key, compute) == [{"value": 4}]
    assert cache.cached(key, compute, use_cache=False) == [{"value": 5}]
    assert not list(cache_dir.glob(".tmp-*"))                         # atomic writes leave no temporaries


def test_a_fresh_value_reads_as_a_cached_one(cache_dir):
    fresh = cache.cached({"k": 1}, lambda: {"pair": (1, 2), "nan": float("nan")})
    again = cache.cached({"k": 1}, lambda: pytest.fail("recomputed"))
    assert fresh["pair"] == again["pair"] == [1, 2] and np.isnan(fresh["nan"]) and np.isnan(again["nan"])


def test_code_fingerprint_and_float64_flag_are_part_of_the_key(monkeypatch):
    key = cache.key_of({"a": 1})
    assert cache.full_key({"a": 1}) == {"config": {"a": 1}, "code": cache.code_fingerprint(), "x64": True,
                                        "seed_offset": 0}
    with monkeypatch.context() as patch:
        patch.setattr(cache, "code_fingerprint", lambda: "edited")
        assert cache.key_of({"a": 1}) != key
    with monkeypatch.context() as patch:
        patch.setattr(cache, "float64_enabled", lambda: False)
        assert cache.key_of({"a": 1}) != key
    assert cache.key_of({"a": 1}) == key and config.float64_enabled()  # conftest switched float64 on


def test_fingerprint_covers_every_module_of_the_package():
    assert cache.code_fingerprint() == cache.code_fingerprint()  # computed once per process
    modules = sorted(p.relative_to(cache.PACKAGE_ROOT).as_posix() for p in cache.PACKAGE_ROOT.rglob("*.py"))
    assert {"lessons/convergence.py", "core/kernels.py", "support/cache.py", "__init__.py"} <= set(modules)


def test_a_sweep_point_is_recomputed_when_the_code_that_computes_it_changes(cache_dir, monkeypatch):
    calls = []
    original = convergence.convergence_point

    def counted(network, **options):
        calls.append((network.width, network.seed))
        return original(network, **options)

    monkeypatch.setattr(convergence, "convergence_point", counted)
    sweep = dict(n_train=5, depth=1, out_dim=3, progress=False)
    first = convergence.convergence_sweep([4], [0], **sweep)
    assert convergence.convergence_sweep([4], [0], **sweep) == first and calls == [(4, 0)]  # read from the cache
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "the package after an edit")
    assert convergence.convergence_sweep([4], [0], **sweep) == first and calls == [(4, 0), (4, 0)]  # recomputed


SCRIPT = textwrap.dedent("""\
    import json, sys
    from ntk_lessons.lessons import convergence
    import ntk_lessons.lessons.convergence as module
    calls = []
    original = module.convergence_point
    module.convergence_point = lambda network, **kw: calls.append(1) or original(network, **kw)
    records = convergence.convergence_sweep([4], [0], n_train=5, depth=1, out_dim=3, progress=False)
    print(json.dumps({"computed": len(calls), "file": module.__file__}))
""")


def test_editing_a_driver_in_a_copy_of_the_package_recomputes_its_points(tmp_path):
    """The real thing: run a sweep point twice in fresh processes from a copy of the package, editing the
    driver in between. The first run computes, the second reads the cache, the third (edited code) computes."""
    shutil.copytree(ROOT / "ntk_lessons", tmp_path / "ntk_lessons", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), cache.CACHE_ENV_VAR: str(tmp_path / "cache"),
           "JAX_PLATFORMS": "cpu"}

    def run():
        done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = run()
    assert Path(first["file"]).is_relative_to(tmp_path) and first["computed"] == 1
    assert run()["computed"] == 0                                     # same code: served from the cache
    driver = tmp_path / "ntk_lessons" / "lessons" / "convergence.py"
    driver.write_text(driver.read_text() + "\n# an edit that could have changed the numbers\n")
    assert run()["computed"] == 1                                     # edited code: recomputed


def test_default_cache_dir_is_outside_the_repository(monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV_VAR, raising=False)
    assert not str(cache.cache_dir()).startswith(str(ROOT))


def test_interrupted_sweep_loses_only_the_unfinished_point(cache_dir, monkeypatch):
    original = convergence.convergence_point
    calls = []

    def flaky(network, **options):
        calls.append((network.width, network.seed))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(network, **options)

    monkeypatch.setattr(convergence, "convergence_point", flaky)
    kwargs = dict(n_train=6, depth=1, out_dim=3, progress=False)
    with pytest.raises(KeyboardInterrupt):
        convergence.convergence_sweep([4, 8], [0, 1], **kwargs)
    assert len(list(cache_dir.glob("*.json"))) == 2
    calls.clear()
    records = convergence.convergence_sweep([4, 8], [0, 1], **kwargs)
    assert calls == [(8, 0), (8, 1)]                  # resumed: the interrupted point and the one never started
    widths, values = analysis.values_by_seed(records, metric="total", approximation="pntk")
    assert list(widths) == [4, 8] and values.shape == (2, 2) and np.all(values > 0)


def test_bad_use_cache_is_refused():
    with pytest.raises(TypeError, match="use_cache"):
        cache.cached({"a": 1}, lambda: 1, use_cache="yes")
