"""Views of a full eNTK (N1, N2, O, O): flattening orders and block structure.

Two natural ways to flatten ``theta[n, m, j, k]`` into an (N1 O) x (N2 O) matrix:

* sample-major: row ``n * O + j``, column ``m * O + k`` -- one O x O block per pair of
  inputs. Block (n, m) is the O x O matrix Theta(x_n, x_m).
* class-major: row ``j * N1 + n``, column ``k * N2 + m`` -- one N1 x N2 block per pair of
  classes. Block (j, k) is the kernel between logit j and logit k over all inputs.

If Theta ≈ K ⊗ I_O (the pNTK approximation), the class-major matrix is block diagonal
with K repeated O times, while the sample-major matrix shows only a fine diagonal stripe
inside every block.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from . import checks

ORDERS = ("sample", "class")


def to_matrix(theta, order: str = "sample") -> jax.Array:
    """(N1, N2, O, O) -> (N1 O, N2 O) in "sample"-major or "class"-major order. Cost: one copy."""
    theta = jnp.asarray(checks.full_kernel(theta))
    n1, n2, o, _ = theta.shape
    if order == "sample":
        return theta.transpose(0, 2, 1, 3).reshape(n1 * o, n2 * o)
    if order == "class":
        return theta.transpose(2, 0, 3, 1).reshape(o * n1, o * n2)
    raise ValueError(f"order must be 'sample' or 'class', got {order!r}")


def from_matrix(matrix, n1: int, n2: int, order: str = "sample") -> jax.Array:
    """Inverse of :func:`to_matrix`: (N1 O, N2 O) -> (N1, N2, O, O)."""
    n1, n2 = checks.positive_int(n1, "n1"), checks.positive_int(n2, "n2")
    matrix = jnp.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] % n1 or matrix.shape[1] % n2:
        raise ValueError(f"matrix of shape {matrix.shape} cannot be split into {n1} x {n2} inputs")
    o = matrix.shape[0] // n1
    if matrix.shape[1] != n2 * o:
        raise ValueError(f"matrix of shape {matrix.shape} is not (N1 O, N2 O) with N1={n1}, N2={n2}")
    if order == "sample":
        return matrix.reshape(n1, o, n2, o).transpose(0, 2, 1, 3)
    if order == "class":
        return matrix.reshape(o, n1, o, n2).transpose(1, 3, 0, 2)
    raise ValueError(f"order must be 'sample' or 'class', got {order!r}")


def diagonal_blocks(theta) -> jax.Array:
    """The class-diagonal entries theta[:, :, j, j]: (N1, N2, O, O) -> (N1, N2, O)."""
    theta = jnp.asarray(checks.full_kernel(theta))
    return jnp.diagonal(theta, axis1=2, axis2=3)


def split_diagonal(theta) -> tuple[jax.Array, jax.Array]:
    """``(diag, off)`` with ``diag + off == theta``; ``diag`` keeps only j == k entries. Shapes (N1, N2, O, O)."""
    theta = jnp.asarray(checks.full_kernel(theta))
    eye = jnp.eye(theta.shape[2], dtype=bool)
    diag = jnp.where(eye, theta, 0)
    return diag, theta - diag


def offdiagonal_share(theta) -> jax.Array:
    """||off-diagonal part||_F / ||theta||_F, a scalar in [0, 1]. Cost O(N1 N2 O^2).

    0 for a kernel of the form K ⊗ I_O; the pNTK approximation ignores exactly this part.
    ValueError for an all-zero kernel (the share is undefined).
    """
    diag, off = split_diagonal(theta)
    total = jnp.linalg.norm(theta)
    if not bool(total > 0):
        raise ValueError("theta is identically zero, so its off-diagonal share is undefined")
    return jnp.linalg.norm(off) / total


def kron_identity(kernel, out_dim: int) -> jax.Array:
    """K ⊗ I_O in the eNTK layout: (N1, N2) -> (N1, N2, O, O). Cost O(N1 N2 O^2)."""
    out_dim = checks.positive_int(out_dim, "out_dim")
    kernel = jnp.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(f"kernel must have shape (N1, N2), got {kernel.shape}")
    return kernel[:, :, None, None] * jnp.eye(out_dim, dtype=kernel.dtype)


def block_diagonal_share(theta, order: str) -> jax.Array:
    """Fraction of the squared Frobenius norm that lies in the diagonal blocks of the flattened matrix.

    "class": the O diagonal N1 x N2 blocks (j == k) -- equals 1 - offdiagonal_share^2.
    "sample": the N diagonal O x O blocks (n == m); needs N1 == N2.
    A scalar in [0, 1]. Cost O(N1 N2 O^2).
    """
    theta = jnp.asarray(checks.full_kernel(theta))
    total = jnp.sum(theta**2)
    if order == "class":
        return jnp.sum(diagonal_blocks(theta) ** 2) / total
    if order == "sample":
        if theta.shape[0] != theta.shape[1]:
            raise ValueError(f"sample-major diagonal blocks need N1 == N2, got theta of shape {theta.shape}")
        return jnp.sum(jnp.diagonal(theta, axis1=0, axis2=1) ** 2) / total
    raise ValueError(f"order must be 'sample' or 'class', got {order!r}")
