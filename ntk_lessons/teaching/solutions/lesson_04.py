r"""Reference solutions and checks of lesson 04's exercises (for teachers; students: try first).

Both exercises code one step of the ReLU recursion of ``infinite`` by hand. Their truth is
the closed-form kernel of a network *one hidden layer deeper* (``infinite.mlp_kernels`` with
``n_hidden + 1``), itself checked against neural-tangents' ``kernel_fn``: a step is right
exactly when it turns the kernels of n_hidden layers into those of n_hidden + 1.

Context of both: ``x`` (N, d) inputs, ``n_hidden`` the number of ReLU layers already applied
(the student's step receives ``infinite.mlp_kernels``' state after them), ``W_std``, ``b_std``.
"""

from __future__ import annotations

import math

import numpy as np

from ...core import infinite
from ...teaching import exercises
from ...teaching.exercises import Exercise, Mistake


def _state(c):
    """The recursion's state after ``n_hidden`` ReLU layers: what the student's step receives."""
    state = infinite.input_layer(np.asarray(c.x), W_std=c.W_std, b_std=c.b_std)
    for _ in range(c.n_hidden):
        state = infinite.relu_layer(*state, W_std=c.W_std, b_std=c.b_std)
    return tuple(np.asarray(a, np.float64) for a in state)


def _angle(nngp, var1, var2):
    """θ with cos θ = Σ12 / √(Σ11 Σ22), clipped to [-1, 1] (rounding can push it just above 1)."""
    norm = np.sqrt(np.outer(var1, var2))
    cos = np.clip(nngp / norm, -1.0, 1.0)
    return np.arccos(cos), cos, norm


def _deeper(c):
    return infinite.mlp_kernels(np.asarray(c.x), n_hidden=c.n_hidden + 1, activation="relu", W_std=c.W_std,
                                b_std=c.b_std)


def _constants(c):
    return {"σ_w²": c.W_std**2, "σ_w": c.W_std, "1/(2π)": 1 / (2 * math.pi), "1/π": 1 / math.pi, "1/2": 0.5}


# ============================================================================ exercise 1: the NNGP step


def _relu_nngp_step(c):
    """Σ^{l+1} = σ_w² √(Σ11 Σ22) (sin θ + (π − θ) cos θ) / (2π) + σ_b²  (the arc-cosine kernel)."""
    nngp, _, var1, var2 = _state(c)
    theta, cos, norm = _angle(nngp, var1, var2)
    e_relu = norm * (np.sin(theta) + (math.pi - theta) * cos) / (2 * math.pi)  # E[relu(u) relu(v)]
    return c.W_std**2 * e_relu + c.b_std**2


def _nngp_terms(c):
    total = _relu_nngp_step(c)
    bias = np.full(total.shape, c.b_std**2)
    return {"σ_w² E[relu(u) relu(v)]": total - bias, "σ_b²": bias}


def _nngp_mistakes():
    def step_expectation(c):  # E[relu'(u) relu'(v)] where E[relu(u) relu(v)] belongs
        nngp, _, var1, var2 = _state(c)
        theta, _, _ = _angle(nngp, var1, var2)
        return c.W_std**2 * (math.pi - theta) / (2 * math.pi) + c.b_std**2

    def no_norm(c):  # the angular factor alone, without √(Σ11 Σ22)
        nngp, _, var1, var2 = _state(c)
        theta, cos, _ = _angle(nngp, var1, var2)
        return c.W_std**2 * (np.sin(theta) + (math.pi - theta) * cos) / (2 * math.pi) + c.b_std**2

    def linear(c):  # no activation at all
        nngp = _state(c)[0]
        return c.W_std**2 * nngp + c.b_std**2

    return (
        Mistake("the derivative's expectation", step_expectation,
                "you used (π − θ)/(2π), which is E[relu'(u) relu'(v)] (the step function's kernel, needed for the "
                "NTK); the NNGP needs E[relu(u) relu(v)], which also has a sin θ term."),
        Mistake("no scale", no_norm,
                "the angular part is right, but E[relu(u) relu(v)] also scales with the sizes of u and v: multiply "
                "by √(Σ(x,x) Σ(x',x')) (var1 and var2)."),
        Mistake("no activation", linear,
                "that is the next layer's kernel without the ReLU (σ_w² Σ + σ_b²): replace Σ by E[relu(u) relu(v)]."),
    )


