"""ex4: the .mat loader, the cost convention, the weights, and the example end to end."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat
from scipy.special import expit

from anynet.datasets.ex4 import load_ex4
from anynet.errors import InputError
from anynet.params import from_thetas, to_thetas

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import ex4_scipy  # noqa: E402


def _nn_cost(Theta1, Theta2, X, y, lam):
    """ex4's nnCostFunction, written out as in the course, for reference."""
    m = X.shape[0]
    a1 = np.hstack([np.ones((m, 1)), X])
    a2 = np.hstack([np.ones((m, 1)), expit(a1 @ Theta1.T)])
    h = expit(a2 @ Theta2.T)
    Y = np.eye(Theta2.shape[0])[y - 1]
    J = np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / m
    return J + lam / (2 * m) * (np.sum(Theta1[:, 1:] ** 2) + np.sum(Theta2[:, 1:] ** 2))


@pytest.fixture
def weights(data_dir):
    return load_ex4(data_dir / "ex4" / "ex4weights.mat")


def test_course_weights_load(weights):
    assert weights["Theta1"].shape == (25, 401) and weights["Theta2"].shape == (10, 26)
    assert weights["Theta1"].dtype == np.float64


def test_regularization_term_of_the_course_weights(weights):
    """What the weights alone determine: 0.383770 - 0.287629 at lambda 1, m = 5000."""
    reg = sum(np.sum(T[:, 1:] ** 2) for T in weights.values()) / (2 * 5000)
    assert round(reg, 6) == 0.096141
    model = ex4_scipy.ex4_network(1.0, 5000)
    model.set_weights(from_thetas([weights["Theta1"], weights["Theta2"]]))
    X = np.zeros((5000, 400))
    with_reg = float(model.loss_and_grad(X, np.zeros((5000, 10)))[0])
    model0 = ex4_scipy.ex4_network(0.0, 5000)
    model0.set_weights(from_thetas([weights["Theta1"], weights["Theta2"]]))
    assert with_reg - float(model0.loss_and_grad(X, np.zeros((5000, 10)))[0]) == pytest.approx(0.096141, abs=5e-7)


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_cost_equals_the_course_formula(weights, lam):
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.1, 1.1, size=(300, 400))
    y = rng.integers(1, 11, 300)
    model = ex4_scipy.ex4_network(lam, 300)
    model.set_weights(from_thetas([weights["Theta1"], weights["Theta2"]]))
    got = float(model.loss_and_grad(X, ex4_scipy.one_hot_1_to_10(y))[0])
    assert got == pytest.approx(_nn_cost(weights["Theta1"], weights["Theta2"], X, y, lam), rel=1e-12)


def test_thetas_round_trip(weights):
    thetas = [weights["Theta1"], weights["Theta2"]]
    back = to_thetas(from_thetas(thetas))
    for a, b in zip(thetas, back):
        np.testing.assert_array_equal(a, b)


def test_load_course_shaped_data_written_by_savemat(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 400)), rng.integers(1, 11, (50, 1)).astype(np.uint8)
    savemat(tmp_path / "ex4data1.mat", {"X": X, "y": y})
    savemat(tmp_path / "ex4weights.mat", {"Theta1": rng.normal(size=(25, 401)), "Theta2": rng.normal(size=(10, 26))})
    d = load_ex4(tmp_path)
    assert sorted(d) == ["Theta1", "Theta2", "X", "y"]
    np.testing.assert_array_equal(d["X"], X)
    assert d["y"].shape == (50,) and d["y"].dtype == np.int64
    np.testing.assert_array_equal(d["y"], y.ravel())
    only = load_ex4(tmp_path / "ex4data1.mat")
    assert sorted(only) == ["X", "y"]


@pytest.mark.parametrize("content,pattern", [
    ({"X": np.zeros((5, 401)), "y": np.ones((5, 1))}, r"X has shape \(5, 401\), expected \('m', 400\)"),
    ({"X": np.zeros((5, 400)), "y": np.zeros((5, 1))}, r"ex4 labels are 1..10 .* y holds 0..0"),
    ({"X": np.zeros((5, 400)), "y": np.ones((4, 1))}, r"X has 5 rows but y has 4 labels"),
    ({"Theta1": np.zeros((25, 400))}, r"Theta1 has shape \(25, 400\), expected \(25, 401\)"),
    ({"W": np.zeros(3)}, r"holds none of the ex4 arrays .* it has \['W'\]"),
])
def test_bad_mat_files(tmp_path, content, pattern):
    f = tmp_path / "bad.mat"
    savemat(f, content)
    with pytest.raises(InputError, match=pattern):
        load_ex4(f)


def test_not_a_mat_file_and_missing_paths(tmp_path):
    (tmp_path / "ex4data1.mat").write_bytes(b"this is not MATLAB")
    with pytest.raises(InputError, match=r"could not be read as a MATLAB .mat file"):
        load_ex4(tmp_path)
    with pytest.raises(InputError, match=r"does not exist"):
        load_ex4(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"No ex4 file \(ex4data1.mat, ex4weights.mat\) in"):
        load_ex4(empty)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["TNC", "L-BFGS-B"])
def test_example_trains_to_95_percent(data_dir, method, monkeypatch, capsys):
    """The whole walk-through on the MNIST-built task; both methods pass 95% training accuracy."""
    monkeypatch.setenv("ANYNET_DATA", str(data_dir))
    out = ex4_scipy.main(["--method", method, "--maxiter", "400" if method == "TNC" else "150"])
    assert out["reg_term_m5000"] == pytest.approx(0.096141, abs=5e-7)
    np.testing.assert_allclose(out["sigmoid_gradient"], [0.196612, 0.235004, 0.25, 0.235004, 0.196612], atol=5e-7)
    assert out["gradcheck_small"] < 1e-9 and out["gradcheck_full"] < 1e-9
    assert out["train_accuracy"] >= 0.95, out
    assert out["test_accuracy"] >= 0.85, out
    printed = capsys.readouterr().out
    for step in ("1. data", "2. cost", "3. sigmoid gradient", "4. random", "5. gradient check", "6. ", "7. training"):
        assert step in printed
