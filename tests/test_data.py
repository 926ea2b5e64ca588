import hashlib
from pathlib import Path

import numpy as np
import pytest

from ntk_lessons.support import data

ROOT = Path(__file__).resolve().parents[1]


def test_file_matches_documented_checksum():
    path = data.data_dir() / "digits.npz"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == data.DIGITS_SHA256
    readme = (ROOT / "data" / "README.md").read_text()  # provenance stays in the top-level data/ folder
    assert digest in readme and "ntk_lessons/datasets/digits.npz" in readme
    assert f"{path.stat().st_size:,} bytes" in readme


def test_load_digits():
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert images.dtype == np.uint8 and images.max() == 16 and images.min() == 0
    assert set(np.unique(labels)) == set(range(10))


def test_digits_inputs_are_normalised_and_reproducible():
    x, y = data.digits_inputs(50, seed=3, out_dim=4)
    assert x.shape == (50, 64) and y.shape == (50, 4) and x.dtype == np.float32
    np.testing.assert_allclose(np.sum(x**2, axis=1) / 64, 1, rtol=1e-5)
    np.testing.assert_allclose(x.mean(axis=1), 0, atol=1e-6)
    assert np.all(y.sum(axis=1) == 1)
    x2, _ = data.digits_inputs(50, seed=3, out_dim=4)
    np.testing.assert_array_equal(x, x2)


def test_bad_arguments():
    with pytest.raises(ValueError, match="out_dim"):
        data.digits_inputs(5, out_dim=11)
    with pytest.raises(ValueError, match="n=2000"):
        data.digits_inputs(2000)
    with pytest.raises(TypeError, match="n must be"):
        data.digits_inputs(2.0)


def test_corrupt_file_is_refused(tmp_path, monkeypatch):
    (tmp_path / "digits.npz").write_bytes(b"not the digits")
    monkeypatch.setenv(data.DATA_DIR_ENV_VAR, str(tmp_path))
    with pytest.raises(ValueError, match="SHA-256"):
        data.load_digits()
    monkeypatch.setenv(data.DATA_DIR_ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=data.DATA_DIR_ENV_VAR):
        data.load_digits()


def test_data_dir_override_reads_another_copy(tmp_path, monkeypatch):
    blob = (data.data_dir() / "digits.npz").read_bytes()
    (tmp_path / "digits.npz").write_bytes(blob)
    monkeypatch.setenv(data.DATA_DIR_ENV_VAR, str(tmp_path))
    assert data.data_dir() == tmp_path
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)


def test_truncated_file_is_refused(tmp_path, monkeypatch):
    blob = (data.data_dir() / "digits.npz").read_bytes()
    (tmp_path / "digits.npz").write_bytes(blob[: len(blob) // 2])
    monkeypatch.setenv(data.DATA_DIR_ENV_VAR, str(tmp_path))
    with pytest.raises(ValueError, match="SHA-256"):
        data.load_digits()