exercises.register(Exercise(
    id="04.relu_nngp_step",
    needs=("x", "n_hidden", "W_std", "b_std"),
    expects="an (N, N) array: Σ of the next layer for every pair of inputs",
    axes=("n", "m"),
    truth=lambda c: _deeper(c).nngp,
    solution=_relu_nngp_step,
    terms=_nngp_terms,
    constants=_constants,
    mistakes=_nngp_mistakes(),
    shape_hints=lambda c: {(len(c.x),): "that is one number per input (a variance); the kernel pairs inputs: "
                                        "build θ for every pair with an outer product of var1 and var2."},
    hint="cos θ = Σ(x,x') / √(Σ(x,x) Σ(x',x')), then Σ_next = σ_w² √(Σ(x,x) Σ(x',x')) (sin θ + (π − θ) cos θ) / (2π) "
         "+ σ_b²; clip cos θ to [-1, 1] before arccos.",
    rtol=1e-6,
    success="your step turns the NNGP of this network into the NNGP of the network one ReLU layer deeper.",
))


# ============================================================================ exercise 2: the NTK step


def _relu_ntk_step(c):
    """Θ^{l+1} = Σ^{l+1} + σ_w² E[relu'(u) relu'(v)] Θ^l, with E[relu' relu'] = (π − θ)/(2π)."""
    _, ntk, next_nngp, _, e_step = _ntk_parts(c)
    return next_nngp + c.W_std**2 * e_step * ntk


def _ntk_parts(c):
    """(Σ^l, Θ^l, Σ^{l+1}, E[relu relu], E[relu' relu']) of the context, float64."""
    nngp, ntk, var1, var2 = _state(c)
    e_relu, e_step = (np.asarray(e, np.float64) for e in infinite.relu_expectations(nngp, var1[:, None], var2[None, :]))
    return nngp, ntk, c.W_std**2 * e_relu + c.b_std**2, e_relu, e_step


def _ntk_terms(c):
    _, ntk, next_nngp, _, e_step = _ntk_parts(c)
    return {"Σ^{l+1} (the new layer's own weights and biases)": next_nngp,
            "σ_w² E[relu'(u) relu'(v)] Θ^l (the layers below, backpropagated)": c.W_std**2 * e_step * ntk}


def _ntk_mistakes():
    def nngp_below(c):  # Σ^l where Θ^l belongs
        nngp, _, next_nngp, _, e_step = _ntk_parts(c)
        return next_nngp + c.W_std**2 * e_step * nngp

    def relu_not_derivative(c):  # E[relu relu] where E[relu' relu'] belongs
        _, ntk, next_nngp, e_relu, _ = _ntk_parts(c)
        return next_nngp + c.W_std**2 * e_relu * ntk

    return (
        Mistake("Σ below instead of Θ below", nngp_below,
                "the backpropagated term multiplies the NTK of the layer below (ntk), not its NNGP (nngp): the "
                "gradients of all the parameters below are what is carried up."),
        Mistake("E[relu relu] instead of E[relu' relu']", relu_not_derivative,
                "backpropagation through the ReLU multiplies by its derivative relu'(u) = 1[u > 0]: the factor is "
                "E[relu'(u) relu'(v)] = (π − θ)/(2π), not E[relu(u) relu(v)]."),
    )


exercises.register(Exercise(
    id="04.relu_ntk_step",
    needs=("x", "n_hidden", "W_std", "b_std"),
    expects="an (N, N) array: Θ of the next layer for every pair of inputs",
    axes=("n", "m"),
    truth=lambda c: _deeper(c).ntk,
    solution=_relu_ntk_step,
    terms=_ntk_terms,
    constants=_constants,
    mistakes=_ntk_mistakes(),
    shape_hints=lambda c: {(len(c.x),): "that is one number per input; the kernel pairs inputs: (N, N)."},
    hint="Θ_next = Σ_next + σ_w² E[relu'(u) relu'(v)] Θ, where Σ_next is the next NNGP and the expectation is "
         "(π − θ)/(2π).",
    rtol=1e-6,
    success="your step turns the NTK of this network into the NTK of the network one ReLU layer deeper.",
))


# ----------------------------------------------------------------------------- exercise 3: the total ratio

_GRID = [(r, o, g) for r in (0.55, 0.7, 0.9) for o in (2, 5, 10) for g in (0.3, 0.5, 1.0)]


