"""Weighted training and evaluation on every backend, against Keras' formulas written out in NumPy.

Keras' meaning, which these tests spell out independently of anynet's code:

- the loss of a batch is ``sum_i w_i * loss_i / n`` (``"sum_over_batch_size"`` divides by
  the number of samples, not by the summed weights); with ``class_weight``, ``w_i`` is the
  weight of sample i's class;
- metrics are ``sum_i w_i * value_i / sum_i w_i``;
- the epoch loss is the mean of the batch losses weighted by the batch sizes (Keras' loss
  tracker, a ``Mean`` updated with ``sample_weight=batch_size``), whatever the reduction;
- ``clipnorm`` clips each variable's gradient by its own norm: ``g * c / max(|g|, c)``.
"""

from __future__ import annotations

import contextlib
import copy
import warnings

import numpy as np
import pytest

import anynet as an

from ._helpers import TOL, get, put

L = an.layers


def _softmax(Z):
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def _data(n=40, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    labels = rng.integers(0, k, n)
    return X, labels, np.eye(k)[labels], rng.uniform(0.1, 3.0, n)


def _softmax_model(backend, loss, optimizer, k=3, dtype="float64"):
    m = an.Sequential([L.Dense(k, activation="softmax")], seed=3, dtype=dtype, backend=backend.backend.name,
                      device=backend.device)
    m.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return m


@pytest.mark.parametrize("how", ["sample_weight", "class_weight"])
def test_one_weighted_step_follows_keras_formulas(backend, how):
    """One full batch of SGD: the logged loss and accuracy and the new weights, from NumPy."""
    X, labels, onehot, w_given = _data()
    n, lr = X.shape[0], 0.3
    class_weight = {0: 0.5, 2: 4.0}  # class 1 is missing: it weighs 1, as in Keras
    if how == "sample_weight":
        m = _softmax_model(backend, "categorical_crossentropy", an.optimizers.SGD(lr))
        y, kwargs, w = onehot, {"sample_weight": put(backend, w_given)}, w_given
    else:
        m = _softmax_model(backend, "sparse_categorical_crossentropy", an.optimizers.SGD(lr))
        y, kwargs = labels, {"class_weight": class_weight}
        w = np.array([class_weight.get(int(c), 1.0) for c in labels])
    m.build((X.shape[1],))
    W0, b0 = m.get_weights()
    h = m.fit(put(backend, X), put(backend, y), batch_size=n, epochs=1, shuffle=False, verbose=0, **kwargs)

    P = _softmax(X @ W0 + b0)
    per_sample = -np.log(P[np.arange(n), labels])
    hit = (P.argmax(axis=1) == labels).astype(float)
    dZ = w[:, None] * (P - onehot) / n
    tol = TOL["float64"]
    np.testing.assert_allclose(h.history["loss"][0], np.sum(w * per_sample) / n, **tol)
    np.testing.assert_allclose(h.history["accuracy"][0], np.sum(w * hit) / np.sum(w), **tol)
    W1, b1 = m.get_weights()
    np.testing.assert_allclose(W1, W0 - lr * X.T @ dZ, **tol)
    np.testing.assert_allclose(b1, b0 - lr * dZ.sum(axis=0), **tol)


def test_evaluate_weighs_loss_and_metrics(backend):
    X, labels, _, w = _data(n=45)
    m = _softmax_model(backend, "sparse_categorical_crossentropy", "sgd")
    m.build((X.shape[1],))
    W0, b0 = m.get_weights()
    P = _softmax(X @ W0 + b0)
    per_sample = -np.log(P[np.arange(45), labels])
    hit = (P.argmax(axis=1) == labels).astype(float)
    for batch_size in (None, 7):  # sum_over_batch_size: the same for any batching
        got = m.evaluate(put(backend, X), put(backend, labels), sample_weight=put(backend, w), batch_size=batch_size,
                         verbose=0, return_dict=True)
        np.testing.assert_allclose(got["loss"], np.sum(w * per_sample) / 45, rtol=1e-12)
        np.testing.assert_allclose(got["accuracy"], np.sum(w * hit) / np.sum(w), rtol=1e-12)
        assert all(type(v) is float for v in got.values())


def test_zero_weights_give_zero_metrics_as_keras_divide_no_nan(backend):
    X, labels, _, _ = _data(n=10)
    m = _softmax_model(backend, "sparse_categorical_crossentropy", "sgd")
    got = m.evaluate(put(backend, X), put(backend, labels), sample_weight=put(backend, np.zeros(10)), verbose=0,
                     return_dict=True)
    assert got == {"loss": 0.0, "accuracy": 0.0}


def test_validation_triple_is_evaluated_with_its_weights(backend):
    X, labels, _, w = _data(n=48)
    m = _softmax_model(backend, "sparse_categorical_crossentropy", an.optimizers.SGD(0.1))
    Xv, yv, wv = put(backend, X[:20]), put(backend, labels[:20]), put(backend, w[:20])
    h = m.fit(put(backend, X), put(backend, labels), epochs=2, batch_size=16, verbose=0,
              sample_weight=put(backend, w), validation_data=(Xv, yv, wv))
    val = m.evaluate(Xv, yv, sample_weight=wv, batch_size=16, verbose=0, return_dict=True)
    assert h.history["val_loss"][-1] == pytest.approx(val["loss"], rel=1e-12)
    assert h.history["val_accuracy"][-1] == pytest.approx(val["accuracy"], rel=1e-12)
    unweighted = m.evaluate(Xv, yv, batch_size=16, verbose=0, return_dict=True)
    assert unweighted["loss"] != pytest.approx(val["loss"], rel=1e-6)


def test_shuffled_batches_take_their_own_weights(backend):
    """The weights are gathered with the shuffled order like X and y: a shuffled epoch equals
    an unshuffled one over the rows (and weights) in the order the model drew."""
    X, labels, _, w = _data(n=32)
    m = _softmax_model(backend, "sparse_categorical_crossentropy", an.optimizers.SGD(0.5))
    order = copy.deepcopy(m.shuffle_rng).permutation(32)  # the order fit will draw
    m.fit(put(backend, X), put(backend, labels), sample_weight=put(backend, w), batch_size=8, verbose=0)
    ref = _softmax_model(backend, "sparse_categorical_crossentropy", an.optimizers.SGD(0.5))
    ref.fit(put(backend, X[order]), put(backend, labels[order]), sample_weight=put(backend, w[order]), batch_size=8,
            shuffle=False, verbose=0)
    np.testing.assert_allclose(get(backend, m.params), get(backend, ref.params), rtol=1e-12, atol=1e-14)
    plain = _softmax_model(backend, "sparse_categorical_crossentropy", an.optimizers.SGD(0.5))
    plain.fit(put(backend, X[order]), put(backend, labels[order]), sample_weight=put(backend, w), batch_size=8,
              shuffle=False, verbose=0)
    assert not np.allclose(get(backend, plain.params), get(backend, m.params))


def test_per_output_sample_weights(backend):
    """A dict gives weights to one output; the other is unweighted. Keras' total loss is the
    weighted sum of the per-output losses."""
    rng = np.random.default_rng(1)
    X, ta, tb, w = rng.normal(size=(30, 3)), rng.normal(size=(30, 1)), rng.normal(size=(30, 2)), rng.uniform(size=30)
    inp = an.Input(shape=(3,))
    a, b = L.Dense(1, name="a")(inp), L.Dense(2, name="b")(inp)
    m = an.Model(inp, [a, b], seed=2, dtype="float64", backend=backend.backend.name, device=backend.device)
    m.compile(optimizer="sgd", loss="mse", loss_weights={"a": 1.0, "b": 0.5})
    Wa, ba, Wb, bb = m.get_weights()
    la = np.sum(w * ((X @ Wa + ba - ta) ** 2).mean(axis=1)) / 30
    lb = ((X @ Wb + bb - tb) ** 2).mean()
    got = m.evaluate(put(backend, X), [put(backend, ta), put(backend, tb)], sample_weight={"a": put(backend, w)},
                     verbose=0, return_dict=True)
    np.testing.assert_allclose([got["a_loss"], got["b_loss"], got["loss"]], [la, lb, la + 0.5 * lb], rtol=1e-12)
    # one array weighs every output, as in Keras
    both = m.evaluate(put(backend, X), [put(backend, ta), put(backend, tb)], sample_weight=put(backend, w),
                      verbose=0, return_dict=True)
    lbw = np.sum(w * ((X @ Wb + bb - tb) ** 2).mean(axis=1)) / 30
    np.testing.assert_allclose(both["b_loss"], lbw, rtol=1e-12)


def _mse_model(backend, optimizer, reduction="sum_over_batch_size"):
    m = an.Sequential([L.Dense(3)], seed=7, dtype="float64", backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=optimizer, loss=an.losses.MeanSquaredError(reduction=reduction))
    return m


@pytest.mark.parametrize("clip", ["kernel", "both"])
def test_clipnorm_clips_each_variable_in_fit(backend, clip):
    rng = np.random.default_rng(2)
    X, T = rng.normal(size=(20, 4)), 5.0 * rng.normal(size=(20, 3))
    m = _mse_model(backend, an.optimizers.SGD(1.0))
    m.build((4,))
    W0, b0 = m.get_weights()
    dY = 2.0 * (X @ W0 + b0 - T) / (20 * 3)
    gW, gb = X.T @ dY, dY.sum(axis=0)
    nW, nb = np.linalg.norm(gW), np.linalg.norm(gb)
    c = float(np.sqrt(nW * nb)) if clip == "kernel" and nW > nb else 0.5 * min(nW, nb)
    lr = 0.1
    m.compile(optimizer=an.optimizers.SGD(lr, clipnorm=c), loss="mse")
    m.fit(put(backend, X), put(backend, T), batch_size=20, shuffle=False, verbose=0)
    W1, b1 = m.get_weights()
    np.testing.assert_allclose(W1, W0 - lr * gW * c / max(nW, c), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b1, b0 - lr * gb * c / max(nb, c), rtol=1e-12, atol=1e-14)


def test_kernel_only_weight_decay_on_any_optimizer_in_fit(backend):
    rng = np.random.default_rng(3)
    X, T = rng.normal(size=(20, 4)), rng.normal(size=(20, 3))
    lr, wd = 0.1, 0.2
    m = _mse_model(backend, an.optimizers.SGD(lr, weight_decay=wd, decay_kernels_only=True))
    m.build((4,))
    W0, b0 = m.get_weights()
    dY = 2.0 * (X @ W0 + b0 - T) / (20 * 3)
    m.fit(put(backend, X), put(backend, T), batch_size=20, shuffle=False, verbose=0)
    W1, b1 = m.get_weights()
    np.testing.assert_allclose(W1, W0 - lr * wd * W0 - lr * X.T @ dY, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b1, b0 - lr * dY.sum(axis=0), rtol=1e-12, atol=1e-14)


def test_reduction_sum_reports_what_keras_reports(backend):
    """Keras' epoch loss: the batch-size-weighted mean of each batch's reduced loss; with
    reduction="sum" that is sum_b n_b * S_b / N, S_b the batch's summed loss."""
    rng = np.random.default_rng(4)
    X, T = rng.normal(size=(50, 4)), rng.normal(size=(50, 3))
    m = _mse_model(backend, an.optimizers.SGD(1e-15), reduction="sum")  # the weights barely move
    m.build((4,))
    W0, b0 = m.get_weights()
    per_sample = ((X @ W0 + b0 - T) ** 2).mean(axis=1)

    def keras(batch):
        sizes = [len(per_sample[i:i + batch]) for i in range(0, 50, batch)]
        sums = [per_sample[i:i + batch].sum() for i in range(0, 50, batch)]
        return np.dot(sizes, sums) / 50

    h = m.fit(put(backend, X), put(backend, T), batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"][0], keras(16), rtol=1e-9)
    # evaluate(batch_size=None) batches by Keras' default 32 when the reduction depends on it
    np.testing.assert_allclose(m.evaluate(put(backend, X), put(backend, T), verbose=0), keras(32), rtol=1e-9)
    np.testing.assert_allclose(m.evaluate(put(backend, X), put(backend, T), batch_size=10, verbose=0), keras(10),
                               rtol=1e-9)


def _segmenter(backend, loss):
    m = an.Sequential([L.Input((4, 5, 2)), L.Conv2D(3, 1, activation="softmax")], seed=1, dtype="float64",
                      backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=an.optimizers.SGD(1e-3), loss=loss, metrics=["accuracy"])
    return m


def test_segmentation_labels_with_ignore_class(backend):
    """Labels shaped like the outputs without their class axis, (n, h, w) for (n, h, w, k), with
    255 marking pixels to leave out: the loss is the mean over the other pixels."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(6, 4, 5, 2))
    labels = rng.integers(0, 3, size=(6, 4, 5))
    labels[rng.uniform(size=labels.shape) < 0.3] = 255
    m = _segmenter(backend, an.losses.SparseCategoricalCrossentropy(ignore_class=255))
    K, b = m.get_weights()
    P = _softmax(X @ K.reshape(2, 3) + b)
    valid = labels != 255
    picked = np.take_along_axis(P, np.where(valid, labels, 0)[..., None], axis=-1)[..., 0]
    expected = -np.log(picked)[valid].mean()
    for y in (labels, labels[..., None]):  # Keras also takes (n, h, w, 1)
        got = m.evaluate(put(backend, X), put(backend, y), batch_size=6, verbose=0, return_dict=True)
        np.testing.assert_allclose(got["loss"], expected, rtol=1e-12)
    # class weights weigh each pixel by its class; ignored pixels still count for nothing
    cw = {0: 2.0, 1: 0.5}
    h = m.fit(put(backend, X), put(backend, labels), batch_size=6, shuffle=False, verbose=0, class_weight=cw)
    wpix = np.vectorize(lambda c: cw.get(int(c), 1.0))(labels)
    np.testing.assert_allclose(h.history["loss"][0], np.sum((wpix * -np.log(picked))[valid]) / valid.sum(),
                               rtol=1e-12)


def test_nothing_warns_where_anynet_reports_the_problem(backend):
    """Overflow inside predict, evaluate and fit is reported by anynet's own errors, without
    the array library's RuntimeWarnings on the way (turned into errors here)."""
    m = an.Sequential([L.Dense(1)], seed=0, dtype="float32", backend=backend.backend.name, device=backend.device)
    m.compile(optimizer=an.optimizers.SGD(1.0), loss="mse")
    big = put(backend, np.full((4, 2), 3e38, dtype=np.float32))
    with _no_warnings():
        with pytest.raises(an.errors.NonFiniteOutputError):
            m.predict(big)
        with pytest.raises(an.errors.NonFiniteOutputError):
            m.evaluate(big, put(backend, np.zeros(4)), verbose=0)
        with pytest.raises(an.errors.NonFiniteLossError):
            m.fit(big, put(backend, np.zeros(4)), verbose=0)
        with pytest.raises(an.errors.InputError, match=r"beyond the range of the model's float32"):
            m.fit(np.full((4, 2), 1e39), np.zeros(4), verbose=0)


@contextlib.contextmanager
def _no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield
