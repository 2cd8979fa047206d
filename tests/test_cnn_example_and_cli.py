"""examples/mnist_cnn.py and ``anynet train --model cnn`` run (short settings, NumPy)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from anynet import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mnist_cnn.py"


def _example():
    spec = importlib.util.spec_from_file_location("_anynet_example_mnist_cnn", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_mnist_cnn_short_run_with_plots(data_dir, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    cnn = _example()
    assert cnn.__doc__ and "Expected" in cnn.__doc__
    args = cnn.parse_args(["--backend", "torch", "--device", "cpu", "--seed", "3", "--data", "/x"])
    assert (args.backend, args.device, args.seed, args.data, args.epochs, args.batch_size) == ("torch", "cpu", 3, "/x", 5, 64)
    out = cnn.main(["--epochs", "1", "--limit", "1500", "--test-limit", "500", "--data", str(data_dir),
                    "--backend", "numpy", "--augment", "0.05", "--plots", str(tmp_path / "cnn"), "--verbose", "0"])
    # one epoch on 1500 images reaches about 70-80% on the first 500 test images
    assert 0.5 < out["test_accuracy"] <= 1 and len(out["epoch_seconds"]) == 1
    assert out["filters_png"].is_file() and out["maps_png"].is_file()
    assert out["model"].count_params() == 93322
    printed = capsys.readouterr().out
    assert "Total params: 93,322" in printed and "s per epoch" in printed


def test_anynet_train_model_cnn(data_dir, capsys):
    assert cli.main(["train", "--dataset", "mnist", "--model", "cnn", "--limit", "600", "--epochs", "1", "--no-plot",
                     "--data", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "network 28x28x1-conv32-pool-conv64-pool-conv64-64-10" in out and "test accuracy" in out


def test_anynet_train_model_cnn_refuses_what_does_not_fit(data_dir):
    with pytest.raises(SystemExit, match=r"--model cnn needs 28x28 images \(--dataset mnist or fashion-mnist\), got --dataset digits"):
        cli.main(["train", "--model", "cnn", "--no-plot"])
    with pytest.raises(SystemExit, match=r"--layers sets an MLP's sizes"):
        cli.main(["train", "--dataset", "mnist", "--model", "cnn", "--layers", "784,10", "--no-plot",
                  "--data", str(data_dir)])
