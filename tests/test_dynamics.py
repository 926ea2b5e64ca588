"""Gradient flow with a kernel: closed form vs matrix exponentials, Euler steps, limits and refusals."""

import numpy as np
import pytest
import scipy.linalg

from ntk_lessons.core import blocks, dynamics, regression

N, M, O = 8, 5, 3


def kron_eye(k, out_dim):
    return k[:, :, None, None] * np.eye(out_dim)


def flow_by_expm(k, k_test, y, f0, f0_test, flow_time):
    """Independent reference (Van Loan): expm(s [[-K, I], [0, 0]]) = [[exp(-sK), int_0^s exp(-uK) du], [0, I]].

    k (n, n), k_test (r, n), y/f0 (n, c), f0_test (r, c). Needs no K^{-1}, so singular K is fine.
    """
    n = k.shape[0]
    block = np.block([[-k, np.eye(n)], [np.zeros((n, n)), np.zeros((n, n))]])
    big = scipy.linalg.expm(flow_time * block)
    decay, integral = big[:n, :n], big[:n, n:]
    return y + decay @ (f0 - y), f0_test - k_test @ integral @ (f0 - y)


@pytest.fixture
def problem():
    """A PD N x N kernel (float64) with test kernel, targets and initial outputs."""
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(N, 12)), rng.normal(size=(M, 12))
    return {
        "k_train": x @ x.T / 12, "k_test_train": x_test @ x.T / 12, "y_train": rng.normal(size=(N, O)),
        "f0_train": rng.normal(size=(N, O)), "f0_test": rng.normal(size=(M, O)),
    }


def full_problem(seed=1):
    """A full eNTK (N, N, O, O) with off-diagonal class blocks, from random sample-major features."""
    rng = np.random.default_rng(seed)
    j, j_test = rng.normal(size=(N * O, 30)) / 30**0.5, rng.normal(size=(M * O, 30)) / 30**0.5
    return {
        "k_train": np.asarray(blocks.from_matrix(j @ j.T, N, N)),
        "k_test_train": np.asarray(blocks.from_matrix(j_test @ j.T, M, N)),
        "y_train": rng.normal(size=(N, O)), "f0_train": rng.normal(size=(N, O)), "f0_test": rng.normal(size=(M, O)),
    }


def rel_err(a, b):
    return float(np.abs(np.asarray(a) - b).max() / np.abs(b).max())


TIMES = np.array([0.0, 1.0, 17.0, 250.0, 4000.0])


def test_nxn_kernel_matches_matrix_exponential(problem):
    lr = 0.01
    out = dynamics.mse_trajectory(**{k: problem[k] for k in ("k_train", "y_train", "f0_train")}, times=TIMES, lr=lr,
                                  k_test_train=problem["k_test_train"], f0_test=problem["f0_test"])
    assert out.train.shape == (len(TIMES), N, O) and out.test.shape == (len(TIMES), M, O)
    for i, t in enumerate(TIMES):
        train, test = flow_by_expm(problem["k_train"], problem["k_test_train"], problem["y_train"],
                                   problem["f0_train"], problem["f0_test"], lr * t)
        assert rel_err(out.train[i], train) < 1e-10
        assert rel_err(out.test[i], test) < 1e-10


def test_full_entk_matches_matrix_exponential():
    p, lr = full_problem(), 0.05
    assert float(blocks.offdiagonal_share(p["k_train"])) > 0.3
    out = dynamics.mse_trajectory(p["k_train"], p["y_train"], p["f0_train"], TIMES, lr=lr,
                                  k_test_train=p["k_test_train"], f0_test=p["f0_test"])
    k, k_test = (np.asarray(blocks.to_matrix(p[name])) for name in ("k_train", "k_test_train"))
    for i, t in enumerate(TIMES):
        train, test = flow_by_expm(k, k_test, p["y_train"].reshape(-1, 1), p["f0_train"].reshape(-1, 1),
                                   p["f0_test"].reshape(-1, 1), lr * t)
        assert rel_err(out.train[i], train.reshape(N, O)) < 1e-10
        assert rel_err(out.test[i], test.reshape(M, O)) < 1e-10


