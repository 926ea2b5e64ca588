r"""Kernel regression with an N x N kernel or a full eNTK, and how to score its predictions.

The mean predictor of kernel (ridge) regression on training targets y (N, O) is

    f(x*) = k(x*, X) (K + lambda I)^{-1} y.

Two kinds of kernel are accepted, everywhere in this package that takes "a kernel":

* an N x N kernel ``k[n, m]`` (pNTK, Theta_inf, one logit, ...), used as K ⊗ I_O: every
  output column is regressed on its own with the same K, so one Cholesky factorisation of
  the N x N matrix serves all O outputs;
* a full eNTK ``theta[n, m, j, k]`` of shape (N, N, O, O) (the layout of
  ``kernels.entk`` and neural-tangents' ``trace_axes=()``), flattened sample-major (row
  ``n * O + j``, see ``blocks.to_matrix``) into one (N O) x (N O) system that couples the
  outputs.

Ridge. ``lambda = ridge * mean(diag K)``: ``ridge`` is *relative* to the kernel's scale, so
multiplying every kernel by c leaves the predictions unchanged. ``ridge=0`` is ridgeless
regression (needs K positive definite).

Numerical safety. A singular or ill-conditioned system never returns silent garbage:

* if the Cholesky factorisation of K + lambda I fails, a ``ValueError`` names ``k_train``
  and says whether K is not positive semi-definite (a wrong matrix) or merely singular
  for its dtype (use a larger ``ridge`` or float64);
* otherwise the condition number kappa of K + lambda I is estimated (power iteration
  and inverse iteration with the Cholesky factor, O(n^2) per iteration), and when
  ``kappa * eps(dtype) > ILL_CONDITIONED_LEVEL`` (1e-2) an :class:`IllConditionedWarning`
  names kappa and the dtype: the solve may have lost most of its digits.

float32 (eps 1.2e-7) warns from kappa ≈ 1e5; float64 (eps 2.2e-16) from kappa ≈ 5e13.
Kernel matrices of wide networks are often badly conditioned, so float64 is the
recommended dtype whenever condition numbers or small ridges matter.

Functions here validate eagerly (plain Python checks), so they are not meant to be
called under ``jax.jit``; they never modify the caller's arrays.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from . import blocks, checks

ILL_CONDITIONED_LEVEL = 1e-2
"""Warn when (estimated condition number) x eps(dtype) exceeds this."""

SYMMETRY_RTOL = 1e-4
"""A kernel counts as symmetric when max|K - K^T| <= SYMMETRY_RTOL * max|K|.

Independent of the dtype on purpose: a kernel computed in float32 and cast to float64
(recommended for the solve) keeps float32-sized asymmetries. The solve uses (K + K^T)/2.
"""

PSD_RTOL = 1e-5
"""Eigenvalues down to -PSD_RTOL * n * max|K| count as rounding (n = side of the matrix).

