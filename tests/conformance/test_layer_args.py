"""Keras' layer arguments on every backend: Dense on inputs of more than two axes,
``Dropout(rate, noise_shape, seed)``, and activations with arguments that survive
``get_config`` and saving. Each is checked against its formula written out in NumPy and
against the behaviour Keras documents (the cases of Keras' own Dense and Dropout tests,
in our words)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import anynet as an
from anynet.activations import ELU, LeakyReLU, ReLU, Softmax
from anynet.layers import Context
from anynet.params import Layout, Slots

from ._helpers import GRADCHECK_MAX, assert_close, get, put, same_place

L = an.layers


def _model(backend, layers, dtype="float64", seed=0):
    return an.Sequential(layers, seed=seed, dtype=dtype, backend=backend.backend.name, device=backend.device)


def _run(backend, layer, X, params, dtype):
    """Build ``layer`` on X's samples, run forward and backward; return host Y, dX, grads, dY and the out shape."""
    layout = Layout()
    out = layer.build(0, X.shape[1:], layout)
    P = Slots()
    for s in layout:
        P.values[s.name] = put(backend, params[s.name], dtype)
    ctx = Context(backend.xp, dtype=getattr(backend.xp, dtype))
    Y, backprop = layer.forward(P, put(backend, X, dtype), ctx)
    same_place(backend, Y, dtype)
    dY = np.random.default_rng(7).normal(size=tuple(Y.shape))
    dX = backprop(put(backend, dY, dtype))
    same_place(backend, dX, dtype)
    return get(backend, Y), get(backend, dX), {k: get(backend, v) for k, v in P.grads.items()}, dY, out


# -- Dense on inputs of more than two axes ---------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 5, 4), (3, 2, 5, 4)])
def test_dense_acts_on_the_last_axis(backend, dtype, shape):
    """Keras: (n, ..., f) -> (n, ..., units), one kernel (f, units) at every position; the
    backprop sums the kernel's and bias's gradients over every position."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=shape)
    params = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=(3,))}
    Y, dX, grads, dY, out = _run(backend, L.Dense(3, activation="tanh"), X, params, dtype)
    assert out == (*shape[1:-1], 3)
    Xr = X.astype(dtype).astype(np.float64)  # the reference sees the same rounded inputs
    Wr, br = (params[k].astype(dtype).astype(np.float64) for k in ("W", "b"))
    dYr = dY.astype(dtype).astype(np.float64)
    Z = np.einsum("...f,fu->...u", Xr, Wr) + br
    want_Y = np.tanh(Z)
    dZ = dYr * (1.0 - want_Y**2)
    lead = tuple(range(len(shape) - 1))
    assert_close(backend, put(backend, Y), want_Y, dtype)
    assert_close(backend, put(backend, grads["W"]), np.tensordot(Xr, dZ, axes=(lead, lead)), dtype, scale=10,
                 err_msg="dW")  # scale: a sum over every position, up to 30 terms of float32
    assert_close(backend, put(backend, grads["b"]), dZ.sum(axis=lead), dtype, scale=10, err_msg="db")
    assert_close(backend, put(backend, dX), np.einsum("...u,fu->...f", dZ, Wr), dtype, err_msg="dX")


def test_dense_in_a_model_keeps_keras_shapes(backend):
    """Keras' Dense test: inputs (2, 3, 4) and Dense(5) give outputs (2, 3, 5) and a kernel (4, 5)."""
    model = _model(backend, [L.Input((3, 4)), L.Dense(5)]).build()
    W, b = model.get_weights()
    assert W.shape == (4, 5) and b.shape == (5,) and model.output_shape == (3, 5) and model.count_params() == 25
    X = np.random.default_rng(2).normal(size=(2, 3, 4))
    Y = model.predict(put(backend, X))
    same_place(backend, Y, "float64")
    assert_close(backend, Y, np.einsum("ntf,fu->ntu", X, W) + b, "float64")


def test_dense_keras_correctness_case(backend):
    """Keras' Dense correctness case: kernel [[1, -2], [3, -4]], bias [5, -6], relu, input [[-1, 1]] -> [[7, 0]]."""
    model = _model(backend, [L.Input((2,)), L.Dense(2, activation="relu")]).build()
    model.set_weights([np.array([[1.0, -2.0], [3.0, -4.0]]), np.array([5.0, -6.0])])
    np.testing.assert_array_equal(get(backend, model.predict(put(backend, np.array([[-1.0, 1.0]])))), [[7.0, 0.0]])


