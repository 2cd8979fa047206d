"""The scikit-learn examples run: the MLPClassifier comparison and Boston's cross_val_score."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from tests.conftest import DATA_DIR  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str):
    key = f"_anynet_example_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, EXAMPLES / f"{name}.py")
        sys.modules[key] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


def test_compare_example_on_digits_and_a_slice_of_mnist(capsys):
    mod = load_example("sklearn_mlp_compare")
    args = ["--digits-epochs", "20", "--epochs", "1", "--limit", "1000", "--data", str(DATA_DIR)]
    if not (DATA_DIR / "mnist").is_dir():
        args[3] = "0"
    out = mod.main(args)
    d = out["digits"]
    assert d["anynet"]["accuracy"] == pytest.approx(d["scikit-learn"]["accuracy"], abs=1e-9)
    assert d["anynet"]["loss"] == pytest.approx(d["scikit-learn"]["loss"], rel=1e-9)
    assert d["anynet"]["accuracy"] > 0.9
    if "mnist" in out:
        assert out["mnist"]["anynet"]["accuracy"] == pytest.approx(out["mnist"]["scikit-learn"]["accuracy"], abs=1e-9)
    assert "anynet / scikit-learn time" in capsys.readouterr().out


@pytest.mark.skipif(not (DATA_DIR / "boston" / "boston_house_prices.csv").is_file(), reason="no Boston CSV here")
def test_boston_example_sklearn_version(capsys):
    mod = load_example("boston_kfold")
    args = mod.parse_args(["--final-epochs", "15", "--data", str(DATA_DIR / "boston" / "boston_house_prices.csv")])
    from anynet.datasets import load_boston_housing

    (x, y), _ = load_boston_housing(args.data)
    out = mod.sklearn_version(args, x, y.astype("float32"))
    assert len(out["sklearn_fold_mae"]) == 4 and out["sklearn_mean_mae"] < 6.0
    assert "cross_val_score(StandardScaler + anynet MLPRegressor(64, 64), cv=4)" in capsys.readouterr().out
