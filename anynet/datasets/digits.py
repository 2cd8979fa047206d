"""scikit-learn's 8 x 8 handwritten digits, the data set that needs no download."""

from __future__ import annotations

import numpy as np

from anynet.errors import InputError

__all__ = ["load_digits"]


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[tuple[np.ndarray, np.ndarray],
                                                                    tuple[np.ndarray, np.ndarray]]:
    """Return ``((x_train, y_train), (x_test, y_test))`` of the 1797 8 x 8 digits, as uint8.

    ``x`` has shape (n, 8, 8) with grey levels 0..16 (divide by 16 to scale to [0, 1]);
    ``y`` has shape (n,) with digits 0..9. A seeded permutation puts
    ``ceil(test_fraction * 1797)`` samples in the test split (360 of them by default:
    1437 train / 360 test). The data is the copy bundled with scikit-learn (UCI's optical
    recognition of handwritten digits, test part), so nothing is downloaded; it needs
    ``pip install 'anynet-nn[sklearn]'``.
    """
    if not 0 < test_fraction < 1:
        raise InputError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}.")
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise ImportError("load_digits() reads scikit-learn's bundled copy of the digits: "
                          "pip install 'anynet-nn[sklearn]'") from None
    bunch = _sk_load_digits()
    x = bunch.images.astype(np.uint8)  # integer grey levels 0..16 stored as float64
    y = bunch.target.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(np.ceil(test_fraction * len(y)))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])