@pytest.mark.parametrize("loss", ["mse", "categorical_crossentropy"])
def test_dense_on_sequences_passes_the_gradient_check(backend, loss):
    """Backprop through Dense on (n, t, f) (and a dropout mask shared over time) agrees with
    central differences in float64."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 4, 3))
    y = np.eye(3)[rng.integers(0, 3, (5, 4))] if loss != "mse" else rng.normal(size=(5, 4, 3))
    model = _model(backend, [L.Input((4, 3)), L.Dense(6, activation="tanh"),
                             L.Dropout(0.3, noise_shape=(None, 1, 6), seed=1),
                             L.Dense(3, activation="softmax" if loss != "mse" else None)], seed=2)
    model.compile(optimizer="sgd", loss=loss)
    result = an.gradcheck(model, put(backend, X), put(backend, y))
    assert result.rel_diff < GRADCHECK_MAX, result.rel_diff


# -- Dropout(rate, noise_shape, seed) --------------------------------------------------------

def _dropout(backend, layer, X, dtype="float64", seed=0, before=()):
    """Return (model, layer) for a model of ``before`` layers and ``layer`` on samples like X's."""
    model = _model(backend, [L.Input(X.shape[1:]), *before, layer], dtype=dtype, seed=seed).build()
    return model, layer


def _train(model, layer, X, dtype):
    """Return one training-mode pass of ``layer`` on X: (Y, dX for dY = X) as backend arrays."""
    Xd = put(model.placement, X, dtype)
    Y, backprop = layer.forward(None, Xd, model.context(training=True))
    return Y, backprop(Xd)


@pytest.mark.parametrize("noise_shape, mask_shape", [((None, 1, 4), (6, 1, 4)), ((1, None, None), (1, 5, 4)),
                                                     ((None, 5, 1), (6, 5, 1)), ((6, 1, 4), (6, 1, 4))])
def test_dropout_noise_shape_is_keras_formula(backend, dtype, noise_shape, mask_shape):
    """Keras: the mask has ``noise_shape`` (None: the input's size) and broadcasts over the axes
    given as 1; Y = where(mask, X / (1 - rate), 0). With ``seed``, the mask is the first draw of
    the adapter's generator seeded with it."""
    X = np.random.default_rng(4).uniform(0.5, 2.0, size=(6, 5, 4))
    model, layer = _dropout(backend, L.Dropout(0.4, noise_shape=noise_shape, seed=3), X, dtype)
    Y, dX = _train(model, layer, X, dtype)
    same_place(backend, Y, dtype)
    mask = get(backend, backend.backend.rng(3, backend.device).bernoulli(mask_shape, 0.6, dtype=dtype)) != 0
    Xr = X.astype(dtype).astype(np.float64)
    want = np.where(mask, Xr / 0.6, 0.0)
    assert_close(backend, Y, want, dtype)
    assert_close(backend, dX, want, dtype)  # dX = dY * the same mask, and dY = X here
    kept = get(backend, Y) != 0
    for axis, n in enumerate(noise_shape):
        if n == 1:  # one mask value along this axis
            assert (kept == np.take(kept, [0], axis=axis)).all()


def test_dropout_partial_noise_shape_keras_case(backend):
    """Keras' test: ones (20, 5, 10), rate 0.5, noise_shape (None, 1, None): every time step
    keeps the same units, each 0 or 2."""
    X = np.ones((20, 5, 10))
    model, layer = _dropout(backend, L.Dropout(0.5, noise_shape=(None, 1, None)), X)
    y = get(backend, _train(model, layer, X, "float64")[0])
    assert set(np.unique(y)) == {0.0, 2.0}
    for t in range(1, 5):
        np.testing.assert_array_equal(y[:, t, :], y[:, 0, :])


def _masks(backend, layer_args, X, seed, before=(), calls=2):
    model, layer = _dropout(backend, L.Dropout(*layer_args[:1], **layer_args[1]), X, seed=seed, before=before)
    return [get(backend, _train(model, layer, X, "float64")[0]) != 0 for _ in range(calls)]


def test_a_seeded_dropout_repeats_whatever_the_model_seed(backend):
    """Keras' seed: the masks come from the layer's own generator, started from its seed; the
    model's seed and other random layers do not change them, and each call draws anew."""
    X = np.ones((8, 50))
    seeded = (0.5, {"seed": 42})
    a = _masks(backend, seeded, X, seed=0)
    b = _masks(backend, seeded, X, seed=1, before=[L.Dropout(0.2)])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (a[0] != a[1]).any()  # the stream goes on from call to call
    assert (a[0] != _masks(backend, (0.5, {"seed": 43}), X, seed=0)[0]).any()
    # without a seed the masks are the model's: another model seed, other masks
    assert (_masks(backend, (0.5, {}), X, seed=0)[0] != _masks(backend, (0.5, {}), X, seed=1)[0]).any()


