"""Metrics and weight regularizers on every backend and device, against NumPy float64
references written here: per-batch (sum, count) of the metrics and how "accuracy" is
resolved; L1/L2/L1L2 penalties and gradients, gradient checks, placement, bad coefficients."""

from __future__ import annotations

import numpy as np
import pytest

from anynet import losses, metrics, regularizers
from anynet.errors import InputError, InputTypeError, UnknownNameError
from anynet.gradcheck import check_gradient
from anynet.regularizers import L1, L1L2, L2

from ._helpers import GRADCHECK_MAX, assert_close, get, put, same_place, same_place_0d

N, K = 40, 5


# -- metric data and references ------------------------------------------------------------

def _scores(seed=0, shape=(N, K)) -> np.ndarray:
    """Scores in [0, 1] with no entry at 0.5 and no ties within a row."""
    y = np.random.default_rng(seed).uniform(size=shape)
    return np.where(np.abs(y - 0.5) < 1e-3, 0.25, y)


def _labels(seed=1, n=N, k=K) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, k, size=n)


def _accurate_labels(y: np.ndarray, seed=2, share=0.6) -> np.ndarray:
    """Labels that agree with argmax(y) on about ``share`` of rows, so accuracy is neither 0 nor 1."""
    rng = np.random.default_rng(seed)
    lab = np.where(rng.uniform(size=y.shape[0]) < share, y.argmax(axis=1), rng.integers(0, y.shape[1], y.shape[0]))
    assert 0 < np.mean(lab == y.argmax(axis=1)) < 1
    return lab


def _check_batch(backend, metric, Y, T, expected: float, expected_count: int, dtype: str) -> None:
    s, count = metric.batch(Y, T, backend.xp)
    same_place_0d(backend, s, dtype)
    assert type(count) is int and count == expected_count
    assert_close(backend, s / count, expected, dtype)


# -- metrics -------------------------------------------------------------------------------

@pytest.mark.parametrize("k", [1, K])
def test_binary_accuracy(backend, dtype, k):
    """Share of outputs on the right side of 0.5, counted over samples and outputs."""
    y = _scores(seed=3, shape=(N, k))
    t = np.where(np.random.default_rng(4).uniform(size=(N, k)) < 0.7, y > 0.5, y <= 0.5).astype(np.float64)
    expected = np.mean((y > 0.5) == (t == 1.0))
    assert 0 < expected < 1
    _check_batch(backend, metrics.BinaryAccuracy(), put(backend, y, dtype), put(backend, t, dtype),
                 expected, N * k, dtype)


def test_binary_accuracy_at_the_threshold_predicts_zero(backend, dtype):
    """An output exactly at the threshold is class 0 (y > threshold, as Keras counts it)."""
    Y = put(backend, [[0.5], [0.5], [0.75], [0.25]], dtype)
    T = put(backend, [[0.0], [0.0], [1.0], [1.0]], dtype)
    _check_batch(backend, metrics.BinaryAccuracy(), Y, T, 0.75, 4, dtype)


def test_binary_accuracy_threshold_on_logits(backend, dtype):
    """threshold=0 reads logits: z > 0 means class 1."""
    z = np.random.default_rng(5).normal(size=(N, 3))
    z = np.where(np.abs(z) < 1e-3, 0.5, z)
    t = (np.random.default_rng(6).uniform(size=(N, 3)) < 0.5).astype(np.float64)
    expected = np.mean((z > 0) == (t == 1.0))
    _check_batch(backend, metrics.BinaryAccuracy(threshold=0.0), put(backend, z, dtype), put(backend, t, dtype),
                 expected, N * 3, dtype)


def test_categorical_accuracy(backend, dtype):
    """Share of rows whose largest output is the hot target."""
    y = _scores(seed=7)
    lab = _accurate_labels(y, seed=8)
    expected = np.mean(y.argmax(axis=1) == lab)
    _check_batch(backend, metrics.CategoricalAccuracy(), put(backend, y, dtype), put(backend, np.eye(K)[lab], dtype),
                 expected, N, dtype)


@pytest.mark.parametrize("form", ["labels (n,)", "labels (n,1)", "one-hot"])
def test_sparse_categorical_accuracy(backend, dtype, form):
    """Integer labels of shape (n,) or (n, 1), or one-hot rows as SCCE.targets makes them."""
    y = _scores(seed=9)
    lab = _accurate_labels(y, seed=10)
    expected = np.mean(y.argmax(axis=1) == lab)
    if form == "labels (n,)":
        T = put(backend, lab)
    elif form == "labels (n,1)":
        T = put(backend, lab[:, None])
    else:
        T = losses.SparseCategoricalCrossentropy().targets(put(backend, lab), K, backend.xp,
                                                            getattr(backend.xp, dtype))
    metric = metrics.SparseCategoricalAccuracy()
    _check_batch(backend, metric, put(backend, y, dtype), T, expected, N, dtype)
    # The direct form: metric(y_true, y_pred) is the finished value.
    value = metric(T, put(backend, y, dtype))
    assert_close(backend, value, expected, dtype)


