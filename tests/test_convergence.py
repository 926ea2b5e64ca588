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


# ----------------------------------------------------------------------------- lesson 03's statistics and theorems

import numpy as np  # noqa: E402

from ntk_lessons.core import approximations, blocks, kernels  # noqa: E402


def test_t_interval_over_seeds_and_one_seed_gives_none():
    one = convergence.t_interval([-0.5])
    assert one.mean == -0.5 and np.isnan(one.low) and np.isnan(one.high) and "1 seed: no interval" in one.describe()
    three = convergence.t_interval([-0.4, -0.5, -0.6])
    # mean ± t_{0.975, 2} sd / √3, t = 4.303
    assert np.isclose(three.mean, -0.5) and np.isclose(three.high - three.mean, 4.3027 * 0.1 / np.sqrt(3), rtol=1e-4)
    assert "95% t-interval over 3 seeds" in three.describe() and three.n_seeds == 3


def test_slope_and_floor_per_seed_recover_the_model():
    widths = np.array([64.0, 256, 1024, 4096])
    values = widths[:, None] ** -0.5 * np.array([1.0, 2.0, 3.0])  # three seeds, exact slope -1/2
    fit = convergence.slope_per_seed(widths, values)
    assert np.allclose(fit.per_seed, -0.5) and np.isclose(fit.mean, -0.5)
    floored = np.sqrt(2.0 / widths[:, None] + np.array([1e-3, 2e-3]))  # e² = a/n + c, c per seed
    floor = convergence.floor_per_seed(widths, floored)
    assert np.allclose(floor.per_seed, [1e-3, 2e-3], rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: convergence.t_interval([]), "per_seed"),
    (lambda: convergence.t_interval([1.0, np.nan]), "per_seed"),
    (lambda: convergence.t_interval([1.0, 2.0], level=1.5), "level"),
    (lambda: convergence.slope_per_seed([1, 2, 3], np.ones((2, 2))), "values_by_seed"),
    (lambda: convergence.floor_per_seed([1, 2, 3], np.ones(3)), "values_by_seed"),
    (lambda: convergence.interlacing(np.ones((4, 3)), np.ones((4, 2))), "theta"),
    (lambda: convergence.interlacing(np.eye(4), np.ones((3, 2))), "v must have shape"),
])
def test_bad_inputs_of_the_statistics(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _random_entk(n=5, o=3, seed=0):
    a = np.random.default_rng(seed).normal(size=(n * o, n * o + 4))
    return (a @ a.T).reshape(n, o, n, o).transpose(0, 2, 1, 3)  # a PSD (N, N, O, O) "eNTK", sample-major


def test_pntk_is_the_compression_and_its_eigenvalues_interlace():
    theta = _random_entk()
    n, o = theta.shape[0], theta.shape[-1]
    pntk = theta.sum((2, 3)) / o
    v = np.kron(np.eye(n), np.ones((o, 1))) / np.sqrt(o)
    assert np.allclose(v.T @ np.asarray(blocks.to_matrix(theta)) @ v, pntk)
    result = convergence.interlacing(theta, v)
    assert result["upper"] <= 1e-9 and result["lower"] <= 1e-9 and result["orthonormality"] < 1e-12
    assert np.allclose(np.sort(result["compressed"]), np.linalg.eigvalsh(pntk))
    broken = convergence.interlacing(theta, v * np.sqrt(o))  # without the 1/√O: O·pNTK exceeds λmax(Θ)
    assert broken["upper"] > 0


def test_pntk_identity_and_one_backward_pass_on_a_network():
    network = DigitsNetwork(width=8, seed=0, depth=2, out_dim=3, dtype="float64")
    apply_fn, params, x, _ = network.build(4)
    theta, k = np.asarray(kernels.entk(apply_fn, params, x)), np.asarray(kernels.pntk(apply_fn, params, x))
    assert theta.shape == (4, 4, 3, 3) and k.shape == (4, 4) and theta.size == 3**2 * k.size
    assert np.allclose(k, theta.sum((2, 3)) / 3, rtol=1e-10, atol=1e-12)


def test_every_kernel_shares_the_offdiagonal_error_and_the_mean_trace_is_the_projection():
    theta = _random_entk(seed=1)
    o = theta.shape[-1]
    mean_trace = np.einsum("nmjj->nm", theta) / o
    rng = np.random.default_rng(2)
    errors = [approximations.block_errors(theta, k) for k in (mean_trace, theta.sum((2, 3)) / o, theta[:, :, 0, 0],
                                                                rng.normal(size=mean_trace.shape))]
    assert np.allclose([e["offdiagonal"] for e in errors], errors[0]["offdiagonal"], rtol=1e-12)  # identity (i)
    assert errors[0]["diagonal"] == min(e["diagonal"] for e in errors)
    norm2 = np.linalg.norm(theta) ** 2
    for k in (theta.sum((2, 3)) / o, rng.normal(size=mean_trace.shape)):  # Pythagoras (ii)
        lhs = approximations.block_errors(theta, k)["total"] ** 2 * norm2
        best = approximations.block_errors(theta, mean_trace)["total"] ** 2 * norm2
        rhs = best + o * np.linalg.norm(k - mean_trace) ** 2
        assert np.isclose(lhs, rhs, rtol=1e-10)
