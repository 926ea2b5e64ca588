"""The exercise mechanism: every class of wrong answer gets its own one-line message, an
untouched exercise never reports "correct", and every reference solution passes its check."""

import jax
import numpy as np
import pytest

from ntk_lessons.core import models
from ntk_lessons.teaching import exercises

from conftest import make_inputs, make_mlp

O, D = 3, 5


@pytest.fixture(scope="module")
def net():
    apply_fn, params = make_mlp((16, 8), O, D, b_std=0.2, W_std=1.3)
    return apply_fn, params


@pytest.fixture(scope="module")
def contexts(net):
    apply_fn, params = net
    x1, x2 = np.asarray(make_inputs(4, D)), np.asarray(make_inputs(5, D, seed=2))
    from ntk_lessons.core import kernels
    theta = np.asarray(kernels.entk(apply_fn, params, x1))
    return {
        "01.entk_by_jacobian": dict(apply_fn=apply_fn, params=params, x1=x1, x2=x2),
        "01.linear_entk": dict(x1=x1, x2=x2, W_std=1.7, b_std=0.3, O=4),
        "01.pntk_from_theta": dict(theta=theta, apply_fn=apply_fn, params=params, x=x1),
        "02.readout_scalar": dict(apply_fn=apply_fn, params=params, x=x1),
        "02.no_offdiagonal_architecture": dict(x=x1, O=O),
    }


def reference(contexts, exercise_id):
    return exercises.reference_answer(exercise_id, **contexts[exercise_id])


def verdict(contexts, exercise_id, answer):
    v = exercises.evaluate(exercise_id, answer, **contexts[exercise_id])
    assert "\n" not in v.message, "a verdict is one line"
    return v


def wrong(contexts, exercise_id, answer, mistake, *phrases):
    v = verdict(contexts, exercise_id, answer)
    assert v.status == "wrong" and not v.passed, v.message
    assert v.mistake == mistake, v.message
    for phrase in phrases:
        assert phrase in v.message, v.message
    assert "correct" not in v.message
    return v.message


# ----------------------------------------------------------------------------- the three outcomes

@pytest.mark.parametrize("exercise_id", ["01.entk_by_jacobian", "01.linear_entk", "01.pntk_from_theta",
                                         "02.readout_scalar", "02.no_offdiagonal_architecture"])
def test_reference_solution_passes_and_is_reported_correct_only_when_it_is_the_answer(contexts, exercise_id, capsys):
    assert exercise_id in exercises.registered()
    assert verdict(contexts, exercise_id, reference(contexts, exercise_id)).passed
    exercises.check(exercise_id, reference(contexts, exercise_id), **contexts[exercise_id])
    assert capsys.readouterr().out.startswith(f"{exercise_id} correct: ")


@pytest.mark.parametrize("exercise_id", ["01.entk_by_jacobian", "01.linear_entk", "02.readout_scalar",
                                         "02.no_offdiagonal_architecture"])
def test_untouched_exercise_says_not_attempted_and_checks_the_reference_never_correct(contexts, exercise_id, capsys):
    v = verdict(contexts, exercise_id, None)
    assert v.status == "not attempted" and not v.passed
    exercises.check(exercise_id, None, **contexts[exercise_id])  # does not raise: notebooks run top to bottom
    out = capsys.readouterr().out
    assert "not attempted" in out and "reference solution was checked" in out
    assert "correct" not in out.lower()


def test_a_failing_reference_solution_is_a_course_bug_not_a_pass(contexts, monkeypatch, capsys):
    broken = exercises.Exercise(
        id="99.broken", needs=("x",), expects="an (N,) array", truth=lambda c: np.ones(len(c.x)),
        solution=lambda c: np.zeros(len(c.x)), success="never shown")
    monkeypatch.setitem(exercises._REGISTRY, broken.id, broken)
    with pytest.raises(RuntimeError, match="course bug"):
        exercises.check("99.broken", None, x=np.ones(3))
    assert "correct" not in capsys.readouterr().out


def test_wrong_answer_raises_one_readable_line(contexts):
    ctx = contexts["02.readout_scalar"]
    with pytest.raises(exercises.ExerciseNotPassed) as info:
        exercises.check("02.readout_scalar", np.zeros((2, 2)), **ctx)
    assert isinstance(info.value, AssertionError)
    (line,) = info.value._render_traceback_()  # what Jupyter shows instead of a traceback
    assert "ExerciseNotPassed" in line and "expected an (N, N) array" in line and "\n" not in line


