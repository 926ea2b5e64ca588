import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import kernels, training

from conftest import conv_net, make_inputs, make_mlp

N, D, O = 12, 5, 3


def problem(dtype=jnp.float64, n=N, seed=1):
    apply_fn, params = make_mlp((16, 16), O, D, b_std=0.1, dtype=dtype)
    x = make_inputs(n, D, seed=seed, dtype=dtype)
    y = jax.nn.one_hot(jnp.arange(n) % O, O, dtype=dtype)
    return apply_fn, params, x, y


def leaves(tree):
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(tree)]


def identical(a, b):
    return all(np.array_equal(u, v) for u, v in zip(leaves(a), leaves(b), strict=True))


@pytest.mark.parametrize("loss, lr", [("mse", 0.02), ("cross_entropy", 2.0)])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size", [None, 4])
def test_training_lowers_the_loss(loss, lr, optimizer, batch_size):
    apply_fn, params, x, y = problem()
    lr = 0.02 if optimizer == "adam" else lr
    result = training.train(apply_fn, params, x, y, steps=60, lr=lr, loss=loss, optimizer=optimizer,
                            batch_size=batch_size, progress=False)
    assert result.steps.tolist() == list(range(61))
    assert result.train_loss[-1] < 0.5 * result.train_loss[0]
    assert result.train_accuracy[-1] >= result.train_accuracy[0]
    assert result.test_loss is None and result.test_accuracy is None
    final_loss, _ = training.evaluate(apply_fn, result.params, x, y, loss=loss)
    assert final_loss == pytest.approx(result.train_loss[-1], rel=1e-12)


def test_one_full_batch_sgd_step_is_gradient_descent_on_half_the_sum_of_squares():
    apply_fn, params, x, y = problem()
    lr = 0.01
    result = training.train(apply_fn, params, x, y, steps=1, lr=lr, progress=False)
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    grad = jax.grad(lambda v: 0.5 * jnp.sum((apply_fn(unravel(v), x) - y) ** 2))(flat)
    expected = flat - lr * grad
    got = jax.flatten_util.ravel_pytree(result.params)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-13)
    assert result.train_loss[0] == pytest.approx(float(0.5 * jnp.sum((apply_fn(params, x) - y) ** 2)), rel=1e-13)


