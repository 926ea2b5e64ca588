import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import blocks


def test_orders_place_entries_where_documented():
    n1, n2, o = 3, 2, 4
    theta = jnp.arange(n1 * n2 * o * o, dtype=jnp.float64).reshape(n1, n2, o, o)
    s, c = blocks.to_matrix(theta, "sample"), blocks.to_matrix(theta, "class")
    for n, m, j, k in np.ndindex(n1, n2, o, o):
        assert s[n * o + j, m * o + k] == theta[n, m, j, k]
        assert c[j * n1 + n, k * n2 + m] == theta[n, m, j, k]
    for order in blocks.ORDERS:
        np.testing.assert_array_equal(blocks.from_matrix(blocks.to_matrix(theta, order), n1, n2, order), theta)


def test_kron_identity_is_block_diagonal_in_class_order():
    k = jax.random.normal(jax.random.PRNGKey(0), (3, 3))
    m = blocks.to_matrix(blocks.kron_identity(k, 4), "class")
    np.testing.assert_array_equal(m, jnp.kron(jnp.eye(4), k))
    ms = blocks.to_matrix(blocks.kron_identity(k, 4), "sample")
    np.testing.assert_array_equal(ms, jnp.kron(k, jnp.eye(4)))


def test_split_and_share():
    theta = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 4, 4))
    diag, off = blocks.split_diagonal(theta)
    np.testing.assert_array_equal(diag + off, theta)
    assert float(jnp.abs(jnp.diagonal(off, axis1=2, axis2=3)).max()) == 0
    np.testing.assert_array_equal(blocks.diagonal_blocks(theta), jnp.diagonal(theta, axis1=2, axis2=3))
    assert 0 < float(blocks.offdiagonal_share(theta)) < 1
    assert float(blocks.offdiagonal_share(blocks.kron_identity(jnp.ones((2, 2)), 3))) == 0


def test_bad_shapes():
    with pytest.raises(ValueError, match="theta must be an eNTK of shape"):
        blocks.to_matrix(jnp.ones((2, 2, 3)))
    with pytest.raises(ValueError, match="order"):
        blocks.to_matrix(jnp.ones((2, 2, 3, 3)), "row")
    with pytest.raises(ValueError, match="cannot be split"):
        blocks.from_matrix(jnp.ones((5, 6)), 2, 2)


def test_block_diagonal_share():
    theta = jax.random.normal(jax.random.PRNGKey(2), (3, 3, 4, 4))
    assert np.isclose(blocks.block_diagonal_share(theta, "class"), 1 - blocks.offdiagonal_share(theta) ** 2)
    m = np.asarray(blocks.to_matrix(theta, "sample"))
    by_hand = sum(np.sum(m[4 * n:4 * n + 4, 4 * n:4 * n + 4] ** 2) for n in range(3)) / np.sum(m**2)
    assert np.isclose(blocks.block_diagonal_share(theta, "sample"), by_hand)
    with pytest.raises(ValueError, match="N1 == N2"):
        blocks.block_diagonal_share(theta[:2], "sample")


def test_bad_arguments_name_them():
    with pytest.raises(ValueError, match="n1 must be a positive integer"):
        blocks.from_matrix(jnp.ones((4, 4)), 0, 2)
    with pytest.raises(ValueError, match="out_dim must be a positive integer"):
        blocks.kron_identity(jnp.ones((2, 2)), -1)
    with pytest.raises(ValueError, match="identically zero"):
        blocks.offdiagonal_share(jnp.zeros((2, 2, 3, 3)))
