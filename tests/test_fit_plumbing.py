"""The fit loop's plumbing around callbacks and files: Keras' callback order, and what a
checkpoint written from inside an epoch holds."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet.callbacks import LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau

L = an.layers


def _model(optimizer=None):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    m = an.Sequential([L.Dense(2)], seed=0)
    m.compile(optimizer=optimizer or an.optimizers.SGD(0.1), loss="mse")
    return m, X, y


def test_history_records_what_the_users_callbacks_log():
    """As in Keras, History runs after the user's callbacks, so the learning rate that
    LearningRateScheduler and ReduceLROnPlateau write into the logs is in the History."""
    m, X, y = _model()
    h = m.fit(X, y, epochs=3, verbose=0, callbacks=[LearningRateScheduler(lambda e: 0.1 / (e + 1))])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3], rel=1e-15)
    m, X, y = _model()
    h = m.fit(X, y, epochs=3, verbose=0, callbacks=[ReduceLROnPlateau(monitor="loss", patience=1, min_delta=100)])
    assert h.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.01], rel=1e-12)
    assert list(h.history) == ["loss", "learning_rate"]


def test_checkpoint_holds_the_epoch_it_was_written_in(tmp_path):
    """A ModelCheckpoint runs before History records the epoch; the file still holds that epoch's
    logs, so a resumed run's History is whole."""
    m, X, y = _model()
    path = tmp_path / "ckpt.anynet"
    h = m.fit(X, y, epochs=3, verbose=0, callbacks=[ModelCheckpoint(path, save_best_only=False)])
    loaded = an.load(path)
    assert loaded.history.epoch == [0, 1, 2]
    assert loaded.history.history["loss"] == h.history["loss"]
    resumed, _, _ = _model()
    h2 = resumed.fit(X, y, epochs=5, verbose=0, resume_from=path)
    assert h2.epoch == [0, 1, 2, 3, 4] and h2.history["loss"][:3] == h.history["loss"]


def test_keras_fit_keywords_in_keras_order():
    """fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
    shuffle, class_weight, sample_weight, initial_epoch), positionally as in Keras."""
    m, X, y = _model()
    w = np.linspace(0.0, 1.0, 12)
    h = m.fit(X, y, 12, 1, 0, None, 0.0, None, False, None, w)
    ref, _, _ = _model()
    h_ref = ref.fit(X, y, batch_size=12, epochs=1, verbose=0, shuffle=False, sample_weight=w)
    assert h.history == h_ref.history
    assert m.evaluate(X, y, None, 0, w) == ref.evaluate(X, y, verbose=0, sample_weight=w)


def test_a_model_without_parameters_fits_evaluates_and_predicts():
    """Keras trains such a model as a no-op; anynet did so too until the empty gradient broke concat."""
    X = np.random.default_rng(0).normal(size=(20, 4)).astype("float32")
    model = an.Sequential([an.Input((4,)), an.layers.Dropout(0.5)], seed=0)
    model.compile("sgd", "mse")
    history = model.fit(X, X, epochs=2, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))
    assert model.count_params() == 0
    np.testing.assert_array_equal(model.predict(X), X)  # Dropout is the identity at inference
    assert model.evaluate(X, X, verbose=0) == 0.0
