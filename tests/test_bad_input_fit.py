"""Bad arguments to fit / evaluate / set_weights and the model constructors: refused at the call,
with an anynet error that names the bad value and what was expected (issues #17 and #18)."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet.errors import AnynetError, BackendError, InputError, InputTypeError

L = an.layers
rng = np.random.default_rng(0)
X = rng.normal(size=(20, 4))
y_int = rng.integers(0, 3, 20)
w = rng.uniform(size=20)
X_inf = X.copy()
X_inf[2, 1] = np.inf


def sparse(loss="sparse_categorical_crossentropy"):
    m = an.Sequential([L.Dense(3, activation="softmax")], seed=0)
    m.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    return m


def two_outputs():
    inp = an.Input(shape=(4,))
    m = an.Model(inp, [L.Dense(3, activation="softmax", name="a")(inp), L.Dense(1, name="b")(inp)], seed=0)
    m.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"])
    return m


def two_inputs():
    a, b = an.Input(shape=(4,), name="i1"), an.Input(shape=(4,), name="i2")
    m = an.Model([a, b], L.Dense(3, activation="softmax")(L.Concatenate()([a, b])), seed=0)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return m


def segmenter(ignore_class=None):
    m = an.Sequential([L.Input((2, 2, 1)), L.Conv2D(3, 1, activation="softmax")], seed=0)
    m.compile(optimizer="sgd", loss=an.losses.SparseCategoricalCrossentropy(ignore_class=ignore_class))
    return m


def set_nan_weights():
    m = sparse().build((4,))
    W, b = m.get_weights()
    W[1, 2] = np.nan
    m.set_weights([W, b])


def set_huge_flat_weights():
    m = sparse().build((4,))
    m.set_flat_weights(np.full(15, 1e300))


CASES = [
    # (id, call, error type, message pattern)
    ("fit y None", lambda: sparse().fit(X, None, verbose=0), InputError,
     r"fit needs targets y to compare the outputs with, got y=None; .*predict\(X\)"),
    ("fit y missing", lambda: sparse().fit(X, verbose=0), InputError, r"fit needs targets y"),
    ("evaluate y None", lambda: sparse().evaluate(X, None, verbose=0), InputError, r"evaluate needs targets y"),
    ("fit X None", lambda: sparse().fit(None, y_int, verbose=0), InputError, r"X is None; pass the inputs"),
    ("predict X None", lambda: sparse().predict(None), InputError, r"X is None"),
    ("one input None", lambda: two_inputs().fit([X, None], y_int, verbose=0), InputError,
     r"X\['i2'\] is None; pass an array"),
    ("inf in validation X", lambda: sparse().fit(X, y_int, validation_data=(X_inf, y_int), verbose=0), InputError,
     r"validation_data\[0\] contains 1 NaN or infinite value"),
    ("validation y out of range", lambda: sparse().fit(X, y_int, validation_data=(X, y_int + 5), verbose=0),
     InputError, r"validation_data\[1\] holds values from 5 to 7"),
    ("validation y None", lambda: sparse().fit(X, y_int, validation_data=(X, None), verbose=0), InputError,
     r"validation_data needs targets: pass \(X_val, y_val\) .*got y_val=None"),
    ("validation weights", lambda: sparse().fit(X, y_int, validation_data=(X, y_int, -w), verbose=0), InputError,
     r"validation_data\[2\] contains negative values"),
    ("validation quadruple", lambda: sparse().fit(X, y_int, validation_data=(X, y_int, w, w), verbose=0), InputError,
     r"validation_data must be a pair \(X_val, y_val\) or a triple .*got a tuple of 4"),
    ("shuffle str", lambda: sparse().fit(X, y_int, shuffle="yes", verbose=0), InputTypeError,
     r"shuffle must be True or False, got 'yes' of type str"),
    ("shuffle int", lambda: sparse().fit(X, y_int, shuffle=1, verbose=0), InputTypeError,
     r"shuffle must be True or False, got 1 of type int"),
    ("Sequential unknown backend", lambda: an.Sequential([L.Dense(1)], backend="nope"), BackendError,
     r"Unknown backend 'nope'.* Known backends: numpy, array_api_strict, torch, cupy"),
    ("Model unknown backend", lambda: an.Model(an.Input((2,)), L.Dense(1)(an.Input((2,))), backend="nope"),
     BackendError, r"Unknown backend 'nope'.* Known backends: numpy"),
    ("model device not there", lambda: an.Sequential([L.Dense(1)], backend="numpy", device="cuda:0"), AnynetError,
     r"Device 'cuda:0' is not available on backend 'numpy'"),
    ("set_weights NaN", set_nan_weights, InputError,
     r"set_weights: dense.*\.W holds 1 NaN or infinite value\(s\)"),
    ("set_weights strings", lambda: sparse().build((4,)).set_weights([np.full((4, 3), "a"), np.zeros(3)]),
     InputTypeError, r"must hold real numbers, got an array of dtype <U1"),
    ("set_flat_weights overflow", set_huge_flat_weights, InputError,
     r"set_flat_weights: the weights in float32 holds 15 NaN or infinite value\(s\) \(or values beyond"),
    ("X beyond float32", lambda: sparse().fit(np.full((20, 4), 1e39), y_int, verbose=0), InputError,
     r"X holds values up to 1e\+39, beyond the range of the model's float32 .*dtype='float64'"),
    ("sample_weight length", lambda: sparse().fit(X, y_int, sample_weight=w[:5], verbose=0), InputError,
     r"sample_weight has 5 weights \(shape \(5,\)\) for 20 samples"),
    ("sample_weight negative", lambda: sparse().fit(X, y_int, sample_weight=-w, verbose=0), InputError,
     r"sample_weight contains negative values; sample weights are finite numbers >= 0"),
    ("sample_weight NaN", lambda: sparse().evaluate(X, y_int, sample_weight=np.where(w > 0.5, np.nan, w), verbose=0),
     InputError, r"sample_weight contains \d+ NaN or infinite value"),
    ("sample_weight shape", lambda: sparse().fit(X, y_int, sample_weight=np.ones((20, 3)), verbose=0), InputError,
     r"sample_weight must have shape \(samples,\) for output .* of shape \(3,\), got shape \(20, 3\)"),
    ("sample_weight strings", lambda: sparse().fit(X, y_int, sample_weight=["a"] * 20, verbose=0), InputTypeError,
     r"sample_weight must hold real numbers"),
    ("both weights", lambda: sparse().fit(X, y_int, sample_weight=w, class_weight={0: 2.0}, verbose=0), InputError,
     r"Pass sample_weight or class_weight, not both"),
    ("class_weight list", lambda: sparse().fit(X, y_int, class_weight=[1.0, 2.0, 3.0], verbose=0), InputTypeError,
     r"class_weight must be a dict \{class index: weight\}, got \[1.0, 2.0, 3.0\]"),
    ("class_weight key", lambda: sparse().fit(X, y_int, class_weight={3: 2.0}, verbose=0), InputError,
     r"class_weight has class 3, but the model's output has 3 classes, 0..2"),
    ("class_weight str key", lambda: sparse().fit(X, y_int, class_weight={"cat": 2.0}, verbose=0), InputTypeError,
     r"class_weight keys are class indices \(ints\), got 'cat'"),
    ("class_weight value", lambda: sparse().fit(X, y_int, class_weight={0: -1.0}, verbose=0), InputError,
     r"class_weight\[0\] must be a finite number >= 0, got -1.0"),
    ("class_weight two outputs", lambda: two_outputs().fit(X, [y_int, X[:, 0]], class_weight={0: 2.0}, verbose=0),
     InputError, r"class_weight works for models with one output \(as in Keras\)"),
    ("sample_weight unknown output", lambda: two_outputs().fit(X, [y_int, X[:, 0]], sample_weight={"c": w}, verbose=0),
     InputError, r"sample_weight is a dict with keys \['c'\]; \['c'\] name no output \(the outputs are \['a', 'b'\]\)"),
    ("reduction None in fit", lambda: sparse(an.losses.SparseCategoricalCrossentropy(reduction=None)).fit(
        X, y_int, verbose=0), InputError, r"fit: the loss of output .* has reduction=None, .* needs one number"),
    ("reduction none in evaluate", lambda: sparse(an.losses.SparseCategoricalCrossentropy(reduction="none")).evaluate(
        X, y_int, verbose=0), InputError, r"evaluate: .*reduction='none'"),
    ("segmentation label shape", lambda: segmenter().fit(np.zeros((5, 2, 2, 1)), np.zeros((5, 2)), verbose=0),
     InputError, r"needs integer labels of shape \(samples, 2, 2\), got y with shape \(5, 2\)"),
    ("segmentation label range", lambda: segmenter(255).fit(np.zeros((5, 2, 2, 1)), np.full((5, 2, 2), 3), verbose=0),
     InputError, r"Labels must be in 0..2 for 3 classes \(or 255, the ignore_class\); y holds values from 3 to 3"),
    ("ignored label range", lambda: sparse(an.losses.SparseCategoricalCrossentropy(ignore_class=-1)).fit(
        X, np.where(y_int == 0, -1, 7), verbose=0), InputError,
     r"Labels must be in 0..2 for a model with 3 outputs \(or -1, the ignore_class\); y holds values from 7 to 7"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_message(case):
    _, call, error, pattern = case
    with pytest.raises(error, match=pattern) as e:
        call()
    assert isinstance(e.value, AnynetError)
    assert isinstance(e.value, (ValueError, TypeError, RuntimeError))


def test_labels_equal_to_ignore_class_are_accepted():
    m = sparse(an.losses.SparseCategoricalCrossentropy(ignore_class=-1))
    h = m.fit(X, np.where(y_int == 0, -1, y_int), epochs=2, verbose=0)
    assert np.all(np.isfinite(h.history["loss"]))
    seg = segmenter(255)
    seg.fit(np.zeros((5, 2, 2, 1)), np.where(np.eye(2, dtype=int)[None] == 1, 255, 1).repeat(5, 0), verbose=0)