@pytest.mark.parametrize("name", ["mse", "mae"])
def test_regression_metrics(backend, dtype, name):
    """mse and mae: sum over samples and outputs, count n * k; also the direct form."""
    rng = np.random.default_rng(11)
    y, t = rng.normal(size=(N, 3)).astype(dtype), rng.normal(size=(N, 3)).astype(dtype)
    d = y.astype(np.float64) - t.astype(np.float64)
    expected = np.mean(d ** 2) if name == "mse" else np.mean(np.abs(d))
    metric = metrics.get(name)
    Y, T = put(backend, y), put(backend, t)
    _check_batch(backend, metric, Y, T, expected, N * 3, dtype)
    assert_close(backend, metric(T, Y), expected, dtype)


def test_batches_accumulate_to_the_epoch_value(backend, dtype):
    """Summing (sum, count) over batches gives the metric of the whole epoch."""
    y = _scores(seed=12)
    lab = _accurate_labels(y, seed=13)
    metric = metrics.CategoricalAccuracy()
    total, count = 0.0, 0
    for lo in range(0, N, 16):  # batches of 16, 16, 8
        s, c = metric.batch(put(backend, y[lo:lo + 16], dtype), put(backend, np.eye(K)[lab[lo:lo + 16]], dtype),
                            backend.xp)
        total, count = total + float(s), count + c
    assert count == N
    np.testing.assert_allclose(total / count, np.mean(y.argmax(axis=1) == lab), rtol=1e-12)


# -- resolving "accuracy" ------------------------------------------------------------------

@pytest.mark.parametrize("loss, n_outputs, expected", [
    (losses.BinaryCrossentropy(), K, metrics.BinaryAccuracy),
    (losses.BinaryCrossentropy(from_logits=True), 1, metrics.BinaryAccuracy),
    (None, 1, metrics.BinaryAccuracy),
    (losses.MeanSquaredError(), 1, metrics.BinaryAccuracy),
    (losses.SparseCategoricalCrossentropy(), K, metrics.SparseCategoricalAccuracy),
    (losses.CategoricalCrossentropy(), K, metrics.CategoricalAccuracy),
    (losses.MeanSquaredError(), K, metrics.CategoricalAccuracy),
    (None, K, metrics.CategoricalAccuracy),
], ids=["bce", "bce-1", "none-1", "mse-1", "scce", "cce", "mse-k", "none-k"])
@pytest.mark.parametrize("spec", ["accuracy", "acc", "Accuracy"])
def test_accuracy_resolution(backend, loss, n_outputs, expected, spec):
    """'accuracy' is binary for BCE or one output, sparse for SCCE, categorical otherwise;
    the metric it picks gives the right value on targets as that loss prepares them."""
    metric = metrics.get(spec, loss, n_outputs)
    assert type(metric) is expected
    y = _scores(seed=14, shape=(N, n_outputs))
    if expected is metrics.BinaryAccuracy:
        raw = (np.random.default_rng(15).uniform(size=(N, n_outputs)) < 0.5).astype(np.float64)
        ref = np.mean((y > 0.5) == (raw == 1.0))
    else:
        lab = _accurate_labels(y, seed=16)
        raw = lab if expected is metrics.SparseCategoricalAccuracy else np.eye(n_outputs)[lab]
        ref = np.mean(y.argmax(axis=1) == lab)
    prep = loss if loss is not None else losses.MeanSquaredError()
    T = prep.targets(put(backend, raw), n_outputs, backend.xp, backend.xp.float64)
    s, count = metric.batch(put(backend, y), T, backend.xp)
    assert_close(backend, s / count, ref, "float64")


def test_sparse_loss_with_one_output_still_gets_sparse_accuracy(backend):
    assert type(metrics.get("accuracy", losses.SparseCategoricalCrossentropy(), 1)) is metrics.SparseCategoricalAccuracy


