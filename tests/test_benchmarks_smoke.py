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


def test_speed_floor_and_scaling_plot(tmp_path):
    from benchmarks.speed import draw_scaling, floor_seconds

    assert floor_seconds(10, 2, 16) > 0
    rows = [Row(f"scaling, hidden {h}, batch {b}", name, 1e-3 * h * b, [], {"hidden": h, "batch": b})
            for h in (64, 256) for b in (10, 128) for name in ("anynet numpy", "matmul floor")]
    path = tmp_path / "scaling.png"
    draw_scaling(rows, str(path))
    assert path.stat().st_size > 1000
