"""Kernel regression: known answers, N x N vs K ⊗ I_O vs full eNTK, ridge scaling, and every refusal."""

import re
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import blocks, regression


def kron_eye(k, out_dim):
    return k[:, :, None, None] * np.eye(out_dim)


def random_features(rng, n, p, out_dim):
    """Flattened (n O, p) features: the rows of a sample-major Jacobian."""
    return rng.normal(size=(n * out_dim, p))


def full_kernel(rows, cols, n1, n2):
    """(n1 O, p) x (n2 O, p) features -> (n1, n2, O, O) kernel rows @ cols.T."""
    return np.asarray(blocks.from_matrix(rows @ cols.T, n1, n2, "sample"))


@pytest.fixture
def problem():
    """N=12 training points, M=5 test points, O=3 outputs, a PD N x N kernel (float64)."""
    rng = np.random.default_rng(0)
    x, x_test = rng.normal(size=(12, 20)), rng.normal(size=(5, 20))
    return {"k_train": x @ x.T, "y_train": rng.normal(size=(12, 3)), "k_test_train": x_test @ x.T}


def test_recovers_a_linear_map():
    rng = np.random.default_rng(1)
    x, x_test, b = rng.normal(size=(12, 6)), rng.normal(size=(9, 6)), rng.normal(size=(6, 4))
    pred = regression.fit_predict(x @ x.T, x @ b, x_test @ x.T, ridge=1e-12)  # rank 6: the ridge is needed
    assert pred.shape == (9, 4)
    np.testing.assert_allclose(pred, x_test @ b, rtol=0, atol=1e-7 * np.abs(x_test @ b).max())


def test_nxn_kernel_equals_kernel_kron_identity(problem):
    out_dim = problem["y_train"].shape[1]
    nxn = regression.fit_predict(**problem, ridge=1e-3)
    full = regression.fit_predict(kron_eye(problem["k_train"], out_dim), problem["y_train"],
                                  kron_eye(problem["k_test_train"], out_dim), ridge=1e-3)
    np.testing.assert_allclose(full, nxn, rtol=1e-10, atol=1e-12)


def test_full_entk_with_class_coupling_matches_a_direct_solve():
    rng = np.random.default_rng(2)
    n, m, out_dim, ridge = 4, 5, 3, 1e-2
    j_train, j_test = random_features(rng, n, 15, out_dim), random_features(rng, m, 15, out_dim)
    theta, theta_test = full_kernel(j_train, j_train, n, n), full_kernel(j_test, j_train, m, n)
    assert float(blocks.offdiagonal_share(theta)) > 0.3  # real coupling between the outputs
    y = rng.normal(size=(n, out_dim))
    pred = regression.fit_predict(theta, y, theta_test, ridge=ridge)

    big = j_train @ j_train.T  # row n * O + j: sample-major
    lam = ridge * np.mean(np.diag(big))
    expected = (j_test @ j_train.T) @ np.linalg.solve(big + lam * np.eye(n * out_dim), y.reshape(-1))
    np.testing.assert_allclose(pred, expected.reshape(m, out_dim), rtol=1e-10, atol=1e-12)
    # and the coupling matters: dropping the off-diagonal blocks changes the answer
    diag, _ = blocks.split_diagonal(theta)
    diag_test, _ = blocks.split_diagonal(theta_test)
    assert np.abs(regression.fit_predict(diag, y, diag_test, ridge=ridge) - pred).max() > 1e-2


@pytest.mark.parametrize("scale", [1e-3, 7.0, 1e4])
def test_ridge_is_relative_to_the_kernel_scale(problem, scale):
    base = regression.fit_predict(**problem, ridge=0.1)
    scaled = regression.fit_predict(problem["k_train"] * scale, problem["y_train"],
                                    problem["k_test_train"] * scale, ridge=0.1)
    np.testing.assert_allclose(scaled, base, rtol=1e-10, atol=1e-13)
    # and the ridge does something: a much larger one shrinks the predictions
    assert np.abs(regression.fit_predict(**problem, ridge=100.0)).max() < 0.5 * np.abs(base).max()


def test_returns_the_kernel_dtype(problem):
    as32 = {k: v.astype(np.float32) for k, v in problem.items()}
    pred = regression.fit_predict(as32["k_train"], problem["y_train"], as32["k_test_train"], ridge=1e-2)
    assert pred.dtype == jnp.float32
    np.testing.assert_allclose(pred, regression.fit_predict(**problem, ridge=1e-2), rtol=1e-3, atol=1e-4)


