"""The examples in examples/ run, quickly, and give sane numbers.

Each example's ``main(argv)`` is called with short settings (few epochs or steps, a small
``--limit``) on NumPy; examples that need MNIST take the ``data_dir`` fixture, which skips
with the reason when the shared data folder is absent.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from anynet import backends

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    """Import examples/<name>.py as a module (examples/ is not a package)."""
    key = f"_anynet_example_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def require(name: str) -> None:
    reason = backends.get(name).unavailable_reason()
    if reason is not None:
        pytest.skip(f"{name}: {reason}")


def tutorial_numpy(seed: int, epochs: int, lr: float = 0.1) -> np.ndarray:
    """The from-scratch tutorial itself, in plain NumPy, with its initial weights drawn after seeding."""
    X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
    y = np.array([[1], [1], [0]], dtype=float)
    rs = np.random.RandomState(seed)
    wh, bh = rs.uniform(size=(4, 3)), rs.uniform(size=(1, 3))
    wout, bout = rs.uniform(size=(3, 1)), rs.uniform(size=(1, 1))
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    for _ in range(epochs):
        hidden = sigmoid(X @ wh + bh)
        output = sigmoid(hidden @ wout + bout)
        d_output = (y - output) * output * (1 - output)
        d_hidden = d_output @ wout.T * hidden * (1 - hidden)
        wout += hidden.T @ d_output * lr
        bout += np.sum(d_output, axis=0, keepdims=True) * lr
        wh += X.T @ d_hidden * lr
        bh += np.sum(d_hidden, axis=0, keepdims=True) * lr
    return sigmoid(sigmoid(X @ wh + bh) @ wout + bout).reshape(-1)


# -- xor_numpy --------------------------------------------------------------------------------

def test_xor_reproduces_the_tutorial(capsys):
    xor = load_example("xor_numpy")
    result = xor.main(["--backend", "numpy"])
    pred = result["predictions"]
    assert len(pred) == 3
    np.testing.assert_allclose(pred, [0.98, 0.97, 0.04], atol=0.02)
    assert result["loss"] < 2e-3
    out = capsys.readouterr().out
    assert "Predictions" in out and f"{pred[0]:.8f}" in out


def test_xor_tutorial_init_matches_plain_numpy():
    xor = load_example("xor_numpy")
    result = xor.main(["--tutorial-init", "--seed", "1", "--epochs", "2000", "--backend", "numpy"])
    np.testing.assert_allclose(result["predictions"], tutorial_numpy(1, 2000), rtol=0, atol=1e-10)


@pytest.mark.parametrize("name, device", [("torch", "cpu"), ("array_api_strict", "device1")])
def test_xor_other_backends_agree(name, device):
    require(name)
    xor = load_example("xor_numpy")
    ref = xor.main(["--epochs", "200", "--backend", "numpy"])["predictions"]
    got = xor.main(["--epochs", "200", "--backend", name, "--device", device])["predictions"]
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


# -- mnist_mlp --------------------------------------------------------------------------------

def test_mnist_mlp_short_run(data_dir, capsys):
    mlp = load_example("mnist_mlp")
    result = mlp.main(["--steps", "20", "--epochs", "2", "--limit", "3000", "--data", str(data_dir),
                       "--backend", "numpy", "--seed", "0"])
    assert result["n_train"] == 3000 and result["n_test"] == 10000
    gd, adam = result["gd"], result["adam"]
    # 20 full-batch steps reach ~77% test accuracy, 2 Adam epochs on 3000 images ~73%.
    assert 0.6 < gd["test_accuracy"] <= 1 and 0.6 < gd["train_accuracy"] <= 1
    assert 0.6 < adam["test_accuracy"] <= 1 and 0.6 < adam["train_accuracy"] <= 1
    assert gd["steps"] == 20 and adam["epochs"] == 2 and gd["seconds"] > 0 and adam["seconds"] > 0
    out = capsys.readouterr().out
    assert "full-batch GD: train accuracy" in out and "mini-batch Adam: train accuracy" in out


def test_mnist_mlp_skips_parts(data_dir):
    mlp = load_example("mnist_mlp")
    result = mlp.main(["--steps", "0", "--epochs", "1", "--limit", "500", "--data", str(data_dir / "mnist")])
    assert "gd" not in result and 0 <= result["adam"]["test_accuracy"] <= 1


# -- nielsen_sgd ------------------------------------------------------------------------------

def test_nielsen_prints_epoch_counts(data_dir, capsys):
    nielsen = load_example("nielsen_sgd")
    result = nielsen.main(["--epochs", "3", "--limit", "5000", "--data", str(data_dir), "--backend", "numpy"])
    counts = result["test_correct"]
    assert len(counts) == 3 and result["test_total"] == 10000 and result["n_train"] == 5000
    assert all(0 <= c <= 10000 for c in counts)
    # Three epochs on 5000 images reach about 77% (7666 / 10000 with seed 0).
    assert counts[-1] > 6000 and result["best_correct"] == max(counts)
    assert result["test_accuracy"] == counts[-1] / 10000
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Epoch ")]
    assert lines == [f"Epoch {j}: {c} / 10000" for j, c in enumerate(counts)]


def test_examples_have_the_common_interface():
    for name in ("xor_numpy", "mnist_mlp", "nielsen_sgd", "imdb_binary", "reuters_multiclass", "boston_kfold"):
        module = load_example(name)
        assert module.__doc__ and "Expected" in module.__doc__, name
        args = module.parse_args(["--backend", "torch", "--device", "cpu", "--seed", "3", "--data", "/x"])
        assert (args.backend, args.device, args.seed, args.data) == ("torch", "cpu", 3, "/x"), name


def test_gpu_mnist_runs_or_says_why_not(data_dir, capsys):
    """CuPy trains where a GPU is usable; elsewhere the script says why and times NumPy alone."""
    gpu = load_example("gpu_mnist")
    out = gpu.main(["--epochs", "1", "--limit", "3000", "--data", str(data_dir / "mnist")])
    printed = capsys.readouterr().out
    assert "numpy" in out and len(out["numpy"]["epoch_seconds"]) == 1
    assert out["numpy"]["test_accuracy"] > 0.8
    if backends.get("cupy").is_available():
        assert out["cupy"]["test_accuracy"] == pytest.approx(out["numpy"]["test_accuracy"], abs=0.01)
        assert "median epoch: cupy" in printed
    else:
        assert "cupy: not usable here (" in printed and "pip install" in printed