def test_minibatch_mse_gradient_is_rescaled_to_the_full_sum():
    # With B = N/2 and two steps of SGD at a tiny lr, the sum of the two batch gradients
    # (each rescaled by N/B) is ~ twice the full-batch gradient: the parameter change after
    # two minibatch steps ~ that after two full-batch steps.
    apply_fn, params, x, y = problem()
    lr = 1e-6
    full = training.train(apply_fn, params, x, y, steps=2, lr=lr, progress=False)
    mini = training.train(apply_fn, params, x, y, steps=2, lr=lr, batch_size=N // 2, progress=False)
    flat0 = jax.flatten_util.ravel_pytree(params)[0]
    d_full = jax.flatten_util.ravel_pytree(full.params)[0] - flat0
    d_mini = jax.flatten_util.ravel_pytree(mini.params)[0] - flat0
    assert float(jnp.linalg.norm(d_mini - d_full) / jnp.linalg.norm(d_full)) < 1e-4


@pytest.mark.parametrize("optimizer, batch_size", [("sgd", None), ("adam", None), ("adam", 5)])
def test_checkpoints_restore_exactly(optimizer, batch_size):
    apply_fn, params, x, y = problem()
    kwargs = dict(lr=0.01, optimizer=optimizer, batch_size=batch_size, progress=False)
    whole = training.train(apply_fn, params, x, y, steps=37, checkpoint_steps=[0, 19, 37], **kwargs)
    assert sorted(whole.checkpoints) == [0, 19, 37]
    assert identical(whole.checkpoints[0], params)
    assert identical(whole.checkpoints[37], whole.params)
    resumed = training.train(apply_fn, whole.checkpoints[19], x, y, steps=37, start_step=19,
                             optimizer_state=whole.optimizer_states[19], record_every=5, **kwargs)
    assert identical(resumed.params, whole.params)
    assert resumed.steps.tolist() == [19, 20, 25, 30, 35, 37]
    again = training.train(apply_fn, params, x, y, steps=37, **kwargs)
    assert identical(again.params, whole.params)
    assert not identical(whole.checkpoints[19], params)


def test_shuffling_follows_the_seed():
    apply_fn, params, x, y = problem()
    kwargs = dict(steps=6, lr=0.05, batch_size=3, progress=False)
    a = training.train(apply_fn, params, x, y, seed=0, **kwargs)
    b = training.train(apply_fn, params, x, y, seed=0, **kwargs)
    c = training.train(apply_fn, params, x, y, seed=1, **kwargs)
    assert identical(a.params, b.params) and not identical(a.params, c.params)
    full = training.train(apply_fn, params, x, y, steps=6, lr=0.05, batch_size=N, seed=3, progress=False)
    assert identical(full.params, training.train(apply_fn, params, x, y, steps=6, lr=0.05, progress=False).params)


def test_recorded_outputs_and_test_history():
    apply_fn, params, x, y = problem()
    x_test, y_test = x[:5] + 0.1, y[:5]
    result = training.train(apply_fn, params, x, y, x_test=x_test, y_test=y_test, steps=10, lr=0.02,
                            record_every=4, checkpoint_steps=[0, 3, 10], output_steps=[0, 3, 10], progress=False)
    assert result.steps.tolist() == [0, 4, 8, 10]
    assert result.test_loss.shape == result.test_accuracy.shape == (4,)
    for step in (0, 3, 10):
        f_train, f_test = result.outputs[step]
        assert f_train.shape == (N, O) and f_test.shape == (5, O)
        np.testing.assert_allclose(f_train, apply_fn(result.checkpoints[step], x), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(f_test, apply_fn(result.checkpoints[step], x_test), rtol=1e-12, atol=1e-13)
    expected = training.evaluate(apply_fn, result.params, x_test, y_test, loss="mse")
    assert (result.test_loss[-1], result.test_accuracy[-1]) == pytest.approx(expected, rel=1e-12)


def test_inputs_are_neither_modified_nor_aliased():
    apply_fn, params, x, y = problem()
    params_np = jax.tree_util.tree_map(np.array, params)
    x_np, y_np = np.array(x), np.array(y)
    before = [a.copy() for a in leaves(params_np)], x_np.copy()
    result = training.train(apply_fn, params_np, x_np, y_np, steps=3, lr=0.01, checkpoint_steps=[0], progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(leaves(params_np), before[0])) and np.array_equal(x_np, before[1])
    nothing = training.train(apply_fn, params_np, x_np, y_np, steps=0, lr=0.01, checkpoint_steps=[0], progress=False)
    assert nothing.steps.tolist() == [0] and identical(nothing.params, params_np)
    params_np[0][0][:] = 0.0  # the caller changes their array afterwards: the checkpoint must not change
    assert np.array_equal(np.asarray(result.checkpoints[0][0][0]), before[0][0])


def test_any_stax_style_model_trains():
    init_fn, apply_fn = conv_net(channels=2, out_dim=3)
    _, params = init_fn(jax.random.PRNGKey(0), (-1, 4, 4, 1))
    params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), params)
    x = jax.random.normal(jax.random.PRNGKey(1), (6, 4, 4, 1), dtype=jnp.float64)
    y = jax.nn.one_hot(jnp.arange(6) % 3, 3, dtype=jnp.float64)
    result = training.train(apply_fn, params, x, y, steps=20, lr=0.05, optimizer="adam", loss="cross_entropy",
                            progress=True)
    assert result.train_loss[-1] < result.train_loss[0]


