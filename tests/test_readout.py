import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import kernels, readout, structured

from conftest import make_inputs, make_mlp, max_rel_err


@pytest.mark.parametrize(
    "widths, activation, b_std", [((12,), "relu", 0.2), ((10, 7), "erf", 0.0), ((8, 9, 6), "relu", None)]
)
def test_readout_plus_body_is_the_entk(widths, activation, b_std):
    apply_fn, params = make_mlp(widths, 4, 5, activation=activation, b_std=b_std, W_std=1.5)
    x1, x2 = make_inputs(5, 5, seed=2), make_inputs(4, 5, seed=3)
    dec = readout.decompose(apply_fn, params, x1, x2)
    ref = kernels.entk(apply_fn, params, x1, x2, method="jacobian")  # independent computation
    assert max_rel_err(dec.readout + dec.body, ref) < 1e-10


@pytest.mark.parametrize("width", [1, 3, 50, 400])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_readout_parameters_contribute_a_multiple_of_identity_at_every_width(width, seed):
    apply_fn, params = make_mlp((width, width), 5, 4, seed=seed, b_std=0.3, W_std=1.5)
    x = make_inputs(3, 4, seed=seed + 10)
    # Independent: autodiff with respect to the readout's (W, b) only, no formula.
    by_jacobian = np.asarray(readout.readout_term_by_jacobian(apply_fn, params, x))
    o = by_jacobian.shape[-1]
    assert np.all(by_jacobian * (1 - np.eye(o)) == 0)  # structural zeros: exactly zero
    diag = np.diagonal(by_jacobian, axis1=2, axis2=3)
    np.testing.assert_allclose(diag, diag[..., :1].repeat(o, axis=-1), rtol=1e-12)
    # ... it is W_std^2 phi.phi'/n + b_std^2 (W_std != 1 so that a missing factor shows) ...
    phi = readout.features(apply_fn, params, x)
    np.testing.assert_allclose(diag[..., 0], 1.5**2 * phi @ phi.T / width + 0.3**2, rtol=1e-12)
    # ... and it is what decompose() reports as the readout term.
    dec = readout.decompose(apply_fn, params, x)
    assert max_rel_err(dec.readout, by_jacobian) < 1e-12


def test_body_matches_jacobian_over_body_parameters_only():
    apply_fn, params = make_mlp((9, 8), 3, 4, b_std=0.2, activation="erf")
    x1, x2 = make_inputs(4, 4, seed=5), make_inputs(3, 4, seed=6)
    J = lambda x: jax.jacrev(lambda body: apply_fn([*body, params[-1]], x))(params[:-1])  # noqa: E731
    contract = lambda a, b: jnp.einsum("nj...,mk...->nmjk", a, b)  # noqa: E731
    ref = sum(jax.tree_util.tree_leaves(jax.tree_util.tree_map(contract, J(x1), J(x2))))
    assert max_rel_err(readout.decompose(apply_fn, params, x1, x2).body, ref) < 1e-12


def test_body_matches_feature_jacobian_formula():
    apply_fn, params = make_mlp((6, 5), 3, 4, b_std=0.1)
    x1, x2 = make_inputs(3, 4, seed=7), make_inputs(2, 4, seed=8)
    by_formula = readout.body_from_feature_jacobian(apply_fn, params, x1, x2)
    assert max_rel_err(readout.decompose(apply_fn, params, x1, x2).body, by_formula) < 1e-12


def test_layer_contributions_sum_to_entk_and_last_is_readout():
    apply_fn, params = make_mlp((7, 6), 3, 4, b_std=0.2)
    x = make_inputs(4, 4)
    terms = structured.layer_contributions(apply_fn.spec, params, x, x)
    assert len(terms) == 3
    assert max_rel_err(sum(terms), kernels.entk(apply_fn, params, x, method="jacobian")) < 1e-12
    assert max_rel_err(terms[-1], readout.decompose(apply_fn, params, x).readout) < 1e-14


def test_decompose_rejects_other_models_and_bad_inputs():
    apply_fn, params = make_mlp((4,), 2, 3)
    with pytest.raises(TypeError, match="models.mlp"):
        readout.decompose(lambda p, x: apply_fn(p, x), params, np.ones((2, 3)))
    with pytest.raises(ValueError, match="x1 has shape"):
        readout.decompose(apply_fn, params, np.ones((2, 4)))
    mixed = readout.decompose(apply_fn, params, np.ones((2, 3), dtype=np.float32))  # float64 params: cast to x's dtype
    assert mixed.body.dtype == np.float32 and mixed.readout_scalar.dtype == np.float32
    with pytest.raises(ValueError, match="GiB"):
        readout.decompose(apply_fn, params, np.ones((2, 3)), memory_budget=10)
    lin_apply, lin_params = make_mlp((), 2, 3)
    with pytest.raises(ValueError, match="no hidden layer"):
        readout.decompose(lin_apply, lin_params, np.ones((2, 3)))
