r"""Exercises with self-checks, and "predict before you run" questions: one mechanism for every lesson.

How a lesson uses it
--------------------
The student's cell holds a stub that returns ``None`` until they write their answer::

    def readout_scalar_by_hand(phi, W_std, b_std):
        return None  # your answer here

and the self-check cell is one call: the exercise's id, the student's answer, and the
objects the check needs to compute the right answer independently (its *context*)::

    # Self-check for exercise 1.
    exercises.check("02.readout_scalar", readout_scalar_by_hand(phi, 1.4, 0.1),
                    apply_fn=apply_fn, params=params, x=x)

``check`` prints one line, or raises :class:`ExerciseNotPassed`:

* answer ``None`` (untouched stub): "not attempted" -- the *reference solution* is checked
  instead and the line says so. It never says "correct" and it does not fail, so a notebook
  whose exercises are untouched runs top to bottom (and under nbval). But if a function
  called in the check's line has a body of its own and no ``return`` statement (it computes
  and then returns None), the check says so and fails: the student forgot ``return``.
* the student's own answer passes: "correct: ..." (the only way to see that word).
* it fails: :class:`ExerciseNotPassed`, an ``AssertionError`` whose message is one line --
  what was expected, in words, and a hint matched to the mistake. In Jupyter only that
  line is shown, not a traceback.

How an array answer is judged (:func:`evaluate`), in this order
---------------------------------------------------------------
1. *type*: an array (numpy, JAX, nested lists of numbers); a function, a string, a tuple of
   several arrays, complex numbers are named as such;
2. *finite*: NaN / inf entries are counted;
3. *known wrong structures* of this exercise (``Exercise.mistakes``: e.g. all-ones where I_O
   belongs, a trace where a full sum belongs), each recognised even when also off by a
   constant factor;
4. *shape*: the expected shape in words and numbers; an array holding the right numbers in
   another layout (axes permuted, or flattened to a matrix) is recognised and named;
5. *values* within ``rtol`` x (largest |entry|) -> correct. The tolerance follows the dtype:
   when the answer (or the context the right answer is computed from) is float32/float16,
   it is at least 1000 x that dtype's machine epsilon (float32: 1.2e-4), so a correct
   float32 answer is not failed at 1e-10;
6. *the whole answer negated* ("your whole answer has the wrong sign"), or a transpose: the
   right numbers with two axes swapped;
7. *wrong constants*: the answer is a combination of the exercise's named terms
   (``Exercise.terms``; the right answer is their plain sum) with some coefficients off --
   each such term is named, with the factor it is off by matched to the exercise's named
   constants ("a factor 1/n is missing", "the term sigma_b^2 is missing", ...);
8. anything else: where the largest difference is, and the exercise's general hint.

Structure mistakes (3, 4, 6) are told apart from constant mistakes (7): a wrong constant
keeps the answer inside the span of the right terms, a wrong structure leaves it.

Reference solutions (for teachers)
----------------------------------
Reference solutions are not in the student notebooks. Each exercise is registered, with
its reference solution, its independent check and its hints, in
``ntk_lessons/teaching/solutions/lesson_LL.py`` (one file per lesson), imported on first use.
A teacher can print one with ``exercises.print_solution("02.readout_scalar")`` or compute it with
``exercises.reference_answer("02.readout_scalar", **context)``; ``exercises.registered()``
lists the ids. To add an exercise, register an :class:`Exercise` there (see CONTRIBUTING.md).

Predictions
-----------
``exercises.reveal(guess, measured, what=...)`` prints a student's committed guess next to
the measurement (it never fails: a prediction is not graded).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import itertools
import linecache
import numbers
import os
import pkgutil
import textwrap
import types
from typing import Any, Callable, Mapping

import numpy as np

Context = types.SimpleNamespace  # the keyword arguments given to ``check``, as attributes


class ExerciseNotPassed(AssertionError):
    """A wrong answer. The message is one line: what was expected and a hint for this mistake.

    IPython shows only that line (``_render_traceback_``) instead of a traceback, so the
    student reads the hint, not a stack of library frames.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31mExerciseNotPassed\x1b[0m: {self}"]


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The outcome of judging one answer.

    ``status``: "correct", "not attempted" or "wrong". ``mistake``: None when correct, else
    the kind of mistake -- "not attempted", "type", "nonfinite", "structure", "shape",
    "layout", "sign" (the whole answer negated), "transpose", "constant", "values" (or what a
    custom judge reports).
    ``message``: the line :func:`check` prints or raises.
    """

    exercise: str
    status: str
    mistake: str | None
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "correct"


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A wrong structure a student may plausibly write, recognised up to a constant factor.

    ``build(context)`` returns that wrong answer (any shape); ``hint`` is shown when the
    student's answer equals it (times any constant).
    """

    name: str
    build: Callable[[Context], Any]
    hint: str


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise: what it expects, how to compute the right answer, hints for mistakes.

    Attributes:
      id: "LL.name", LL the lesson number (e.g. "02.readout_scalar").
      needs: the context keywords ``check`` must receive (e.g. ("apply_fn", "params", "x")).
      expects: the expected answer in words, e.g. "an (N, N) array: one number per pair of inputs".
      truth: context -> the right answer, computed independently of the formula the
        student is asked for (generic autodiff, the package).
      solution: context -> the reference solution's answer (what a student would write).
        Checked instead of an untouched exercise; its source is what ``print_solution`` shows.
      success: printed after "correct: ". It must not give away another exercise's answer.
      terms: optional, context -> {name: array}; the right answer is their sum. Lets a wrong
        constant be named (which term is off, by which factor).
      constants: optional, context -> {name: value}: the factors that belong in the answer
        (e.g. {"1/n": 1 / n}), used to name the factor a term is off by.
      mistakes: known wrong structures (:class:`Mistake`).
      shape_hints: optional, context -> {shape: hint} for plausible wrong shapes.
      axes: short names of the answer's axes (e.g. ("n", "m", "j", "k")), for layout hints.
      hint: the general hint when nothing specific matches.
      rtol: tolerance, relative to the largest |entry| of the right answer.
      judge: optional, (answer, context, exercise) -> Verdict, replacing the array judging
        (for answers that are not arrays, e.g. a model).
    """

    id: str
    needs: tuple[str, ...]
    expects: str
    truth: Callable[[Context], Any]
    solution: Callable[[Context], Any]
    success: str
    terms: Callable[[Context], Mapping[str, Any]] | None = None
    constants: Callable[[Context], Mapping[str, float]] | None = None
    mistakes: tuple[Mistake, ...] = ()
    shape_hints: Callable[[Context], Mapping[tuple, str]] | None = None
    axes: tuple[str, ...] | None = None
    hint: str = ""
    rtol: float = 1e-5
    judge: Callable[[Any, Context, "Exercise"], Verdict] | None = None

    def correct(self) -> Verdict:
        """The verdict for a passing answer."""
        return Verdict(self.id, "correct", None, f"{self.id} correct: {self.success}")

    def wrong(self, mistake: str, text: str) -> Verdict:
        """The verdict for a failing answer: ``text`` is the hint (one line)."""
        return Verdict(self.id, "wrong", mistake, f"{self.id} not yet: {' '.join(text.split())}")


_REGISTRY: dict[str, Exercise] = {}


def _solution_modules() -> list[str]:
    """One module per lesson in ``ntk_lessons.teaching.solutions``: ``lesson_LL``.

    Imported on first use; each registers its exercises."""
    package_dir = os.path.join(os.path.dirname(__file__), "solutions")
    names = sorted(m.name for m in pkgutil.iter_modules([package_dir]) if m.name.startswith("lesson_"))
    return [f"{__package__}.solutions.{name}" for name in names]


def register(exercise: Exercise) -> Exercise:
    """Add ``exercise`` to the registry (ids are unique). Returns it."""
    if not isinstance(exercise, Exercise):
        raise TypeError(f"register expects an Exercise, got {type(exercise).__name__}")
    if exercise.id in _REGISTRY and _REGISTRY[exercise.id] is not exercise:
        raise ValueError(f"an exercise with id {exercise.id!r} is already registered")
    _REGISTRY[exercise.id] = exercise
    return exercise


def _load() -> None:
    for name in _solution_modules():
        importlib.import_module(name)


def registered() -> list[str]:
    """The ids of all registered exercises, sorted."""
    _load()
    return sorted(_REGISTRY)


def get(exercise_id: str) -> Exercise:
    """The registered :class:`Exercise` with this id (ValueError listing the ids if unknown)."""
    _load()
    if exercise_id not in _REGISTRY:
        raise ValueError(f"unknown exercise {exercise_id!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[exercise_id]


def _context(exercise: Exercise, context: Mapping[str, Any]) -> Context:
    missing = [k for k in exercise.needs if k not in context]
    if missing:
        wanted = ", ".join(f"{k}=..." for k in exercise.needs)
        raise TypeError(f"exercises.check({exercise.id!r}, answer, {wanted}) is missing {', '.join(missing)}")
    return Context(**context)


def evaluate(exercise_id: str, answer: Any, **context: Any) -> Verdict:
    """Judge ``answer`` without printing or raising. ``None`` gives status "not attempted".

    ``context``: the keywords the exercise ``needs``. Cost: one independent computation of
    the right answer (and of each known mistake), plus O(size) comparisons.
    """
    exercise = get(exercise_id)
    ctx = _context(exercise, context)
    if answer is None:
        return Verdict(exercise.id, "not attempted", "not attempted",
                       f"{exercise.id} not attempted yet (the answer is None)")
    if exercise.judge is not None:
        return exercise.judge(answer, ctx, exercise)
    return _judge_array(exercise, answer, ctx)


def check(exercise_id: str, answer: Any, **context: Any) -> None:
    """The self-check: print one line, or raise :class:`ExerciseNotPassed` with the hint.

    An untouched exercise (``answer is None``) checks the reference solution instead and
    says so; it never reports "correct" and never fails. Raises RuntimeError if the
    reference solution itself fails (a bug in the course, not in the student's work).
    """
    verdict = evaluate(exercise_id, answer, **context)
    if verdict.status == "not attempted":
        frame = inspect.currentframe()
        forgot = functions_without_return(frame.f_back) if frame is not None and frame.f_back is not None else []
        if forgot:
            raise ExerciseNotPassed(
                f"{exercise_id} not yet: your answer is None because your function {', '.join(forgot)} has no "
                "`return` statement -- it computes something and then returns None. Add `return <your answer>` "
                "as its last line.")
    if verdict.status == "wrong":
        raise ExerciseNotPassed(verdict.message)
    if verdict.status == "not attempted":
        reference = evaluate(exercise_id, reference_answer(exercise_id, **context), **context)
        if not reference.passed:
            raise RuntimeError(
                f"course bug: the reference solution of {exercise_id} fails its check: {reference.message}"
            )
        print(f"{exercise_id} not attempted yet (your answer is None), so the reference solution was checked "
              "instead, and it passes. Write your answer where it says so and re-run the cell.")
        return
    print(verdict.message)


def lacks_return(function: Callable) -> bool:
    """True if ``function`` has a body of its own but no ``return`` statement (so it returns None).

    The untouched stub (``return None  # your answer here``) has a return, and a body that is
    only a docstring, ``pass`` or ``...`` is not attempted yet: both give False. Nested
    functions and lambdas are not searched (their returns are not the function's). False when
    the source cannot be read. Raises TypeError if ``function`` is not a Python function.
    """
    if not isinstance(function, types.FunctionType):
        raise TypeError(f"function must be a Python function, got {type(function).__name__}")
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return False
    defs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not defs:
        return False
    body = list(defs[0].body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring
    trivial = all(isinstance(b, ast.Pass) or (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))
                  for b in body)
    if trivial:
        return False

    def returns(nodes: list) -> bool:
        for node in nodes:
            if isinstance(node, ast.Return):
                return True
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                continue
            if returns(list(ast.iter_child_nodes(node))):
                return True
        return False

    return not returns(body)


def functions_without_return(frame: types.FrameType) -> list[str]:
    """Names of the student's functions called in the statement ``frame`` is executing that lack ``return``.

    Reads that statement's source (a notebook cell's source is in ``linecache``), takes every
    name called in it, and keeps those bound in the frame to a function defined outside this
    package for which :func:`lacks_return` is True. Empty when the source cannot be read.
    """
    lines = linecache.getlines(frame.f_code.co_filename)
    if not lines:
        return []
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        return []
    line = frame.f_lineno
    names: list[str] = []
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.stmt) or isinstance(statement, (ast.FunctionDef, ast.ClassDef)):
            continue
        if not statement.lineno <= line <= (statement.end_lineno or statement.lineno):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in names:
                names.append(node.func.id)
    found = []
    for name in names:
        value = frame.f_locals.get(name, frame.f_globals.get(name))
        if isinstance(value, types.FunctionType) and not (value.__module__ or "").startswith("ntk_lessons") \
                and lacks_return(value):
            found.append(f"`{name}`")
    return found


def reference_answer(exercise_id: str, **context: Any) -> Any:
    """The reference solution's answer for this context (for teachers and for :func:`check`)."""
    exercise = get(exercise_id)
    return exercise.solution(_context(exercise, context))


def print_solution(exercise_id: str) -> None:
    """Print the source of the reference solution (for teachers, or after trying)."""
    exercise = get(exercise_id)
    try:
        source = inspect.getsource(exercise.solution)
    except (OSError, TypeError):
        source = repr(exercise.solution)
    print(f"# reference solution of {exercise_id}\n{source}")


def reveal(guess: Any, measured: float, *, what: str, explain: str = "") -> None:
    """Print a committed prediction next to the measurement. Never fails.

    ``guess``: the student's number (None if they did not write one); ``measured``: the
    number the lesson measured; ``what``: what was predicted, e.g. "log-log slope";
    ``explain``: optional sentence printed after the comparison.
    """
    measured = float(np.asarray(measured))
    show = lambda v: f"{v:.2f}" if abs(v) < 10 else f"{v:.3g}"  # noqa: E731
    if guess is None:
        print(f"{what}: measured {show(measured)}. You did not write a guess: committing to one before "
              "looking is the point of the question.")
    elif isinstance(guess, bool) or not isinstance(guess, numbers.Real):
        raise TypeError(f"the guess for {what!r} must be a number (or None), got {guess!r}")
    else:
        off = abs(guess - measured)
        verdict = "close" if off <= 0.1 * max(abs(measured), 1e-12) else f"off by {off:.2g}"
        print(f"{what}: your guess {show(guess)}, measured {show(measured)} -- {verdict}.")
    if explain:
        print(explain)


# ----------------------------------------------------------------------------- array judging

def _describe_type(answer: Any) -> str | None:
    """None if ``answer`` is an array of real numbers, else a phrase naming what it is."""
    if callable(answer) and not hasattr(answer, "shape"):
        return "a function (did you pass the function instead of calling it?)"
    if isinstance(answer, (str, bytes)):
        return f"a string {answer!r}"
    if isinstance(answer, dict):
        return "a dict"
    if isinstance(answer, (tuple, list)) and any(hasattr(a, "shape") and np.ndim(a) > 0 for a in answer):
        return f"a {type(answer).__name__} of {len(answer)} arrays (return one array)"
    if not (hasattr(answer, "shape") or isinstance(answer, (numbers.Number, tuple, list))):
        return f"a {type(answer).__name__}"
    try:
        arr = np.asarray(answer)
    except (TypeError, ValueError):
        return f"a {type(answer).__name__} that is not a rectangular array of numbers"
    if np.iscomplexobj(arr):
        return "an array of complex numbers"
    if arr.dtype.kind not in "biuf":
        return f"a {type(answer).__name__} that is not an array of numbers (dtype {arr.dtype})"
    return None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _close(a: np.ndarray, b: np.ndarray, atol: float) -> bool:
    return a.shape == b.shape and bool(np.max(np.abs(a - b), initial=0.0) <= atol)


def _scale_fit(answer: np.ndarray, pattern: np.ndarray) -> float:
    """Least-squares c with answer ≈ c * pattern (0 if pattern is zero)."""
    denom = float(np.vdot(pattern, pattern))
    return float(np.vdot(pattern, answer)) / denom if denom > 0 else 0.0


def _matches_up_to_scale(answer: np.ndarray, pattern: np.ndarray, rtol: float) -> float | None:
    """c if answer ≈ c * pattern (c != 0) within rtol of its largest entry, else None."""
    if answer.shape != pattern.shape:
        return None
    c = _scale_fit(answer, pattern)
    scaled = c * pattern
    if c != 0 and _close(answer, scaled, rtol * max(np.abs(scaled).max(initial=0.0), 1e-300)):
        return c
    return None


def _factor_words(c: float, constants: Mapping[str, float]) -> str:
    """Name the factor c by which a term is off, using the exercise's named constants."""
    def near(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-3 * max(abs(a), abs(b))

    if near(c, -1.0):
        return "has the wrong sign"
    for name, value in constants.items():
        if value in (0, 1):
            continue
        if near(c, 1 / value):
            return f"is {c:.4g} times the right size: a factor {name} is missing"
        if near(c, value):
            return f"is {c:.4g} times the right size: the factor {name} appears twice"
        if near(c, -1 / value):
            return f"has the wrong sign and a factor {name} is missing"
    return f"is {c:.4g} times the right size: check its constant factors"


def _layout_words(exercise: Exercise, perm: tuple[int, ...], flattened_to: tuple | None) -> str:
    names = exercise.axes or tuple(f"axis{i}" for i in range(len(perm)))
    got = ", ".join(names[p] for p in perm)
    want = ", ".join(names)
    if flattened_to is not None:
        return (f"it holds the right numbers, but flattened from axes ({got}) into shape {flattened_to}; "
                f"the exercise asks for the array with axes ({want}) -- reshape/transpose, do not flatten")
    return f"it holds the right numbers with axes in the order ({got}); the exercise asks for ({want})"


def dtype_rtol(rtol: float, *arrays: Any) -> float:
    """``rtol``, raised to 1000 x machine epsilon of the least precise floating dtype among ``arrays``.

    float64 keeps ``rtol`` (1000 eps = 2.2e-13); float32 gets at least 1.2e-4, float16 at least 0.98:
    a correct answer computed in float32 is not failed at a float64 tolerance. Integer and
    non-array inputs do not count. ValueError if ``rtol`` is not positive.
    """
    if not (isinstance(rtol, numbers.Real) and rtol > 0):
        raise ValueError(f"rtol must be a positive number, got {rtol!r}")
    eps = [float(np.finfo(a.dtype).eps) for a in arrays
           if hasattr(a, "dtype") and np.issubdtype(np.dtype(a.dtype), np.floating)]
    return max(float(rtol), 1000 * max(eps)) if eps else float(rtol)


def _judge_array(exercise: Exercise, answer: Any, ctx: Context) -> Verdict:
    raw_truth = exercise.truth(ctx)
    truth = np.asarray(raw_truth, dtype=np.float64)
    expected = f"expected {exercise.expects} -- here shape {truth.shape}"
    problem = _describe_type(answer)
    if problem is not None:
        return exercise.wrong("type", f"{expected}; got {problem}.")
    rtol = dtype_rtol(exercise.rtol, answer, raw_truth)
    if rtol != exercise.rtol:
        exercise = dataclasses.replace(exercise, rtol=rtol)
    arr = np.asarray(answer, dtype=np.float64)
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    if bad:
        return exercise.wrong("nonfinite", f"{bad} of the {arr.size} entries of your answer are NaN or infinite "
                                           "(a division by zero?).")
    atol = exercise.rtol * max(float(np.abs(truth).max(initial=0.0)), 1e-300)

    for mistake in exercise.mistakes:
        wrong = np.asarray(mistake.build(ctx), dtype=np.float64)
        if _close(wrong, truth, atol):
            continue  # this "mistake" is right for this context (e.g. O = 1)
        c = _matches_up_to_scale(arr, wrong, exercise.rtol)
        if c is not None:
            also = ("" if abs(c - 1) < 1e-3 else " (And your whole answer has the wrong sign.)" if abs(c + 1) < 1e-3
                    else f" (And the whole answer is also {c:.4g} times the right size.)")
            return exercise.wrong("structure", mistake.hint + also)

    if arr.shape != truth.shape:
        text = f"{expected}; got shape {arr.shape}."
        hints = dict(exercise.shape_hints(ctx)) if exercise.shape_hints else {}
        if arr.shape in hints:
            return exercise.wrong("shape", f"{text} {_sentence(hints[arr.shape])}")
        if arr.size == truth.size:
            for perm in itertools.permutations(range(truth.ndim)):
                moved = truth.transpose(perm)
                if _close(arr, moved.reshape(arr.shape), atol):
                    flat = None if moved.shape == arr.shape else arr.shape
                    return exercise.wrong("layout", f"{text} {_sentence(_layout_words(exercise, perm, flat))}.")
            return exercise.wrong("shape", f"{text} It has the right number of entries: check which axis is which.")
        return exercise.wrong("shape", text)

    if _close(arr, truth, atol):
        return exercise.correct()
    if np.any(truth != 0) and _close(arr, -truth, atol):
        return exercise.wrong("sign", "your whole answer has the wrong sign: every entry is minus the right one "
                                      "(a subtraction the wrong way round?).")

    for perm in itertools.permutations(range(truth.ndim)):
        if perm != tuple(range(truth.ndim)) and truth.transpose(perm).shape == arr.shape:
            if _close(arr, truth.transpose(perm), atol):
                return exercise.wrong("transpose", f"a transpose: {_layout_words(exercise, perm, None)}.")

    if exercise.terms is not None:
        verdict = _judge_terms(exercise, arr, truth, ctx, atol)
        if verdict is not None:
            return verdict

    diff = np.abs(arr - truth)
    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
    return exercise.wrong(
        "values",
        f"the largest difference is {diff[where]:.3g} at index {tuple(int(i) for i in where)} "
        f"(expected {truth[where]:.7g}, got {arr[where]:.7g}). {exercise.hint}",
    )


def _judge_terms(exercise: Exercise, arr: np.ndarray, truth: np.ndarray, ctx: Context, atol: float) -> Verdict | None:
    """If arr = sum_i c_i term_i with some c_i != 1, name those terms and factors; else None."""
    terms = {
        name: np.broadcast_to(np.asarray(t, dtype=np.float64), truth.shape)
        for name, t in exercise.terms(ctx).items()
    }
    basis = np.stack([t.ravel() for t in terms.values()], axis=1)
    coef, *_ = np.linalg.lstsq(basis, arr.ravel(), rcond=None)
    if not _close(arr.ravel(), basis @ coef, atol):
        return None
    constants = dict(exercise.constants(ctx)) if exercise.constants else {}
    parts = []
    for (name, _), c in zip(terms.items(), coef):
        if abs(c) < 1e-6:
            parts.append(f"the term {name} is missing")
        elif abs(c - 1) > 1e-3:
            parts.append(f"the term {name} {_factor_words(float(c), constants)}")
    if not parts:
        return None
    return exercise.wrong("constant", "the structure is right but a constant is off: " + "; ".join(parts) + ".")
