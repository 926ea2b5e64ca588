import numpy as np
import pytest

from ntk_lessons.analysis import fits
from ntk_lessons.core import linearization

from conftest import make_inputs, make_mlp


def test_prediction_error_falls_linearly_with_learning_rate():
    apply_fn, params = make_mlp((64, 64), 3, 5, b_std=0.1, seed=4)
    x, xe = make_inputs(8, 5, seed=1), make_inputs(4, 5, seed=2)
    y = np.eye(3)[np.arange(8) % 3]
    lrs = np.logspace(-4, -1, 4)
    errs = linearization.error_vs_learning_rate(apply_fn, params, x, y, xe, lrs)
    assert np.all(np.diff(errs) > 0)
    assert errs[0] < 1e-3
    assert 0.85 < fits.loglog_slope(lrs, errs) < 1.15


def test_step_change_shapes_and_bad_lr():
    apply_fn, params = make_mlp((8,), 2, 3)
    x = make_inputs(4, 3)
    y = np.zeros((4, 2))
    actual, predicted = linearization.step_change(apply_fn, params, x, y, x[:2], 1e-3)
    assert actual.shape == predicted.shape == (2, 2)
    for bad_lr in (-1.0, 0, True, float("nan"), "0.1"):
        with pytest.raises(ValueError, match="lr must be a positive finite number"):
            linearization.step_change(apply_fn, params, x, y, x, bad_lr)
    linearization.step_change(apply_fn, params, x, y, x, np.float32(1e-3))  # numpy scalars are fine
    with pytest.raises(ValueError, match=r"y_train must have shape \(4, 2\)"):
        linearization.step_change(apply_fn, params, x, y[:, :1], x, 1e-3)  # would broadcast silently
    with pytest.raises(ValueError, match=r"y_train must have shape \(4, 2\)"):
        linearization.step_change(apply_fn, params, x, y[:3], x, 1e-3)
    with pytest.raises(ValueError, match="x_eval has per-example shape"):
        linearization.step_change(apply_fn, params, x, y, np.ones((2, 4)), 1e-3)


def test_loglog_slope():
    x = np.array([1.0, 10.0, 100.0])
    assert fits.loglog_slope(x, 3 * x**-0.5) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="positive"):
        fits.loglog_slope(x, -x)


def test_sign_flips_mark_where_the_prediction_breaks():
    apply_fn, params = make_mlp((64, 64), 3, 5, b_std=0.1, seed=4)
    x, xe = make_inputs(8, 5, seed=1), make_inputs(4, 5, seed=2)
    y = np.eye(3)[np.arange(8) % 3]
    assert linearization.activation_sign_flips(apply_fn, params, x, y, xe, 1e-6) == 0
    assert linearization.activation_sign_flips(apply_fn, params, x, y, xe, 1.0) > 0
    with pytest.raises(TypeError, match="models.mlp"):
        linearization.activation_sign_flips(lambda p, v: apply_fn(p, v), params, x, y, xe, 1e-3)
