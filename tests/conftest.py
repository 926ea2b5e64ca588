"""Shared fixtures. Tests run with float64 enabled and choose each array's dtype explicitly.

Property tests (hypothesis) draw as many examples as the profile in force says: "ci" (the default: a few
derandomised examples, the same every run, so CI stays fast and reproducible) or "thorough" (many random
examples: ``make test-thorough``, or ``HYPOTHESIS_PROFILE=thorough``).
"""

import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import settings

from ntk_lessons.core import models
from ntk_lessons.support import config

settings.register_profile("ci", max_examples=6, derandomize=True, deadline=None)
settings.register_profile("thorough", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

config.enable_float64()  # the one documented switch (jax_enable_x64), before any array is created

# Agreement tolerances, relative to the largest entry of the reference kernel:
# float32 accumulates ~P roundings of size 6e-8 in each dot product; float64 ~1e-16.
TOL = {jnp.float32: 2e-5, jnp.float64: 1e-11}


def max_rel_err(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def cast(tree, dtype):
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), tree)


def make_mlp(widths=(16, 8), out_dim=3, d=5, *, seed=0, dtype=jnp.float64, **kwargs):
    init_fn, apply_fn = models.mlp(widths, out_dim, **kwargs)
    _, params = init_fn(jax.random.PRNGKey(seed), (-1, d))
    return apply_fn, cast(params, dtype)


def make_inputs(n, d, *, seed=1, dtype=jnp.float64):
    return jax.random.normal(jax.random.PRNGKey(seed), (n, d), dtype=dtype)


def conv_net(channels=4, out_dim=3):
    """A small convolutional network written with jax.lax (no neural-tangents): NHWC inputs."""

    def init_fn(key, input_shape):
        _, h, w, c = input_shape
        k1, k2 = jax.random.split(key)
        return (input_shape[0], out_dim), {
            "conv": jax.random.normal(k1, (3, 3, c, channels)),
            "dense": jax.random.normal(k2, (h * w * channels, out_dim)),
        }

    def apply_fn(params, x):
        dn = jax.lax.conv_dimension_numbers(x.shape, params["conv"].shape, ("NHWC", "HWIO", "NHWC"))
        fan_in = 9 * x.shape[-1]
        h = jax.lax.conv_general_dilated(x, params["conv"], (1, 1), "SAME", dimension_numbers=dn) / fan_in**0.5
        h = jnp.tanh(h).reshape(x.shape[0], -1)
        return h @ params["dense"] / h.shape[1] ** 0.5

    return init_fn, apply_fn


@pytest.fixture
def small_mlp():
    return make_mlp((16, 8), 3, 5, b_std=0.2, W_std=1.3)


@pytest.fixture(autouse=True)
def figures_meet_the_standard():
    """Every figure a test leaves open is checked against the course's figure standard
    (``teaching.plots.figure_standard_problems``: a title, labelled axes, colour bars, three labelled ticks
    on every log axis, legend slopes equal to the drawn slopes, rugs on the axis they name), then closed."""
    yield
    if "matplotlib.pyplot" not in sys.modules:
        return
    import matplotlib.pyplot as plt

    from ntk_lessons.teaching import plots

    problems = [f"figure {num}: {problem}" for num in plt.get_fignums()
                for problem in plots.figure_standard_problems(plt.figure(num))]
    plt.close("all")
    assert not problems, "figures below the figure standard:\n" + "\n".join(problems)