n * max|K| bounds the spectral norm; 1e-5 is about a hundred float32 roundings, so a
float32 kernel cast to float64 is not rejected. Anything more negative is not a kernel.
"""

POWER_ITERATIONS = 30  # for the largest eigenvalue of K + lambda I (condition estimate)
INVERSE_ITERATIONS = 8  # for the smallest one, each a Cholesky solve


class IllConditionedWarning(RuntimeWarning):
    """K + lambda I is too ill-conditioned for its dtype: the predictions may be inaccurate.

    Issued by :func:`fit_predict` when (estimated condition number) x eps(dtype) >
    ``ILL_CONDITIONED_LEVEL``. Cure: a larger ``ridge`` or float64 inputs.
    """


class FlatKernel(NamedTuple):
    """A validated kernel as a matrix.

    matrix: (R, C) for an N x N-style kernel of shape (R, C); (R O, C O) flattened
      sample-major (row ``r * O + j``) for a full kernel of shape (R, C, O, O).
    full: True when the input had shape (R, C, O, O).
    """

    matrix: jax.Array
    full: bool


def as_flat_kernel(
    kernel: Any,
    out_dim: int,
    *,
    name: str = "kernel",
    rows: int | None = None,
    cols: int | None = None,
    symmetric: bool = False,
    full: bool | None = None,
    context: str = "",
) -> FlatKernel:
    """Validate "a kernel that is either (R, C) or (R, C, O, O)" and return it as a matrix.

    Args:
      kernel: array of shape (R, C) (used as K ⊗ I_O) or (R, C, O, O) with O = ``out_dim``;
        floating (integer arrays are rejected: TypeError), finite, non-empty.
      out_dim: O, the number of outputs.
      name: the argument's name, used in every error message.
      rows, cols: required R and C (None: any).
      symmetric: require R == C and max|K - K^T| <= SYMMETRY_RTOL * max|K| on the
        (flattened) matrix; the returned matrix is then exactly symmetrised, (K + K^T)/2.
      full: require the full form (True) or the (R, C) form (False), e.g. the form of the
        training kernel when validating a test-train kernel (None: either).
      context: appended to shape errors, e.g. "to match y_train of shape (N, O)".
    Returns:
      :class:`FlatKernel` with ``matrix`` (R, C) or (R O, C O) (sample-major) in the
      kernel's dtype, and ``full``.
    Raises:
      TypeError (not an array, not floating) or ValueError (shape, NaN/inf, asymmetry),
      naming ``name``. Cost: O(R C O^2) (one pass and, for a full kernel, one copy).
    """
    out_dim = checks.positive_int(out_dim, "out_dim")
    arr = checks.batch(kernel, name, min_rank=1)
    wanted = f"({_dim(rows, 'R')}, {_dim(cols, 'C')}) or ({_dim(rows, 'R')}, {_dim(cols, 'C')}, {out_dim}, {out_dim})"
    suffix = f" {context}" if context else ""
    if arr.ndim not in (2, 4):
        raise ValueError(
            f"{name} must have shape {wanted} (an N x N kernel or a full eNTK){suffix}, got {tuple(arr.shape)}"
        )
    if (rows is not None and arr.shape[0] != rows) or (cols is not None and arr.shape[1] != cols):
        raise ValueError(f"{name} must have shape {wanted}{suffix}, got {tuple(arr.shape)}")
    if arr.ndim == 4 and arr.shape[2:] != (out_dim, out_dim):
        raise ValueError(
            f"{name} has output axes {tuple(arr.shape[2:])} but there are O={out_dim} outputs{suffix}; "
            f"a full kernel must have shape (R, C, {out_dim}, {out_dim})"
        )
    if full is not None and full != (arr.ndim == 4):
        form = f"a full kernel (R, C, {out_dim}, {out_dim})" if full else "an (R, C) kernel"
        raise ValueError(
            f"{name} must be {form}, the same form as the training kernel, got shape {tuple(arr.shape)}; "
            "pass both kernels as N x N or both as full eNTKs"
        )
    full = arr.ndim == 4
    matrix = blocks.to_matrix(arr, "sample") if full else arr
    if symmetric:
        if arr.shape[0] != arr.shape[1]:
            raise ValueError(
                f"{name} must be square (a kernel between the training inputs), got shape {tuple(arr.shape)}"
            )
        asymmetry, scale = _asymmetry(matrix)
        if float(asymmetry) > SYMMETRY_RTOL * float(scale):
            raise ValueError(
                f"{name} is not symmetric: max|K - K^T| = {float(asymmetry):.3g} is more than "
                f"{SYMMETRY_RTOL:g} x max|K| = {float(scale):.3g}; a kernel between the training inputs is "
                "symmetric (did you pass a test-train kernel?)"
            )
        matrix = (matrix + matrix.T) / 2
    return FlatKernel(matrix, full)


def as_outputs(values: Any, name: str, *, shape: tuple[int, int] | None = None, dtype: Any = None) -> jax.Array:
    """Validate an (N, O) array of outputs or targets (floating, finite); optionally require ``shape``.

    Returns a JAX array (cast to ``dtype`` if given). TypeError/ValueError naming ``name``.
    Cost O(N O).
    """
    arr = checks.batch(values, name, min_rank=2)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (N, O) (one row of outputs per input), got {tuple(arr.shape)}")
    if shape is not None and tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(arr.shape)}")
    return arr if dtype is None else arr.astype(dtype)


def check_psd(smallest_eigenvalue: float, matrix: jax.Array, *, name: str) -> None:
    """ValueError naming ``name`` if ``smallest_eigenvalue`` of ``matrix`` is negative beyond rounding.

    Rounding allowance: ``PSD_RTOL * n * max|matrix|`` for an (n, n) matrix. Cost O(n^2).
    """
    tolerance = PSD_RTOL * matrix.shape[0] * float(jnp.max(jnp.abs(matrix)))
    if not smallest_eigenvalue >= -tolerance:
        raise ValueError(
            f"{name} is not positive semi-definite: its smallest eigenvalue is {smallest_eigenvalue:.3g}, "
            f"below the rounding allowance -{tolerance:.3g}; a kernel matrix has no negative eigenvalues "
            "(is it really a kernel between the training inputs?)"
        )


def fit_predict(k_train: Any, y_train: Any, k_test_train: Any, *, ridge: float) -> jax.Array:
    """Kernel-regression mean predictions k_test_train (K + lambda I)^{-1} y_train.

    Args:
      k_train: (N, N) kernel on the training inputs (used as K ⊗ I_O), or a full eNTK
        (N, N, O, O) (``theta[n, m, j, k]``, solved as one (N O) x (N O) system).
        Symmetric, positive semi-definite, floating, finite.
      y_train: (N, O) training targets (e.g. one-hot labels), floating.
      k_test_train: (M, N) if ``k_train`` is N x N, else (M, N, O, O): kernel between the
        M test inputs and the training inputs.
      ridge: relative ridge >= 0; lambda = ridge * mean(diag K) (module docstring).
    Returns:
      (M, O) predictions in ``k_train``'s dtype (``y_train`` and ``k_test_train`` are cast
      to it). float64 is recommended when K is ill-conditioned.
    Raises:
      TypeError/ValueError naming the argument for bad inputs; ValueError naming
      ``k_train`` if K + lambda I cannot be factorised (not PSD, or singular for the
      dtype); warns :class:`IllConditionedWarning` when the solve may be inaccurate.
    Cost:
      n = N (N x N kernel) or N O (full eNTK): O(n^3 / 3) for the Cholesky factorisation,
      O(n^2 O) / O(n^2) for the solves and the condition estimate, O(M N O) / O(M N O^2)
      for the predictions. Memory: three n x n temporaries (the symmetrised kernel,
      K + lambda I, its Cholesky factor). An eigendecomposition (O(n^3), several times
      slower) happens only to diagnose a failed factorisation.
    """
    ridge = checks.nonnegative_float(ridge, "ridge")
    y = as_outputs(y_train, "y_train")
    n, out_dim = y.shape
    context = f"to match y_train of shape {tuple(y.shape)}"
    train = as_flat_kernel(k_train, out_dim, name="k_train", rows=n, cols=n, symmetric=True, context=context)
    test = as_flat_kernel(k_test_train, out_dim, name="k_test_train", cols=n, full=train.full, context=context)
    matrix = train.matrix
    dtype = matrix.dtype
    rhs = y.astype(dtype).reshape(-1, 1) if train.full else y.astype(dtype)
    lam = ridge * _mean_diagonal(matrix, name="k_train")
    chol, factorised, lam_max, lam_min = _factorise(matrix, lam)
    if not bool(factorised):
        _explain_failed_factorisation(matrix, ridge, lam)
    check_psd(float(lam_min) - lam, matrix, name="k_train")
    _warn_if_ill_conditioned(float(lam_max) / float(lam_min), dtype, ridge)
    predictions = _predict(chol, rhs, test.matrix.astype(dtype))
    return predictions.reshape(-1, out_dim)


def accuracy(predictions: Any, labels: Any) -> float:
    """Fraction of rows whose argmax is the true class.

    Args:
      predictions: (M, O) scores (e.g. from :func:`fit_predict`), floating, finite.
      labels: (M,) integer class indices in [0, O), or (M, O) one-hot / target rows
        (their argmax is the class).
    Returns:
      a float in [0, 1]. Ties go to the lowest index. Cost O(M O).
    """
    scores = as_outputs(predictions, "predictions")
    return float(jnp.mean(jnp.argmax(scores, axis=1) == _class_indices(labels, scores.shape)))


def argmax_agreement(pred_a: Any, pred_b: Any) -> float:
    """Fraction of rows (test points) on which two (M, O) predictions have the same argmax.

    Both floating, finite, same shape. Returns a float in [0, 1]. Cost O(M O).
    """
    a = as_outputs(pred_a, "pred_a")
    b = as_outputs(pred_b, "pred_b", shape=a.shape)
    return float(jnp.mean(jnp.argmax(a, axis=1) == jnp.argmax(b, axis=1)))


def _dim(value: int | None, letter: str) -> str:
    return letter if value is None else str(value)


@jax.jit
def _asymmetry(matrix: jax.Array) -> tuple[jax.Array, jax.Array]:
    return jnp.max(jnp.abs(matrix - matrix.T)), jnp.max(jnp.abs(matrix))


def _mean_diagonal(matrix: jax.Array, *, name: str) -> float:
    mean_diagonal = float(jnp.mean(jnp.diagonal(matrix)))
    if not mean_diagonal > 0:
        raise ValueError(
            f"{name} has mean diagonal {mean_diagonal:.3g} <= 0: a non-zero positive semi-definite kernel "
            "has a positive diagonal (is it identically zero, or not a kernel?)"
        )
    return mean_diagonal


def _explain_failed_factorisation(matrix: jax.Array, ridge: float, lam: float) -> None:
    """Cholesky of K + lambda I failed: tell a non-PSD K from a singular one (O(n^3) eigenvalues)."""
    eigenvalues = jnp.linalg.eigvalsh(matrix)
    smallest, largest = float(eigenvalues[0]), float(eigenvalues[-1])
    check_psd(smallest, matrix, name="k_train")
    raise ValueError(
        f"k_train + lambda I is singular or too ill-conditioned for {matrix.dtype}: its Cholesky factorisation "
        f"failed (ridge={ridge:g}, so lambda = ridge x mean diagonal = {lam:.3g}; eigenvalues of k_train from "
        f"{smallest:.3g} to {largest:.3g}). {_cure(matrix.dtype, suggest='e.g. ridge=1e-6')}"
    )


@jax.jit
def _factorise(matrix: jax.Array, lam: float) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Cholesky factor of K + lam I, whether it succeeded, and its extreme eigenvalue estimates.

    Compiled once per (n, dtype), whatever the targets and test kernel.
    """
    system = matrix + lam * jnp.eye(matrix.shape[0], dtype=matrix.dtype)
    chol = jnp.linalg.cholesky(system)
    lam_max, lam_min = _extreme_eigenvalues(system, chol)
    return chol, jnp.all(jnp.isfinite(chol)), lam_max, lam_min