def test_singular_kernel_zero_eigenvalues(problem):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(N, 3))  # rank 3 < N: five zero eigenvalues
    k, k_test = x @ x.T, rng.normal(size=(M, 3)) @ x.T
    times = np.array([0.0, 3.0, 30.0, 1e3, 1e6])
    out = dynamics.mse_trajectory(k, problem["y_train"], problem["f0_train"], times, lr=0.01,
                                  k_test_train=k_test, f0_test=problem["f0_test"])
    assert np.all(np.isfinite(out.train)) and np.all(np.isfinite(out.test))
    for i, t in enumerate(times[:4]):
        train, test = flow_by_expm(k, k_test, problem["y_train"], problem["f0_train"], problem["f0_test"], 0.01 * t)
        assert rel_err(out.train[i], train) < 1e-9
        assert rel_err(out.test[i], test) < 1e-9
    # the residual's component in the null space of K never moves
    null = scipy.linalg.null_space(x.T)
    for f in out.train:
        np.testing.assert_allclose(null.T @ (f - problem["y_train"]),
                                   null.T @ (problem["f0_train"] - problem["y_train"]), atol=1e-9)


def euler(k, k_test, y, f0, f0_test, lr, steps):
    f, f_test, out = f0.copy(), f0_test.copy(), []
    for step in range(steps + 1):
        out.append((f.copy(), f_test.copy()))
        residual = f - y
        f, f_test = f - lr * k @ residual, f_test - lr * k_test @ residual
    return out


