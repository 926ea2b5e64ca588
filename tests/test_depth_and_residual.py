"""Lesson 07, sections 2 and 3 (``lessons.depth_and_residual``): the depth sweep and its fits; the residual
network with LayerNorm (``core.models.resnet``), its structured eNTK, and its agreement with neural-tangents."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons import analysis
from ntk_lessons.core import kernels, models, structured
from ntk_lessons.lessons import depth_and_residual as dr

from conftest import max_rel_err

# ----------------------------------------------------------------------------- section 2: depth


@pytest.fixture(scope="module")
def small_depth_sweep(tmp_path_factory):
    import os
    old = os.environ.get("NTK_LESSONS_CACHE_DIR")
    os.environ["NTK_LESSONS_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        return dr.depth_sweep([1, 3], [8, 32], [0, 1, 2], n_train=6, progress=False)
    finally:
        if old is None:
            del os.environ["NTK_LESSONS_CACHE_DIR"]
        else:
            os.environ["NTK_LESSONS_CACHE_DIR"] = old


def test_depth_sweep_gives_records_per_depth_and_fits(small_depth_sweep):
    assert sorted(small_depth_sweep) == [1, 3]
    fits = dr.depth_fits(small_depth_sweep)
    assert [f.depth for f in fits] == [1, 3]
    for f in fits:
        assert f.errors.shape == (2, 3) and np.all(f.errors > 0) and f.slope.n_seeds == 3
        assert np.allclose(f.constant.per_seed, dr.constant_per_seed(f.widths, f.errors))
        assert np.isclose(f.error_at(16), f.constant.mean / 4)
    growth = dr.constant_growth(fits)
    assert growth.n_seeds == 3 and np.isfinite(growth.mean)
    text = dr.format_depth_fits(fits, reference_width=16)
    assert "depth L" in text and "n = 16" in text and len(text.splitlines()) == 3


def test_constant_per_seed_recovers_the_prefactor_of_an_exact_power_law():
    widths = np.array([16.0, 64.0, 256.0])
    errors = np.array([2.0, 3.0]) / np.sqrt(widths)[:, None]
    assert np.allclose(dr.constant_per_seed(widths, errors), [2.0, 3.0])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(depths="12"), TypeError, "depths"),
    (dict(depths=[]), TypeError, "depths"),
    (dict(depths=[0]), ValueError, r"depths\[0\]"),
    (dict(depths=[2, 2]), ValueError, "repeat"),
    (dict(depths=[1], n_train=0), ValueError, "n_train"),
    (dict(depths=[1], widths=[0]), ValueError, "widths"),
])
def test_depth_sweep_rejects_bad_arguments(kwargs, error, match):
    args = dict(widths=[8], seeds=[0], progress=False, use_cache=False) | kwargs
    with pytest.raises(error, match=match):
        dr.depth_sweep(**args)


def test_depth_fits_and_their_helpers_reject_bad_inputs(small_depth_sweep):
    with pytest.raises(ValueError, match="sweeps"):
        dr.depth_fits({})
    with pytest.raises(ValueError, match="metric"):
        dr.depth_fits(small_depth_sweep, metric="lambda")
    with pytest.raises(ValueError, match="errors"):
        dr.constant_per_seed([8, 16], np.ones((3, 2)))
    with pytest.raises(ValueError, match="errors"):
        dr.constant_per_seed([8, 16], -np.ones((2, 2)))
    with pytest.raises(ValueError, match="widths"):
        dr.constant_per_seed([0, 16], np.ones((2, 2)))
    fits = dr.depth_fits(small_depth_sweep)
    with pytest.raises(ValueError, match="fits"):
        dr.constant_growth(fits[:1])
    with pytest.raises(TypeError, match="fits"):
        dr.format_depth_fits([])
    with pytest.raises(ValueError, match="reference_width"):
        dr.format_depth_fits(fits, reference_width=0)


# ----------------------------------------------------------------------------- section 3: the residual network


def _resnet(width=12, out_dim=3, d=5, *, seed=0, **kwargs):
    init_fn, apply_fn = models.resnet(width, out_dim, **kwargs)
    _, params = init_fn(jax.random.PRNGKey(seed), (-1, d), dtype=jnp.float64)
    return apply_fn, params


@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("head_width", [None, 7])
def test_resnet_entk_matches_the_jacobian_contraction(parameterization, head_width):
    apply_fn, params = _resnet(parameterization=parameterization, head_width=head_width)
    x1 = jax.random.normal(jax.random.PRNGKey(1), (6, 5))
    x2 = jax.random.normal(jax.random.PRNGKey(2), (4, 5))
    theta = structured.resnet_entk(apply_fn, params, x1, x2)
    assert theta.shape == (6, 4, 3, 3)
    assert max_rel_err(theta, kernels.entk(apply_fn, params, x1, x2, method="jacobian")) < 1e-12
    assert max_rel_err(structured.resnet_entk(apply_fn, params, x1),
                       kernels.entk(apply_fn, params, x1, method="jacobian")) < 1e-12


def test_resnet_forward_has_the_documented_structure():
    apply_fn, params = _resnet(blocks=1)
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 5))
    f, inputs = models.resnet_forward(apply_fn.spec, params, x)
    (W0, b0), (W1, b1), (Wr, br) = params[0], params[1][1][0][2], params[-1]
    c = lambda n: 2.0**0.5 / n**0.5  # noqa: E731
    h0 = c(5) * x @ W0 + 0.1 * b0
    h1 = h0 + c(12) * jax.nn.relu(models.layer_norm(h0)) @ W1 + 0.1 * b1
    expected = c(12) * jax.nn.relu(models.layer_norm(h1)) @ Wr + 0.1 * br
    assert np.allclose(f, expected, atol=1e-12) and np.allclose(apply_fn(params, x), f)
    assert [a.shape for a in inputs] == [(4, 5), (4, 12), (4, 12)]
    assert np.allclose(models.layer_norm(h1).mean(-1), 0, atol=1e-12)
    assert np.allclose(models.layer_norm(h1).var(-1), 1, atol=1e-9)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(width=0), ValueError, "width"),
    (dict(width=8, blocks=-1), ValueError, "blocks"),
    (dict(width=8, head_width=0), ValueError, "head_width"),
    (dict(width=8, parameterization="mup"), ValueError, "parameterization"),
    (dict(width=8, W_std=-1.0), ValueError, "W_std"),
])
def test_resnet_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        models.resnet(out_dim=3, **kwargs)


def test_resnet_init_apply_and_entk_reject_bad_inputs():
    init_fn, apply_fn = models.resnet(8, 3)
    with pytest.raises(ValueError, match="input_shape"):
        init_fn(jax.random.PRNGKey(0), (5,))
    with pytest.raises(TypeError, match="key"):
        init_fn(0, (-1, 5))
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 5), dtype=jnp.float64)
    with pytest.raises(ValueError, match="params"):
        apply_fn(params[:-1], jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="features"):
        apply_fn(params, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="offsets"):
        models.resnet_forward(apply_fn.spec, params, jnp.ones((2, 5)), offsets=[jnp.zeros((2, 8))])
    mlp_apply = models.mlp([8], 3)[1]
    with pytest.raises(TypeError, match="apply_fn"):
        structured.resnet_entk(mlp_apply, params, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="x2"):
        structured.resnet_entk(apply_fn, params, jnp.ones((2, 5)), jnp.ones((2, 4)))
    with pytest.raises(TypeError, match="dtype"):
        structured.resnet_entk(apply_fn, params, jnp.ones((2, 5), jnp.float32))


@pytest.mark.neural_tangents
@pytest.mark.parametrize("parameterization", ["ntk", "standard"])
@pytest.mark.parametrize("head_width", [None, 7])
def test_resnet_is_the_stax_network(parameterization, head_width):
    pytest.importorskip("neural_tangents")
    from ntk_lessons.reference import nt_reference, residual

    init_fn, apply_fn = models.resnet(12, 3, head_width=head_width, parameterization=parameterization)
    stax_init, stax_apply, _ = residual.stax_resnet(apply_fn.spec)
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 5))
    _, ours = init_fn(jax.random.PRNGKey(0), x.shape)
    _, theirs = stax_init(jax.random.PRNGKey(0), x.shape)
    assert jax.tree_util.tree_structure(ours) == jax.tree_util.tree_structure(theirs)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(theirs)))
    assert np.array_equal(apply_fn(theirs, x), stax_apply(theirs, x))
    assert max_rel_err(structured.resnet_entk(apply_fn, theirs, x), nt_reference.entk(stax_apply, theirs, x)) < 1e-12
    with pytest.raises(TypeError, match="spec"):
        residual.stax_resnet(models.mlp([4], 2)[1].spec)


def test_residual_sweep_and_training_are_cached_and_reject_bad_arguments(monkeypatch, tmp_path):
    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    records = dr.residual_sweep([8, 16], [0, 1], regime="last_wide", fixed_width=4, n_train=5, progress=False)
    widths, values = analysis.values_by_seed(records, metric="total")
    assert list(widths) == [8, 16] and values.shape == (2, 2) and np.all(values > 0)
    assert dr.residual_sweep([8, 16], [0, 1], regime="last_wide", fixed_width=4, n_train=5, progress=False) == records
    study = dr.residual_training("standard", width=8, steps=2, n_kernel=6, n_test=7, progress=False)
    assert study == dr.residual_training("standard", width=8, steps=2, n_kernel=6, n_test=7, progress=False)
    assert len(study.total) == 2 and study.kernel_movement[0] == 0 and 0 <= study.agreement[1] <= 1
    assert "accuracy_pntk" in dr.format_residual_studies([study])
    for kwargs, match in [(dict(regime="middle"), "regime"), (dict(parameterization="mup"), "parameterization"),
                          (dict(n_train=0), "n_train"), (dict(fixed_width=0), "fixed_width")]:
        with pytest.raises(ValueError, match=match):
            dr.residual_sweep([8], [0], progress=False, **kwargs)
    with pytest.raises(ValueError, match="widths"):
        dr.residual_sweep([0], [0], progress=False)
    with pytest.raises(ValueError, match="n_kernel"):
        dr.residual_training("ntk", n_kernel=5000)
    with pytest.raises(ValueError, match="steps"):
        dr.residual_training("ntk", steps=0)
    with pytest.raises(TypeError, match="studies"):
        dr.format_residual_studies([])


@pytest.mark.neural_tangents
def test_compare_with_stax_reports_agreement():
    pytest.importorskip("neural_tangents")
    report = dr.compare_with_stax(width=8, n=3)
    assert str(report).count("same params True, same outputs True") == 2
    assert len(report.rows) == 2
    for row in report.rows:
        assert row["same_params"] is True and row["same_outputs"] is True and row["entk_gap"] < 1e-9, row
    with pytest.raises(ValueError, match="n"):
        dr.compare_with_stax(n=0)
    with pytest.raises(ValueError, match="width"):
        dr.compare_with_stax(width=0)


# ----------------------------------------------------------------------------- section 1: the spectrum over training


def test_spectrum_over_training_interlaces_and_is_in_the_learning_run(monkeypatch, tmp_path):
    from ntk_lessons.lessons import learning, practice

    monkeypatch.setenv("NTK_LESSONS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(learning, "GAP_WIDTH", 16)
    run = learning.learning_run("adam", checkpoints=[0, 3], n_kernel=6, n_test=8, progress=False)
    s = run.spectrum
    assert s["step"] == [0, 3] and set(learning.SPECTRUM_KEYS) <= set(s)
    assert all(r <= 1e-9 for r in s["log10_cond_ratio"])  # interlacing: cond(pNTK ⊗ I) <= cond(eNTK)
    assert learning.LearningRun.from_json(run.to_json()) == run
    assert "cond(pNTK ⊗ I)" in learning.format_spectrum([run])
    with pytest.raises(TypeError, match="runs"):
        learning.format_spectrum([])
    with pytest.raises(TypeError, match="TrainingResult"):
        learning.spectrum_over_training(None, {0: None}, np.ones((2, 64)))
    apply_fn, params = practice.network(8)
    result = practice.train_network(apply_fn, params, practice.digits_split(20), steps=1, checkpoint_steps=[0, 1],
                                    record_every=1, progress=False)
    direct = learning.spectrum_over_training(apply_fn, result, practice.digits_split(5).x_train)
    assert direct["step"] == [0, 1] and all(c > 0 for c in direct["cond_entk"])
