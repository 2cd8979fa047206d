"""Andrew Ng's exercise 4 data: the course's .mat files, and the same task built from MNIST.

The course files are ``ex4data1.mat`` (``X``: 5000 x 400 float64, each row a 20 x 20
digit unrolled column-major as MATLAB does; ``y``: labels 1..10, where 10 means the digit
0) and ``ex4weights.mat`` (``Theta1``: 25 x 401, ``Theta2``: 10 x 26, bias in column 0).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from anynet.errors import InputError

__all__ = ["load_ex4", "ex4_from_mnist", "EX4_FILES"]

EX4_FILES = ("ex4data1.mat", "ex4weights.mat")
_SHAPES = {"X": (None, 400), "y": (None,), "Theta1": (25, 401), "Theta2": (10, 26)}


def _files(path: str | os.PathLike[str] | None, download: bool | None) -> list[Path]:
    if path is None:
        from anynet.datasets.download import fetch

        weights = fetch("ex4/ex4weights.mat", download=download)  # verified, downloaded if need be
        course = weights.parent / "ex4data1.mat"  # not downloadable: no published checksum
        return [course, weights] if course.is_file() else [weights]
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        found = [p / f for f in EX4_FILES if (p / f).is_file()]
        if found:
            return found
        raise InputError(f"No ex4 file ({', '.join(EX4_FILES)}) in {p}.")
    raise InputError(f"{p} does not exist; pass the path of ex4data1.mat / ex4weights.mat or their folder "
                     f"(default: $ANYNET_DATA/ex4).")


def load_ex4(path: str | os.PathLike[str] | None = None, *, download: bool | None = None) -> dict[str, np.ndarray]:
    """Return the arrays of ex4's .mat file(s) at ``path`` (a file or a folder holding them).

    Without ``path``: ``ex4weights.mat`` from ``<data root>/ex4``, SHA-256 verified and
    downloaded when missing (unless ``download=False`` / ``ANYNET_OFFLINE=1``), and
    ``ex4data1.mat`` when it lies beside it (it is not downloadable: there is no published
    checksum to verify it against).

    Keys are those present among ``X`` (m x 400 float64), ``y`` (m,) int64 labels 1..10,
    ``Theta1`` (25 x 401) and ``Theta2`` (10 x 26). Raises InputError naming the file for
    a missing file, a file that is not a MATLAB file, or an array of the wrong shape.
    """
    from scipy.io import loadmat

    out: dict[str, np.ndarray] = {}
    for f in _files(path, download):
        try:
            mat = loadmat(f)
        except Exception as exc:  # scipy raises ValueError, TypeError or its own MatReadError
            raise InputError(f"{f} could not be read as a MATLAB .mat file: {exc}") from None
        keys = [k for k in _SHAPES if k in mat]
        if not keys:
            raise InputError(f"{f} holds none of the ex4 arrays {list(_SHAPES)}; it has {sorted(k for k in mat if not k.startswith('__'))}.")
        for k in keys:
            a = np.asarray(mat[k])
            if k == "y":
                a = a.reshape(-1).astype(np.int64)
            else:
                a = a.astype(np.float64)
            want = _SHAPES[k]
            if a.ndim != len(want) or any(w is not None and w != s for w, s in zip(want, a.shape)):
                raise InputError(f"{f}: {k} has shape {a.shape}, expected {tuple(w or 'm' for w in want)}.")
            out[k] = a
    if "X" in out and "y" in out:
        if out["X"].shape[0] != out["y"].shape[0]:
            raise InputError(f"X has {out['X'].shape[0]} rows but y has {out['y'].shape[0]} labels.")
        if out["y"].min() < 1 or out["y"].max() > 10:
            raise InputError(f"ex4 labels are 1..10 (10 means the digit 0); y holds {out['y'].min()}..{out['y'].max()}.")
    return out


def _to_course_format(images: np.ndarray) -> np.ndarray:
    """28 x 28 uint8 MNIST digits -> 20 x 20 floats unrolled column-major, like ex4data1.mat."""
    from scipy.ndimage import zoom

    small = zoom(images.astype(np.float64) / 255.0, (1, 20 / 28, 20 / 28), order=3)
    return small.transpose(0, 2, 1).reshape(len(images), 400)


def ex4_from_mnist(path: str | os.PathLike[str] | None = None, *, per_digit: int = 500, n_test: int = 10000,
                   seed: int = 0) -> dict[str, Any]:
    """Return ex4's task built from MNIST: ``X``, ``y`` (training) and ``X_test``, ``y_test``.

    ``per_digit`` training images of each digit are drawn (seeded) from MNIST's training
    set; ``n_test`` come from its test set. Images are shrunk to 20 x 20 with cubic
    interpolation and scaled to [0, 1] (cubic resampling overshoots slightly, as in the
    course data), unrolled column-major; labels are 1..10 with 10 for the digit 0.
    """
    from anynet.datasets.idx import load_mnist

    (xtr, ytr), (xte, yte) = load_mnist(path)
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(ytr == d), per_digit, replace=False) for d in range(10)])
    idx = rng.permutation(idx)
    test = rng.choice(len(yte), min(n_test, len(yte)), replace=False)
    label = lambda d: np.where(d == 0, 10, d).astype(np.int64)  # noqa: E731
    return {"X": _to_course_format(xtr[idx]), "y": label(ytr[idx]),
            "X_test": _to_course_format(xte[test]), "y_test": label(yte[test])}