def test_missing_context_and_unknown_ids_are_named(contexts):
    with pytest.raises(TypeError, match="missing params, x"):
        exercises.check("02.readout_scalar", None, apply_fn=contexts["02.readout_scalar"]["apply_fn"])
    with pytest.raises(ValueError, match="unknown exercise '02.nope'.*02.readout_scalar"):
        exercises.check("02.nope", None)


# ----------------------------------------------------------------------------- type and shape

@pytest.mark.parametrize("answer, phrase", [
    (lambda x: x, "a function (did you pass the function instead of calling it?)"),
    ("theta", "a string"),
    ((np.ones((4, 4)), np.ones((4, 4))), "a tuple of 2 arrays"),
    (np.ones((4, 4)) * 1j, "complex numbers"),
    ({"a": 1}, "a dict"),
    ([[1, 2], [3]], "not a rectangular array"),
])
def test_wrong_type_says_what_was_expected_in_words(contexts, answer, phrase):
    wrong(contexts, "02.readout_scalar", answer, "type",
          "expected an (N, N) array: one number per pair of inputs -- here shape (4, 4)", phrase)


def test_nan_entries_are_counted(contexts):
    answer = np.array(reference(contexts, "02.readout_scalar"))
    answer[0, :2] = np.nan
    wrong(contexts, "02.readout_scalar", answer, "nonfinite", "2 of the 16 entries", "NaN")


def test_wrong_shape_states_expected_and_got(contexts):
    wrong(contexts, "01.linear_entk", np.ones((2, 7)), "shape",
          "expected an (N1, N2, O, O) array", "here shape (4, 5, 4, 4)", "got shape (2, 7)")


def test_plausible_wrong_shapes_get_their_hint(contexts):
    phi_gram = np.ones((8, 8))  # (n, n): contracted over the inputs instead of the units
    wrong(contexts, "02.readout_scalar", phi_gram, "shape", "pairs hidden units")
    scalar_only = np.asarray(reference(contexts, "01.linear_entk"))[:, :, 0, 0]
    wrong(contexts, "01.linear_entk", scalar_only, "shape", "That is one number per pair of inputs", "O x O block")
    theta = contexts["01.pntk_from_theta"]["theta"]
    wrong(contexts, "01.pntk_from_theta", theta.sum(axis=(0, 1)), "shape", "You summed over the inputs")
    wrong(contexts, "01.pntk_from_theta", theta.sum(axis=3), "shape", "One logit axis is left")


def test_right_numbers_in_another_layout_are_recognised(contexts):
    theta = np.asarray(reference(contexts, "01.entk_by_jacobian"))  # (4, 5, 3, 3)
    sample_major = theta.transpose(0, 2, 1, 3).reshape(4 * O, 5 * O)
    wrong(contexts, "01.entk_by_jacobian", sample_major, "layout", "flattened from axes (n, j, m, k)", "do not flatten")
    wrong(contexts, "01.entk_by_jacobian", theta.transpose(0, 2, 1, 3), "layout", "axes in the order (n, j, m, k)")


def test_a_transpose_is_named(contexts):
    theta = np.asarray(reference(contexts, "01.entk_by_jacobian"))
    wrong(
        contexts, "01.entk_by_jacobian", theta.transpose(0, 1, 3, 2), "transpose",
        "(n, m, k, j)", "asks for (n, m, j, k)",
    )


# ----------------------------------------------------------------------------- structure vs constants

def test_all_ones_where_the_identity_belongs_is_a_structure_mistake(contexts):
    right = np.asarray(reference(contexts, "01.linear_entk"))
    ones = right.sum(axis=3, keepdims=True) * np.ones((1, 1, 1, 4))
    wrong(contexts, "01.linear_entk", ones, "structure", "every entry of each O x O block has the same value")
    message = wrong(contexts, "01.linear_entk", 2 * ones, "structure", "same value")
    assert "also 2 times the right size" in message