@pytest.mark.parametrize("spec, cls", [
    ("binary_accuracy", metrics.BinaryAccuracy), ("categorical_accuracy", metrics.CategoricalAccuracy),
    ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
    ("mse", metrics.MeanSquaredError), ("mean_absolute_error", metrics.MeanAbsoluteError),
])
def test_metric_get_by_name(backend, spec, cls):
    """Explicit names ignore the loss; accuracy metrics are named as asked."""
    metric = metrics.get(spec, losses.BinaryCrossentropy(), 1)
    assert type(metric) is cls
    if spec.endswith("accuracy"):
        assert metric.name == spec
    assert metrics.get(metric) is metric


def test_metric_get_unknown_name(backend):
    with pytest.raises(UnknownNameError, match="Did you mean 'accuracy'"):
        metrics.get("acuracy")
    with pytest.raises(InputTypeError):
        metrics.get(3)


# -- Keras' stateful API, weights, top-k, shapes --------------------------------------------

def _ref_weighted(v: np.ndarray, w: np.ndarray) -> float:
    """Keras' weighted mean of per-sample values: sum(mean_i(v) w) / sum(w)."""
    per = v.reshape(v.shape[0], -1).mean(axis=1)
    return float(np.sum(per * w) / np.sum(w))


def test_stateful_api_accumulates_and_resets(backend, dtype):
    """update_state over batches gives the whole data's value; result() reads it; reset_state
    forgets; calling the metric updates and returns result(), as Keras does."""
    y = _scores(seed=30)
    lab = _accurate_labels(y, seed=31)
    m = metrics.SparseCategoricalAccuracy()
    assert m.result() == 0.0
    for lo in range(0, N, 16):
        m.update_state(put(backend, lab[lo:lo + 16]), put(backend, y[lo:lo + 16], dtype))
    assert_close(backend, m.result(), np.mean(y.argmax(axis=1) == lab), dtype)
    m.reset_state()
    assert m.result() == 0.0
    first = m(put(backend, lab[:10]), put(backend, y[:10], dtype))
    assert_close(backend, first, np.mean(y[:10].argmax(axis=1) == lab[:10]), dtype)
    both = m(put(backend, lab[10:]), put(backend, y[10:], dtype))
    assert_close(backend, both, np.mean(y.argmax(axis=1) == lab), dtype)


@pytest.mark.parametrize("name", ["binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
                                  "top_k_categorical_accuracy", "mse", "mae"])
def test_sample_weight_follows_keras(backend, dtype, name):
    """Per-sample weights: sum over samples of (mean of the sample's values) * w, divided by
    sum(w); batch() returns that pair as device arrays."""
    y = _scores(seed=32)
    lab = _accurate_labels(y, seed=33)
    w = np.random.default_rng(34).uniform(0.0, 2.0, size=N)
    hot = np.eye(K)[lab]
    if name == "binary_accuracy":
        t = (np.random.default_rng(35).uniform(size=(N, K)) < 0.5).astype(float)
        v = ((y > 0.5) == (t == 1)).astype(float)
    elif name in ("mse", "mae"):
        t = np.random.default_rng(36).normal(size=(N, K))
        v = (y - t) ** 2 if name == "mse" else np.abs(y - t)
    elif name == "top_k_categorical_accuracy":
        t = hot
        rank = (y > y[np.arange(N), lab][:, None]).sum(axis=1)
        v = (rank < 5).astype(float)
    else:
        t = lab if name.startswith("sparse") else hot
        v = (y.argmax(axis=1) == lab).astype(float)
    metric = metrics.get(name)
    got = metric(put(backend, t), put(backend, y, dtype), sample_weight=put(backend, w, dtype))
    assert_close(backend, got, _ref_weighted(v, w), dtype)
    s, c = metric.batch(put(backend, y, dtype), put(backend, t, dtype) if name != "sparse_categorical_accuracy"
                        else put(backend, lab), backend.xp, sample_weight=put(backend, w, dtype))
    same_place_0d(backend, c, dtype)
    assert_close(backend, s / c, _ref_weighted(v, w), dtype)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracy(backend, dtype, k):
    """The label is in the top k when fewer than k classes score higher."""
    y = _scores(seed=37)
    lab = _labels(seed=38)
    rank = (y > y[np.arange(N), lab][:, None]).sum(axis=1)
    expected = np.mean(rank < k)
    assert 0 < expected < 1
    assert_close(backend, metrics.SparseTopKCategoricalAccuracy(k)(put(backend, lab), put(backend, y, dtype)),
                 expected, dtype)
    assert_close(backend, metrics.TopKCategoricalAccuracy(k)(put(backend, np.eye(K)[lab]), put(backend, y, dtype)),
                 expected, dtype)
    ids = np.argsort(-y, axis=1)  # sorted class ids, best first
    assert_close(backend, metrics.SparseTopKCategoricalAccuracy(k, from_sorted_ids=True)(
        put(backend, lab), put(backend, ids.astype(np.float64), dtype)), expected, dtype)


