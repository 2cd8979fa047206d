"""Functional models on every backend: a two-input, two-output graph (a shared layer, every
merge layer) against a NumPy float64 forward pass written out here, its gradient against
central differences, training with per-output losses, and files that resume bit-exactly."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an

from ._helpers import TOL, assert_close, get, put, same_place

L = an.layers


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    A, B = rng.normal(size=(n, 5)), rng.normal(size=(n, 3))
    digit = (A[:, 0] > 0).astype(int) + (B[:, 0] > 0).astype(int)  # 0, 1, 2
    odd = (A[:, 1] * B[:, 1] > 0).astype(np.float64)
    return A, B, digit, odd


def _graph(backend, dtype="float64", seed=3, merge=L.Add, lr=0.001):
    """a -> shared(4), b -> dense(4) -> shared(4) ... two heads from a concatenation."""
    a, b = an.Input((5,), name="a"), an.Input((3,), name="b")
    shared = L.Dense(4, activation="tanh", name="shared")
    ha = shared(L.Dense(4, activation="relu", name="pa")(a))
    hb = shared(L.Dense(4, activation="sigmoid", name="pb")(b))
    h = L.Concatenate(name="cat")([merge(name="merge")([ha, hb]), ha])
    digit = L.Dense(3, activation="softmax", name="digit")(h)
    odd = L.Dense(1, activation="sigmoid", name="odd")(h)
    m = an.Model([a, b], [digit, odd], seed=seed, dtype=dtype, backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=an.optimizers.Adam(lr), loss={"digit": "sparse_categorical_crossentropy", "odd": "binary_crossentropy"},
              loss_weights={"digit": 1.0, "odd": 0.5}, metrics={"digit": ["accuracy"], "odd": ["accuracy"]})
    return m


def _np_merge(kind, x, y):
    return {"Add": x + y, "Subtract": x - y, "Multiply": x * y, "Average": (x + y) / 2,
            "Maximum": np.maximum(x, y)}[kind]


def _reference(w, A, B, kind):
    """The same graph written out in NumPy float64 from Keras-order weights."""
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    pa = np.maximum(A @ w["pa"][0] + w["pa"][1], 0)
    pb = sig(B @ w["pb"][0] + w["pb"][1])
    ha, hb = np.tanh(pa @ w["shared"][0] + w["shared"][1]), np.tanh(pb @ w["shared"][0] + w["shared"][1])
    h = np.concatenate([_np_merge(kind, ha, hb), ha], axis=1)
    z = h @ w["digit"][0] + w["digit"][1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True), sig(h @ w["odd"][0] + w["odd"][1])


def _weights(m):
    flat = m.get_weights()
    names = [layer.name for layer in m.layers if layer._has_params()]
    return {n: (flat[2 * i].astype(np.float64), flat[2 * i + 1].astype(np.float64)) for i, n in enumerate(names)}


@pytest.mark.parametrize("merge", ["Add", "Subtract", "Multiply", "Average", "Maximum"])
def test_forward_matches_the_numpy_reference(backend, dtype, merge):
    A, B, _, _ = _data()
    m = _graph(backend, dtype, merge=getattr(L, merge))
    digit, odd = m.predict([put(backend, A), put(backend, B)])
    same_place(backend, digit, dtype)
    ref_digit, ref_odd = _reference(_weights(m), A.astype(dtype).astype(np.float64),
                                    B.astype(dtype).astype(np.float64), merge)
    assert_close(backend, digit, ref_digit, dtype, scale=10)  # a dozen layers deep: a few roundings more
    assert_close(backend, odd, ref_odd, dtype, scale=10)


@pytest.mark.parametrize("merge", ["Add", "Multiply", "Maximum"])
def test_gradient_of_two_branches_and_two_outputs_agrees_with_finite_differences(backend, merge):
    A, B, digit, odd = _data(n=12)
    m = _graph(backend, "float64", merge=getattr(L, merge))
    res = an.gradcheck(m, {"a": put(backend, A), "b": put(backend, B)},
                       {"digit": put(backend, digit), "odd": put(backend, odd)}, epsilon=1e-5)
    assert res.rel_diff < 1e-9, res.rel_diff


def test_loss_is_the_weighted_sum_of_the_outputs_losses(backend):
    A, B, digit, odd = _data()
    m = _graph(backend)
    p_digit, p_odd = _reference(_weights(m), A, B, "Add")
    ce = -np.mean(np.log(p_digit[np.arange(len(digit)), digit]))
    bce = -np.mean(odd * np.log(p_odd[:, 0]) + (1 - odd) * np.log(1 - p_odd[:, 0]))
    r = m.evaluate([put(backend, A), put(backend, B)], [put(backend, digit), put(backend, odd)], return_dict=True,
                   verbose=0)
    np.testing.assert_allclose([r["loss"], r["digit_loss"], r["odd_loss"]], [ce + 0.5 * bce, ce, bce],
                               rtol=TOL["float64"]["rtol"] * 100)
    assert set(r) == {"loss", "digit_loss", "odd_loss", "digit_accuracy", "odd_accuracy"}


def test_fit_learns_both_heads_with_keras_history_keys(backend):
    A, B, digit, odd = _data(n=200)
    m = _graph(backend, "float32", lr=0.02)
    h = m.fit({"a": put(backend, A), "b": put(backend, B)}, {"digit": put(backend, digit), "odd": put(backend, odd)},
              epochs=30, batch_size=32, validation_split=0.2, verbose=0)
    assert list(h.history) == ["loss", "digit_loss", "odd_loss", "digit_accuracy", "odd_accuracy", "val_loss",
                               "val_digit_loss", "val_odd_loss", "val_digit_accuracy", "val_odd_accuracy"]
    assert h.history["digit_accuracy"][-1] > 0.8 and h.history["loss"][-1] < h.history["loss"][0]
    same_place(backend, m.params, "float32")


def test_a_shared_layer_has_one_set_of_weights(backend):
    m = _graph(backend)
    m.build()
    shared = [s for s in m.layout if m.layers[s.layer].name == "shared"]
    assert [(s.name, s.shape) for s in shared] == [("W", (4, 4)), ("b", (4,))]


def test_functional_model_saves_loads_and_resumes_bit_exactly(backend, tmp_path):
    A, B, digit, odd = _data(n=64)
    X = {"a": put(backend, A), "b": put(backend, B)}
    y = {"digit": put(backend, digit), "odd": put(backend, odd)}
    kw = dict(batch_size=16, verbose=0)
    straight = _graph(backend, "float32")
    h_straight = straight.fit(X, y, epochs=4, **kw)
    first = _graph(backend, "float32")
    first.fit(X, y, epochs=2, callbacks=[an.ModelCheckpoint(tmp_path / "ck-{epoch}.anynet")], **kw)
    loaded = an.load(tmp_path / "ck-2.anynet", backend=backend.backend.name, device=backend.device)
    np.testing.assert_array_equal(get(backend, loaded.params), get(backend, first.params))
    for mine, theirs in zip(loaded.predict(X), first.predict(X)):
        np.testing.assert_array_equal(get(backend, mine), get(backend, theirs))
    assert loaded.output_names == ["digit", "odd"] and loaded.input_names == ["a", "b"]
    resumed = _graph(backend, "float32", seed=99)
    h_resumed = resumed.fit(X, y, epochs=4, resume_from=tmp_path / "ck-2.anynet", **kw)
    np.testing.assert_array_equal(get(backend, resumed.params), get(backend, straight.params))
    assert h_resumed.history == h_straight.history
