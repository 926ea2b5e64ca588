"""support.config: quick mode and the seed offset (NTK_LESSONS_SEED_OFFSET) that every lesson seed goes through."""

import jax
import numpy as np
import pytest

from ntk_lessons.analysis import fit_power_law
from ntk_lessons.lessons.networks import DigitsNetwork
from ntk_lessons.support import cache, config


def test_offset_defaults_to_zero_and_shifts_every_seed(monkeypatch):
    monkeypatch.delenv(config.SEED_OFFSET_ENV_VAR, raising=False)
    assert config.seed_offset() == 0 and config.lesson_seed(3) == 3
    monkeypatch.setenv(config.SEED_OFFSET_ENV_VAR, "7")
    assert config.seed_offset() == 7 and config.lesson_seed(3) == 10
    assert np.array_equal(config.key(3), jax.random.PRNGKey(10))
    assert config.rng(3).integers(1 << 30) == np.random.default_rng(10).integers(1 << 30)


@pytest.mark.parametrize("value", ["x", "1.5", "seven"])
def test_a_bad_offset_is_named(monkeypatch, value):
    monkeypatch.setenv(config.SEED_OFFSET_ENV_VAR, value)
    with pytest.raises(ValueError, match="NTK_LESSONS_SEED_OFFSET must be an integer"):
        config.seed_offset()


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.0, TypeError), (True, TypeError), ("0", TypeError)])
def test_bad_seeds_are_named(seed, error):
    with pytest.raises(error, match="seed"):
        config.lesson_seed(seed)


def test_offset_changes_networks_splits_and_bootstraps(monkeypatch):
    """Every kind of lesson randomness moves with the offset; offset 0 is the old behaviour."""
    monkeypatch.setenv(config.SEED_OFFSET_ENV_VAR, "0")
    network = DigitsNetwork(width=8, seed=1, out_dim=3)
    _, params0, x0, _ = network.build(6)
    values = np.exp(np.random.default_rng(0).normal(size=(4, 12)))
    fit0 = fit_power_law([1, 2, 4, 8], values)
    monkeypatch.setenv(config.SEED_OFFSET_ENV_VAR, "5")
    _, params5, x5, _ = network.build(6)
    fit5 = fit_power_law([1, 2, 4, 8], values)
    assert not np.allclose(jax.tree_util.tree_leaves(params0)[0], jax.tree_util.tree_leaves(params5)[0])
    assert not np.array_equal(x0, x5)
    assert fit0.slope == fit5.slope and (fit0.low, fit0.high) != (fit5.low, fit5.high)


def test_offset_is_part_of_every_cache_key(monkeypatch):
    monkeypatch.setenv(config.SEED_OFFSET_ENV_VAR, "0")
    key0 = cache.key_of({"kind": "test", "seed": 0})
    monkeypatch.setenv(config.SEED_OFFSET_ENV_VAR, "1")
    assert cache.key_of({"kind": "test", "seed": 0}) != key0
