"""Convolutional models on every backend: gradient check, saving and resuming with augmentation,
bit-identical initial weights, and RandomTranslation against scipy.ndimage.shift."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet.layers import Context
from anynet.params import Layout, Slots

from ._helpers import GRADCHECK_MAX, get, put, same_place

L = an.layers


def _images(n=24, seed=0, shape=(6, 6, 2)):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, *shape))
    return X, (X[:, :3, :3, 0].sum(axis=(1, 2)) > 0).astype(np.int64) + (X[:, 3:, 3:, -1].sum(axis=(1, 2)) > 0)


def _convnet(backend, dtype="float64", seed=3, augment=True):
    layers = [L.Input((6, 6, 2))]
    if augment:
        layers.append(L.RandomTranslation(0.2, 0.2))
    layers += [L.Conv2D(3, 3, padding="same", activation="tanh"), L.MaxPooling2D(2, strides=1, padding="same"),
               L.Conv2D(2, 2, strides=2, activation="tanh"), L.L2Pooling2D(2, padding="same"),
               L.AveragePooling2D(2, strides=1, padding="same"), L.Flatten(), L.Dense(3, activation="softmax")]
    m = an.Sequential(layers, seed=seed, dtype=dtype, backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=an.optimizers.RMSprop(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_gradient_check_of_a_small_convnet(backend):
    X, y = _images()
    m = _convnet(backend)
    # max pooling is piecewise linear: a step of 1e-4 moves some windows' maximum to another
    # input (shared weights move whole feature maps together), so the step is 1e-6
    result = an.gradcheck(m, put(backend, X), put(backend, y), epsilon=1e-6)
    assert result.rel_diff < GRADCHECK_MAX, result.rel_diff


def test_conv1d_gradient_check(backend):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(10, 9, 2)), rng.integers(0, 2, 10)
    m = an.Sequential([L.Input((9, 2)), L.Conv1D(3, 3, padding="causal", activation="tanh"), L.MaxPooling1D(2),
                       L.Conv1D(2, 2, strides=2, dilation_rate=1), L.GlobalAveragePooling1D(),
                       L.Dense(2, activation="softmax")], seed=0, dtype="float64",
                      backend=backend.backend.name, device=backend.device)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    assert an.gradcheck(m, put(backend, X), put(backend, y), epsilon=1e-6).rel_diff < GRADCHECK_MAX


def test_initial_conv_weights_are_bit_identical_to_numpy(backend, dtype):
    mine = _convnet(backend, dtype).build().get_weights()
    ref = _convnet(an.resolve(backend="numpy"), dtype).build().get_weights()
    assert [w.shape for w in mine] == [(3, 3, 2, 3), (3,), (2, 2, 3, 2), (2,), (8, 3), (3,)]
    for a, b in zip(mine, ref):
        np.testing.assert_array_equal(a, b)


def test_interrupted_and_resumed_convnet_with_augmentation_equals_uninterrupted(backend, tmp_path):
    """The shifts come from the model's generator, which the checkpoint holds: same batches after resume."""
    X, y = _images(40)
    Xd, yd = put(backend, X), put(backend, y)
    kw = dict(batch_size=8, verbose=0)
    straight = _convnet(backend, "float32")
    h_straight = straight.fit(Xd, yd, epochs=3, **kw)
    first = _convnet(backend, "float32")
    first.fit(Xd, yd, epochs=1, callbacks=[an.ModelCheckpoint(tmp_path / "ck-{epoch}.anynet")], **kw)
    resumed = _convnet(backend, "float32", seed=77)
    h_resumed = resumed.fit(Xd, yd, epochs=3, resume_from=tmp_path / "ck-1.anynet", **kw)
    np.testing.assert_array_equal(get(backend, resumed.params), get(backend, straight.params))
    assert h_resumed.history == h_straight.history
    same_place(backend, resumed.params, "float32")
    loaded = an.load(tmp_path / "ck-1.anynet", backend=backend.backend.name, device=backend.device)
    np.testing.assert_array_equal(get(backend, loaded.predict(Xd)), get(backend, first.predict(Xd)))


def test_augmentation_is_off_at_inference_and_changes_training_batches(backend):
    X, _ = _images(8)
    on = _convnet(backend)
    off = _convnet(backend, augment=False)
    on.build()
    off.build()
    np.testing.assert_array_equal(get(backend, on.predict(put(backend, X))), get(backend, off.predict(put(backend, X))))
    layer = on.layers[1]
    ctx = Context(backend.xp, training=True, rng=backend.backend.rng(0, backend.device), dtype=backend.xp.float64)
    Y, _ = layer.forward(Slots(), put(backend, X), ctx)
    assert not np.array_equal(get(backend, Y), X)


SCIPY_MODES = {"constant": "grid-constant", "nearest": "nearest", "reflect": "reflect", "wrap": "grid-wrap"}


@pytest.mark.parametrize("fill_mode", list(SCIPY_MODES))
@pytest.mark.parametrize("fill_value", [0.0, 0.5])
def test_random_translation_matches_scipy_shift(backend, fill_mode, fill_value):
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 5, 7, 2))
    layer = L.RandomTranslation((-0.5, 0.4), 0.45, fill_mode=fill_mode, fill_value=fill_value)
    layer.build(0, X.shape[1:], Layout())
    ctx = Context(backend.xp, training=True, rng=backend.backend.rng(11, backend.device), dtype=backend.xp.float64)
    Y, backprop = layer.forward(Slots(), put(backend, X), ctx)
    same_place(backend, Y, "float64")
    # the same draws, then the shifts and the image maths written out with NumPy and scipy
    u = get(backend, backend.backend.rng(11, backend.device).uniform((2, len(X)), dtype="float64"))
    dy = np.round((-0.5 + 0.9 * u[0]) * 5).astype(int)
    dx = np.round((-0.45 + 0.9 * u[1]) * 7).astype(int)
    expected = np.stack([np.stack([ndimage.shift(X[k, :, :, c], (dy[k], dx[k]), order=0, mode=SCIPY_MODES[fill_mode],
                                                 cval=fill_value) for c in range(2)], axis=-1) for k in range(len(X))])
    np.testing.assert_allclose(get(backend, Y), expected, rtol=0, atol=1e-15)
    # the backward pass is the adjoint of the linear part of the shift (Y less what the fill adds)
    offset = np.stack([np.stack([ndimage.shift(np.zeros((5, 7)), (dy[k], dx[k]), order=0, mode=SCIPY_MODES[fill_mode],
                                               cval=fill_value) for _ in range(2)], axis=-1) for k in range(len(X))])
    dY = rng.normal(size=X.shape)
    dX = get(backend, backprop(put(backend, dY)))
    np.testing.assert_allclose(np.sum(dY * (get(backend, Y) - offset)), np.sum(dX * X), rtol=1e-12)
