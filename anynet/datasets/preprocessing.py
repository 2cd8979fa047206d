"""Preparing host data for training: encodings, normalisation, splits, and the move to a device.

Everything here works on NumPy arrays on the host, where the data sets arrive;
:func:`to_backend` then moves the prepared arrays to a backend and device in one copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from anynet.errors import InputError

__all__ = ["to_backend", "one_hot", "multi_hot", "Normalizer", "normalize", "train_val_split", "kfold"]


def to_backend(arrays: Any, backend: str | None = None, device: Any = None) -> Any:
    """Return ``arrays`` (an array, or nested tuples/lists/dicts of them) as arrays of a backend.

    The structure is kept; each NumPy array becomes an array of ``backend`` (by default
    the selected one: see :func:`anynet.resolve`) on ``device`` through the adapter's
    ``from_numpy``. Other leaves (numbers, strings, None) are returned as they are.
    """
    from anynet.backend import resolve

    placement = resolve(backend=backend, device=device)

    def move(a: Any) -> Any:
        if isinstance(a, np.ndarray):
            if a.dtype == object:
                raise InputError("to_backend cannot move an object array (variable-length sequences); "
                                 "encode it first, e.g. with multi_hot(sequences, dim).")
            return placement.backend.from_numpy(a, placement.device)
        if isinstance(a, dict):
            return {k: move(v) for k, v in a.items()}
        if isinstance(a, (tuple, list)):
            return type(a)(move(v) for v in a)
        return a

    return move(arrays)


def _labels(y: Any, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"{what} expects class labels of shape (n,), got shape {y.shape}.")
    if y.size and (y.dtype.kind not in "iub" and not np.all(y == np.round(y))):
        raise InputError(f"{what} expects integer class labels, got non-integer values of dtype {y.dtype}.")
    return y.astype(np.int64)


def one_hot(y: Any, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """Return the one-hot matrix of labels ``y``: shape (n, num_classes), ``dtype`` (float32).

    ``num_classes`` defaults to ``max(y) + 1``; labels outside ``0..num_classes - 1`` raise.
    """
    labels = _labels(y, "one_hot")
    k = int(labels.max()) + 1 if num_classes is None and labels.size else int(num_classes or 0)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise InputError(f"one_hot got labels {int(labels.min())}..{int(labels.max())}, expected 0..{k - 1} "
                         f"for num_classes={k}.")
    out = np.zeros((len(labels), k), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def multi_hot(sequences: Sequence[Sequence[int]], dim: int = 10000, dtype: str = "float32") -> np.ndarray:
    """Return the multi-hot matrix of integer sequences: shape (n, dim), 1 where an index occurs.

    As in the Keras book's ``vectorize_sequences``; an index outside ``0..dim - 1`` raises
    (load the data with ``num_words=dim``).
    """
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    flat = np.fromiter((int(w) for s in sequences for w in s), dtype=np.int64, count=int(lengths.sum()))
    if flat.size and (flat.min() < 0 or flat.max() >= dim):
        bad = int(flat.max()) if flat.max() >= dim else int(flat.min())
        raise InputError(f"multi_hot(dim={dim}) got index {bad}; indices must lie in 0..{dim - 1} "
                         f"(load the data with num_words={dim}).")
    out = np.zeros((len(lengths), dim), dtype=dtype)
    out[np.repeat(np.arange(len(lengths)), lengths), flat] = 1
    return out


class Normalizer:
    """Feature-wise standardisation with statistics of the training data only.

    ``Normalizer().fit(x_train)`` stores ``mean`` and ``std`` (per feature, along axis 0,
    float64; a constant feature gets std 1); ``transform(x)`` returns ``(x - mean) / std``
    in x's floating dtype (float32 for integer input).
    """

    def __init__(self) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, x: Any) -> Normalizer:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 1 or len(x) == 0:
            raise InputError(f"Normalizer.fit needs at least one sample, got shape {x.shape}.")
        self.mean = x.mean(axis=0)
        std = x.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, x: Any) -> np.ndarray:
        if self.mean is None:
            raise InputError("Normalizer.transform called before fit; fit it on the training data first.")
        x = np.asarray(x)
        if x.shape[1:] != self.mean.shape:
            raise InputError(f"Normalizer was fitted on samples of shape {self.mean.shape}, got x with shape {x.shape}.")
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        return ((x - self.mean) / self.std).astype(dtype)


def normalize(train: Any, *others: Any) -> tuple[np.ndarray, ...]:
    """Return ``(train, *others)`` standardised with the mean and std of ``train`` alone."""
    norm = Normalizer().fit(train)
    return tuple(norm.transform(a) for a in (train, *others))


def train_val_split(X: Any, y: Any, val_fraction: float | int = 0.2, seed: int | None = 0,
                    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ``((X_train, y_train), (X_val, y_val))``, holding out a fraction or count of samples.

    ``val_fraction`` is a fraction in (0, 1) or a number of samples (an int >= 1). With a
    ``seed`` the validation samples are drawn by a seeded permutation; with ``seed=None``
    they are the first ones, as the Keras book takes ``x_train[:10000]``.
    """
    X, y = np.asarray(X), np.asarray(y)
    n = len(X)
    if len(y) != n:
        raise InputError(f"X has {n} samples but y has {len(y)}.")
    if isinstance(val_fraction, (int, np.integer)) and not isinstance(val_fraction, bool):
        n_val = int(val_fraction)
    elif isinstance(val_fraction, float) and 0 < val_fraction < 1:
        n_val = int(round(n * val_fraction))
    else:
        raise InputError(f"val_fraction must be a fraction in (0, 1) or a sample count, got {val_fraction!r}.")
    if not 1 <= n_val < n:
        raise InputError(f"val_fraction={val_fraction!r} of {n} samples leaves {n_val} for validation and "
                         f"{n - n_val} for training; both need at least one.")
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    val, train = order[:n_val], order[n_val:]
    return (X[train], y[train]), (X[val], y[val])


def kfold(n: int, k: int, seed: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``k`` pairs ``(train_idx, val_idx)`` of int64 index arrays over ``n`` samples.

    The folds are consecutive blocks (sizes differing by at most one), as the Keras book
    cuts them; with a ``seed`` the samples are permuted first. Every sample is in exactly
    one validation fold.
    """
    if not isinstance(k, (int, np.integer)) or k < 2:
        raise InputError(f"kfold needs k >= 2 folds, got k={k!r}.")
    if n < k:
        raise InputError(f"kfold cannot cut {n} samples into k={k} folds; it needs n >= k.")
    order = np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)
    for block in np.array_split(np.arange(n), k):
        train = np.ones(n, dtype=bool)
        train[block] = False
        yield order[train], order[block]
