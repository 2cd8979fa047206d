"""Sequential on every backend: initial weights, dtypes, forward values, gradients,
predict/evaluate, placement, weights in and out."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import anynet as an
from anynet.errors import InputError
from anynet.params import deserialize, serialize

from ._helpers import GRADCHECK_MAX, TOL, assert_close, get, put, same_place

L = an.layers


def _mlp(backend, dtype="float64", seed=3, **kw):
    return an.Sequential([L.Dense(5, activation="sigmoid", **kw), L.Dense(3, activation="softmax")],
                         seed=seed, dtype=dtype, backend=backend.backend.name, device=backend.device)


def _data(n=40, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, k, n)


def _reference_forward(weights, X):
    W1, b1, W2, b2 = weights
    A = expit(X @ W1 + b1)
    Z = A @ W2 + b2
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def test_initial_weights_are_bit_identical_to_numpy(backend, dtype):
    ref = an.Sequential([L.Dense(5), L.Dense(2, kernel_initializer="he_normal", bias_initializer="standard_normal")],
                        seed=11, dtype=dtype).build((4,))
    model = an.Sequential([L.Dense(5), L.Dense(2, kernel_initializer="he_normal", bias_initializer="standard_normal")],
                          seed=11, dtype=dtype, backend=backend.backend.name, device=backend.device).build((4,))
    same_place(backend, model.params, dtype)
    for a, b in zip(ref.get_weights(), model.get_weights()):
        assert a.dtype == b.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(a, b)


def test_forward_matches_the_numpy_reference(backend, dtype):
    X, _ = _data()
    model = _mlp(backend, dtype)
    out = model.predict(put(backend, X, dtype))
    same_place(backend, out, dtype)
    ref = _reference_forward([w.astype(np.float64) for w in model.get_weights()], X.astype(dtype).astype(np.float64))
    assert_close(backend, out, ref, dtype)


def test_uint8_and_int_inputs_are_cast_to_the_model_dtype(backend, dtype):
    X = np.random.default_rng(1).integers(0, 255, size=(10, 4)).astype(np.uint8)
    model = _mlp(backend, dtype)
    for arr in (put(backend, X), put(backend, X.astype(np.int64))):
        out = model.predict(arr)
        same_place(backend, out, dtype)
    host = model.predict(X)
    assert isinstance(host, np.ndarray) and host.dtype == np.dtype(dtype)


def test_loss_and_gradient_match_numpy_float64(backend):
    X, y = _data()
    ref = an.Sequential([L.Dense(5, activation="sigmoid"), L.Dense(3, activation="softmax")], seed=3, dtype="float64")
    ref.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    l_ref, g_ref = ref.loss_and_grad(X, y)
    model = _mlp(backend)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    loss, g = model.loss_and_grad(put(backend, X), put(backend, y))
    same_place(backend, g, "float64")
    assert_close(backend, loss, float(l_ref), "float64")
    assert_close(backend, g, g_ref, "float64")


NETWORKS = {
    "sigmoid-bce": ([L.Dense(4, activation="tanh"), L.Dense(2, activation="sigmoid")], "binary_crossentropy", 2),
    "ex4-sum-bce": ([L.Dense(4, activation="sigmoid"), L.Dense(3, activation="sigmoid")],
                    an.losses.BinaryCrossentropy(output_reduction="sum"), 3),
    "softmax-cce": ([L.Dense(4, activation="relu"), L.Dense(3), L.Activation("softmax")], "categorical_crossentropy", 3),
    "logits-cce": ([L.Dense(4, activation="elu"), L.Dense(3)], an.losses.CategoricalCrossentropy(from_logits=True), 3),
    "mse-no-bias": ([L.Dense(4, activation="softplus", use_bias=False), L.Dense(2, activation="leaky_relu")], "mse", 2),
    "mae": ([L.Dense(4, activation="tanh"), L.Dense(2)], "mae", 2),
    "quadratic": ([L.Dense(4, activation="sigmoid"), L.Dense(2, activation="sigmoid")], "quadratic", 2),
    "regularized": ([L.Dense(4, activation="tanh", kernel_regularizer=an.regularizers.L1L2(0.01, 0.02),
                             bias_regularizer="l2"), L.Dense(3, activation="softmax")], "categorical_crossentropy", 3),
    "dropout": ([L.Dense(6, activation="tanh"), L.Dropout(0.4), L.Dense(3, activation="softmax")],
                "categorical_crossentropy", 3),
    "flatten": ([L.Flatten(), L.Dense(4, activation="sigmoid"), L.Dense(2, activation="log_softmax")], "mse", 2),
}


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_gradient_check_float64(backend, name):
    """Backprop of every layer, activation, loss and regularizer agrees with central differences."""
    layers, loss, k = NETWORKS[name]
    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 2, 3)) if name == "flatten" else rng.normal(size=(12, 6))
    if isinstance(loss, str) and "categorical" in loss or getattr(loss, "name", "") == "categorical_crossentropy":
        y = np.eye(k)[rng.integers(0, k, 12)]
    elif name in ("sigmoid-bce", "ex4-sum-bce"):
        y = rng.integers(0, 2, (12, k)).astype(float)
    else:
        y = rng.normal(size=(12, k))
    model = an.Sequential([type(l)(**{kk: v for kk, v in l.get_config().items() if kk != "name"}) for l in layers],
                          seed=2, dtype="float64", backend=backend.backend.name, device=backend.device)
    model.compile(optimizer="sgd", loss=loss)
    result = an.gradcheck(model, put(backend, X), put(backend, y))
    assert result.rel_diff < GRADCHECK_MAX, (name, result.rel_diff)


def test_gradient_check_can_sample_coordinates(backend):
    X, y = _data()
    model = _mlp(backend)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    r = an.gradcheck(model, put(backend, X), put(backend, y), n_coords=7, seed=1)
    assert len(r.coords) == 7 and r.rel_diff < GRADCHECK_MAX


def test_a_wrong_gradient_is_caught(backend):
    """The check itself can fail: a gradient off by a factor is reported."""
    from anynet.gradcheck import check_gradient

    xp = backend.xp
    theta = put(backend, [0.3, -1.2, 2.0])
    r = check_gradient(lambda t: (xp.sum(t * t * t), 2.9 * t * t), theta, to_numpy=backend.backend.to_numpy)
    assert r.rel_diff > 1e-3


def test_evaluate_matches_numpy_and_returns_floats(backend, dtype):
    X, y = _data()
    results = []
    for b in ("numpy", backend.backend.name):
        m = an.Sequential([L.Dense(5, activation="sigmoid"), L.Dense(3, activation="softmax")], seed=3, dtype=dtype,
                          backend=b, device=None if b == "numpy" else backend.device)
        m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        Xb = X if b == "numpy" else put(backend, X)
        yb = y if b == "numpy" else put(backend, y)
        results.append(m.evaluate(Xb, yb, batch_size=16))
    ref, got = results
    assert all(type(v) is float for v in got)
    np.testing.assert_allclose(got, ref, rtol=TOL[dtype]["rtol"] * 10)  # batch sums in another order


def test_predict_in_batches_equals_one_pass(backend):
    X, _ = _data(n=50)
    model = _mlp(backend)
    Xd = put(backend, X)
    assert_close(backend, model.predict(Xd, batch_size=7), get(backend, model.predict(Xd)), "float64")


def test_outputs_and_params_stay_on_the_input_device(backend):
    X, y = _data()
    model = an.Sequential([L.Dense(4, activation="relu"), L.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(put(backend, X), put(backend, y), epochs=1, batch_size=8, verbose=0)
    assert model.placement.backend is backend.backend
    same_place(backend, model.params, "float32")
    same_place(backend, model.predict(put(backend, X)), "float32")


def test_weights_round_trip(backend, dtype):
    model = _mlp(backend, dtype).build((4,))
    weights = [w * 2 for w in model.get_weights()]
    model.set_weights(weights)
    for a, b in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    flat = serialize([put(backend, w) for w in weights], backend.xp)
    assert_close(backend, flat, get(backend, model.params), dtype)
    parts = deserialize(model.params, [w.shape for w in weights], backend.xp)
    for a, b in zip(parts, weights):
        assert_close(backend, a, b, dtype)
    with pytest.raises(InputError, match=r"set_weights: dense.W has shape \(4, 5\), got an array of shape \(5, 4\)"):
        model.set_weights([weights[0].T, *weights[1:]])


def test_set_weights_builds_an_unbuilt_model(backend):
    model = _mlp(backend)
    W1, b1, W2, b2 = np.ones((7, 5)), np.zeros(5), np.ones((5, 3)), np.zeros(3)
    model.set_weights([W1, b1, W2, b2])
    assert model.input_shape == (7,) and model.count_params() == 7 * 5 + 5 + 5 * 3 + 3
    same_place(backend, model.params, "float64")


def test_dropout_is_inverted_and_off_at_inference(backend):
    model = an.Sequential([L.Dropout(0.25)], seed=0, dtype="float64", backend=backend.backend.name,
                          device=backend.device).build((2000,))
    X = put(backend, np.ones((4, 2000)))
    np.testing.assert_array_equal(get(backend, model.predict(X)), 1.0)
    ctx = model.context(training=True)
    Y, backprop = model.layers[0].forward(None, X, ctx)
    y = get(backend, Y)
    assert set(np.unique(y)) <= {0.0, 1.0 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(get(backend, backprop(X)), y)  # dX = dY * the same mask
