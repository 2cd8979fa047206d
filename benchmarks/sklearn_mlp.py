"""anynet.sklearn.MLPClassifier against scikit-learn's MLPClassifier, same process, alternating.

1. MNIST (60000 x 784 -> 100 relu -> 10), 10 epochs of adam, batches of 200: the time of
   ``fit`` and the test accuracy, for X in float64 (both train in float64) and in float32
   (both keep float32). Where a GPU is usable, the same anynet fit on torch CUDA and CuPy.
2. digits (1797 x 64 -> 100 relu -> 10), solver="lbfgs", 200 iterations.

The same ``random_state`` gives both the same initial weights and batches; the repeats
alternate the contenders so a busy machine slows them alike.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from benchmarks.common import Row


def mnist(limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Return MNIST as float64 in [0, 1] (train, train labels, test, test labels), or None without the data."""
    from anynet.datasets import load_mnist
    from anynet.errors import InputError

    try:
        (X, y), (Xt, yt) = load_mnist()
    except InputError as exc:
        print(f"MNIST MLPClassifier benchmark skipped: {exc}")
        return None
    X, Xt = X.reshape(len(X), -1) / 255.0, Xt.reshape(len(Xt), -1) / 255.0
    if limit:
        X, y, Xt, yt = X[:limit], y[:limit], Xt[:limit], yt[:limit]
    return X, y, Xt, yt


def _contenders(extra: dict[str, Any]) -> dict[str, Any]:
    from sklearn.neural_network import MLPClassifier as SkMLP

    from anynet import backends
    from anynet.sklearn import MLPClassifier

    out = {"sklearn MLPClassifier": lambda: SkMLP(**extra), "anynet MLPClassifier numpy": lambda: MLPClassifier(**extra)}
    if backends.get("torch").is_available() and any(str(d).startswith("cuda") for d in backends.get("torch").devices()):
        out["anynet MLPClassifier torch cuda"] = lambda: MLPClassifier(backend="torch", device="cuda:0", **extra)
    if backends.get("cupy").is_available():
        out["anynet MLPClassifier cupy"] = lambda: MLPClassifier(backend="cupy", **extra)
    return out


def _alternate(title: str, make: dict[str, Any], X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray,
               repeats: int) -> list[Row]:
    from sklearn.exceptions import ConvergenceWarning

    times: dict[str, list[float]] = {k: [] for k in make}
    accs: dict[str, float] = {}
    for _ in range(repeats):
        for name, new in make.items():
            clf = new()
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, y)
            times[name].append(time.perf_counter() - t0)
            accs[name] = float(clf.score(Xt, yt))
    return [Row(title, name, float(np.median(ts)), ts, {"test accuracy": accs[name]}) for name, ts in times.items()]


def run(repeats: int = 3, limit: int | None = None, epochs: int = 10, lbfgs_iter: int = 200) -> list[Row]:
    """Return Rows for the MNIST adam fits (float64 and float32 X) and the digits L-BFGS fit."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("MLPClassifier benchmark skipped: scikit-learn is not installed")
        return []
    rows: list[Row] = []
    d = mnist(limit)
    if d is not None:
        X, y, Xt, yt = d
        common = dict(hidden_layer_sizes=(100,), solver="adam", batch_size=200, max_iter=epochs, tol=0.0,
                      n_iter_no_change=epochs + 1, random_state=0)
        for dtype in ("float64", "float32"):
            title = f"MLPClassifier fit, MNIST {len(X)}x784, 100 relu, {epochs} epochs adam, batch 200, X {dtype}"
            rows += _alternate(title, _contenders(common), X.astype(dtype), y, Xt.astype(dtype), yt, repeats)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X, Xt, y, yt = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    if limit:
        X, y = X[:limit], y[:limit]
    common = dict(hidden_layer_sizes=(100,), solver="lbfgs", max_iter=lbfgs_iter, random_state=0)
    rows += _alternate(f"MLPClassifier fit, digits {len(X)}x64, 100 relu, lbfgs {lbfgs_iter} iterations",
                       _contenders(common), X, y, Xt, yt, repeats)
    return rows
