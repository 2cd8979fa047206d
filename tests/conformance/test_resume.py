"""Saving, loading and resuming on every backend: files move between backends bit-exactly,
and an interrupted run resumed from a checkpoint ends where an uninterrupted one does."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an

from ._helpers import get, put, same_place

L = an.layers


def _data(n=80, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, (X[:, 0] - 0.5 * X[:, 1] > 0).astype(np.float64)


def _model(backend, dtype="float32", seed=4):
    m = an.Sequential([L.Dense(8, activation="relu"), L.Dropout(0.3), L.Dense(1, activation="sigmoid")],
                      seed=seed, dtype=dtype, backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=an.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    return m


def test_interrupted_and_resumed_equals_uninterrupted(backend, tmp_path):
    """4 epochs straight vs. 2 epochs, a checkpoint, a new model, and resume_from: bit-identical."""
    X, y = _data()
    Xd, yd = put(backend, X), put(backend, y)
    kw = dict(batch_size=16, validation_split=0.25, verbose=0)
    straight = _model(backend)
    h_straight = straight.fit(Xd, yd, epochs=4, **kw)
    first = _model(backend)
    first.fit(Xd, yd, epochs=2, callbacks=[an.ModelCheckpoint(tmp_path / "ck-{epoch}.anynet")], **kw)
    resumed = _model(backend, seed=99)  # the file's generators replace the seed's
    h_resumed = resumed.fit(Xd, yd, epochs=4, resume_from=tmp_path / "ck-2.anynet", **kw)
    np.testing.assert_array_equal(get(backend, resumed.params), get(backend, straight.params))
    for k in ("m", "v"):
        np.testing.assert_array_equal(get(backend, resumed.opt_state[k]), get(backend, straight.opt_state[k]))
    assert h_resumed.history == h_straight.history and h_resumed.epoch == [0, 1, 2, 3]
    same_place(backend, resumed.params, "float32")


def test_file_moves_to_numpy_and_back_bit_exactly(backend, tmp_path, dtype):
    X, y = _data()
    m = _model(backend, dtype)
    m.fit(put(backend, X), put(backend, y), epochs=2, batch_size=16, verbose=0)
    m.save(tmp_path / "here.anynet")
    host = an.load(tmp_path / "here.anynet", backend="numpy")
    np.testing.assert_array_equal(host.params, get(backend, m.params))
    np.testing.assert_array_equal(host.opt_state["v"], get(backend, m.opt_state["v"]))
    host.save(tmp_path / "host.anynet")
    back = an.load(tmp_path / "host.anynet", backend=backend.backend.name, device=backend.device)
    same_place(backend, back.params, dtype)
    same_place(backend, back.opt_state["m"], dtype)
    np.testing.assert_array_equal(get(backend, back.params), get(backend, m.params))
    np.testing.assert_array_equal(get(backend, back.predict(put(backend, X))), get(backend, m.predict(put(backend, X))))


def test_loaded_model_continues_the_dropout_stream(backend, tmp_path):
    """Loaded on its own backend and device, the model draws the masks the original would."""
    X, y = _data()
    m = _model(backend)
    m.fit(put(backend, X), put(backend, y), epochs=1, batch_size=16, verbose=0)
    m.save(tmp_path / "m.anynet")
    r = an.load(tmp_path / "m.anynet", backend=backend.backend.name, device=backend.device)
    a = m.rng.bernoulli((64,), 0.5, dtype="float32")
    b = r.rng.bernoulli((64,), 0.5, dtype="float32")
    np.testing.assert_array_equal(get(backend, a), get(backend, b))


def test_load_weights_keeps_the_model_where_it_is(backend, tmp_path):
    X, y = _data()
    src = an.Sequential([L.Dense(3, activation="tanh"), L.Dense(1)], seed=1).build((5,))
    src.save(tmp_path / "w.anynet")
    m = an.Sequential([L.Dense(3, activation="tanh"), L.Dense(1)], seed=2, backend=backend.backend.name,
                      device=backend.device).build((5,))
    m.load_weights(tmp_path / "w.anynet")
    same_place(backend, m.params, "float32")
    np.testing.assert_array_equal(get(backend, m.params), src.params)
    with pytest.raises(an.errors.SaveFileError, match=r"Layers must match"):
        an.Sequential([L.Dense(4), L.Dense(1)], backend=backend.backend.name, device=backend.device).load_weights(
            tmp_path / "w.anynet")