@jax.jit
def _predict(chol: jax.Array, rhs: jax.Array, test_matrix: jax.Array) -> jax.Array:
    return test_matrix @ jsl.cho_solve((chol, True), rhs)


def _extreme_eigenvalues(matrix: jax.Array, chol: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Estimates of the largest and smallest eigenvalue of a PD matrix with Cholesky factor ``chol``.

    Largest: Rayleigh quotient after power iteration (a lower bound). Smallest:
    1 / ||A^{-1} u|| after inverse iteration (an upper bound; no cancellation, so it stays
    meaningful below eps x largest). The ratio underestimates kappa, never inflates it.
    """
    start = jax.random.normal(jax.random.PRNGKey(0), matrix.shape[:1], matrix.dtype)
    start = start / jnp.linalg.norm(start)

    def normalised(v):
        return v / jnp.linalg.norm(v)

    top = jax.lax.fori_loop(0, POWER_ITERATIONS, lambda _, v: normalised(matrix @ v), start)
    bottom = jax.lax.fori_loop(
        0, INVERSE_ITERATIONS - 1, lambda _, v: normalised(jsl.cho_solve((chol, True), v)), start
    )
    return top @ (matrix @ top), 1 / jnp.linalg.norm(jsl.cho_solve((chol, True), bottom))


def _warn_if_ill_conditioned(condition_number: float, dtype: Any, ridge: float) -> None:
    eps = float(jnp.finfo(dtype).eps)
    if condition_number * eps > ILL_CONDITIONED_LEVEL:
        warnings.warn(
            f"k_train + lambda I has condition number ≈ {condition_number:.3g} in {jnp.dtype(dtype).name} "
            f"(x eps = {condition_number * eps:.2g} > {ILL_CONDITIONED_LEVEL:g}): the predictions may have lost "
            f"most of their digits. {_cure(dtype, suggest=f'now {ridge:g}')}",
            IllConditionedWarning,
            stacklevel=3,
        )


def _cure(dtype: Any, *, suggest: str) -> str:
    if jnp.dtype(dtype) == jnp.float64:
        return f"Use a larger ridge ({suggest})."
    return f"Use a larger ridge ({suggest}) or float64 inputs."


def _class_indices(labels: Any, shape: tuple[int, int]) -> jax.Array:
    """(M,) integer classes from (M,) integer labels or (M, O) one-hot/target rows."""
    m, out_dim = shape
    if labels is None:
        raise TypeError("labels must be (M,) integer class indices or (M, O) one-hot rows, got None")
    arr = labels if isinstance(labels, (jax.Array, np.ndarray)) else np.asarray(labels)
    real = jnp.issubdtype(arr.dtype, jnp.floating) or jnp.issubdtype(arr.dtype, jnp.integer) or arr.dtype == bool
    if not real:
        raise TypeError(
            f"labels must hold class indices or one-hot rows (integers, booleans or floats), got dtype {arr.dtype}"
        )
    if arr.ndim == 2:
        onehot = as_outputs(arr if jnp.issubdtype(arr.dtype, jnp.floating) else arr.astype(jnp.float32), "labels")
        if onehot.shape != (m, out_dim):
            raise ValueError(
                f"labels given as one-hot rows must have shape {(m, out_dim)} like predictions, "
                f"got {tuple(onehot.shape)}"
            )
        return jnp.argmax(onehot, axis=1)
    if arr.ndim != 1:
        raise ValueError(f"labels must be (M,) class indices or (M, O) one-hot rows, got shape {tuple(arr.shape)}")
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"labels given as a vector must hold integer class indices, got dtype {arr.dtype}")
    if arr.shape[0] != m:
        raise ValueError(f"labels has length {arr.shape[0]} but predictions has {m} rows; one label per test point")
    low, high = int(arr.min()), int(arr.max())
    if low < 0 or high >= out_dim:
        raise ValueError(
            f"labels must be class indices in [0, {out_dim}) (O={out_dim} outputs), got values from {low} to {high}"
        )
    return jnp.asarray(arr)
