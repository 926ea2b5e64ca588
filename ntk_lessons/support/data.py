"""The bundled UCI handwritten digits: package data ``ntk_lessons/datasets/digits.npz``, as inputs and images.

Provenance, licence and checksum in the repository's ``data/README.md``. Nothing is
downloaded: the file ships inside the package (so ``pip install`` works outside a
checkout), is read through ``importlib.resources``, and its SHA-256 is verified.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import os
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ..core import checks
from . import config

DIGITS_SHA256 = "1dc781c8fe699ce12f056a510e6dd518c795428f089effc1a3e2eec0f3ece269"
DATA_DIR_ENV_VAR = "NTK_LESSONS_DATA_DIR"
PACKAGE_DATA = "datasets"  # the folder inside the ntk_lessons package that holds the data files


def data_dir() -> Path | Traversable:
    """``$NTK_LESSONS_DATA_DIR`` if set, else the package's ``datasets`` folder (via importlib.resources)."""
    env = os.environ.get(DATA_DIR_ENV_VAR)
    return Path(env) if env else importlib.resources.files("ntk_lessons") / PACKAGE_DATA


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits: ``images`` uint8 (1797, 8, 8) with grey levels 0..16, ``labels`` uint8 (1797,).

    Raises FileNotFoundError if the file is missing and ValueError if its checksum is wrong.
    Cost: reads 117 kB.
    """
    path = data_dir() / "digits.npz"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing; it ships inside the ntk_lessons package (reinstall it, or set "
            f"${DATA_DIR_ENV_VAR} to a folder that holds digits.npz)"
        )
    blob = path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != DIGITS_SHA256:
        raise ValueError(f"{path} has SHA-256 {digest}, expected {DIGITS_SHA256} (see data/README.md)")
    with np.load(io.BytesIO(blob)) as f:
        return f["images"].copy(), f["labels"].copy()


def digits_inputs(
    n: int, *, seed: int = 0, out_dim: int = 10, dtype: str = "float32"
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits drawn without replacement: inputs (n, 64) and one-hot targets (n, out_dim).

    Each image is flattened, centred and scaled to unit norm times sqrt(64), so that
    x.x/d = 1 for every input (the normalisation under which NTK-parameterised layers keep
    unit-scale pre-activations). Only classes ``0 .. out_dim - 1`` are used.
    Cost O(n d).
    """
    n = checks.positive_int(n, "n")
    out_dim = checks.positive_int(out_dim, "out_dim")
    if out_dim > 10:
        raise ValueError(f"out_dim must be at most 10 (the digits have 10 classes), got {out_dim}")
    images, labels = load_digits()
    keep = np.flatnonzero(labels < out_dim)
    if n > keep.size:
        raise ValueError(f"n={n} exceeds the {keep.size} digits with labels below {out_dim}")
    rng = config.rng(seed)  # shifted by NTK_LESSONS_SEED_OFFSET
    idx = rng.choice(keep, size=n, replace=False)
    x = images[idx].reshape(n, -1).astype(np.float64)
    x = x - x.mean(axis=1, keepdims=True)
    x = x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(x.shape[1])
    y = np.eye(out_dim)[labels[idx]]
    return x.astype(dtype), y.astype(dtype)


DIGITS_IMAGE_SHAPE = (8, 8, 1)  # the bundled UCI digits as NHWC images


def digits_as_images(x: Any) -> jax.Array:
    """Digits inputs (N, 64), e.g. from :func:`digits_inputs`, as NHWC images (N, 8, 8, 1) for a conv net.

    A reshaped copy in the same dtype (the caller's array is untouched); row-major, as the
    images were flattened. Cost O(N).
    """
    x = checks.batch(x, "x")
    if x.shape[1:] != (64,):
        raise ValueError(f"x must have shape (N, 64) (flattened 8 x 8 digits), got {tuple(x.shape)}")
    return x.reshape(x.shape[0], *DIGITS_IMAGE_SHAPE)