def test_matches_many_small_euler_steps(problem):
    lam_max = np.linalg.eigvalsh(problem["k_train"])[-1]
    errors = []
    for lr, steps in [(2e-3 / lam_max, 500), (1e-3 / lam_max, 1000)]:  # same flow time
        times = np.array([0, steps // 5, steps // 2, 4 * steps // 5, steps])
        out = dynamics.mse_trajectory(problem["k_train"], problem["y_train"], problem["f0_train"], times, lr=lr,
                                      k_test_train=problem["k_test_train"], f0_test=problem["f0_test"])
        path = euler(problem["k_train"], problem["k_test_train"], problem["y_train"], problem["f0_train"],
                     problem["f0_test"], lr, steps)
        errors.append(max(max(rel_err(out.train[i], path[t][0]), rel_err(out.test[i], path[t][1]))
                          for i, t in enumerate(times)))
    assert errors[0] < 2e-3  # Euler's error is O(lr)
    assert 1.7 < errors[0] / errors[1] < 2.3  # and halves with lr: the flow is the lr -> 0 limit


def test_nxn_kernel_equals_kernel_kron_identity(problem):
    common = dict(times=TIMES, lr=0.03)
    nxn = dynamics.mse_trajectory(problem["k_train"], problem["y_train"], problem["f0_train"],
                                  k_test_train=problem["k_test_train"], f0_test=problem["f0_test"], **common)
    full = dynamics.mse_trajectory(kron_eye(problem["k_train"], O), problem["y_train"], problem["f0_train"],
                                   k_test_train=kron_eye(problem["k_test_train"], O), f0_test=problem["f0_test"],
                                   **common)
    np.testing.assert_allclose(full.train, nxn.train, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(full.test, nxn.test, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda p: p, lambda p: full_problem()], ids=["nxn", "full"])
def test_time_zero_returns_f0_exactly_and_infinity_reaches_y(problem, make):
    p = make(problem)
    lam_min = np.linalg.eigvalsh(np.asarray(regression.as_flat_kernel(p["k_train"], O).matrix))[0]
    lr = 0.1
    times = [0, 1, 10, 100, 60 / (lr * lam_min)]  # five times, like the other tests: one compilation
    out = dynamics.mse_trajectory(p["k_train"], p["y_train"], p["f0_train"], times, lr=lr,
                                  k_test_train=p["k_test_train"], f0_test=p["f0_test"])
    np.testing.assert_array_equal(out.train[0], p["f0_train"])
    np.testing.assert_array_equal(out.test[0], p["f0_test"])
    np.testing.assert_allclose(out.train[-1], p["y_train"], atol=1e-10)
    # at t = inf the test outputs are f0(x*) plus ridgeless kernel regression on the residual y - f0
    expected = p["f0_test"] + regression.fit_predict(p["k_train"], p["y_train"] - p["f0_train"], p["k_test_train"],
                                                     ridge=0.0)
    assert rel_err(out.test[-1], np.asarray(expected)) < 1e-8


def test_train_only_and_dtype(problem):
    as32 = {k: v.astype(np.float32) for k, v in problem.items()}
    out = dynamics.mse_trajectory(as32["k_train"], problem["y_train"], problem["f0_train"], TIMES, lr=0.1)
    assert isinstance(out, dynamics.Trajectory) and out.test is None
    assert out.train.dtype == np.float32 and out.train.shape == (len(TIMES), N, O)
    reference = dynamics.mse_trajectory(problem["k_train"], problem["y_train"], problem["f0_train"], TIMES,
                                        lr=0.1)
    assert rel_err(out.train, np.asarray(reference.train)) < 1e-5


def test_inputs_are_not_mutated(problem):
    copies = {k: v.copy() for k, v in problem.items()}
    times = TIMES.copy()
    dynamics.mse_trajectory(times=times, lr=0.1, **problem)
    for k, v in problem.items():
        np.testing.assert_array_equal(v, copies[k])
    np.testing.assert_array_equal(times, TIMES)


BAD_INPUTS = [
    ("lr zero", {"lr": 0.0}, ValueError, "lr must be a positive finite number"),
    ("lr negative", {"lr": -0.1}, ValueError, "lr must be a positive finite number"),
    ("lr inf", {"lr": float("inf")}, ValueError, "lr must be a positive finite number"),
    ("lr string", {"lr": "0.1"}, TypeError, "lr must be a positive finite number"),
    ("times negative", {"times": [0.0, -1.0]}, ValueError, r"times must be finite and >= 0.*times\[1\] = -1"),
    ("times nan", {"times": [np.nan]}, ValueError, "times must be finite and >= 0"),
    ("times scalar", {"times": 3.0}, ValueError, "times must be a non-empty 1-D array"),
    ("times 2-D", {"times": np.ones((2, 2))}, ValueError, "times must be a non-empty 1-D array"),
    ("times empty", {"times": []}, ValueError, "times must be a non-empty 1-D array"),
    ("times boolean", {"times": [True, False]}, TypeError, "times must hold real numbers"),
    ("f0_train wrong shape", {"f0_train": np.zeros((N, O + 1))}, ValueError, r"f0_train must have shape \(8, 3\)"),
    ("f0_train integer", {"f0_train": np.zeros((N, O), dtype=int)}, TypeError, "f0_train must have a floating"),
    ("y_train wrong length", {"y_train": np.zeros((N + 1, O))}, ValueError, "k_train must have shape .*y_train"),
    ("k_train not PSD", {"k_train": np.diag([1.0] * (N - 1) + [-5.0])}, ValueError,
     "k_train is not positive semi-definite"),
    ("k_train asymmetric", {"k_train": np.triu(np.ones((N, N)))}, ValueError, "k_train is not symmetric"),
    ("k_train nan", {"k_train": np.full((N, N), np.nan)}, ValueError, "k_train contains NaN"),
    ("f0_test without k_test_train", {"k_test_train": None}, ValueError, "f0_test was given without k_test_train"),
    ("k_test_train without f0_test", {"f0_test": None}, ValueError, "k_test_train was given without f0_test"),
    ("f0_test wrong M", {"f0_test": np.zeros((M + 1, O))}, ValueError, r"f0_test must have shape \(5, 3\)"),
    ("k_test_train wrong N", {"k_test_train": np.zeros((M, N + 1))}, ValueError, "k_test_train must have shape"),
    ("k_test_train full, k_train N x N", {"k_test_train": np.zeros((M, N, O, O))}, ValueError,
     "k_test_train must be an .R, C. kernel, the same form"),
]


@pytest.mark.parametrize("changes, error, match", [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_raise_naming_the_argument(problem, changes, error, match):
    kwargs = {**problem, "times": TIMES, "lr": 0.1, **changes}
    with pytest.raises(error, match=match):
        dynamics.mse_trajectory(**kwargs)