def test_seeded_generators_replay_exactly_from_a_saved_state(backend):
    """What fit's replay after a bad batch relies on: a saved state restores every stream."""
    X = np.ones((4, 30))
    model, layer = _dropout(backend, L.Dropout(0.5, seed=9), X, before=[L.Dropout(0.5)])
    other = model.layers[1]
    fresh = model.rng.get_state()  # before the seeded layer has drawn
    first = get(backend, _train(model, layer, X, "float64")[0])
    state = model.rng.get_state()
    after = [get(backend, _train(model, lyr, X, "float64")[0]) for lyr in (layer, other)]
    model.rng.set_state(state)
    np.testing.assert_array_equal([get(backend, _train(model, lyr, X, "float64")[0]) for lyr in (layer, other)],
                                  after)
    model.rng.set_state(fresh)  # the seeded layer starts again from its seed
    np.testing.assert_array_equal(get(backend, _train(model, layer, X, "float64")[0]), first)


def test_dropout_arguments_are_off_at_inference(backend):
    X = np.random.default_rng(5).normal(size=(4, 3, 2))
    model, _ = _dropout(backend, L.Dropout(0.5, noise_shape=(None, 1, 2), seed=1), X)
    np.testing.assert_array_equal(get(backend, model.predict(put(backend, X))), X)


# -- activations with arguments survive get_config and saving ---------------------------------

ACTIVATIONS = {
    "relu": ("relu", lambda z: np.maximum(z, 0.0)),
    "relu6": (ReLU(max_value=6.0), lambda z: np.clip(z, 0.0, 6.0)),
    "relu-slope-threshold": (ReLU(negative_slope=0.1, threshold=0.5),
                             lambda z: np.where(z > 0.5, z, 0.1 * (z - 0.5))),
    "leaky_relu": (LeakyReLU(0.3), lambda z: np.where(z > 0, z, 0.3 * z)),
    "elu": (ELU(0.5), lambda z: np.where(z > 0, z, 0.5 * np.expm1(z))),
    "softmax-time": (Softmax(axis=1), lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_arguments_survive_get_config(backend, name):
    """``type(layer)(**layer.get_config())`` is the same layer; the config holds the activation
    as JSON data (the name alone only where the name makes it, as Keras writes it)."""
    act, formula = ACTIVATIONS[name]
    for layer in (L.Dense(3, activation=act), L.Activation(act), L.Conv1D(3, 2, activation=act)):
        config = layer.get_config()
        again = type(layer)(**config)
        assert again.activation == layer.activation and again.get_config() == config
        assert json.loads(json.dumps(config["activation"])) == config["activation"]
        assert (config["activation"] == "relu") == (name == "relu")
    X = np.random.default_rng(6).normal(scale=4.0, size=(5, 4, 2))
    dense = L.Dense(3, activation=act)
    model = _model(backend, [L.Input((4, 2)), type(dense)(**dense.get_config())]).build()
    W, b = model.get_weights()
    assert_close(backend, model.predict(put(backend, X)), formula(np.einsum("ntf,fu->ntu", X, W) + b), "float64")


def test_new_arguments_survive_saving_and_resume(backend, tmp_path):
    """A model with Dense on sequences, ReLU(max_value=6), LeakyReLU(0.3) and a seeded dropout
    with a noise shape saves and loads with every argument; training resumed from the file
    ends bit-identically where an uninterrupted run does (the seeded layer's stream included)."""
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(32, 5, 4)), rng.normal(size=(32, 5, 2))

    def make(seed=4):
        m = _model(backend, [L.Input((5, 4)), L.Dense(8, activation=ReLU(max_value=6.0)),
                             L.Dropout(0.3, noise_shape=(None, 1, 8), seed=7), L.Activation(LeakyReLU(0.3)),
                             L.Dropout(0.2), L.Dense(2)], dtype="float32", seed=seed)
        m.compile(optimizer=an.optimizers.Adam(0.01), loss="mse")
        return m

    Xd, yd = put(backend, X), put(backend, y)
    kw = dict(batch_size=8, verbose=0)
    straight = make()
    straight.fit(Xd, yd, epochs=4, **kw)
    first = make()
    first.fit(Xd, yd, epochs=2, **kw)
    first.save(tmp_path / "m.anynet")
    loaded = an.load(tmp_path / "m.anynet", backend=backend.backend.name, device=backend.device)
    assert [repr(lyr.get_config()) for lyr in loaded.layers] == [repr(lyr.get_config()) for lyr in first.layers]
    assert loaded.layers[2].noise_shape == (None, 1, 8) and loaded.layers[2].seed == 7
    assert loaded.layers[1].activation == ReLU(max_value=6.0)
    np.testing.assert_array_equal(get(backend, loaded.predict(Xd)), get(backend, first.predict(Xd)))
    resumed = make(seed=99)
    resumed.fit(Xd, yd, epochs=4, resume_from=tmp_path / "m.anynet", **kw)
    np.testing.assert_array_equal(get(backend, resumed.params), get(backend, straight.params))