def test_loss_values():
    f = jnp.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    y = jnp.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert float(training.loss_value(f, y, "mse")) == pytest.approx(0.5 * float(jnp.sum((f - y) ** 2)))
    p = np.exp(np.asarray(f)) / np.exp(np.asarray(f)).sum(1, keepdims=True)
    assert float(training.loss_value(f, y, "cross_entropy")) == pytest.approx(-(np.log(p[0, 1]) + np.log(p[1, 0])) / 2)
    with pytest.raises(ValueError, match="loss"):
        training.loss_value(f, y, "hinge")


def test_kernel_movement():
    apply_fn, params, x, y = problem()
    result = training.train(apply_fn, params, x, y, steps=20, lr=0.05, checkpoint_steps=[0, 10, 20], progress=False)
    moved = training.kernel_movement(apply_fn, result.checkpoints, x)
    assert list(moved) == [0, 10, 20] and moved[0] == 0.0 and 0 < moved[10] < moved[20] < 1
    theta0, theta20 = (kernels.entk(apply_fn, result.checkpoints[s], x, method="jacobian") for s in (0, 20))
    assert moved[20] == pytest.approx(float(jnp.linalg.norm(theta20 - theta0) / jnp.linalg.norm(theta0)), rel=1e-9)
    from_last = training.kernel_movement(apply_fn, result.checkpoints, x, reference_step=20)
    assert from_last[20] == 0.0 and from_last[0] > 0
    with pytest.raises(ValueError, match="reference_step"):
        training.kernel_movement(apply_fn, result.checkpoints, x, reference_step=5)
    with pytest.raises(TypeError, match="checkpoints"):
        training.kernel_movement(apply_fn, {}, x)


def test_validation_errors_name_the_argument():
    apply_fn, params, x, y = problem()

    def call(**changes):
        args = dict(apply_fn=apply_fn, params=params, x_train=x, y_train=y, steps=3, lr=0.1, progress=False)
        args.update(changes)
        return training.train(**args)

    cases = [
        (ValueError, "lr", dict(lr=0.0)),
        (ValueError, "lr", dict(lr=float("nan"))),
        (ValueError, "steps", dict(steps=-1)),
        (ValueError, "steps", dict(steps=2.5)),
        (ValueError, "start_step", dict(start_step=5)),
        (ValueError, "checkpoint_steps", dict(checkpoint_steps=[4])),
        (ValueError, "output_steps", dict(output_steps=[-1])),
        (ValueError, "loss", dict(loss="l2")),
        (ValueError, "optimizer", dict(optimizer="rmsprop")),
        (ValueError, "batch_size", dict(batch_size=N + 1)),
        (ValueError, "record_every", dict(record_every=0)),
        (ValueError, "y_train", dict(y_train=y[:, :2])),
        (TypeError, "y_train", dict(y_train=np.asarray(y, dtype=np.float32))),
        (TypeError, "x_train", dict(x_train=np.asarray(x, dtype=np.float32))),
        (TypeError, "x_train", dict(x_train=np.ones((N, D), dtype=np.int32))),
        (ValueError, "x_train", dict(x_train=np.ones((N, D + 1)))),
        (ValueError, "x_test", dict(x_test=x)),
        (ValueError, "y_test", dict(x_test=x, y_test=y[:3])),
        (ValueError, "cross_entropy", dict(loss="cross_entropy", y_train=2 * y)),
        (ValueError, "optimizer_state", dict(optimizer_state=object())),
        (TypeError, "optimizer_state", dict(optimizer="adam", optimizer_state=(1, 2, 3))),
        (ValueError, "adam_betas", dict(optimizer="adam", adam_betas=(1.0, 0.9))),
        (ValueError, "adam_betas", dict(optimizer="adam", adam_betas=0.9)),
    ]
    for error, name, changes in cases:
        with pytest.raises(error, match=name):
            call(**changes)
