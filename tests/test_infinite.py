"""Infinite-width kernels of an mlp (no neural-tangents: see test_infinite_vs_neural_tangents.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ntk_lessons.core import blocks, infinite, kernels, models

from conftest import make_inputs, max_rel_err


def awkward_inputs(dtype=jnp.float64):
    """x1 (6, 5) with norms from 0.1 to 3, a zero row and a repeated row; x2 (4, 5) shares a row of x1."""
    x1 = np.asarray(make_inputs(6, 5, seed=3)) * np.array([0.1, 1.0, 3.0, 1.0, 1.0, 2.0])[:, None]
    x1[3] = 0.0
    x1[4] = x1[1]
    x2 = np.concatenate([np.asarray(make_inputs(3, 5, seed=4)) * 2.0, x1[1:2]])
    return jnp.asarray(x1, dtype), jnp.asarray(x2, dtype)


ARCHITECTURES = [(act, b_std) for act in ("relu", "erf") for b_std in (None, 0.3)]


def assert_symmetric_psd(k, rtol=1e-10):
    k = np.asarray(k, dtype=np.float64)
    assert np.all(np.isfinite(k))
    np.testing.assert_allclose(k, k.T, rtol=0, atol=rtol * np.max(np.abs(k)))
    assert np.linalg.eigvalsh((k + k.T) / 2).min() >= -rtol * np.max(np.abs(k)) * k.shape[0]


@pytest.mark.parametrize("activation, b_std", ARCHITECTURES)
@pytest.mark.parametrize("n_hidden", [0, 1, 3])
def test_kernels_are_finite_symmetric_psd_on_awkward_inputs(activation, b_std, n_hidden):
    x1, x2 = awkward_inputs()
    k = infinite.mlp_kernels(x1, n_hidden=n_hidden, activation=activation, W_std=1.4, b_std=b_std)
    assert k.nngp.shape == k.ntk.shape == (6, 6) and k.ntk.dtype == jnp.float64
    assert_symmetric_psd(k.nngp)
    assert_symmetric_psd(k.ntk)
    # The repeated point gives equal rows; the cross kernel's last column is x1[1]'s row.
    np.testing.assert_array_equal(k.ntk[4], k.ntk[1])
    cross = infinite.mlp_kernels(x1, x2, n_hidden=n_hidden, activation=activation, W_std=1.4, b_std=b_std)
    assert cross.ntk.shape == (6, 4)
    np.testing.assert_allclose(cross.ntk[:, 3], k.ntk[:, 1], rtol=1e-12)
    np.testing.assert_allclose(cross.nngp[:, 3], k.nngp[:, 1], rtol=1e-12)
    if b_std is None and activation == "relu":  # a zero input is exactly zero at every layer
        assert np.all(np.asarray(k.ntk[3]) == 0) and np.all(np.asarray(k.nngp[3]) == 0)


def test_no_hidden_layer_is_the_linear_kernel():
    x1, x2 = awkward_inputs()
    k = infinite.mlp_kernels(x1, x2, n_hidden=0, W_std=1.5, b_std=0.4)
    expected = 1.5**2 * (x1 @ x2.T) / 5 + 0.4**2
    np.testing.assert_allclose(k.nngp, expected, rtol=1e-14)
    np.testing.assert_allclose(k.ntk, expected, rtol=1e-14)


def test_relu_with_variance_preserving_scale_has_ntk_diagonal_depth_plus_one():
    # sigma_w^2 = 2, no bias: Sigma^l(x, x) = 2|x|^2/d at every layer and E[step^2] sigma_w^2 = 1,
    # so Theta^L(x, x) = (L + 1) Sigma^0(x, x). This also checks that a point's angle with itself
    # is exactly 0: a cos theta rounded to 1 - 1e-16 would give an angle of 1e-8 (arccos is steep at 1).
    x = make_inputs(4, 7)
    sigma0 = 2 * jnp.sum(x * x, axis=1) / 7
    for n_hidden in range(4):
        k = infinite.mlp_kernels(x, n_hidden=n_hidden, W_std=2**0.5, b_std=None)
        np.testing.assert_allclose(jnp.diag(k.nngp), sigma0, rtol=1e-13)
        np.testing.assert_allclose(jnp.diag(k.ntk), (n_hidden + 1) * sigma0, rtol=1e-13)


@pytest.mark.parametrize("expectations, phi, dphi", [
    (infinite.relu_expectations, lambda u: np.maximum(u, 0), lambda u: (u > 0).astype(float)),
    (infinite.erf_expectations, lambda u: np.asarray(jax.scipy.special.erf(u)),
     lambda u: 2 / np.sqrt(np.pi) * np.exp(-(u**2))),
])
def test_closed_form_expectations_match_monte_carlo(expectations, phi, dphi):
    rng = np.random.default_rng(0)
    covs = [
        np.array([[1.0, 0.3], [0.3, 2.0]]),
        np.array([[0.5, -0.45], [-0.45, 0.6]]),
        np.array([[1.5, 1.5], [1.5, 1.5]]),
    ]
    for cov in covs:
        u, v = rng.multivariate_normal([0.0, 0.0], cov, size=400_000, method="eigh").T
        e_phi, e_dphi = expectations(cov[0, 1], cov[0, 0], cov[1, 1])
        # Monte Carlo standard error ~ std / sqrt(4e5) ~ 2e-3 of the values' scale.
        assert abs(float(e_phi) - np.mean(phi(u) * phi(v))) < 6e-3 * np.sqrt(cov[0, 0] * cov[1, 1]) + 1e-3
        assert abs(float(e_dphi) - np.mean(dphi(u) * dphi(v))) < 6e-3


@pytest.mark.parametrize("layer", [infinite.relu_layer, infinite.erf_layer])
def test_one_layer_keeps_its_diagonals_consistent_with_the_kernel(layer):
    x = awkward_inputs()[0]
    state = infinite.input_layer(x, W_std=1.2, b_std=0.1)
    for _ in range(3):
        state = layer(*state, W_std=1.2, b_std=0.1)
        assert state.nngp.shape == state.ntk.shape == (6, 6) and state.diag1.shape == state.diag2.shape == (6,)
        np.testing.assert_allclose(state.diag1, jnp.diag(state.nngp), rtol=1e-12)
        np.testing.assert_allclose(state.diag2, jnp.diag(state.nngp), rtol=1e-12)
    k = infinite.mlp_kernels(x, n_hidden=3, activation="relu" if layer is infinite.relu_layer else "erf",
                             W_std=1.2, b_std=0.1)
    np.testing.assert_array_equal(k.ntk, state.ntk)  # mlp_kernels is this loop


def test_float32_inputs_give_float32_kernels_close_to_float64():
    x1, x2 = awkward_inputs()
    for activation in ("relu", "erf"):
        k64 = infinite.mlp_kernels(x1, x2, n_hidden=3, activation=activation, b_std=0.2)
        k32 = infinite.mlp_kernels(x1.astype(jnp.float32), x2.astype(jnp.float32), n_hidden=3,
                                   activation=activation, b_std=0.2)
        assert k32.ntk.dtype == k32.nngp.dtype == jnp.float32
        assert max_rel_err(k32.ntk, k64.ntk) < 1e-5 and max_rel_err(k32.nngp, k64.nngp) < 1e-5


@pytest.mark.parametrize("activation, b_std", ARCHITECTURES)
def test_of_reads_the_architecture_of_an_mlp(activation, b_std):
    x1, x2 = awkward_inputs()
    _, apply_fn = models.mlp([9, 4], 3, activation=activation, W_std=1.3, b_std=b_std)
    got = infinite.limit_kernels(apply_fn, x1, x2)
    want = infinite.mlp_kernels(x1, x2, n_hidden=2, activation=activation, W_std=1.3, b_std=b_std)
    np.testing.assert_array_equal(got.ntk, want.ntk)
    np.testing.assert_array_equal(got.nngp, want.nngp)
    other = infinite.mlp_kernels(x1, x2, n_hidden=2, activation=activation, W_std=1.0, b_std=b_std)
    assert max_rel_err(other.ntk, want.ntk) > 1e-3  # W_std really was read from the spec


def _entk_at_init(width, x, seed=0):
    init_fn, apply_fn = models.mlp([width, width], 3, activation="relu", W_std=1.4, b_std=0.1)
    _, params = init_fn(jax.random.PRNGKey(seed), (-1, x.shape[1]))
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    return kernels.entk(apply_fn, params, x), infinite.limit_kernels(apply_fn, x).ntk  # structured: cheap at any width


def relative_frobenius(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


def test_wide_mlp_entk_is_close_to_the_infinite_ntk_times_identity():
    # Measured (6 seeds, these inputs): relative Frobenius error 0.47-1.7 at width 16,
    # 0.15-0.18 at 256, 0.025-0.074 at 4096 (fluctuations shrink like width^-1/2).
    x = make_inputs(5, 6, seed=7)
    theta, ntk_inf = _entk_at_init(4096, x)
    assert theta.shape == (5, 5, 3, 3)
    limit = blocks.kron_identity(ntk_inf, 3)
    assert relative_frobenius(theta, limit) < 0.1
    narrow, _ = _entk_at_init(16, x)
    assert relative_frobenius(narrow, limit) > 0.3  # width matters: this test can fail


@settings(deadline=None)  # examples: the hypothesis profile (conftest)
@given(
    x=hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)),
                 elements=st.floats(-3, 3, allow_subnormal=False)),
    n_hidden=st.integers(0, 3),
    activation=st.sampled_from(["relu", "erf"]),
    W_std=st.floats(0.0, 2.0),
    b_std=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_hypothesis_kernels_are_symmetric_psd(x, n_hidden, activation, W_std, b_std):
    k = infinite.mlp_kernels(x, n_hidden=n_hidden, activation=activation, W_std=W_std, b_std=b_std)
    for kernel in k:
        if np.max(np.abs(np.asarray(kernel))) > 0:
            assert_symmetric_psd(kernel, rtol=1e-9)
        else:
            assert np.all(np.asarray(kernel) == 0)


# --------------------------------------------------------------------------- validation

def _standard_apply_fn():
    return models.mlp([8], 2, parameterization="standard")[1]


X = make_inputs(3, 4)
BAD_CALLS = [
    ("x2", ValueError, lambda: infinite.mlp_kernels(X, make_inputs(2, 5), n_hidden=1)),
    ("x2", TypeError, lambda: infinite.mlp_kernels(X, X.astype(jnp.float32), n_hidden=1)),
    ("n_hidden", ValueError, lambda: infinite.mlp_kernels(X, n_hidden=-1)),
    ("n_hidden", TypeError, lambda: infinite.mlp_kernels(X, n_hidden=2.0)),
    ("n_hidden", TypeError, lambda: infinite.mlp_kernels(X, n_hidden=True)),
    ("activation", ValueError, lambda: infinite.mlp_kernels(X, n_hidden=1, activation="tanh")),
    ("W_std", ValueError, lambda: infinite.mlp_kernels(X, n_hidden=1, W_std=-1.0)),
    ("b_std", ValueError, lambda: infinite.mlp_kernels(X, n_hidden=1, b_std=float("nan"))),
    ("x1", ValueError, lambda: infinite.mlp_kernels(X.at[0, 0].set(jnp.inf), n_hidden=1)),
    ("x2", ValueError, lambda: infinite.mlp_kernels(X, X.at[1, 2].set(jnp.nan), n_hidden=1)),
    ("x1", TypeError, lambda: infinite.mlp_kernels(np.ones((3, 4), dtype=np.int32), n_hidden=1)),
    ("x1", ValueError, lambda: infinite.mlp_kernels(np.ones(4), n_hidden=1)),
    ("x1", ValueError, lambda: infinite.mlp_kernels(np.ones((2, 2, 2)), n_hidden=1)),
    ("x1", TypeError, lambda: infinite.mlp_kernels(None, n_hidden=1)),
    ("apply_fn", TypeError, lambda: infinite.limit_kernels(lambda params, x: x, X)),
    ("apply_fn", ValueError, lambda: infinite.limit_kernels(_standard_apply_fn(), X)),
    ("x1", TypeError, lambda: infinite.limit_kernels(models.mlp([4], 2)[1], np.ones((3, 4), dtype=np.int64))),
    ("diag1", ValueError, lambda: infinite.relu_layer(jnp.ones((3, 2)), jnp.ones((3, 2)), jnp.ones(2), jnp.ones(2))),
    ("ntk", ValueError, lambda: infinite.erf_layer(jnp.ones((3, 2)), jnp.ones((2, 3)), jnp.ones(3), jnp.ones(2))),
    ("nngp", TypeError, lambda: infinite.relu_layer([[1.0]], jnp.ones((1, 1)), jnp.ones(1), jnp.ones(1))),
    ("expectations", TypeError, lambda: infinite.activation_layer("relu", jnp.ones((1, 1)), jnp.ones((1, 1)),
                                                                  jnp.ones(1), jnp.ones(1))),
    ("W_std", TypeError, lambda: infinite.relu_layer(jnp.ones((1, 1)), jnp.ones((1, 1)), jnp.ones(1), jnp.ones(1),
                                                     W_std="1")),
]


@pytest.mark.parametrize("name, error, call", BAD_CALLS, ids=[f"{i}-{b[0]}" for i, b in enumerate(BAD_CALLS)])
def test_bad_input_raises_naming_the_argument(name, error, call):
    with pytest.raises(error, match=name):
        call()


def test_standard_parameterisation_is_refused_with_an_explanation():
    with pytest.raises(ValueError, match="NTK parameterisation"):
        infinite.limit_kernels(_standard_apply_fn(), X)


def test_inputs_are_not_modified():
    x1 = np.asarray(make_inputs(3, 4))
    before = x1.copy()
    infinite.mlp_kernels(x1, n_hidden=2)
    np.testing.assert_array_equal(x1, before)
