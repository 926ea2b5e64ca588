"""Properties that hold for every mlp, checked on random small architectures (hypothesis, bounded).

For random depth (0-3 hidden layers), widths (1-8), O (1-4), both parameterisations, relu/erf,
with or without biases, and random inputs (float64):
* every entk method gives the same kernel;
* on one batch the eNTK is symmetric and PSD as an (N O) x (N O) matrix;
* the pNTK is the mean over output pairs, sum_jk Theta_jk / O;
* the readout parameters' term, by generic autodiff, is a multiple of I_O and equals the decomposition's;
* the infinite-width NNGP and NTK are symmetric and PSD.
"""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ntk_lessons.core import infinite, kernels, models, readout

from conftest import make_inputs

SETTINGS = settings(deadline=None)  # how many examples: the hypothesis profile (tests/conftest.py)
REL = 1e-10  # float64: the methods sum the same products in other orders


@st.composite
def architectures(draw, min_depth=0):
    depth = draw(st.integers(min_depth, 3))
    return dict(
        widths=tuple(draw(st.integers(1, 8)) for _ in range(depth)),
        out_dim=draw(st.integers(1, 4)),
        d=draw(st.integers(1, 5)),
        activation=draw(st.sampled_from(["relu", "erf"])),
        parameterization=draw(st.sampled_from(["ntk", "standard"])),
        b_std=draw(st.sampled_from([None, 0.0, 0.3])),
        W_std=draw(st.sampled_from([0.7, 1.0, 1.5])),
        seed=draw(st.integers(0, 2**16)),
    )


def build(arch, n1, n2=None):
    init_fn, apply_fn = models.mlp(arch["widths"], arch["out_dim"], activation=arch["activation"],
                                   W_std=arch["W_std"], b_std=arch["b_std"],
                                   parameterization=arch["parameterization"])
    _, params = init_fn(jax.random.PRNGKey(arch["seed"]), (-1, arch["d"]), dtype=jnp.float64)
    x1 = make_inputs(n1, arch["d"], seed=arch["seed"] + 1)
    x2 = None if n2 is None else make_inputs(n2, arch["d"], seed=arch["seed"] + 2)
    return apply_fn, params, x1, x2


def assert_close(a, b, rel=REL):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(np.abs(b).max(), 1e-300)
    assert np.abs(a - b).max() <= rel * scale, np.abs(a - b).max() / scale


def as_matrix(theta):
    """(N, N, O, O) -> (N O, N O), sample-major."""
    n, _, o, _ = theta.shape
    return np.asarray(theta).transpose(0, 2, 1, 3).reshape(n * o, n * o)


def assert_symmetric_psd(m):
    m = np.asarray(m)
    scale = max(np.abs(m).max(), 1e-300)
    np.testing.assert_allclose(m, m.T, rtol=0, atol=1e-12 * scale)
    assert np.linalg.eigvalsh((m + m.T) / 2).min() >= -1e-10 * scale


@SETTINGS
@given(arch=architectures(), n1=st.integers(1, 4), n2=st.integers(1, 4))
def test_every_entk_method_agrees_and_pntk_is_the_mean_over_output_pairs(arch, n1, n2):
    apply_fn, params, x1, x2 = build(arch, n1, n2)
    reference = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    assert reference.shape == (n1, n2, arch["out_dim"], arch["out_dim"])
    for method in ("ntk_vp", "structured"):
        assert_close(kernels.entk(apply_fn, params, x1, x2, method=method), reference)
    mean_over_pairs = np.asarray(reference).sum((2, 3)) / arch["out_dim"]
    for method in ("jacobian", "structured"):
        assert_close(kernels.pntk(apply_fn, params, x1, x2, method=method), mean_over_pairs)


@SETTINGS
@given(arch=architectures(), n=st.integers(1, 4))
def test_entk_is_symmetric_and_psd(arch, n):
    apply_fn, params, x, _ = build(arch, n)
    assert_symmetric_psd(as_matrix(kernels.entk(apply_fn, params, x)))


@SETTINGS
@given(arch=architectures(min_depth=1), n1=st.integers(1, 4), n2=st.integers(1, 4))
def test_readout_term_is_proportional_to_the_identity(arch, n1, n2):
    apply_fn, params, x1, x2 = build(arch, n1, n2)
    by_autodiff = np.asarray(readout.readout_term_by_jacobian(apply_fn, params, x1, x2))  # (N1, N2, O, O)
    o = arch["out_dim"]
    scalar = by_autodiff[:, :, 0, 0]
    assert_close(by_autodiff, scalar[:, :, None, None] * np.eye(o))
    assert_close(readout.decompose(apply_fn, params, x1, x2).readout, by_autodiff)


@SETTINGS
@given(n_hidden=st.integers(0, 3), d=st.integers(1, 5), n=st.integers(1, 5),
       activation=st.sampled_from(["relu", "erf"]), W_std=st.sampled_from([0.5, 1.0, 2.0]),
       b_std=st.sampled_from([None, 0.0, 0.4]), seed=st.integers(0, 2**16), repeat=st.booleans())
def test_infinite_width_kernels_are_symmetric_and_psd(n_hidden, d, n, activation, W_std, b_std, seed, repeat):
    x = np.array(make_inputs(n, d, seed=seed))  # a writable copy
    if repeat and n > 1:
        x[-1] = x[0]  # a repeated input: a singular but still PSD kernel
    result = infinite.mlp_kernels(x, n_hidden=n_hidden, activation=activation, W_std=W_std, b_std=b_std)
    for name in ("nngp", "ntk"):
        kernel = getattr(result, name)
        assert kernel.shape == (n, n), name
        assert_symmetric_psd(kernel)
