"""The ``anynet`` command: ``anynet train`` out of the box, its flags, and ``anynet backends``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from anynet import cli

BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    exe = shutil.which("anynet", path=str(BIN))
    assert exe, f"the anynet console script is not in {BIN}: install the package (pip install -e .)"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLBACKEND": "Agg", **env})


def test_anynet_train_out_of_the_box(tmp_path):
    pytest.importorskip("sklearn", reason="the default data set is scikit-learn's digits")
    pytest.importorskip("matplotlib")
    p = run(["train"], tmp_path, ANYNET_OFFLINE="1")  # the defaults: 30 epochs, well under a second of training
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "anynet train: digits (1437 training / 360 test samples, 64 features, 10 classes)" in out
    assert "network 64-64-10 (relu hidden, softmax output), Adam lr 0.001" in out and "on numpy on cpu" in out
    assert "Epoch 30/30" in out and re.search(r"41/41 .*- loss: .* - val_accuracy: ", out)
    acc = float(re.search(r"test accuracy: ([\d.]+)% \(\d+/360\)", out).group(1))
    assert acc > 95, out
    assert f"training curves saved to {Path('training.png')}" in out
    png = tmp_path / "training.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10000


def test_anynet_backends_and_python_m(tmp_path):
    p = run(["backends"], tmp_path)
    assert p.returncode == 0 and re.search(r"^numpy\s+usable\s+\S+\s+devices: cpu$", p.stdout, re.M), p.stdout
    assert "cupy" in p.stdout and "best available: " in p.stdout
    q = subprocess.run([sys.executable, "-m", "anynet", "--help"], capture_output=True, text=True, timeout=60)
    assert q.returncode == 0 and "{train,backends}" in q.stdout


def test_train_flags_in_process(tmp_path, capsys):
    pytest.importorskip("sklearn")
    args = cli.parser().parse_args(["train", "--layers", "64,32,16,10", "--activation", "tanh", "--optimizer", "sgd",
                                    "--lr", "0.1", "--epochs", "3", "--batch-size", "64", "--seed", "3",
                                    "--backend", "numpy", "--no-plot", "--val-fraction", "0"])
    out = cli.train(args)
    printed = capsys.readouterr().out
    assert "network 64-32-16-10 (tanh hidden, softmax output), SGD lr 0.1, 3 epochs of batch 64" in printed
    assert "plot" not in out and "val_loss" not in out["history"].history and out["test_accuracy"] > 0.5
    assert out["model"].count_params() == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10


def test_save(tmp_path, capsys):
    pytest.importorskip("sklearn")
    target = tmp_path / "model.anynet"
    assert cli.main(["train", "--epochs", "1", "--no-plot", "--save", str(target)]) == 0
    assert target.is_file() and f"model saved to {target}" in capsys.readouterr().out


def test_bad_layers_say_what_fits(capsys):
    pytest.importorskip("sklearn")
    with pytest.raises(SystemExit, match=r"--layers 784,128,10 does not fit digits, which has 64 input features "
                                         r"and 10 classes: use 64,...,10"):
        cli.main(["train", "--layers", "784,128,10", "--no-plot"])
    with pytest.raises(SystemExit, match="comma-separated integers"):
        cli.main(["train", "--layers", "64,x,10", "--no-plot"])


def test_missing_data_is_an_error_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANYNET_DATA", str(tmp_path))
    monkeypatch.setenv("ANYNET_OFFLINE", "1")
    assert cli.main(["train", "--dataset", "mnist", "--no-plot"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("anynet train: error: mnist/train-images-idx3-ubyte.gz is missing") and "sha256" in err


def test_without_matplotlib_the_plot_is_skipped(tmp_path, monkeypatch, capsys):
    pytest.importorskip("sklearn")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--epochs", "1"]) == 0
    assert "not plotted: matplotlib is not installed (pip install 'anynet-nn[plot]')" in capsys.readouterr().out
    assert not (tmp_path / "training.png").exists()
