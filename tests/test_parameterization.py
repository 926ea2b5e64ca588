"""Standard parameterisation: forward pass by hand, and every structured kernel against generic autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import kernels, models, readout

from conftest import make_inputs, make_mlp, max_rel_err


def test_standard_forward_by_hand_and_init_scale():
    init_fn, apply_fn = models.mlp([4], 2, W_std=2.0, b_std=0.5, activation="erf", parameterization="standard")
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 3))
    # the same draw as "ntk", with the scale moved into the weights
    _, ntk_params = models.mlp([4], 2, W_std=2.0, b_std=0.5, activation="erf")[0](jax.random.PRNGKey(0), (-1, 3))
    np.testing.assert_allclose(params[0][0], ntk_params[0][0] * 2.0 / np.sqrt(3), rtol=1e-6)
    np.testing.assert_allclose(params[0][1], ntk_params[0][1] * 0.5, rtol=1e-6)
    x = np.asarray(make_inputs(5, 3, dtype=jnp.float32))
    (W0, b0), _, (W1, b1) = [tuple(np.asarray(a) for a in p) for p in params]
    f = np.asarray(jax.scipy.special.erf(x @ W0 + b0)) @ W1 + b1
    np.testing.assert_allclose(apply_fn(params, x), f, rtol=1e-5, atol=1e-6)
    # at initialisation both parameterisations compute the same function
    np.testing.assert_allclose(apply_fn(params, x), models.mlp([4], 2, W_std=2.0, b_std=0.5, activation="erf")[1](
        ntk_params, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "widths, activation, b_std", [((16, 8), "relu", 0.1), ((8,), "erf", None), ((6, 5, 4), "relu", 0.0)]
)
def test_structured_kernels_match_autodiff_in_standard_parameterisation(widths, activation, b_std):
    apply_fn, params = make_mlp(widths, 3, 5, W_std=1.3, b_std=b_std, activation=activation,
                                parameterization="standard")
    x1, x2 = make_inputs(6, 5), make_inputs(4, 5, seed=7)
    ref = kernels.entk(apply_fn, params, x1, x2, method="jacobian")
    assert max_rel_err(kernels.entk(apply_fn, params, x1, x2, method="structured"), ref) < 1e-12
    assert max_rel_err(kernels.entk(apply_fn, params, x1, x2, method="ntk_vp"), ref) < 1e-12
    assert max_rel_err(kernels.pntk(apply_fn, params, x1, x2, method="structured"), ref.sum((2, 3)) / 3) < 1e-12
    dec = readout.decompose(apply_fn, params, x1, x2)
    assert max_rel_err(dec.full, ref) < 1e-12
    assert max_rel_err(dec.readout, readout.readout_term_by_jacobian(apply_fn, params, x1, x2)) < 1e-12
    assert max_rel_err(readout.body_from_feature_jacobian(apply_fn, params, x1, x2), dec.body) < 1e-10


def test_standard_bias_contributes_even_when_b_std_is_zero():
    # the bias exists (drawn as zeros) and is trained: its gradient is 1, so it adds 1 to every input Gram
    apply_fn, params = make_mlp((8,), 2, 3, b_std=0.0, parameterization="standard")
    x = make_inputs(3, 3)
    dec = readout.decompose(apply_fn, params, x)
    phi = readout.features(apply_fn, params, x)
    np.testing.assert_allclose(dec.readout_scalar, phi @ phi.T + 1.0, rtol=1e-12)


def test_readout_term_grows_with_width_only_in_standard_parameterisation():
    x = make_inputs(4, 6)
    ratios = {}
    for p in ("ntk", "standard"):
        r = []
        for n in (64, 1024):
            apply_fn, params = make_mlp((n, n), 3, 6, seed=2, parameterization=p)
            dec = readout.decompose(apply_fn, params, x)
            r.append(float(jnp.trace(dec.readout_scalar)))
        ratios[p] = r[1] / r[0]
    assert 0.8 < ratios["ntk"] < 1.25       # O(1) in NTK parameterisation
    assert 12 < ratios["standard"] < 20     # ∝ n (16x) in standard parameterisation


def test_unknown_parameterization_is_rejected():
    with pytest.raises(ValueError, match="parameterization"):
        models.mlp([4], 2, parameterization="mup")
