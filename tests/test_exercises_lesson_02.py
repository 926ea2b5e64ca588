"""Lesson 02's derivation exercise (02.mixed_readout_term): the readout term of g = M f is the readout
scalar times M Mᵀ. Its self-check must pass the right answer and tell a wrong structure (I, Mᵀ M, M, all
ones) from a wrong constant (a missing 1/n or σ_b²)."""

import numpy as np
import pytest

from ntk_lessons.teaching import exercises

from conftest import make_inputs, make_mlp

O, D = 3, 5
M = np.tril(np.ones((O, O)))  # running sums of the logits: M Mᵀ, Mᵀ M and M all differ


@pytest.fixture(scope="module")
def ctx():
    apply_fn, params = make_mlp((16, 8), O, D, b_std=0.2, W_std=1.3)
    return dict(apply_fn=apply_fn, params=params, x=np.asarray(make_inputs(4, D)), M=M)


def parts(ctx):
    from ntk_lessons.core import readout
    spec = ctx["apply_fn"].spec
    phi = np.asarray(readout.features(ctx["apply_fn"], ctx["params"], ctx["x"]), dtype=np.float64)
    return spec.W_std**2 * phi @ phi.T / phi.shape[1], spec.b_std**2


def build(gram, bias, matrix):
    return (gram + bias)[:, :, None, None] * matrix


def judge(ctx, answer):
    v = exercises.evaluate("02.mixed_readout_term", answer, **ctx)
    assert "\n" not in v.message
    return v


def test_reference_passes_and_equals_autodiff(ctx, capsys):
    right = exercises.reference_answer("02.mixed_readout_term", **ctx)
    assert judge(ctx, right).passed
    exercises.check("02.mixed_readout_term", None, **ctx)
    assert "not attempted" in capsys.readouterr().out
    gram, bias = parts(ctx)
    assert judge(ctx, build(gram, bias, M @ M.T).astype(np.float32)).passed  # a float32 answer passes


@pytest.mark.parametrize("matrix, phrase", [
    (np.eye(O), "readout term of f itself"),
    (M.T @ M, "Mᵀ M where M Mᵀ belongs"),
    (M, "M enters once"),
    (np.ones((O, O)), "same value"),
])
def test_wrong_structures_are_named_even_with_a_wrong_constant(ctx, matrix, phrase):
    gram, bias = parts(ctx)
    for scale in (1.0, 2.5):
        v = judge(ctx, scale * build(gram, bias, matrix))
        assert v.mistake == "structure" and phrase in v.message, v.message


def test_wrong_constants_are_named_as_constants(ctx):
    gram, bias = parts(ctx)
    n = ctx["apply_fn"].spec.hidden_widths[-1]
    v = judge(ctx, build(gram * n, bias, M @ M.T))
    assert v.mistake == "constant" and "1/n" in v.message, v.message
    v = judge(ctx, build(gram, 0.0, M @ M.T))
    assert v.mistake == "constant" and "σ_b²" in v.message, v.message
    assert judge(ctx, -build(gram, bias, M @ M.T)).status == "wrong"


def test_a_rectangular_mixing_matrix_and_the_pntk_row(ctx):
    row = np.ones((1, O)) / np.sqrt(O)  # g = Σ_j f_j / √O: the pNTK's output, M Mᵀ = 1
    right = exercises.reference_answer("02.mixed_readout_term", **{**ctx, "M": row})
    assert judge({**ctx, "M": row}, right).passed
    gram, bias = parts(ctx)
    np.testing.assert_allclose(right[:, :, 0, 0], gram + bias, rtol=1e-5)
    v = judge({**ctx, "M": row}, build(gram, bias, np.eye(O)))
    assert v.mistake == "shape" and "O' x O'" in v.message, v.message


def test_a_mixing_matrix_that_does_not_fit_is_refused_by_name(ctx):
    with pytest.raises(ValueError, match="M must be an"):
        exercises.evaluate("02.mixed_readout_term", np.zeros((4, 4, 2, 2)), **{**ctx, "M": np.ones((2, O + 1))})
