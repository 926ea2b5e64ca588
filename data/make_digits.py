"""Export the UCI handwritten digits bundled with scikit-learn to ntk_lessons/datasets/digits.npz.

Run once, by hand, from the repository root (scikit-learn is *not* a dependency of
the course; install it into a throwaway environment for this):

    pip install scikit-learn==1.9.1
    python data/make_digits.py

The output is deterministic; data/README.md records its SHA-256.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

# Package data, so that `pip install` ships it (read through importlib.resources by ntk_lessons.data).
OUT = Path(__file__).resolve().parents[1] / "ntk_lessons" / "datasets" / "digits.npz"


def main() -> None:
    digits = load_digits()
    images = digits.images.astype(np.uint8)  # (1797, 8, 8), integer grey levels 0..16
    labels = digits.target.astype(np.uint8)  # (1797,), classes 0..9
    assert images.shape == (1797, 8, 8) and labels.shape == (1797,)
    assert np.array_equal(images.astype(np.float64), digits.images)  # export is lossless
    # np.savez (uncompressed) so that the bytes, and so the checksum, are reproducible.
    np.savez(OUT, images=images, labels=labels)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