N, M, O = 12, 5, 3
BAD_INPUTS = [
    # (id, changes to the good problem (a function of it), exception, words the message must contain)
    ("ridge negative", lambda p: {"ridge": -1e-3}, ValueError, ["ridge", "non-negative"]),
    ("ridge not a number", lambda p: {"ridge": "small"}, TypeError, ["ridge"]),
    ("ridge nan", lambda p: {"ridge": float("nan")}, ValueError, ["ridge"]),
    ("k_train integer", lambda p: {"k_train": np.eye(N, dtype=np.int64)}, TypeError, ["k_train", "floating"]),
    ("k_train None", lambda p: {"k_train": None}, TypeError, ["k_train"]),
    ("k_train not square", lambda p: {"k_train": p["k_train"][:, :-1]}, ValueError, ["k_train", "shape"]),
    ("k_train rank 3", lambda p: {"k_train": p["k_train"][:, :, None]}, ValueError, ["k_train", "shape"]),
    ("k_train asymmetric", lambda p: {"k_train": p["k_train"] + np.triu(np.ones((N, N)), 1)},
     ValueError, ["k_train", "not symmetric"]),
    ("k_train nan", lambda p: {"k_train": np.where(np.eye(N, dtype=bool), np.nan, p["k_train"])},
     ValueError, ["k_train", "NaN"]),
    ("k_train inf", lambda p: {"k_train": np.full((N, N), np.inf)}, ValueError, ["k_train", "infinite"]),
    ("k_train not PSD", lambda p: {"k_train": p["k_train"] - 3 * np.trace(p["k_train"]) / N * np.eye(N)},
     ValueError, ["k_train", "mean diagonal"]),
    ("k_train indefinite, ridge 0", lambda p: {"k_train": p["k_train"] - 40 * np.outer(np.eye(N)[0], np.eye(N)[0])},
     ValueError, ["k_train", "not positive semi-definite"]),
    ("k_train zero", lambda p: {"k_train": np.zeros((N, N))}, ValueError, ["k_train", "mean diagonal"]),
    ("k_train full with wrong O", lambda p: {"k_train": kron_eye(p["k_train"], O + 1)}, ValueError,
     ["k_train", "O=3"]),
    ("y_train wrong length", lambda p: {"y_train": p["y_train"][:-1]}, ValueError, ["k_train", "y_train"]),
    ("y_train rank 1", lambda p: {"y_train": p["y_train"][:, 0]}, ValueError, ["y_train"]),
    ("y_train integer", lambda p: {"y_train": np.ones((N, O), dtype=np.int32)}, TypeError, ["y_train", "floating"]),
    ("y_train nan", lambda p: {"y_train": np.full((N, O), np.nan)}, ValueError, ["y_train", "NaN"]),
    ("k_test_train wrong N", lambda p: {"k_test_train": p["k_test_train"][:, :-1]}, ValueError,
     ["k_test_train", "shape"]),
    ("k_test_train transposed", lambda p: {"k_test_train": p["k_test_train"].T}, ValueError, ["k_test_train"]),
    ("k_test_train full, k_train N x N", lambda p: {"k_test_train": kron_eye(p["k_test_train"], O)},
     ValueError, ["k_test_train", "same form"]),
    ("k_test_train N x N, k_train full", lambda p: {"k_train": kron_eye(p["k_train"], O)},
     ValueError, ["k_test_train", "same form"]),
    ("k_test_train integer", lambda p: {"k_test_train": np.ones((M, N), dtype=np.int64)}, TypeError,
     ["k_test_train"]),
]