def test_sequences_count_every_position(backend, dtype):
    """(batch, time, classes): the share of positions, never more than 1."""
    rng = np.random.default_rng(39)
    y = rng.uniform(size=(4, 6, K))
    lab = rng.integers(0, K, size=(4, 6))
    expected = np.mean(y.argmax(axis=-1) == lab)
    assert_close(backend, metrics.SparseCategoricalAccuracy()(put(backend, lab), put(backend, y, dtype)),
                 expected, dtype)
    assert_close(backend, metrics.CategoricalAccuracy()(put(backend, np.eye(K)[lab]), put(backend, y, dtype)),
                 expected, dtype)
    T = losses.SparseCategoricalCrossentropy().targets(put(backend, lab), K, backend.xp, getattr(backend.xp, dtype))
    s, c = metrics.SparseCategoricalAccuracy().batch(put(backend, y, dtype), T, backend.xp)
    assert c == 24
    assert_close(backend, s / c, expected, dtype)


@pytest.mark.parametrize("metric, y_true, y_pred", [
    (metrics.SparseCategoricalAccuracy(), [[0], [0]], np.full((1, 2, 3), 0.2)),
    (metrics.SparseCategoricalAccuracy(), [0, 1, 2], np.full((2, 3), 0.2)),
    (metrics.CategoricalAccuracy(), [[0], [1]], np.full((2, 3), 0.2)),
    (metrics.BinaryAccuracy(), [1, 0, 1], np.full((3, 2), 0.2)),
    (metrics.MeanSquaredError(), np.zeros((3, 1)), np.zeros((3, 3))),
], ids=["sparse-broadcast", "sparse-count", "categorical-labels", "binary", "mse"])
def test_shapes_that_do_not_match_are_refused(backend, metric, y_true, y_pred):
    """Shapes that would broadcast into a wrong count raise InputError naming both shapes."""
    with pytest.raises(InputError, match=r"shape"):
        metric.update_state(put(backend, np.asarray(y_true)), put(backend, y_pred))
    assert metric.result() == 0.0


def test_names_and_config(backend):
    """Keras' default names; name= and a name given to get() set the log key; get_config
    rebuilds the metric."""
    assert metrics.BinaryAccuracy().name == "binary_accuracy"
    assert metrics.TopKCategoricalAccuracy().name == "top_k_categorical_accuracy"
    assert metrics.CategoricalAccuracy(name="acc1").name == "acc1"
    assert metrics.get("acc").name == "acc" and metrics.get("mean_absolute_error").name == "mean_absolute_error"
    for m in (metrics.BinaryAccuracy(name="b", threshold=0.3), metrics.SparseTopKCategoricalAccuracy(3, "t", True),
              metrics.TopKCategoricalAccuracy(k=2), metrics.MeanAbsoluteError(name="m")):
        again = type(m)(**m.get_config())
        assert repr(again) == repr(m)
    with pytest.raises(InputError, match="k must be"):
        metrics.TopKCategoricalAccuracy(k=0)


# -- regularizers --------------------------------------------------------------------------

def ref_penalty(w: np.ndarray, l1: float, l2: float) -> float:
    return l1 * np.sum(np.abs(w)) + l2 * np.sum(w ** 2)


