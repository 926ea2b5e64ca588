"""The sweep cache (hit, miss, corruption, staleness, interruption) and the fits (known exponents, floors)."""

import json

import numpy as np
import pytest

import ntk_lessons
from ntk_lessons.lessons import convergence
from ntk_lessons.support import cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    return tmp_path


def test_cache_hit_miss_corruption_and_staleness(cache_dir, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return [{"value": len(calls)}]

    config = {"width": 8, "seeds": (0, 1)}
    assert cache.cached(config, compute) == [{"value": 1}]            # miss: computed and stored
    assert cache.cached(config, compute) == [{"value": 1}] and len(calls) == 1   # hit
    assert cache.cached({"width": 9, "seeds": (0, 1)}, compute) == [{"value": 2}]  # another config: miss
    path = cache.path_of(config)
    assert path.parent == cache_dir
    path.write_text(path.read_text()[:10])                            # truncated file: recomputed
    assert cache.cached(config, compute) == [{"value": 3}]
    entry = json.loads(path.read_text())
    entry["version"] = "0.0.0-old"                                    # stale entry: recomputed, never used
    path.write_text(json.dumps(entry))
    assert cache.cached(config, compute) == [{"value": 4}]
    assert cache.cached(config, compute, cache=False) == [{"value": 5}]
    assert not list(cache_dir.glob(".tmp-*"))                         # atomic writes leave no temporaries


def test_version_is_part_of_the_key(monkeypatch):
    key = cache.key_of({"a": 1})
    monkeypatch.setattr(cache, "__version__", "9.9.9")
    assert cache.key_of({"a": 1}) != key
    assert ntk_lessons.__version__ != "9.9.9"


def test_default_cache_dir_is_outside_the_repository(monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV_VAR, raising=False)
    repo = convergence.__file__.rsplit("/ntk_lessons/", 1)[0]
    assert not str(cache.cache_dir()).startswith(repo)


def test_interrupted_sweep_loses_only_the_unfinished_point(cache_dir, monkeypatch):
    original = convergence.convergence_point
    calls = []

    def flaky(**kw):
        calls.append((kw["width"], kw["seed"]))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(**kw)

    monkeypatch.setattr(convergence, "convergence_point", flaky)
    kwargs = dict(n_train=6, depth=1, out_dim=3, progress=False)
    with pytest.raises(KeyboardInterrupt):
        convergence.convergence_sweep([4, 8], [0, 1], **kwargs)
    assert len(list(cache_dir.glob("*.json"))) == 2
    calls.clear()
    records = convergence.convergence_sweep([4, 8], [0, 1], **kwargs)
    assert calls == [(8, 0), (8, 1)]                  # resumed: the interrupted point and the one never started
    widths, values = convergence.values_by_seed(records, metric="total", approximation="pntk")
    assert list(widths) == [4, 8] and values.shape == (2, 2) and np.all(values > 0)


def test_sweep_records_are_reproducible_and_tidy(cache_dir):
    kwargs = dict(n_train=5, n_test=4, depth=1, out_dim=3, metrics=("blocks", "spectrum", "regression"),
                  approximations=("pntk", "first_logit"), progress=False, cache=False, dtype="float64")
    a = convergence.convergence_sweep([4], [0], **kwargs)
    b = convergence.convergence_sweep([4], [0], **kwargs)
    assert a == b
    assert {r["metric"] for r in a} >= {"total", "diagonal", "offdiagonal", "lambda_max_rel_error", "cond_entk",
                                         "argmax_agreement", "accuracy_entk"}
    assert set(a[0]) == {
        "regime", "parameterization", "fixed_width", "width", "seed", "approximation", "metric", "value"
    }


def test_fit_power_law_recovers_a_known_exponent_with_an_interval_that_covers_it():
    rng = np.random.default_rng(0)
    widths = np.array([16, 64, 256, 1024, 4096])
    values = 3.0 * widths[:, None] ** -0.5 * np.exp(rng.normal(0, 0.1, size=(5, 8)))
    fit = convergence.fit_power_law(widths, values)
    assert fit.low <= -0.5 <= fit.high and fit.high - fit.low < 0.2 and abs(fit.slope + 0.5) < 0.05
    slope, low, high = fit  # unpacks as (slope, low, high)
    assert low < slope < high


def test_fit_floor_finds_a_floor_only_where_there_is_one():
    rng = np.random.default_rng(1)
    widths = np.array([64, 256, 1024, 4096, 16384])
    noise = np.exp(rng.normal(0, 0.03, size=(5, 6)))
    with_floor = np.sqrt(4.0 / widths[:, None] + 0.01) * noise
    without = np.sqrt(4.0 / widths[:, None]) * noise
    f = convergence.fit_floor(widths, with_floor)
    assert f.c_low > 0 and abs(f.floor - 0.1) < 0.02
    g = convergence.fit_floor(widths, without)
    assert g.c_low < 1e-4 and g.floor < 0.01


@pytest.mark.parametrize("call, match", [
    (lambda: convergence.fit_power_law([1, 2, 3], np.ones((2, 3))), "values_by_seed"),
    (lambda: convergence.fit_power_law([1], np.ones((1, 3))), "widths"),
    (lambda: convergence.fit_power_law([1, 2], -np.ones((2, 3))), "positive"),
    (lambda: convergence.hidden_widths("last_wide", 8, 2), "fixed_width"),
    (lambda: convergence.hidden_widths("deep", 8, 2), "regime"),
    (lambda: convergence.convergence_sweep([], [0]), "non-empty"),
    (lambda: convergence.convergence_point(width=4, seed=0, metrics=("speed",)), "metrics"),
])
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
