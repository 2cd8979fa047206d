"""The benchmark programs still run (on tiny data). They measure; this checks nothing about speed."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.__main__ import markdown  # noqa: E402
from benchmarks.common import Row, median_time  # noqa: E402
from benchmarks.mlp import NumpyMLP, anynet_epoch, data, flops_per_sample  # noqa: E402


def test_contenders_train_on_small_data():
    X, y = data(512)
    for optimizer in ("sgd", "adam"):
        assert math.isfinite(NumpyMLP(optimizer, hidden=32).epoch(X, y, 128))
        history = anynet_epoch(optimizer, X, y, 128, hidden=32)()
        assert math.isfinite(history.history["loss"][0])


def test_report_formats():
    times = median_time(lambda: None, repeats=2)
    rows = [Row("MLP epoch, sgd, batch 128", "numpy direct", 1.0, times, {"GFLOP/s": 2.0}),
            Row("MLP epoch, sgd, batch 128", "anynet numpy", 1.1, times, {"GFLOP/s": 1.8})]
    text = markdown({"cores": 2}, rows)
    assert "| anynet numpy | 1.1 | 1.10x | 1.8 |" in text
    assert flops_per_sample() > 0


def test_sklearn_mlp_benchmark_runs_on_tiny_data(monkeypatch):
    """The MLPClassifier benchmark alternates anynet and scikit-learn (MNIST when present, digits)."""
    import pytest

    pytest.importorskip("sklearn")
    from benchmarks import sklearn_mlp

    rows = sklearn_mlp.run(repeats=1, limit=300, epochs=1, lbfgs_iter=5)
    names = {(r.benchmark.split(",")[1].strip(), r.contender) for r in rows}
    assert ("digits 300x64", "sklearn MLPClassifier") in names and ("digits 300x64", "anynet MLPClassifier numpy") in names
    assert all(r.seconds > 0 and 0 <= r.extra["test accuracy"] <= 1 for r in rows)

def test_cnn_benchmark_runs_on_small_data():
    from benchmarks import cnn

    rows = cnn.run(repeats=1, n=192, memory=False)
    assert rows[0].contender == "anynet numpy" and rows[0].seconds > 0
    assert 0 < rows[0].extra["BLAS share %"]
    assert len(cnn.gemm_shapes(64)) == 14
    rss, growth = cnn.peak_rss("anynet", 128)
    assert rss > 10 and growth >= 0


def test_speed_floor_and_scaling_plot(tmp_path):
    from benchmarks.speed import draw_scaling, floor_seconds

    assert floor_seconds(10, 2, 16) > 0
    rows = [Row(f"scaling, hidden {h}, batch {b}", name, 1e-3 * h * b, [], {"hidden": h, "batch": b})
            for h in (64, 256) for b in (10, 128) for name in ("anynet numpy", "matmul floor")]
    path = tmp_path / "scaling.png"
    draw_scaling(rows, str(path))
    assert path.stat().st_size > 1000
