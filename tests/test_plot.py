"""anynet.plot: every figure renders headless (Agg) to a PNG of plausible size."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="anynet.plot needs matplotlib (pip install 'anynet-nn[plot]')")

from anynet import History, plot  # noqa: E402
from anynet.errors import InputError  # noqa: E402


def png_size(path: Path) -> tuple[int, int]:
    """Return (width, height) from a PNG's IHDR chunk, checking the signature."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def check(path: Path, min_bytes: int = 5000) -> tuple[int, int]:
    assert path.is_file() and path.stat().st_size > min_bytes, path
    return png_size(path)


def test_digits_grid(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    out = plot.digits_grid(images, tmp_path / "grid.png", labels=rng.integers(0, 10, 300))
    assert out == tmp_path / "grid.png" and check(out) == (800, 840)
    rows = rng.random((50, 400))  # ex4's unrolled 20 x 20 rows
    assert check(plot.digits_grid(rows, tmp_path / "ex4.png", shape=(20, 20), order="F", n=100))


def test_hidden_units_from_a_kernel_and_from_a_model(tmp_path):
    import anynet as an

    W = np.random.default_rng(1).normal(size=(400, 25))
    assert check(plot.hidden_units(W, tmp_path / "w.png", shape=(20, 20), order="F")) == (600, 630)
    model = an.Sequential([an.layers.Input((64,)), an.layers.Dense(9, "relu"), an.layers.Dense(2)], seed=0)
    model.build()
    assert check(plot.hidden_units(model, tmp_path / "m.png"), 2000)
    with pytest.raises(InputError, match="not square images; pass shape"):
        plot.hidden_units(np.zeros((10, 3)), tmp_path / "x.png")


def test_training_curves_from_a_history_and_a_dict(tmp_path):
    h = History()
    for epoch, (loss, acc) in enumerate([(1.0, 0.5), (0.6, 0.7), (0.4, 0.8)]):
        h.on_epoch_end(epoch, {"loss": loss, "accuracy": acc, "val_loss": loss + 0.1, "val_accuracy": acc - 0.1})
    w, height = check(plot.training_curves(h, tmp_path / "h.png", title="t"))
    assert (w, height) == (900, 360)  # two panels: loss and accuracy
    w, _ = check(plot.training_curves({"val_mae": [3, 2, 2.5]}, tmp_path / "v.png"))
    assert w == 450
    with pytest.raises(InputError, match="History or a dict"):
        plot.training_curves({}, tmp_path / "e.png")


def test_confusion_matrix(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.integers(0, 10, 500)
    pred = np.where(rng.random(500) < 0.8, y, rng.integers(0, 10, 500))
    assert check(plot.confusion_matrix(y, np.eye(10)[pred], tmp_path / "cm.png"))


def test_png_only_and_no_pyplot(tmp_path):
    with pytest.raises(InputError, match=r"saves PNG files; got path .*curves.pdf"):
        plot.training_curves({"loss": [1.0]}, tmp_path / "curves.pdf")
    had_pyplot = "matplotlib.pyplot" in sys.modules  # another test may have imported it
    plot.training_curves({"loss": [1.0, 0.5]}, tmp_path / "c.png")
    assert had_pyplot or "matplotlib.pyplot" not in sys.modules  # bare Figure + Agg: no window, no global state


def test_missing_matplotlib_says_which_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'anynet-nn\[plot\]'"):
        plot.training_curves({"loss": [1.0]}, tmp_path / "c.png")


def test_conv_filters_and_feature_maps(tmp_path):
    import anynet as an

    L = an.layers
    model = an.Sequential([L.Input((12, 12, 1)), L.Conv2D(6, 3, activation="relu"), L.MaxPooling2D(2),
                           L.Flatten(), L.Dense(2, activation="softmax")], seed=0)
    model.build()
    assert check(plot.conv_filters(model, tmp_path / "filters.png")) == (600, 630)
    digit = np.random.default_rng(0).random((1, 12, 12, 1)).astype(np.float32)
    maps = plot.layer_output(model, digit, 1)
    assert maps.shape == (1, 10, 10, 6)
    W, b = model.get_weights()[:2]
    first = sum(digit[0, i:i + 10, j:j + 10, 0] * W[i, j, 0, 0] for i in range(3) for j in range(3)) + b[0]
    np.testing.assert_allclose(maps[0, :, :, 0], np.maximum(first, 0), rtol=1e-5, atol=1e-6)
    assert plot.layer_output(model, digit, -1).shape == (1, 2)
    assert check(plot.feature_maps(maps, tmp_path / "maps.png", image=digit[0])) == (800, 840)
    with pytest.raises(InputError, match=r"conv_filters expects a Conv2D kernel of shape \(kh, kw, in_channels, "
                                         r"filters\), got shape \(3, 4\)"):
        plot.conv_filters(np.zeros((3, 4)), tmp_path / "x.png")
    with pytest.raises(InputError, match=r"feature_maps expects one sample's maps"):
        plot.feature_maps(np.zeros((2, 5, 5, 3)), tmp_path / "x.png")
    with pytest.raises(InputError, match=r"layer=9 is not one of the model's 5 layers"):
        plot.layer_output(model, digit, 9)
