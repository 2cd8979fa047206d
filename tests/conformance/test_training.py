"""The fit loop on every backend: same trajectory as NumPy, determinism, the NaN guard,
early stopping, callbacks and the progress line."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest

import anynet as an
from anynet.errors import NonFiniteLossError

from ._helpers import get, put, same_place

L = an.layers


def _data(n=96, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=n) > 0).astype(np.float64)
    return X, y


def _model(backend_name=None, device=None, dtype="float64", optimizer="adam", layers=None, seed=4):
    m = an.Sequential(layers or [L.Dense(6, activation="tanh"), L.Dense(1, activation="sigmoid")],
                      seed=seed, dtype=dtype, backend=backend_name, device=device)
    m.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
    return m


OPTIMIZERS = {
    "sgd-nesterov": lambda: an.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "rmsprop": lambda: an.optimizers.RMSprop(0.01),
    "adam": lambda: an.optimizers.Adam(0.01),
    "adamw": lambda: an.optimizers.AdamW(0.01, weight_decay=0.1),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_training_follows_the_numpy_trajectory(backend, dtype, opt):
    """Same seed, same shuffles (drawn on the host), same steps: the same weights."""
    X, y = _data()
    ref = _model(dtype=dtype, optimizer=OPTIMIZERS[opt]())
    h_ref = ref.fit(X, y, epochs=4, batch_size=16, verbose=0)
    model = _model(backend.backend.name, backend.device, dtype, OPTIMIZERS[opt]())
    h = model.fit(put(backend, X), put(backend, y), epochs=4, batch_size=16, verbose=0)
    # 24 optimizer steps compound rounding differences between BLAS builds, so the
    # comparison allows 100x the single-computation tolerance.
    tol = {"float64": 1e-10, "float32": 1e-3}[dtype]
    np.testing.assert_allclose(h.history["loss"], h_ref.history["loss"], rtol=tol)
    for a, b in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    same_place(backend, model.params, dtype)


def test_runs_are_deterministic_with_dropout(backend):
    X, y = _data()
    layers = lambda: [L.Dense(8, activation="relu"), L.Dropout(0.3), L.Dense(1, activation="sigmoid")]  # noqa: E731
    runs = []
    for _ in range(2):
        m = _model(backend.backend.name, backend.device, "float32", layers=layers())
        m.fit(put(backend, X), put(backend, y), epochs=3, batch_size=16, verbose=0)
        runs.append(get(backend, m.params))
    np.testing.assert_array_equal(*runs)


def test_history_validation_and_metrics(backend):
    X, y = _data()
    m = _model(backend.backend.name, backend.device)
    h = m.fit(put(backend, X), put(backend, y), epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    assert list(h.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert h.epoch == [0, 1, 2] and all(len(v) == 3 for v in h.history.values())
    assert all(type(v) is float for v in h.history["loss"])
    # validation_split holds out the last quarter, as Keras does
    val = m.evaluate(put(backend, X[72:]), put(backend, y[72:]), return_dict=True)
    assert val["loss"] == pytest.approx(h.history["val_loss"][-1], rel=1e-9)
    assert 0.0 <= h.history["accuracy"][-1] <= 1.0


def test_epoch_loss_is_the_sample_weighted_mean_of_batch_losses(backend):
    X, y = _data(n=50)
    m = _model(backend.backend.name, backend.device, optimizer=an.optimizers.SGD(1e-12))
    h = m.fit(put(backend, X), put(backend, y), epochs=1, batch_size=16, shuffle=False, verbose=0)
    # With a vanishing learning rate every batch sees the initial weights, so the epoch
    # loss equals the loss over all samples.
    full = m.evaluate(put(backend, X), put(backend, y), return_dict=True)
    assert h.history["loss"][0] == pytest.approx(full["loss"], rel=1e-9)


def _explode(backend, check_every):
    """A model whose loss turns non-finite after a few plain SGD steps."""
    X, y = _data(n=64)
    X = X * 50.0
    m = an.Sequential([L.Dense(4), L.Dense(1)], seed=1, dtype="float64", backend=backend.backend.name,
                      device=backend.device)
    m.compile(optimizer=an.optimizers.SGD(5.0), loss="mse")
    return m, X, y


@pytest.mark.parametrize("check_every", [1, 4])
def test_nonfinite_loss_stops_with_the_weights_from_before(backend, check_every):
    """check_every=4 exercises the GPU path (read back every 4 batches, go back and replay)."""
    m, X, y = _explode(backend, check_every)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow on the way to inf
        with pytest.raises(NonFiniteLossError, match=r"The loss became (nan|inf) at epoch \d+, batch \d+ of 8") as e:
            m.fit(put(backend, X), put(backend, y), epochs=20, batch_size=8, shuffle=False, verbose=0,
                  check_every=check_every)
    epoch, batch = e.value.epoch, e.value.batch
    assert np.all(np.isfinite(get(backend, m.params)))
    # The same model trained for exactly the steps before the bad batch.
    ref, _, _ = _explode(backend, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if epoch:
            ref.fit(put(backend, X), put(backend, y), epochs=epoch, batch_size=8, shuffle=False, verbose=0)
        if batch:
            ref.fit(put(backend, X[:8 * batch]), put(backend, y[:8 * batch]), epochs=1, batch_size=8,
                    shuffle=False, verbose=0)
    np.testing.assert_array_equal(get(backend, m.params), get(backend, ref.params))


@pytest.mark.parametrize("check_every", [1, 4])
def test_nonfinite_loss_can_be_skipped(backend, check_every):
    """Bad batches are skipped with a warning; once every batch of an epoch was bad, fit stops
    with an error naming that epoch (this model's weights grow until every batch overflows)."""
    m, X, y = _explode(backend, check_every)
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(NonFiniteLossError, match=r"Every batch of epoch (\d+) \(8 of 8\) gave a non-finite") as e:
            m.fit(put(backend, X), put(backend, y), epochs=6, batch_size=8, shuffle=False, verbose=0,
                  on_nonfinite="skip", check_every=check_every,
                  callbacks=[an.callbacks.LambdaCallback(on_epoch_end=lambda ep, logs: seen.append(ep))])
    assert any("update was skipped" in str(w.message) for w in caught)
    assert not any(issubclass(w.category, RuntimeWarning) and "encountered" in str(w.message) for w in caught)
    assert e.value.epoch == len(seen) and f"epoch {e.value.epoch + 1} " in str(e.value)
    assert np.all(np.isfinite(get(backend, m.params)))


def test_early_stopping_restores_the_best_weights(backend):
    X, y = _data()
    seen = {}

    class Record(an.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = (logs["val_loss"], get(backend, self.model.params).copy())

    m = _model(backend.backend.name, backend.device, optimizer=an.optimizers.SGD(2.0, momentum=0.9))
    stop = an.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    m.fit(put(backend, X), put(backend, y), epochs=40, batch_size=8, validation_split=0.5, verbose=0,
          callbacks=[Record(), stop])
    assert stop.stopped_epoch is not None and stop.stopped_epoch < 39
    best = min(seen, key=lambda e: seen[e][0])
    assert stop.best_epoch == best
    np.testing.assert_array_equal(get(backend, m.params), seen[best][1])


def test_callback_hooks_run_in_order(backend):
    X, y = _data(n=40)
    calls = []
    cb = an.callbacks.LambdaCallback(
        on_train_begin=lambda logs=None: calls.append("train_begin"),
        on_epoch_begin=lambda e, logs=None: calls.append(f"epoch_begin {e}"),
        on_train_batch_begin=lambda b, logs=None: calls.append(f"begin {b}"),
        on_train_batch_end=lambda b, logs=None: calls.append(f"batch {b} {logs['size']}"),
        on_epoch_end=lambda e, logs=None: calls.append(f"epoch_end {e} {sorted(logs)}"),
        on_train_end=lambda logs=None: calls.append("train_end"))
    _model(backend.backend.name, backend.device).fit(put(backend, X), put(backend, y), epochs=2, batch_size=16,
                                                      verbose=0, callbacks=[cb], initial_epoch=1)
    assert calls == ["train_begin", "epoch_begin 1", "begin 0", "batch 0 16", "begin 1", "batch 1 16", "begin 2", "batch 2 8",
                     "epoch_end 1 ['accuracy', 'loss']", "train_end"]


def test_progress_line_has_the_keras_form(backend, capsys):
    X, y = _data(n=60)
    _model(backend.backend.name, backend.device).fit(put(backend, X), put(backend, y), epochs=2, batch_size=30,
                                                      validation_data=(put(backend, X), put(backend, y)))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2"
    line = re.compile(r"^2/2 \[=+\] - \d+s \d+(ms|us)/step - loss: [\d.e+-]+ - accuracy: [\d.]+ "
                      r"- val_loss: [\d.e+-]+ - val_accuracy: [\d.]+$")
    assert line.match(out[1]), out[1]


def test_progress_verbose_2_prints_one_line_per_epoch(backend):
    X, y = _data(n=60)
    buf = io.StringIO()
    m = _model(backend.backend.name, backend.device)
    cb = an.callbacks.ProgbarLogger(verbose=2, stream=buf)
    m.fit(put(backend, X), put(backend, y), epochs=2, batch_size=30, verbose=0, callbacks=[cb])
    lines = buf.getvalue().splitlines()
    assert len(lines) == 4 and re.match(r"^2/2 - \d+s - \d+(ms|us)/step - loss: ", lines[1]), lines