def ref_gradient(w: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """d/dw of l1 |w| + l2 w^2 (|w| away from 0 here, so sign is the derivative)."""
    return l1 * np.sign(w) + 2.0 * l2 * w


def _weights(seed=20, shape=(7, 4)) -> np.ndarray:
    """Weights with no entry within 1e-2 of L1's kink at 0."""
    w = np.random.default_rng(seed).normal(size=shape)
    return np.where(np.abs(w) < 1e-2, -0.3, w)


# (id, factory, l1, l2 the reference uses)
REGS = [
    ("L1-default", lambda: L1(), 0.01, 0.0),
    ("L2-default", lambda: L2(), 0.0, 0.01),
    ("L1", lambda: L1(0.3), 0.3, 0.0),
    ("L2", lambda: L2(l2=0.25), 0.0, 0.25),
    ("L1L2", lambda: L1L2(l1=0.003, l2=0.02), 0.003, 0.02),
    ("L1L2-l2-only", lambda: L1L2(l2=0.5), 0.0, 0.5),
    ("get-l2", lambda: regularizers.get("l2"), 0.0, 0.01),
    ("get-l1_l2", lambda: regularizers.get("L1_L2"), 0.0, 0.0),
]
REG_IDS = [r[0] for r in REGS]


@pytest.mark.parametrize("rid, make, l1, l2", REGS, ids=REG_IDS)
def test_penalty_and_gradient_match_reference(backend, dtype, rid, make, l1, l2):
    """penalty is a 0-d array of W's dtype on W's device; gradient has W's shape and place."""
    reg = make()
    w = _weights().astype(dtype)
    W = put(backend, w)
    P = reg.penalty(W, backend.xp)
    G = reg.gradient(W, backend.xp)
    same_place_0d(backend, P, dtype)
    same_place(backend, G, dtype)
    assert G.shape == w.shape
    w64 = w.astype(np.float64)
    assert_close(backend, P, ref_penalty(w64, l1, l2), dtype)
    assert_close(backend, G, ref_gradient(w64, l1, l2), dtype)


@pytest.mark.parametrize("rid, make, l1, l2", REGS, ids=REG_IDS)
def test_regularizer_gradient_check(backend, rid, make, l1, l2):
    """gradient(W) is the central-difference gradient of penalty(W) (float64)."""
    xp = backend.xp
    reg = make()
    shape = (5, 3)

    def fun_and_grad(theta):
        W = xp.reshape(theta, shape)
        return reg.penalty(W, xp), xp.reshape(reg.gradient(W, xp), (-1,))

    res = check_gradient(fun_and_grad, put(backend, _weights(seed=21, shape=shape).reshape(-1)),
                         to_numpy=backend.backend.to_numpy)
    assert res.rel_diff < GRADCHECK_MAX, (rid, res.rel_diff)


def test_zero_coefficients_give_zero_penalty(backend, dtype):
    """L1L2(0, 0): penalty exactly 0 (0-d, W's dtype and device), gradient all zeros."""
    reg = L1L2(0, 0)
    W = put(backend, _weights(seed=22), dtype)
    P = reg.penalty(W, backend.xp)
    same_place_0d(backend, P, dtype)
    assert float(P) == 0.0
    G = reg.gradient(W, backend.xp)
    same_place(backend, G, dtype)
    np.testing.assert_array_equal(get(backend, G), np.zeros((7, 4)))


def test_l1_gradient_at_zero_is_zero(backend, dtype):
    """At w = 0 the L1 subgradient used is 0, so zero weights stay put."""
    W = put(backend, np.array([[0.0, 2.0], [-3.0, 0.0]]), dtype)
    assert_close(backend, L1(0.5).gradient(W, backend.xp), [[0.0, 0.5], [-0.5, 0.0]], dtype)


@pytest.mark.parametrize("make, bad", [
    (lambda: L1(-0.1), "-0.1"),
    (lambda: L2(-1), "-1"),
    (lambda: L1L2(l1=-2.5), "-2.5"),
    (lambda: L1L2(l2=-1e-3), "-0.001"),
    (lambda: L2(float("nan")), "nan"),
    (lambda: L1(float("inf")), "inf"),
], ids=["L1-neg", "L2-neg", "L1L2-l1-neg", "L1L2-l2-neg", "nan", "inf"])
def test_bad_coefficient_values_are_input_errors(backend, make, bad):
    """Negative or non-finite coefficients raise InputError quoting the value."""
    with pytest.raises(InputError) as info:
        make()
    assert bad in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("make, bad", [
    (lambda: L1("abc"), "'abc'"),
    (lambda: L2(None), "None"),
    (lambda: L1L2(l1=[0.1]), "[0.1]"),
    (lambda: L1L2(l2=1 + 2j), "(1+2j)"),
], ids=["str", "None", "list", "complex"])
def test_non_number_coefficients_are_input_type_errors(backend, make, bad):
    """Coefficients that are not numbers raise InputTypeError quoting the value."""
    with pytest.raises(InputTypeError) as info:
        make()
    assert bad in str(info.value)
    assert isinstance(info.value, TypeError)


def test_numeric_strings_are_not_coefficients(backend):
    """'0.01' is a str, not a number: rejected like any other str (errors.InputTypeError
    lists str among the types anynet cannot use; Keras rejects it too)."""
    with pytest.raises(InputTypeError, match="'0.01'"):
        L2("0.01")


def test_regularizer_get(backend):
    assert regularizers.get(None) is None
    reg = L1L2(l1=0.1, l2=0.2)
    assert regularizers.get(reg) is reg
    assert type(regularizers.get("l1")) is L1 and type(regularizers.get("L2")) is L2
    with pytest.raises(UnknownNameError, match="'l3'"):
        regularizers.get("l3")
    with pytest.raises(InputTypeError):
        regularizers.get(0.01)