def test_a_trace_where_a_full_sum_belongs_is_a_structure_mistake(contexts):
    theta = contexts["01.pntk_from_theta"]["theta"]
    wrong(contexts, "01.pntk_from_theta", np.trace(theta, axis1=2, axis2=3) / O, "structure", "a trace", "j ≠ k")
    wrong(contexts, "01.pntk_from_theta", theta[:, :, 0, 0], "structure", "a single entry")


def test_missing_one_over_n_is_a_constant_mistake(contexts):
    right = np.asarray(reference(contexts, "02.readout_scalar"))
    spec = contexts["02.readout_scalar"]["apply_fn"].spec
    n, bias = spec.hidden_widths[-1], spec.b_std**2
    wrong(contexts, "02.readout_scalar", (right - bias) * n + bias, "constant",
          "the structure is right", "the term σ_w² φ·φ'/n is 8 times the right size: a factor 1/n is missing")


def test_missing_and_mis_squared_bias_terms_are_named(contexts):
    right = np.asarray(reference(contexts, "02.readout_scalar"))
    b = contexts["02.readout_scalar"]["apply_fn"].spec.b_std
    wrong(contexts, "02.readout_scalar", right - b**2, "constant", "the term σ_b² is missing")
    wrong(
        contexts, "02.readout_scalar", right - b**2 + b, "constant",
        "the term σ_b² is 5 times", "a factor σ_b is missing",
    )


def test_sigma_w_instead_of_its_square(contexts):
    right = np.asarray(reference(contexts, "02.readout_scalar"))
    b, w = 0.2, 1.3
    wrong(contexts, "02.readout_scalar", (right - b**2) / w + b**2, "constant", "a factor σ_w is missing")


def test_missing_one_over_o_and_one_over_sqrt_o_in_the_pntk(contexts):
    right = np.asarray(reference(contexts, "01.pntk_from_theta"))
    wrong(contexts, "01.pntk_from_theta", O * right, "constant", "a factor 1/O is missing")
    wrong(contexts, "01.pntk_from_theta", np.sqrt(O) * right, "constant", "a factor 1/√O is missing")


def test_missing_one_over_d_in_the_linear_entk(contexts):
    right = np.asarray(reference(contexts, "01.linear_entk"))
    ctx = contexts["01.linear_entk"]
    bias = ctx["b_std"] ** 2 * np.eye(4)
    wrong(contexts, "01.linear_entk", (right - bias) * D + bias, "constant", "a factor 1/d is missing")


def test_wrong_sign_is_named(contexts):
    wrong(contexts, "01.pntk_from_theta", -np.asarray(reference(contexts, "01.pntk_from_theta")), "sign",
          "your whole answer has the wrong sign")
    ctx = dict(N=4, O=3)
    v = exercises.evaluate("03.pntk_compression", -exercises.reference_answer("03.pntk_compression", **ctx), **ctx)
    assert v.mistake == "sign" and "your whole answer has the wrong sign" in v.message


def test_other_wrong_values_say_where_they_differ(contexts):
    right = np.asarray(reference(contexts, "02.readout_scalar"))
    off = right.copy()
    off[1, 2] += 0.5
    wrong(contexts, "02.readout_scalar", off, "values", "largest difference is 0.5 at index (1, 2)")


# ----------------------------------------------------------------------------- a non-array answer

def test_architecture_exercise_messages(contexts):
    wrong(contexts, "02.no_offdiagonal_architecture", models.mlp([4096], O), "values",
          "off-diagonal share", "never makes it exactly zero")
    wrong(contexts, "02.no_offdiagonal_architecture", models.mlp([], 1), "values", "O > 1")
    wrong(contexts, "02.no_offdiagonal_architecture", models.mlp([], O, W_std=0.0), "values", "σ_w > 0")
    wrong(
        contexts, "02.no_offdiagonal_architecture", jax.numpy.ones(3), "type", "expected the pair (init_fn, apply_fn)"
    )
    assert verdict(contexts, "02.no_offdiagonal_architecture", models.mlp([], 5, W_std=2.0)).passed


# ----------------------------------------------------------------------------- predictions and teachers' tools

def test_reveal_prints_guess_and_measurement(capsys):
    exercises.reveal(2.0, 1.003, what="slope", explain="Because the error is second order.")
    out = capsys.readouterr().out
    assert "your guess 2.00, measured 1.00 -- off by 1" in out and "second order" in out
    exercises.reveal(1.0, 1.003, what="slope")
    assert "close" in capsys.readouterr().out
    exercises.reveal(None, 0.7, what="factor")
    assert "did not write a guess" in capsys.readouterr().out
    with pytest.raises(TypeError, match="must be a number"):
        exercises.reveal("half", 0.7, what="factor")


