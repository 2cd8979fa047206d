"""Bad input gives an anynet error whose message quotes the value and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet.errors import (AnynetError, DeviceMismatchError, InputError, InputTypeError, NotCompiledError,
                           UnknownNameError)

L = an.layers
rng = np.random.default_rng(0)
X = rng.normal(size=(20, 4))
y_bin = (X[:, 0] > 0).astype(float)
y_int = rng.integers(0, 3, 20)


def binary():
    m = an.Sequential([L.Dense(3, activation="relu"), L.Dense(1, activation="sigmoid")], seed=0)
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    return m


def sparse():
    m = an.Sequential([L.Dense(3, activation="softmax")], seed=0)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def ex4_shaped():
    m = an.Sequential([L.Dense(25, activation="sigmoid"), L.Dense(10, activation="sigmoid")], seed=0)
    m.compile(optimizer="sgd", loss="binary_crossentropy")
    m.build((400,))
    return m


X_nan = X.copy()
X_nan[3, 1] = np.nan

CASES = [
    # (id, call, error type, message pattern)
    ("feature count", lambda: ex4_shaped().predict(np.zeros((5000, 401))), InputError,
     r"Dense\(25\) expected 400 input features, got X with shape \(5000, 401\)"),
    ("1-d X", lambda: binary().fit(np.zeros(20), y_bin, verbose=0), InputError,
     r"X must have shape \(samples, features...\), got shape \(20,\)"),
    ("sample count", lambda: binary().fit(X, y_bin[:15], verbose=0), InputError,
     r"X has 20 \(shape \(20, 4\)\), y has 15 \(shape \(15,\)\)"),
    ("label shape", lambda: sparse().fit(X, np.zeros((20, 2)), verbose=0), InputError,
     r"needs integer labels of shape \(samples,\), got y with shape \(20, 2\)"),
    ("label range", lambda: sparse().fit(X, y_int + 1, verbose=0), InputError,
     r"Labels must be in 0..2 for a model with 3 outputs; y holds values from 1 to 3"),
    ("negative label", lambda: sparse().fit(X, y_int - 1, verbose=0), InputError, r"from -1 to 1"),
    ("non-integer labels", lambda: sparse().fit(X, y_int + 0.5, verbose=0), InputError, r"non-integer values"),
    ("one-hot expected", lambda: (lambda m: (m.compile(optimizer="sgd", loss="categorical_crossentropy"),
                                            m.fit(X, y_int, verbose=0)))(an.Sequential([L.Dense(3, activation="softmax")])),
     InputError, r"y must have shape \(samples, 3\).*got y with shape \(20,\).*sparse_categorical_crossentropy"),
    ("targets outside [0, 1]", lambda: binary().fit(X, y_bin * 2, verbose=0), InputError,
     r"binary_crossentropy needs targets in \[0, 1\]; y holds values from 0 to 2"),
    ("NaN in X", lambda: binary().fit(X_nan, y_bin, verbose=0), InputError, r"X contains 1 NaN or infinite value"),
    ("inf in y", lambda: (lambda m: (m.compile(optimizer="sgd", loss="mse"), m.fit(X, np.full(20, np.inf), verbose=0)))(
        an.Sequential([L.Dense(1)])), InputError, r"y contains 20 NaN or infinite value"),
    ("complex X", lambda: binary().fit(X + 1j, y_bin, verbose=0), InputTypeError,
     r"X must hold real numbers .* got complex data of dtype complex128"),
    ("object X", lambda: binary().fit(np.array([[object()] * 4] * 20), y_bin, verbose=0), InputTypeError,
     r"got object data"),
    ("string y", lambda: binary().fit(X, np.array(["a"] * 20), verbose=0), InputTypeError, r"y must hold real numbers .* got string data"),
    ("ragged X", lambda: binary().predict([[1.0, 2.0], [3.0]]), InputTypeError, r"X could not be read as an array"),
    ("batch_size 0", lambda: binary().fit(X, y_bin, batch_size=0, verbose=0), InputError,
     r"batch_size must be an int >= 1, got 0"),
    ("batch_size float", lambda: binary().fit(X, y_bin, batch_size=32.5, verbose=0), InputTypeError,
     r"batch_size must be an int >= 1, got 32.5 of type float"),
    ("epochs str", lambda: binary().fit(X, y_bin, epochs="10", verbose=0), InputTypeError,
     r"epochs must be an int >= 0, got '10' of type str"),
    ("zero features", lambda: binary().fit(np.zeros((20, 0)), y_bin, verbose=0), InputError,
     r"Each sample needs at least one value on every axis; got samples of shape \(0,\)"),
    ("empty X", lambda: binary().fit(np.zeros((0, 4)), np.zeros(0), verbose=0), InputError,
     r"X is empty \(shape \(0, 4\)\)"),
    ("validation_split", lambda: binary().fit(X, y_bin, validation_split=1.5, verbose=0), InputError,
     r"validation_split must be in \[0, 1\), got 1.5"),
    ("unknown loss", lambda: an.Sequential([L.Dense(1)]).compile(loss="binary_crossentropi"), UnknownNameError,
     r"Unknown loss 'binary_crossentropi'. Did you mean 'binary_crossentropy'\?"),
    ("unknown optimizer", lambda: an.Sequential([L.Dense(1)]).compile(optimizer="adan", loss="mse"), UnknownNameError,
     r"Unknown optimizer 'adan'. Did you mean 'adam'\?"),
    ("unknown activation", lambda: L.Dense(3, activation="sigmoidd"), UnknownNameError,
     r"Unknown activation 'sigmoidd'. Did you mean 'sigmoid'\?"),
    ("unknown initializer", lambda: L.Dense(3, kernel_initializer="glorot_unifrom"), UnknownNameError,
     r"Did you mean 'glorot_uniform'\?"),
    ("unknown metric", lambda: an.Sequential([L.Dense(1)]).compile(loss="mse", metrics=["accuracyy"]),
     UnknownNameError, r"Unknown metric 'accuracyy'. Did you mean 'accuracy'\?"),
    ("no loss", lambda: an.Sequential([L.Dense(1)]).compile(optimizer="sgd"), InputError, r"compile needs a loss"),
    ("fit before compile", lambda: an.Sequential([L.Dense(1)]).fit(X, y_bin), NotCompiledError,
     r"Call model.compile\(optimizer=..., loss=...\) before fit"),
    ("Dense units", lambda: L.Dense(0), InputError, r"Dense\(units\) needs a positive int, got units=0"),
    ("Dropout rate", lambda: L.Dropout(1.0), InputError, r"Dropout\(rate\) needs 0 <= rate < 1, got rate=1.0"),
    ("model dtype", lambda: an.Sequential([L.Dense(1)], dtype="float16"), InputError,
     r"dtype must be one of \('float32', 'float64'\), got 'float16'"),
    ("not a layer", lambda: an.Sequential(["dense"]), InputTypeError, r"Sequential takes anynet layers, got 'dense'"),
    ("on_nonfinite", lambda: binary().fit(X, y_bin, on_nonfinite="continue", verbose=0), InputError,
     r"on_nonfinite must be 'raise' or 'skip', got 'continue'"),
    ("params shape", lambda: setattr(binary().build((4,)), "params", np.zeros(3)), InputError,
     r"params must have shape \(19,\), got \(3,\)"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_message(case):
    _, call, error, pattern = case
    with pytest.raises(error, match=pattern) as e:
        call()
    assert isinstance(e.value, AnynetError)
    assert isinstance(e.value, (ValueError, TypeError, RuntimeError))


def test_two_backends_in_one_fit_call():
    """Two device arrays of different backends raise (host data would follow them instead)."""
    strict = pytest.importorskip("array_api_strict")
    torch = pytest.importorskip("torch")
    with pytest.raises(DeviceMismatchError, match=r"X is a array_api_strict array on .* y is a torch array on cpu"):
        binary().fit(strict.asarray(X), torch.asarray(y_bin), verbose=0)


def test_two_devices_in_one_fit_call():
    strict = pytest.importorskip("array_api_strict")
    dev1 = strict.Device("device1")
    with pytest.raises(DeviceMismatchError, match=r"device1"):
        binary().fit(strict.asarray(X), strict.asarray(y_bin, device=dev1), verbose=0)


def test_model_on_numpy_refuses_torch_data():
    torch = pytest.importorskip("torch")
    m = binary()
    m.fit(X, y_bin, verbose=0)
    with pytest.raises(DeviceMismatchError, match=r"X is a torch array on cpu, but the computation runs on numpy"):
        m.predict(torch.asarray(X))
