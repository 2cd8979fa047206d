"""Functional models: what Model(...) refuses and why, summary(), build's forms, shared weights,
looking inside a model, and the bad inputs of fit/evaluate/predict on graphs (NumPy only)."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import anynet as an
from anynet.errors import InputError, InputTypeError

L = an.layers


def two_heads(seed=0, compiled=True):
    image, extra = an.Input(shape=(6,), name="image"), an.Input(shape=(2,), name="extra")
    h = L.Dense(5, activation="relu")(image)
    h = L.Concatenate()([h, L.Dense(3, activation="relu")(extra)])
    digit = L.Dense(4, activation="softmax", name="digit")(h)
    odd = L.Dense(1, activation="sigmoid", name="odd")(h)
    m = an.Model(inputs=[image, extra], outputs=[digit, odd], seed=seed)
    if compiled:
        m.compile(optimizer="adam", loss={"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"},
                  loss_weights={"digit": 1.0, "odd": 0.5}, metrics={"digit": ["accuracy"]})
    return m


rng = np.random.default_rng(0)
X, E, y = rng.normal(size=(20, 6)), rng.normal(size=(20, 2)), rng.integers(0, 4, 20)


# -- Model(...) refuses graphs that are not models ----------------------------------------------

def test_a_cycle_is_refused_naming_its_layers():
    x = an.Input((3,), name="x")
    s = L.Add(name="a")([x, x])
    out = L.Dense(3, name="b")(s)
    s.node.inputs = [s.node.inputs[0], out]  # forge the cycle a -> b -> a that layer calls cannot make
    with pytest.raises(InputError, match=r"cycle through \['a', 'b'\]|cycle through \['b', 'a'\]"):
        an.Model(x, out)


def test_an_output_that_needs_an_input_not_given_is_refused():
    image, extra = an.Input((4,), name="image"), an.Input((2,), name="extra")
    out = L.Dense(1, name="out")(L.Concatenate(name="cat")([image, extra]))
    with pytest.raises(InputError, match=r"Graph disconnected: output 'out' needs input 'extra' .* through "
                                         r"out <- cat <- extra, but the model's inputs are \['image'\]"):
        an.Model(image, out)


def test_an_input_no_output_uses_is_refused():
    image, extra = an.Input((4,), name="image"), an.Input((2,), name="extra")
    with pytest.raises(InputError, match=r"input\(s\) \['extra'\] are not connected to any output"):
        an.Model([image, extra], L.Dense(1)(image))


def test_shape_clashes_are_refused_when_the_layer_is_called():
    a, b = an.Input((4,), name="a"), an.Input((3,), name="b")
    with pytest.raises(InputError, match=r"Calling <unnamed Add> \(Add\) on \['a', 'b'\] .* one sample shape, "
                                         r"got \[\(4,\), \(3,\)\]"):
        L.Add()([a, b])
    shared = L.Dense(2, name="shared")
    shared(a)
    with pytest.raises(InputError, match=r"shared \(Dense\) was first called on samples of shape \(4,\) .* now on "
                                         r"\[\(3,\)\] .*; a layer called twice shares its weights"):
        shared(b)
    with pytest.raises(InputError, match=r"Calling d2 \(Dropout\) on \['img'\] .*noise_shape \(None, 1\) does not "
                                         r"fit inputs of shape \(None, 4, 4\)"):
        L.Dropout(0.5, noise_shape=(None, 1), name="d2")(an.Input((4, 4), name="img"))


def test_two_layers_with_one_name_are_refused():
    x = an.Input((3,), name="x")
    with pytest.raises(InputError, match=r"Two layers in one model are named 'h'"):
        an.Model(x, L.Dense(1, name="h")(L.Dense(2, name="h")(x)))


def test_layers_are_called_on_symbolic_tensors_only():
    with pytest.raises(InputTypeError, match=r"is called on symbolic tensors .* got array"):
        L.Dense(2)(np.ones((3, 4)))
    with pytest.raises(InputError, match=r"merges a list of at least two tensors"):
        L.Add()(an.Input((3,)))


# -- compile, fit, evaluate, predict on graphs: bad input -------------------------------------------

@pytest.mark.parametrize("call, error, pattern", [
    (lambda m: m.compile("adam", loss={"digit": "mse", "odd": "mse", "even": "mse"}), InputError,
     r"loss has key\(s\) \['even'\] that name no output; the outputs are \['digit', 'odd'\]"),
    (lambda m: m.compile("adam", loss={"digit": "mse"}), InputError,
     r"loss has no entry for output\(s\) \['odd'\]"),
    (lambda m: m.compile("adam", loss=["mse"]), InputError, r"loss lists 1 entries for a model with 2 outputs"),
    (lambda m: m.fit({"image": X, "extra": E}, {"digit": y}, verbose=0), InputError,
     r"y is a dict with keys \['digit'\], but the model's outputs are \['digit', 'odd'\]; missing \['odd'\]"),
    (lambda m: m.fit({"image": X}, {"digit": y, "odd": y % 2}, verbose=0), InputError,
     r"X is a dict with keys \['image'\], but the model's inputs are \['image', 'extra'\]; missing \['extra'\]"),
    (lambda m: m.fit([X, E[:10]], [y, y % 2], verbose=0), InputError,
     r"The inputs hold different numbers of samples: \{\"X\['image'\]\": 20, \"X\['extra'\]\": 10\}"),
    (lambda m: m.fit([X, E], [y, (y % 2)[:5]], verbose=0), InputError,
     r"the inputs and y\['odd'\] hold different numbers of samples: the inputs have 20|"
     r"the inputs and y\['odd'\] hold different numbers of samples"),
    (lambda m: m.fit(X, [y, y % 2], verbose=0), InputError,
     r"The model has 2 inputs \['image', 'extra'\]; pass X as a list of 2 arrays in that order or a dict by name"),
    (lambda m: m.fit(m.inputs, [y, y % 2], verbose=0), InputTypeError,
     r"X\['image'\] is a symbolic tensor .* which holds no data; pass arrays"),
    (lambda m: m.predict([X[0], E[0]]), InputError,
     r"got X\['image'\] with shape \(6,\): one sample without a batch axis. Add one: X\['image'\]\[None\]"),
])
def test_bad_input_on_a_graph_is_refused_with_a_message(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(two_heads())


def test_a_symbolic_tensor_passed_to_fit_as_x():
    m = an.Sequential([L.Input((3,)), L.Dense(1)])
    m.compile("sgd", "mse")
    with pytest.raises(InputTypeError, match=r"X is a symbolic tensor"):
        m.fit(an.Input((3,)), np.zeros(3))


def test_one_sample_without_a_batch_axis_says_how_to_add_one():
    m = an.Sequential([L.Input((20,)), L.Dense(1)], seed=0)
    with pytest.raises(InputError, match=r"got X with shape \(20,\): one sample without a batch axis. "
                                         r"Add one: X\[None\] or reshape\(1, -1\)"):
        m.predict(np.zeros(20))
    assert m.predict(np.zeros(20)[None]).shape == (1, 1)


# -- summary, build, count_params ---------------------------------------------------------------

def test_summary_prints_keras_table_with_connected_to(capsys):
    m = two_heads()
    m.summary()
    out = capsys.readouterr().out
    assert re.search(r"Layer \(type\)\s+Output Shape\s+Param #\s+Connected to", out)
    assert re.search(r"concatenate \(Concatenate\)\s+\(None, 8\)\s+0\s+dense\[0\]\[0\], dense_1\[0\]\[0\]", out)
    assert re.search(r"digit \(Dense\)\s+\(None, 4\)\s+36\s+concatenate\[0\]\[0\]", out)
    n = 6 * 5 + 5 + 2 * 3 + 3 + 8 * 4 + 4 + 8 + 1
    assert f"Total params: {n:,}" in out and m.count_params() == n and not m.built


@pytest.mark.parametrize("how", ["input", "input_shape", "build"])
def test_summary_works_as_soon_as_the_input_shape_is_known(capsys, how):
    if how == "input":
        m = an.Sequential([L.Input((20,)), L.Dense(4), L.Dense(1)])
    elif how == "input_shape":
        m = an.Sequential([L.Dense(4, input_shape=(20,)), L.Dense(1)])
    else:
        m = an.Sequential([L.Dense(4), L.Dense(1)]).build((None, 20))
    m.summary()
    out = capsys.readouterr().out
    assert "Connected to" not in out and re.search(r"dense \(Dense\)\s+\(None, 4\)\s+84", out)
    assert "Total params: 89" in out and m.count_params() == 89


@pytest.mark.parametrize("shape", [784, (784,), (None, 784), [None, 784]])
def test_build_takes_keras_forms(shape):
    m = an.Sequential([L.Dense(2)]).build(shape)
    assert m.input_shape == (784,) and m.count_params() == 784 * 2 + 2


@pytest.mark.parametrize("shape, pattern", [(None, r"input shape is unknown"), ("784", r"positive ints"),
                                            ((None,), r"positive ints"), ((0,), r"at least one value")])
def test_build_refuses_shapes_it_cannot_read(shape, pattern):
    with pytest.raises(InputError, match=pattern):
        an.Sequential([L.Dense(2)]).build(shape)


def test_public_methods_show_their_real_signatures():
    for method, names in [("fit", ["x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
                                   "validation_data", "shuffle", "class_weight", "sample_weight",
                                   "initial_epoch"]),
                          ("evaluate", ["x", "y", "batch_size", "verbose", "sample_weight", "return_dict"]),
                          ("predict", ["x", "batch_size", "verbose"]),
                          ("compile", ["optimizer", "loss", "loss_weights", "metrics"])]:
        params = inspect.signature(getattr(an.Sequential, method)).parameters
        assert list(params)[1:len(names) + 1] == names, (method, list(params))
        assert not any(p.kind is p.VAR_KEYWORD for p in params.values()), method


def test_evaluate_prints_a_keras_line_by_default(capsys):
    m = two_heads()
    m.evaluate([X, E], [y, y % 2])
    assert re.fullmatch(r"1/1 \[=+\] - \d+s \d+(ms|us)/step - loss: \S+ - digit_loss: \S+ - odd_loss: \S+ - "
                        r"digit_accuracy: \S+\n", capsys.readouterr().out)
    m.evaluate([X, E], [y, y % 2], verbose=0)
    assert capsys.readouterr().out == ""


# -- shared weights and looking inside --------------------------------------------------------------

def test_a_model_of_another_models_layers_shares_its_weights():
    seq = an.Sequential([L.Input((4,)), L.Dense(3, activation="sigmoid"), L.Dense(1, activation="sigmoid")], seed=1)
    seq.compile(optimizer="sgd", loss="mse")
    Xs = rng.normal(size=(8, 4))
    inside = an.Model(seq.inputs, [layer.output for layer in seq.layers])
    seq.fit(Xs, rng.random(8), epochs=3, verbose=0)
    a1, a2, h = inside.predict(Xs)
    np.testing.assert_array_equal(a1, Xs.astype("float32"))
    W1, b1, W2, b2 = seq.get_weights()
    np.testing.assert_allclose(a2, 1 / (1 + np.exp(-(Xs @ W1 + b1))), rtol=1e-6)
    np.testing.assert_array_equal(h, seq.predict(Xs))
    assert inside.count_params() == seq.count_params() == 19


def test_a_shared_layer_is_one_layer_and_get_layer_finds_it():
    x1, x2 = an.Input((3,), name="x1"), an.Input((3,), name="x2")
    shared = L.Dense(2, name="shared")
    m = an.Model([x1, x2], L.Add()([shared(x1), shared(x2)]))
    assert m.get_layer("shared") is shared and m.count_params() == 8
    with pytest.raises(InputError, match=r"shared was called 2 times, so its output is ambiguous"):
        shared.output
    assert shared.get_output_at(1).shape == (None, 2)
    with pytest.raises(InputError, match=r"no layer named 'nope'; the layers are \['x1', 'x2', 'shared', 'add'\]"):
        m.get_layer("nope")


def test_outputs_given_as_a_dict_come_back_as_a_dict():
    x = an.Input((3,), name="x")
    m = an.Model({"x": x}, {"a": L.Dense(2, name="a")(x), "b": L.Dense(1, name="b")(x)}, seed=0)
    out = m.predict({"x": np.ones((2, 3))})
    assert set(out) == {"a", "b"} and out["a"].shape == (2, 2)


def test_functional_and_sequential_models_load_back_bit_exactly(tmp_path):
    m = two_heads()
    m.fit({"image": X, "extra": E}, {"digit": y, "odd": y % 2}, epochs=2, batch_size=8, verbose=0)
    m.save(tmp_path / "f.anynet")
    r = an.load(tmp_path / "f.anynet")
    assert isinstance(r, an.Model) and not isinstance(r, an.Sequential)
    np.testing.assert_array_equal(r.params, m.params)
    np.testing.assert_array_equal(r.opt_state["v"], m.opt_state["v"])
    assert r.evaluate([X, E], [y, y % 2], return_dict=True, verbose=0) == m.evaluate(
        [X, E], [y, y % 2], return_dict=True, verbose=0)
    fresh = two_heads(seed=5)
    fresh.load_weights(tmp_path / "f.anynet")
    np.testing.assert_array_equal(fresh.params, m.params)


def test_objective_set_params_writes_scipys_result_back():
    import scipy.optimize

    m = an.Sequential([L.Dense(1)], seed=0)
    m.compile("sgd", "mse")
    Xs = rng.normal(size=(30, 3))
    obj = an.optimize.Objective(m, Xs, Xs @ np.array([1.0, -2.0, 0.5]) + 0.25)
    res = scipy.optimize.minimize(obj.fun_and_jac, obj.x0, jac=True, method="L-BFGS-B")
    assert not np.allclose(m.get_weights()[0].ravel(), [1.0, -2.0, 0.5], atol=1e-3)  # not written back yet
    obj.set_params(res.x)
    np.testing.assert_allclose(m.get_weights()[0].ravel(), [1.0, -2.0, 0.5], atol=1e-3)
    np.testing.assert_allclose(m.get_weights()[1], [0.25], atol=1e-3)
