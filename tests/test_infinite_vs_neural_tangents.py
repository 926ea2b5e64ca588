"""Infinite-width kernels and the digits conv net against neural-tangents 0.6.5 (pinned environment only)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_infinite import awkward_inputs

from ntk_lessons.core import infinite, kernels, models
from ntk_lessons.reference import conv_net, nt_reference
from ntk_lessons.support import data

from conftest import TOL, cast, max_rel_err

pytestmark = pytest.mark.neural_tangents

# Measured over all cases below: max difference 5e-16 of the largest entry, 4e-14 elementwise.
INFINITE_TOL = 1e-6


@pytest.fixture(scope="module")
def nt():
    return nt_reference.import_neural_tangents()


def elementwise_rel_err(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    scale = np.maximum(np.abs(b), 1e-3 * np.max(np.abs(b)))  # entries near 0 (erf) relative to the kernel's scale
    return float(np.max(np.abs(a - b) / scale))


@pytest.mark.parametrize("activation, b_std", [(a, b) for a in ("relu", "erf") for b in (None, 0.3)])
@pytest.mark.parametrize("n_hidden", [0, 1, 2, 3, 4])
def test_mlp_kernels_match_stax_kernel_fn(nt, n_hidden, activation, b_std):
    x1, x2 = awkward_inputs()  # norms 0.1-3, a zero input, a repeated point, a point shared with x2
    _, apply_fn = models.mlp([7] * n_hidden, 3, activation=activation, W_std=1.4, b_std=b_std)
    _, _, kernel_fn = nt_reference.stax_mlp(apply_fn.spec)
    for second in (None, x2):
        ref = kernel_fn(x1, second, ("nngp", "ntk"))
        got = infinite.mlp_kernels(x1, second, n_hidden=n_hidden, activation=activation, W_std=1.4, b_std=b_std)
        for name in ("nngp", "ntk"):
            want = getattr(ref, name)
            assert getattr(got, name).shape == want.shape == (6, 6 if second is None else 4)
            assert elementwise_rel_err(getattr(got, name), want) < INFINITE_TOL, name
        np.testing.assert_array_equal(infinite.limit_kernels(apply_fn, x1, second).ntk, got.ntk)


# --------------------------------------------------------------------------- conv net


def digits_images(n, seed):
    x, _ = data.digits_inputs(n, seed=seed, dtype="float64")
    return data.digits_as_images(x)


@pytest.mark.parametrize("pooling, readout_rows", [("flatten", 64 * 5), ("global_avg", 5)])
def test_digits_conv_net_entk_and_pntk_through_the_generic_methods(nt, pooling, readout_rows):
    # float64 throughout: with x64 on, stax.Conv fails on float32 (see digits_conv_net).
    out_dim = 4
    init_fn, apply_fn, kernel_fn = conv_net.digits_conv_net(5, out_dim=out_dim, b_std=0.1, pooling=pooling)
    out_shape, params = init_fn(jax.random.PRNGKey(0), (-1, 8, 8, 1))
    assert out_shape == (-1, out_dim)
    assert params[-1][0].shape == (readout_rows, out_dim)  # the pooling chosen is the pooling built
    params = cast(params, jnp.float64)
    x1, x2 = digits_images(4, seed=0), digits_images(3, seed=1)
    assert x1.shape == (4, 8, 8, 1) and x1.dtype == jnp.float64
    assert apply_fn(params, x1).shape == (4, out_dim)
    theta = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    assert theta.shape == (4, 3, out_dim, out_dim)
    p = kernels.pntk(apply_fn, params, x1, x2, method="jacobian")
    assert p.shape == (4, 3)
    assert max_rel_err(p, theta.sum((2, 3)) / out_dim) < TOL[jnp.float64]
    if pooling == "flatten":  # one architecture suffices: the generic methods do not depend on it
        assert max_rel_err(theta, nt_reference.entk(apply_fn, params, x1, x2, implementation=2)) < TOL[jnp.float64]
    # The infinite-width kernel of the same architecture: (N1, N2), symmetric, PSD.
    k = np.asarray(kernel_fn(x1, None, "ntk"))
    assert k.shape == (4, 4)
    np.testing.assert_allclose(k, k.T, rtol=1e-12)
    assert np.linalg.eigvalsh(k).min() > -1e-10 * np.abs(k).max()


def test_digits_conv_net_float32_without_x64(nt):
    with jax.experimental.disable_x64():
        init_fn, apply_fn, _ = conv_net.digits_conv_net(3, out_dim=2)
        _, params = init_fn(jax.random.PRNGKey(0), (-1, 8, 8, 1))
        x, _ = data.digits_inputs(3, seed=0)
        theta = kernels.entk(apply_fn, params, data.digits_as_images(x), method="jacobian")
        assert theta.shape == (3, 3, 2, 2) and theta.dtype == jnp.float32


@pytest.mark.parametrize("name, error, call", [
    ("pooling", ValueError, lambda: conv_net.digits_conv_net(4, pooling="max")),
    ("channels", ValueError, lambda: conv_net.digits_conv_net([4, 0])),
    ("channels", ValueError, lambda: conv_net.digits_conv_net([])),
    ("channels", TypeError, lambda: conv_net.digits_conv_net(4.0)),
    ("out_dim", ValueError, lambda: conv_net.digits_conv_net(4, out_dim=0)),
    ("W_std", ValueError, lambda: conv_net.digits_conv_net(4, W_std=-1.0)),
    ("x", ValueError, lambda: data.digits_as_images(np.ones((2, 63)))),
    ("x", TypeError, lambda: data.digits_as_images(np.ones((2, 64), dtype=np.uint8))),
])
def test_conv_net_bad_input_raises_naming_the_argument(nt, name, error, call):
    with pytest.raises(error, match=name):
        call()


def test_digits_as_images_is_row_major():
    x = np.arange(128, dtype=np.float64).reshape(2, 64)
    images = data.digits_as_images(x)
    assert images.shape == (2, 8, 8, 1)
    assert float(images[1, 2, 3, 0]) == 64 + 2 * 8 + 3
