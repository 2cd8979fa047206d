"""minimize keeps SciPy's own BLAS on one thread while it runs, and restores it after."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet.optimize import minimize

threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")


def _scipy_blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas" and "scipy.libs" in lib["filepath"]]


def test_scipy_blas_runs_single_threaded_during_minimize():
    before = _scipy_blas_threads()
    if not before:
        pytest.skip("SciPy does not bundle its own BLAS here (it shares NumPy's), so there is nothing to limit")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 4)), rng.integers(0, 3, 50)
    model = an.Sequential([an.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    seen = []
    minimize(model, X, y, method="L-BFGS-B", options={"maxiter": 3}, callback=lambda info: seen.append(_scipy_blas_threads()))
    assert seen and all(t == [1] * len(before) for t in seen)
    assert _scipy_blas_threads() == before
