"""The 8 x 8 handwritten digits, shipped inside anynet: the data set that needs no download."""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

import numpy as np

from anynet.errors import InputError

__all__ = ["load_digits", "DIGITS_FILE", "DIGITS_SHA256"]

#: the shipped file, inside the package (see anynet/datasets/data/README.md for its origin and license)
DIGITS_FILE = "data/digits.csv.gz"
#: its SHA-256: scikit-learn's ``sklearn/datasets/data/digits.csv.gz``, byte for byte
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
N_DIGITS = 1797


def _read_all() -> tuple[np.ndarray, np.ndarray]:
    """Return all 1797 digits as ``(x, y)``: uint8 (1797, 8, 8) grey levels 0..16 and uint8 (1797,) labels."""
    raw = resources.files("anynet.datasets").joinpath(DIGITS_FILE).read_bytes()
    got = hashlib.sha256(raw).hexdigest()
    if got != DIGITS_SHA256:  # a damaged install: never parse it
        raise InputError(f"anynet's copy of the digits ({DIGITS_FILE} in the anynet.datasets package) has sha256 "
                         f"{got}, expected {DIGITS_SHA256}; reinstall anynet-nn.")
    table = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",", dtype=np.uint8)
    if table.shape != (N_DIGITS, 65) or int(table[:, :64].max()) > 16 or int(table[:, 64].max()) > 9:
        raise InputError(f"anynet's copy of the digits holds a {table.shape} table; expected ({N_DIGITS}, 65).")
    return table[:, :64].reshape(-1, 8, 8), table[:, 64].copy()


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray],
                                                                    tuple[np.ndarray, np.ndarray]]:
    """Return ``((x_train, y_train), (x_test, y_test))`` of the 1797 8 x 8 digits, as uint8.

    ``x`` has shape (n, 8, 8) with grey levels 0..16 (divide by 16 to scale to [0, 1]);
    ``y`` has shape (n,) with digits 0..9. A seeded permutation puts
    ``ceil(test_fraction * 1797)`` samples in the test split (360 of them by default:
    1437 train / 360 test). The data ships inside anynet (the test part of UCI's Optical
    Recognition of Handwritten Digits, CC BY 4.0, as scikit-learn bundles it), so nothing
    is downloaded and nothing else needs to be installed.
    """
    if not 0 < test_fraction < 1:
        raise InputError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}.")
    x, y = _read_all()
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(np.ceil(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])
