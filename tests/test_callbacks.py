"""The callbacks users expect next to EarlyStopping, driven through fit as Keras' own tests
drive them: ReduceLROnPlateau, LearningRateScheduler, CSVLogger, TerminateOnNaN."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

import anynet as an
from anynet.callbacks import CSVLogger, LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN
from anynet.errors import InputError, NonFiniteLossError


def _model(optimizer=None):
    rng = np.random.default_rng(0)
    X, Xv = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    y, yv = np.eye(2)[rng.integers(0, 2, 10)], np.eye(2)[rng.integers(0, 2, 10)]
    m = an.Sequential([an.layers.Dense(5), an.layers.Dense(2)], seed=0)
    m.compile(optimizer=optimizer or an.optimizers.Adam(0.1), loss="mse")
    return m, X, y, (Xv, yv)


@pytest.mark.parametrize("kwargs, epochs, lr", [
    ({}, 2, 0.01),  # Keras' test_reduces_lr_with_model_fit
    ({"min_lr": 0.005, "min_delta": 10}, 4, 0.005),  # test_honors_min_lr
    ({"cooldown": 2}, 4, 0.001),  # test_cooldown: reduced at epochs 2 and 4 only
])
def test_reduce_lr_on_plateau(kwargs, epochs, lr):
    m, X, y, val = _model()
    cb = ReduceLROnPlateau(**{"patience": 1, "factor": 0.1, "monitor": "val_loss", "min_delta": 100, **kwargs})
    m.fit(X, y, validation_data=val, callbacks=[cb], epochs=epochs, verbose=0)
    assert m.optimizer.learning_rate == pytest.approx(lr, rel=1e-12)


def test_reduce_lr_resets_at_train_begin_and_refuses_schedules():
    cb = ReduceLROnPlateau(monitor="loss", patience=1, cooldown=2)
    cb.best, cb.wait, cb.cooldown_counter = 0.5, 3, 2
    cb.on_train_begin()
    assert (cb.best, cb.wait, cb.cooldown_counter) == (None, 0, 0)
    m, X, y, val = _model(an.optimizers.Adam(an.optimizers.ExponentialDecay(0.1, 10, 0.5)))
    with pytest.raises(InputError, match="schedule"):
        m.fit(X, y, validation_data=val, callbacks=[ReduceLROnPlateau(patience=1, min_delta=100)], epochs=2,
              verbose=0)
    with pytest.raises(InputError, match="factor"):
        ReduceLROnPlateau(factor=1.0)


def test_reduce_lr_logs_the_rate_and_needs_its_key(capsys):
    m, X, y, val = _model()
    seen = []
    after = an.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(logs["learning_rate"]))
    cb = ReduceLROnPlateau(patience=1, min_delta=100, verbose=1)
    m.fit(X, y, validation_data=val, callbacks=[cb, after], epochs=2, verbose=0)
    assert seen == pytest.approx([0.1, 0.1])  # the rate the epoch ran with, before the reduction
    assert "ReduceLROnPlateau reducing learning rate to 0.01" in capsys.readouterr().out
    with pytest.raises(InputError, match="val_loss"):
        m.fit(X, y, callbacks=[ReduceLROnPlateau()], epochs=1, verbose=0)


def test_learning_rate_scheduler():
    """Keras' tests: schedule(epoch) sets the rate at each epoch's start; schedule(epoch, lr)
    may depend on the rate before."""
    m, X, y, _ = _model(an.optimizers.SGD())
    m.fit(X, y, callbacks=[LearningRateScheduler(lambda step: 1.0 / (2.0 + step))], epochs=1, verbose=0)
    assert m.optimizer.learning_rate == 0.5
    m, X, y, _ = _model(an.optimizers.SGD(0.03))
    m.fit(X, y, callbacks=[LearningRateScheduler(lambda step, lr: lr / 2)], epochs=2, verbose=0)
    assert m.optimizer.learning_rate == pytest.approx(0.0075, rel=1e-15)
    with pytest.raises(InputError, match="finite number"):
        m.fit(X, y, callbacks=[LearningRateScheduler(lambda step: "fast")], epochs=1, verbose=0)


def test_the_scheduled_rate_is_the_one_the_optimizer_uses():
    """Training with the rate set per epoch equals training epoch by epoch at those rates."""
    rates = [0.2, 0.05, 0.01]
    m, X, y, _ = _model(an.optimizers.SGD(1.0))
    m.fit(X, y, epochs=3, shuffle=False, callbacks=[LearningRateScheduler(lambda e: rates[e])], verbose=0)
    ref, X, y, _ = _model(an.optimizers.SGD(1.0))
    for e, r in enumerate(rates):
        ref.optimizer.learning_rate = r
        ref.fit(X, y, epochs=e + 1, initial_epoch=e, shuffle=False, verbose=0)
    np.testing.assert_allclose(m.get_weights()[0], ref.get_weights()[0], rtol=1e-6)


def test_csv_logger(tmp_path):
    """One row per epoch, epoch counted from 0, sorted keys, the History's values; append adds
    rows without a second header."""
    path = tmp_path / "log.csv"
    m, X, y, val = _model()
    h = m.fit(X, y, validation_data=val, callbacks=[CSVLogger(path)], epochs=2, verbose=0)
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "loss", "val_loss"]
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], h.history["loss"], rtol=1e-12)
    m.fit(X, y, callbacks=[CSVLogger(path, separator=";", append=True)], epochs=1, verbose=0)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[0] == "epoch,loss,val_loss" and lines[3].count(";") == 2
    assert lines[3].endswith(";NA")  # no validation this time: Keras writes NA


class _Model:
    stop_training = False


@pytest.mark.parametrize("loss", [math.nan, math.inf])
def test_terminate_on_nan(loss, capsys):
    cb = TerminateOnNaN()
    cb.set_model(_Model())
    cb.on_epoch_end(0, {"loss": 1.0})
    assert not cb.model.stop_training
    cb.on_epoch_end(1, {"loss": loss})
    assert cb.model.stop_training and "invalid loss" in capsys.readouterr().out
    cb = TerminateOnNaN(raise_error=True)
    cb.set_model(_Model())
    with pytest.raises(NonFiniteLossError, match="batch 3"):
        cb.on_train_batch_end(3, {"loss": loss})


def test_an_epoch_of_skipped_batches_stops_fit_before_any_callback():
    """With on_nonfinite='skip', an epoch whose every batch went bad stops fit with an error
    naming the epoch (it used to log a NaN loss for TerminateOnNaN to catch, or run on)."""
    m, X, y, _ = _model(an.optimizers.SGD(1e30))
    seen = []
    with pytest.warns(RuntimeWarning, match="update was skipped"):
        with pytest.raises(NonFiniteLossError, match=r"Every batch of epoch \d+ \(\d+ of \d+\) gave a non-finite loss"):
            m.fit(X * 1e20, y, epochs=5, batch_size=10, on_nonfinite="skip", callbacks=[
                TerminateOnNaN(), an.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: seen.append(logs))],
                verbose=0)
    assert all(np.isfinite(logs["loss"]) for logs in seen)
