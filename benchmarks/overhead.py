"""The cost of portability: anynet on NumPy against the same network written directly in
NumPy, per training step, at batch sizes 10, 128 and 1024; and the share of each step spent
outside the matrix products (BLAS)."""

from __future__ import annotations

import numpy as np

from benchmarks.common import Row, median_time
from benchmarks.mlp import D, H, K, NumpyMLP, anynet_epoch, data

STEPS = {10: 600, 128: 200, 1024: 40}


def blas_seconds(batch: int, steps: int, hidden: int = H) -> float:
    """Return the seconds the step's five matrix products alone take, ``steps`` times."""
    rng = np.random.default_rng(0)
    X = rng.random((batch, D), dtype=np.float32)
    W1 = rng.random((D, hidden), dtype=np.float32)
    W2 = rng.random((hidden, K), dtype=np.float32)
    A1 = rng.random((batch, hidden), dtype=np.float32)
    dZ2 = rng.random((batch, K), dtype=np.float32)

    def products() -> None:
        for _ in range(steps):
            X @ W1, A1 @ W2, A1.T @ dZ2, dZ2 @ W2.T, X.T @ A1

    return float(np.median(median_time(products, repeats=3)))


def run(repeats: int = 3) -> list[Row]:
    """Return per-step medians of anynet and direct NumPy (SGD) and their share outside BLAS."""
    rows = []
    for batch, steps in STEPS.items():
        X, y = data(batch * steps)
        net = NumpyMLP("sgd")
        blas = blas_seconds(batch, steps)
        for name, fn in (("anynet numpy", anynet_epoch("sgd", X, y, batch)),
                         ("numpy direct", lambda net=net, X=X, y=y, batch=batch: net.epoch(X, y, batch))):
            times = median_time(fn, repeats=repeats)
            per_step = float(np.median(times)) / steps
            rows.append(Row(f"step time, batch {batch}", name, per_step, [t / steps for t in times],
                            {"outside BLAS %": 100 * max(0.0, 1 - blas / steps / per_step),
                             "BLAS s/step": blas / steps}))
    return rows