@pytest.mark.parametrize("changes, error, words", [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_inputs_raise_naming_the_argument(problem, changes, error, words):
    kwargs = {"ridge": 1e-3, **problem, **changes(problem)}
    with pytest.raises(error) as info:
        regression.fit_predict(**kwargs)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_indefinite_kernel_is_refused_even_when_the_ridge_hides_it(problem):
    v = np.eye(N)[0]
    k = problem["k_train"] - 40 * np.outer(v, v)  # one clearly negative eigenvalue
    assert np.linalg.eigvalsh(k)[0] < -1
    with pytest.raises(ValueError, match="k_train is not positive semi-definite"):
        regression.fit_predict(k, problem["y_train"], problem["k_test_train"], ridge=2.0)


def test_singular_kernel_without_ridge_is_an_error_not_garbage(problem):
    k = np.ones((N, N))  # rank 1
    with pytest.raises(ValueError, match=r"k_train \+ lambda I is singular .*larger ridge") as info:
        regression.fit_predict(k, problem["y_train"], problem["k_test_train"], ridge=0.0)
    assert "float64" in str(info.value)
    # with a ridge the same kernel is fine
    assert np.all(np.isfinite(regression.fit_predict(k, problem["y_train"], problem["k_test_train"], ridge=1e-3)))


def conditioned_kernel(n, condition_number, seed=3):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.geomspace(1.0, 1.0 / condition_number, n)) @ q.T


def test_ill_conditioned_float32_warns_and_float64_does_not():
    k = conditioned_kernel(12, 3e5)  # 3e5 x eps32 = 0.036 > 1e-2; x eps64 = 7e-11
    y, k_test = np.ones((12, 2)), k[:4]
    with pytest.warns(regression.IllConditionedWarning, match=r"condition number ≈ \S+ in float32") as record:
        regression.fit_predict(k.astype(np.float32), y.astype(np.float32), k_test.astype(np.float32), ridge=0.0)
    estimate = float(re.search(r"≈ (\S+) in", str(record[0].message)).group(1))
    assert 2e5 < estimate <= 3.1e5  # the estimate never inflates the condition number
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regression.fit_predict(k, y, k_test, ridge=0.0)
        regression.fit_predict(k.astype(np.float32), y, k_test, ridge=1e-3)  # a ridge cures it
    assert issubclass(regression.IllConditionedWarning, RuntimeWarning)


def test_inputs_are_not_mutated(problem):
    theta, theta_test = kron_eye(problem["k_train"], O), kron_eye(problem["k_test_train"], O)
    arrays = [problem["k_train"], problem["y_train"], problem["k_test_train"], theta, theta_test]
    copies = [a.copy() for a in arrays]
    regression.fit_predict(**problem, ridge=0.5)
    regression.fit_predict(theta, problem["y_train"], theta_test, ridge=0.5)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


def test_as_flat_kernel_flattens_sample_major():
    rng = np.random.default_rng(4)
    theta = full_kernel(*(2 * [random_features(rng, 4, 9, 2)]), 4, 4)
    flat = regression.as_flat_kernel(theta, 2, name="theta", symmetric=True)
    assert flat.full and flat.matrix.shape == (8, 8)
    assert flat.matrix[1 * 2 + 1, 3 * 2 + 0] == pytest.approx(theta[1, 3, 1, 0])
    plain = regression.as_flat_kernel(theta[:, :, 0, 0], 2, name="k")
    assert not plain.full and plain.matrix.shape == (4, 4)


def test_accuracy_and_argmax_agreement():
    pred = np.array([[0.9, 0.1, 0.0], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.6, 0.3, 0.1]])
    labels = np.array([0, 1, 1, 2])
    assert regression.accuracy(pred, labels) == 0.5
    assert regression.accuracy(pred, np.eye(3)[labels]) == 0.5
    assert regression.accuracy(jnp.asarray(pred), np.eye(3, dtype=int)[labels]) == 0.5
    other = pred[:, ::-1].copy()  # argmax 2, 1, 0, 2
    assert regression.argmax_agreement(pred, other) == 0.25
    assert regression.argmax_agreement(pred, pred) == 1.0


@pytest.mark.parametrize("labels, error, match", [
    (np.array([0, 1, 2]), ValueError, "labels has length 3 but predictions has 4 rows"),
    (np.array([0, 1, 2, 3]), ValueError, r"labels must be class indices in \[0, 3\)"),
    (np.array([0.0, 1.0, 1.0, 2.0]), TypeError, "labels given as a vector must hold integer"),
    (np.eye(4), ValueError, "labels given as one-hot rows must have shape"),
    (None, TypeError, "labels"),
])
def test_accuracy_refuses_bad_labels(labels, error, match):
    with pytest.raises(error, match=match):
        regression.accuracy(np.ones((4, 3)), labels)


def test_argmax_agreement_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"pred_b must have shape \(4, 3\)"):
        regression.argmax_agreement(np.ones((4, 3)), np.ones((5, 3)))
    with pytest.raises(TypeError, match="pred_a"):
        regression.argmax_agreement(np.ones((4, 3), dtype=int), np.ones((4, 3)))
