"""Same seed, same inputs -> bit-identical kernels on the same machine; float64 is switched on one way.

Each kernel method is run twice in this process (parameters drawn again from the same key)
and in two fresh Python processes, and the results are compared bit for bit
(``np.array_equal`` / SHA-256 of the bytes).
"""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ntk_lessons.core import kernels, models
from ntk_lessons.support import config, data

ROOT = Path(__file__).resolve().parents[1]
CASES = [("entk", "jacobian"), ("entk", "ntk_vp"), ("entk", "structured"), ("pntk", "jacobian"), ("pntk", "structured")]


def _kernels_from_seed(seed, dtype, batch_size=None):
    init_fn, apply_fn = models.mlp([24, 16], 4, b_std=0.1, activation="erf")
    _, params = init_fn(jax.random.PRNGKey(seed), (-1, 64), dtype=dtype)
    x, _ = data.digits_inputs(9, seed=seed, out_dim=4, dtype=dtype)
    x2, _ = data.digits_inputs(5, seed=seed + 1, out_dim=4, dtype=dtype)
    return {
        (kernel, method, which): np.asarray(getattr(kernels, kernel)(apply_fn, params, x, other, method=method,
                                                                     batch_size=batch_size))
        for kernel, method in CASES
        for which, other in (("x2=None", None), ("x2", x2))
    }


@pytest.mark.parametrize("dtype, batch_size", [("float32", None), ("float64", None), ("float32", 4)])
def test_twice_in_one_process_bit_identical(dtype, batch_size):
    first = _kernels_from_seed(3, dtype, batch_size)
    second = _kernels_from_seed(3, dtype, batch_size)
    for key, value in first.items():
        assert value.dtype == np.dtype(dtype)
        assert np.array_equal(value, second[key]), key
    other_seed = _kernels_from_seed(4, dtype, batch_size)
    assert not np.array_equal(first[("entk", "structured", "x2")], other_seed[("entk", "structured", "x2")])


SCRIPT = """
import hashlib, json, sys
sys.path.insert(0, {tests!r})
from ntk_lessons.support import config
config.enable_float64()
from test_reproducibility import _kernels_from_seed
digests = {{}}
for dtype in ("float32", "float64"):
    for key, value in _kernels_from_seed(3, dtype).items():
        digests["/".join((dtype,) + key)] = hashlib.sha256(value.tobytes()).hexdigest()
print(json.dumps(digests, sort_keys=True))
"""


def test_twice_in_fresh_processes_bit_identical():
    code = SCRIPT.format(tests=str(ROOT / "tests"))
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                           timeout=600) for _ in range(2)]
    first, second = (json.loads(run.stdout) for run in runs)
    assert len(first) == 2 * len(CASES) * 2
    assert first == second
    # And the same bits as in this process (x64 on here too, so jax's defaults are the same).
    here = _kernels_from_seed(3, "float64")
    for (kernel, method, which), value in here.items():
        assert hashlib.sha256(value.tobytes()).hexdigest() == first[f"float64/{kernel}/{method}/{which}"]


def test_enable_float64_is_the_one_switch():
    code = ("import jax.numpy as jnp\nfrom ntk_lessons.support import config\n"
            "before = (config.float64_enabled(), str(jnp.zeros(()).dtype))\n"
            "config.enable_float64(); config.enable_float64()  # idempotent\n"
            "print(before, (config.float64_enabled(), str(jnp.zeros(()).dtype)))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=300, env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert run.stdout.strip() == "(False, 'float32') (True, 'float64')"
    assert "enable_float64" in config.__doc__ and config.float64_enabled()  # conftest switched it on
    assert jnp.zeros(()).dtype == jnp.float64