def test_print_solution_shows_the_reference_source(capsys):
    exercises.print_solution("02.readout_scalar")
    assert "def _readout_scalar" in capsys.readouterr().out


# ----------------------------------------------------------------------------- dtype tolerances, forgotten return

def test_tolerance_follows_the_dtype():
    assert exercises.dtype_rtol(1e-10, np.ones(2)) == 1e-10
    assert np.isclose(exercises.dtype_rtol(1e-10, np.ones(2, np.float32)), 1000 * np.finfo(np.float32).eps)
    assert exercises.dtype_rtol(1e-10, [1, 2], np.arange(3)) == 1e-10  # no floating dtype: unchanged
    assert exercises.dtype_rtol(1e-2, np.ones(2, np.float32)) == 1e-2   # never tighter than the exercise's
    with pytest.raises(ValueError, match="rtol"):
        exercises.dtype_rtol(0.0)


def test_a_correct_float32_answer_passes_a_float64_tolerance(contexts):
    right = np.asarray(reference(contexts, "01.pntk_from_theta"), np.float64)
    in_float32 = (right * (1 + 3e-7)).astype(np.float32)  # float32 rounding, far above 1e-10
    assert verdict(contexts, "01.pntk_from_theta", in_float32).passed
    wrong(contexts, "01.pntk_from_theta", (right * 1.01).astype(np.float32), "constant")  # still a wrong constant


def test_float64_values_message_shows_enough_digits():
    ctx = dict(N=2, O=2)
    right = exercises.reference_answer("03.pntk_compression", **ctx)
    off = right.copy()
    off[0, 0] += 1e-6
    v = exercises.evaluate("03.pntk_compression", off, **ctx)
    assert v.mistake == "values" and "expected 0.7071068, got 0.7071078" in v.message


def _stub(N, O):
    """a docstring"""
    return None  # your answer here


def _forgot(N, O):
    v = np.zeros((N * O, N))
    v[0, 0] = 1


def _nested_return_only(N, O):
    def helper():
        return 1
    helper()


def _answered(N, O):
    return np.zeros((N * O, N))


def _pass_only(N, O):
    pass


def test_lacks_return_tells_a_forgotten_return_from_a_stub():
    assert not exercises.lacks_return(_stub) and not exercises.lacks_return(_pass_only)
    assert exercises.lacks_return(_forgot) and exercises.lacks_return(_nested_return_only)
    assert not exercises.lacks_return(_answered)
    with pytest.raises(TypeError, match="function"):
        exercises.lacks_return(len)


def test_check_says_the_return_is_missing(capsys):
    with pytest.raises(exercises.ExerciseNotPassed, match=r"`_forgot` has no `return` statement"):
        exercises.check("03.pntk_compression", _forgot(3, 2), N=3, O=2)
    exercises.check("03.pntk_compression", _stub(3, 2), N=3, O=2)  # the untouched stub: not attempted, no failure
    assert "not attempted" in capsys.readouterr().out


def test_lesson_03_compression_tells_structure_from_constants():
    ctx = dict(N=4, O=3)
    right = exercises.reference_answer("03.pntk_compression", **ctx)
    assert exercises.evaluate("03.pntk_compression", right, **ctx).passed
    sample_major = np.kron(np.eye(4), np.ones((3, 1))) / np.sqrt(3)
    for answer, mistake, phrase in [
        (sample_major, "structure", "sample-major"),
        (sample_major * np.sqrt(3), "structure", "1.732 times"),
        (right * np.sqrt(3), "constant", "a factor 1/√O is missing"),
        (right / np.sqrt(3), "constant", "the factor 1/√O appears twice"),
        (np.kron(np.eye(3)[:, :1], np.eye(4)), "structure", "first-logit"),
        (right.T, "shape", "That is Vᵀ"),
    ]:
        v = exercises.evaluate("03.pntk_compression", answer, **ctx)
        assert v.mistake == mistake and phrase in v.message, v.message
    with pytest.raises(ValueError, match="N must be a positive int"):
        exercises.evaluate("03.pntk_compression", right, N=0, O=3)
