"""Lesson 03's driver: one network against each N x N kernel, as tidy records; sweeps over widths and seeds."""

import pytest

from ntk_lessons.lessons import convergence, networks
from ntk_lessons.lessons.networks import DigitsNetwork


def test_sweep_records_are_reproducible_and_tidy(tmp_path, monkeypatch):
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    kwargs = dict(n_train=5, n_test=4, depth=1, out_dim=3, metrics=("blocks", "spectrum", "regression"),
                  compare=("pntk", "first_logit"), progress=False, use_cache=False, dtype="float64")
    a = convergence.convergence_sweep([4], [0], **kwargs)
    b = convergence.convergence_sweep([4], [0], **kwargs)
    assert a == b
    assert {r["metric"] for r in a} >= {"total", "diagonal", "offdiagonal", "lambda_max_rel_error", "cond_entk",
                                         "argmax_agreement", "accuracy_entk"}
    assert set(a[0]) == {
        "regime", "parameterization", "fixed_width", "width", "seed", "approximation", "metric", "value"
    }


def test_a_point_is_its_network():
    network = DigitsNetwork(width=4, seed=1, depth=1, out_dim=3, dtype="float64")
    records = convergence.convergence_point(network, n_train=5)
    assert {(r["width"], r["seed"], r["regime"]) for r in records} == {(4, 1, "all_wide")}
    assert records == convergence.convergence_sweep([4], [1], n_train=5, depth=1, out_dim=3, dtype="float64",
                                                    use_cache=False, progress=False)


def test_the_network_description_builds_the_network_and_keys_the_cache():
    network = DigitsNetwork(width=8, seed=2, regime="last_wide", fixed_width=4, depth=3, out_dim=3)
    assert network.hidden_widths == [4, 4, 8]
    apply_fn, params, x, y = network.build(7)
    assert x.shape == (7, 64) and y.shape == (7, 3) and apply_fn(params, x).shape == (7, 3)
    assert DigitsNetwork.from_key(network.key()) == network
    assert network.replace(width=16).key() == dict(network.key(), width=16)
    fields, rest = networks.split_fields({"width": 1, "depth": 2, "n_train": 3})
    assert fields == {"width": 1, "depth": 2} and rest == {"n_train": 3}


@pytest.mark.parametrize("call, error, match", [
    (lambda: networks.hidden_widths("last_wide", 8, 2), ValueError, "fixed_width"),
    (lambda: networks.hidden_widths("deep", 8, 2), ValueError, "regime"),
    (lambda: DigitsNetwork(width=8, seed=0, parameterization="mup"), ValueError, "parameterization"),
    (lambda: convergence.convergence_sweep([], [0]), ValueError, "non-empty"),
    (lambda: convergence.convergence_point(DigitsNetwork(width=4, seed=0), metrics=("speed",)), ValueError,
     "metrics"),
    (lambda: convergence.convergence_point(DigitsNetwork(width=4, seed=0), compare=("pntk", "best")), ValueError,
     "compare"),
    (lambda: convergence.convergence_sweep([4], [0], colour="red", use_cache=False, progress=False), TypeError,
     "colour"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()