def _total_ratio(diagonal_ratio, O, gamma):
    """Eliminate q: the diagonal ratio² = 2(O − 1) / (O (q + 1)) gives O (q + 1) = 2(O − 1) / r²; put it in
    the total ratio² = (2(O − 1) + O (O − 1) γ) / (O (q + 1) + O (O − 1) γ)."""
    return math.sqrt((2 * (O - 1) + O * (O - 1) * gamma) / (2 * (O - 1) / diagonal_ratio**2 + O * (O - 1) * gamma))


def _ratio_truth(r, o, g):
    """From the expectations themselves (V_d = 1): solve for q, then form both squared distances."""
    q = 2 * (o - 1) / (o * r**2) - 1
    d_inf, d_pntk = o * (q + 1) + o * (o - 1) * g, 2 * (o - 1) + o * (o - 1) * g
    return math.sqrt(d_pntk / d_inf)


_RATIO_MISTAKES = (
    (lambda r, o, g: r, "you returned the diagonal ratio itself: the whole kernel also has the O·(O − 1) off-diagonal "
                        "blocks, common to both distances, which pull the ratio towards 1."),
    (lambda r, o, g: _ratio_truth(r, o, g) ** 2, "you returned the squared ratio: take the square root at the end."),
    (lambda r, o, g: math.sqrt((2 * (o - 1) + (o - 1) * g) / (2 * (o - 1) / r**2 + (o - 1) * g)),
     "the off-diagonal term: there are O·(O − 1) off-diagonal blocks, each contributing γ V_d, not O − 1."),
    (lambda r, o, g: math.sqrt((2 * (o - 1) + o * (o - 1) * g) / (2 / r**2 * (o - 1) * (o - 1) / o + o * (o - 1) * g)),
     "the diagonal part of δ_∞²: Θ_∞ misses G and E_jj on all O diagonal blocks, O (q + 1) V_d -- not O − 1 blocks."),
)


def _judge_ratio(answer, ctx, exercise):
    if not callable(answer):
        return exercise.wrong("type", f"expected {exercise.expects}; got {type(answer).__name__}. Pass the function "
                                      "itself, total_ratio, not a call of it.")
    got, want = [], []
    for r, o, g in _GRID:
        try:
            value = answer(r, o, g)
        except Exception as error:  # noqa: BLE001 -- any error in the student's code is reported as a hint
            return exercise.wrong("error", f"total_ratio({r}, {o}, {g}) raised {type(error).__name__}: {error}")
        if value is None:
            return exercise.wrong("none", "your function returns None: did you forget `return`?")
        try:
            value = float(np.asarray(value, np.float64))
        except (TypeError, ValueError):
            return exercise.wrong("type", f"total_ratio({r}, {o}, {g}) returned {type(value).__name__}, not a number.")
        got.append(value)
        want.append(_ratio_truth(r, o, g))
    got, want = np.array(got), np.array(want)
    if not np.all(np.isfinite(got)):
        return exercise.wrong("nonfinite", "your formula gives NaN or infinity for some inputs (a division by zero?).")
    if np.allclose(got, want, rtol=exercise.rtol, atol=0):
        return exercise.correct()
    if np.allclose(got, -want, rtol=exercise.rtol, atol=0):
        return exercise.wrong("sign", "your whole answer has the wrong sign.")
    for build, hint in _RATIO_MISTAKES:
        if np.allclose(got, [build(r, o, g) for r, o, g in _GRID], rtol=1e-6, atol=0):
            return exercise.wrong("structure", hint)
    c = got / want
    if np.allclose(c, c[0], rtol=1e-6):
        return exercise.wrong("constant", f"right structure, but every value is {c[0]:.4g} times the right one: "
                                          "check a constant factor (a 2, or an O).")
    return exercise.wrong("structure", "the formula does not match at several (r, O, γ): write r² and the total ratio² "
                                       "with the two expectations, then eliminate O (q + 1).")


exercises.register(Exercise(
    id="04.total_ratio",
    needs=("diagonal_ratio",),
    expects="a function total_ratio(diagonal_ratio, O, gamma) returning a float",
    truth=lambda c: _ratio_truth(float(c.diagonal_ratio), 10, 0.5),
    solution=lambda c: _total_ratio,
    judge=_judge_ratio,
    rtol=1e-9,
    success="the diagonal ratio fixes O (q + 1); the O·(O − 1) off-diagonal blocks, common to both distances, pull the "
            "total ratio towards 1 -- the more outputs, the closer.",
))
