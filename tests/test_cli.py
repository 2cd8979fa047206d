"""The ``anynet`` command: ``anynet train`` out of the box, its flags, and ``anynet backends``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from anynet import cli

BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    exe = shutil.which("anynet", path=str(BIN))
    assert exe, f"the anynet console script is not in {BIN}: install the package (pip install -e .)"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MPLBACKEND": "Agg", **env})


def test_anynet_train_out_of_the_box(tmp_path):
    pytest.importorskip("matplotlib")
    p = run(["train"], tmp_path, ANYNET_OFFLINE="1")  # the defaults: 30 epochs, well under a second of training
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert ("anynet train: digits (1437 training / 360 test samples, 64 features, 10 classes; inputs divided by 16)"
            in out)
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
    args = cli.parser().parse_args(["train", "--layers", "64,32,16,10", "--activation", "tanh", "--optimizer", "sgd",
                                    "--lr", "0.1", "--epochs", "3", "--batch-size", "64", "--seed", "3",
                                    "--backend", "numpy", "--no-plot", "--val-fraction", "0"])
    out = cli.train(args)
    printed = capsys.readouterr().out
    assert "network 64-32-16-10 (tanh hidden, softmax output), SGD lr 0.1, 3 epochs of batch 64" in printed
    assert "plot" not in out and "val_loss" not in out["history"].history and out["test_accuracy"] > 0.5
    assert out["model"].count_params() == 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10


def test_save(tmp_path, capsys):
    target = tmp_path / "model.anynet"
    assert cli.main(["train", "--epochs", "1", "--no-plot", "--save", str(target)]) == 0
    assert target.is_file() and f"model saved to {target}" in capsys.readouterr().out


def test_bad_layers_say_what_fits(capsys):
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
    assert err.startswith("anynet train: error: Cannot get mnist/train-images-idx3-ubyte.gz. To fix: set ANYNET_DATA "
                          "to a folder that holds mnist/train-images-idx3-ubyte.gz") and "sha256" in err
    assert len(err.splitlines()) == 3


def test_without_matplotlib_the_plot_is_skipped(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--epochs", "1"]) == 0
    assert "not plotted: matplotlib is not installed (pip install 'anynet-nn[plot]')" in capsys.readouterr().out
    assert not (tmp_path / "training.png").exists()


# -- every flag checked before any work -------------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    """Make loading any data set fail loudly: a flag check must stop the command before it."""
    def refuse(data):
        raise AssertionError("the data set was loaded before the flags were checked")

    for name, task in cli.DATASETS.items():
        monkeypatch.setitem(cli.DATASETS, name, cli.Task(refuse, *[getattr(task, f) for f in
                                                                    ("divide_by", "layers", "about", "inputs")]))


@pytest.mark.parametrize("flags, words", [
    (["--limit", "0"], "argument --limit: expected an integer >= 1, got '0'"),
    (["--limit", "-5"], "argument --limit: expected an integer >= 1, got '-5'"),
    (["--limit", "1.5"], "argument --limit: expected an integer >= 1, got '1.5'"),
    (["--epochs", "0"], "argument --epochs: expected an integer >= 1, got '0'"),
    (["--batch-size", "-1"], "argument --batch-size: expected an integer >= 1"),
    (["--lr", "0"], "argument --lr: expected a finite number > 0, got '0'"),
    (["--lr", "inf"], "argument --lr: expected a finite number > 0, got 'inf'"),
    (["--val-fraction", "1"], "argument --val-fraction: expected a fraction from 0 (none) up to but not including 1"),
    (["--val-fraction", "-0.1"], "argument --val-fraction: expected a fraction"),
    (["--seed", "-1"], "argument --seed: expected an integer >= 0, got '-1'"),
])
def test_bad_numbers_are_refused_by_argparse(no_work, capsys, flags, words):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", *flags])
    assert e.value.code == 2 and words in capsys.readouterr().err


@pytest.mark.parametrize("flags, words", [
    (["--optimizer", "adom"], r"Unknown optimizer 'adom'. Did you mean 'adam'\?"),
    (["--activation", "relux"], r"Unknown activation 'relux'. Did you mean 'relu'\?"),
    (["--backend", "nope"], r"Unknown backend 'nope'"),
    (["--backend", "numpy", "--device", "cuda:3"], r"Device 'cuda:3' is not available on backend 'numpy'"),
])
def test_bad_names_are_refused_before_any_work(no_work, capsys, flags, words):
    assert cli.main(["train", "--no-plot", *flags]) == 1
    assert re.search(words, capsys.readouterr().err)


def test_output_paths_are_checked_before_training(no_work, tmp_path):
    (tmp_path / "file").write_text("x")
    for flags, words in [
        (["--save", str(tmp_path / "missing" / "m.anynet")], r"the folder '.*missing' does not exist; create it first"),
        (["--save", str(tmp_path / "file" / "m.anynet")], r"'.*file' is a file, not a folder"),
        (["--save", str(tmp_path)], r"is a folder; give a file name, like '.*model.anynet'"),
        (["--plot", str(tmp_path / "curves.jpg")], r"--plot '.*curves.jpg' must name a .png file"),
        (["--plot", str(tmp_path / "file" / "c.png")], r"'.*file' is a file, not a folder"),
        (["--layers", "64,x,10"], r"--layers must be comma-separated integers"),
        (["--layers", "64"], r"--layers needs the input size, any hidden sizes and the output size"),
        (["--data", str(tmp_path / "nope")], r"--data '.*nope' does not exist"),
    ]:
        with pytest.raises(SystemExit, match=r"^anynet train: error: .*" + words):
            cli.main(["train", *flags])


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_save_folder_is_refused_before_training(no_work, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(SystemExit, match=r"--save '.*m.anynet': cannot write in '.*ro'"):
            cli.main(["train", "--no-plot", "--save", str(folder / "m.anynet")])
    finally:
        folder.chmod(0o755)


def test_an_unwritable_folder_is_refused_before_training_even_for_root(no_work, tmp_path, monkeypatch):
    """What the probe meets on a read-only mount or a full disk, whoever runs it."""
    import tempfile

    def read_only(*a, **k):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(SystemExit, match=r"--save '.*m.anynet': cannot write in '.*' \(Read-only file system\)"):
        cli.main(["train", "--no-plot", "--save", str(tmp_path / "m.anynet")])


def test_help_says_how_inputs_are_scaled(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "divided by 255 (mnist, fashion-mnist) or by 16 (digits" in text
    assert "--save stores this preprocessing with the model" in text and "$ANYNET_DATA" in text


def test_a_saved_model_carries_its_preprocessing(tmp_path, capsys):
    import anynet as an
    from anynet.datasets import load_digits

    path = tmp_path / "digits.anynet"
    out = cli.train(cli.parser().parse_args(["train", "--epochs", "2", "--no-plot", "--save", str(path)]))
    assert "with its preprocessing: inputs divided by 16" in capsys.readouterr().out
    meta = an.saving.read_metadata(path)
    prep = meta["anynet_train"]["preprocessing"]
    assert (prep["divide_by"], prep["dtype"], prep["reshape"]) == (16.0, "float32", [-1, 64])
    assert meta["anynet_train"]["dataset"] == "digits" and meta["anynet_train"]["classes"] == 10
    model = an.load(path)
    assert model.metadata == meta
    _, (x_test, y_test) = load_digits()  # raw grey levels 0..16, as a user has them
    acc = float(np.mean(np.argmax(model.predict(cli.preprocess(x_test, model.metadata)), axis=1) == y_test))
    assert acc == pytest.approx(out["test_accuracy"], abs=1e-12)
    np.testing.assert_array_equal(cli.preprocess(x_test, meta), x_test.reshape(360, 64).astype("float32") / 16)
