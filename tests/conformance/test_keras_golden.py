"""Keras' own golden cases, on every backend and device.

The inputs and expected numbers come from Keras 3's test files (keras/src/losses/
losses_test.py, metrics/accuracy_metrics_test.py, metrics/regression_metrics_test.py,
optimizers/{sgd,rmsprop,adam,adamw}_test.py, activations/activations_test.py) and from
the examples in its docstrings; the tests are written here in our own words. Each case
carries the tolerance Keras' test used: its ``assertAlmostEqual`` default (3 decimals,
|a - b| < 1.5e-3), a stated number of decimals, or ``assertAllClose`` (rtol = atol = 1e-6
unless stated). Inputs are float32, Keras' default floatx: some numbers (a probability
of exactly 1 clipped to float32's 1 - 1e-7) are float32 facts.

Where anynet deliberately differs, the case says so and checks our behaviour instead
(see README, "Keras compatibility"). Initializers (host-side) are in test_initializers.py
and callbacks in test_callbacks.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from anynet import activations, losses, metrics
from anynet.errors import InputError
from anynet.optimizers import SGD, Adam, AdamW, RMSprop

from ._helpers import get, put

DTYPE = "float32"


def dec(k: int = 3) -> dict[str, float]:
    """Keras' assertAlmostEqual(decimal=k): numpy's |a - b| < 1.5 * 10**-k."""
    return {"atol": 1.5 * 10.0 ** -k, "rtol": 0.0}


CLOSE = {"atol": 1e-6, "rtol": 1e-6}  # Keras' assertAllClose defaults


def _arr(backend, x, dtype=None):
    a = np.asarray(x)
    return put(backend, a, dtype if dtype is not None else (DTYPE if a.dtype.kind == "f" else None))


def _check(backend, got, want, tol) -> None:
    np.testing.assert_allclose(np.asarray(get(backend, got), dtype=np.float64), np.asarray(want, dtype=np.float64),
                               **tol)


# -- losses ----------------------------------------------------------------------------------

MSE_T = [[1, 9, 2], [-5, -2, 6]]
MSE_P = [[4.0, 8, 12], [8, 1, 3]]
TS_T = np.asarray([1, 9, 2, -5, -2, 6]).reshape(2, 3, 1)
TS_P = np.asarray([4.0, 8, 12, 8, 1, 3]).reshape(2, 3, 1)
TS_W = np.asarray([3.0, 6, 5, 0, 4, 2]).reshape(2, 3)
BCE_T = [[1.0, 0, 0], [0, 1, 0], [0, 0, 1]]
BCE_P = [[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]]
BIN_T = np.array([1, 0, 1, 0]).reshape(2, 2)
BIN_P = np.array([1.0, 1, 1, 0]).reshape(2, 2)
LOG_T = [[1, 0, 1], [0, 1, 1]]
LOG_Z = [[10.0, -10, 10], [10, 10, -10]]
CCE_T = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
CCE_P = [[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]]  # rows need not sum to one
CCE_Z = [[8.0, 1, 1], [0, 9, 1], [2, 3, 5]]
SW3 = np.array([[1.2], [3.4], [5.6]])
SEG_T = np.array([[0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
SEG_P = np.array([[[1.0, 0], [0, 1], [0, 1], [1, 0]], [[0, 1], [1, 0], [0, 1], [1, 0]],
                  [[1, 0], [1, 0], [0, 1], [0, 1]], [[0, 1], [0, 1], [1, 0], [0, 1]]])
SEG_P2 = SEG_P.copy()
SEG_P2[0, 3], SEG_P2[3, 3] = [0.2, 0.8], [0.6, 0.4]
SEG_WANT = (-np.log(0.2) - np.log(0.4)) / 16  # 16 pixels
MC_T = np.array([[0, 1, 2, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
MC_P = np.eye(3)[MC_T].astype(float)
MC_P2 = MC_P.copy()
MC_P2[0, 3], MC_P2[1, 0], MC_P2[3, 2] = [0.2, 0.0, 0.8], [0.7, 0.3, 0.0], [0.5, 0.5, 0.0]
MC_WANT = (-np.log(0.2) - np.log(0.3) - np.log(0.5)) / 16
SMOOTH_T = np.array([[[1, 0], [0, 1], [0, 0]], [[0, 1], [1, 0], [0, 0]]], dtype=float)
SMOOTH_P = np.array([[[0.8, 0.1], [0.1, 0.8], [0.1, 0.1]], [[0.1, 0.8], [0.8, 0.1], [0.1, 0.1]]])
SMOOTH_WANT = np.mean(-np.sum((SMOOTH_T * 0.9 + 0.1 / 3) * np.log(SMOOTH_P), axis=1))

MSE, MAE = losses.MeanSquaredError, losses.MeanAbsoluteError
BCE, CCE, SCCE = losses.BinaryCrossentropy, losses.CategoricalCrossentropy, losses.SparseCategoricalCrossentropy

# (id, loss, y_true, y_pred, sample_weight, expected, tolerance)
LOSS_CASES = [
    # MeanSquaredErrorTest
    ("mse-all-correct", MSE(), [[4, 8, 12], [8, 1, 3]], [[4.0, 8, 12], [8, 1, 3]], None, 0.0, dec()),
    ("mse-unweighted", MSE(), MSE_T, MSE_P, None, 49.5, dec()),
    ("mse-scalar-weighted", MSE(), MSE_T, MSE_P, 2.3, 113.85, dec()),
    ("mse-sample-weighted", MSE(), MSE_T, MSE_P, [[1.2], [3.4]], 767.8 / 6, dec()),
    ("mse-timestep-weighted", MSE(), TS_T, TS_P, TS_W, 97.833336, dec()),
    ("mse-zero-weighted", MSE(), MSE_T, MSE_P, 0, 0.0, dec()),
    ("mse-no-reduction", MSE(reduction=None), MSE_T, MSE_P, 2.3, [84.3333, 143.3666], dec()),
    ("mse-sum-reduction", MSE(reduction="sum"), MSE_T, MSE_P, 2.3, 227.69998, dec()),
    ("mse-mean-with-sample-weight", MSE(reduction="mean_with_sample_weight"), MSE_T, MSE_P, [[1.2], [3.4]],
     (110 / 3 * 1.2 + 187 / 3 * 3.4) / (1.2 + 3.4), dec()),
    ("mse-docstring", MSE(), [1.0, 0.0, 1.0], [0.9, 0.1, 0.8], None, 0.02, dec()),
    # MeanAbsoluteErrorTest
    ("mae-all-correct", MAE(), [[4, 8, 12], [8, 1, 3]], [[4.0, 8, 12], [8, 1, 3]], None, 0.0, dec()),
    ("mae-unweighted", MAE(), MSE_T, MSE_P, None, 5.5, dec()),
    ("mae-scalar-weighted", MAE(), MSE_T, MSE_P, 2.3, 12.65, dec()),
    ("mae-sample-weighted", MAE(), MSE_T, MSE_P, [[1.2], [3.4]], 81.4 / 6, dec()),
    ("mae-timestep-weighted", MAE(), TS_T, TS_P, TS_W, 13.833333, dec()),
    ("mae-zero-weighted", MAE(), MSE_T, MSE_P, 0, 0.0, dec()),
    ("mae-no-reduction", MAE(reduction=None), MSE_T, MSE_P, 2.3, [10.7333, 14.5666], dec()),
    ("mae-sum-reduction", MAE(reduction="sum"), MSE_T, MSE_P, 2.3, 25.29999, dec()),
    ("mae-mean-with-sample-weight", MAE(reduction="mean_with_sample_weight"), MSE_T, MSE_P, [[1.2], [3.4]],
     (14 / 3 * 1.2 + 19 / 3 * 3.4) / (1.2 + 3.4), dec()),
    ("mae-docstring", MAE(), [1.0, 0.3, 1.0], [1.9, 0.3, 1.8], None, 0.5666667, dec()),
    # BinaryCrossentropyTest
    ("bce-all-correct", BCE(), BCE_T, BCE_T, None, 0.0, dec()),
    ("bce-all-correct-logits", BCE(from_logits=True), BCE_T,
     [[10.0, -10, -10], [-10, 10, -10], [-10, -10, 10]], None, 0.0, dec()),
    ("bce-unweighted", BCE(), BCE_T, BCE_P, None, 0.20046903, CLOSE),
    ("bce-unweighted-certain", BCE(), BIN_T, BIN_P, None, 3.98559, dec()),
    ("bce-unweighted-logits", BCE(from_logits=True), LOG_T, LOG_Z, None, 3.3333, dec()),
    ("bce-scalar-weighted", BCE(), BIN_T, BIN_P, 2.3, 9.1668, dec()),
    ("bce-scalar-weighted-logits", BCE(from_logits=True), LOG_T, LOG_Z, 2.3, 7.666, dec()),
    ("bce-sample-weighted", BCE(), BIN_T, BIN_P, [[1.2], [3.4]], 4.7827, dec()),
    ("bce-sample-weighted-logits", BCE(from_logits=True), LOG_T, LOG_Z, [4, 3], 10.0, dec()),
    ("bce-no-reduction", BCE(from_logits=True, reduction=None), LOG_T, LOG_Z, None, [0.0, 6.666],
     {"atol": 1e-3, "rtol": 1e-6}),
    ("bce-label-smoothing", BCE(from_logits=True, label_smoothing=0.1), [[1, 0, 1]], [[10.0, -10, -10]], None,
     (10.0 + 5.0 * 0.1) / 3.0, dec()),
    ("bce-docstring-1d", BCE(from_logits=True), [0, 1, 0, 0], [-18.6, 0.51, 2.94, -12.8], None, 0.8654, dec()),
    ("bce-docstring-2d", BCE(from_logits=True), [[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]], None, 0.8654,
     dec()),
    ("bce-docstring-weighted", BCE(from_logits=True), [[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]], [0.8, 0.2],
     0.243, dec()),
    ("bce-docstring-sum", BCE(from_logits=True, reduction="sum"), [[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]],
     None, 1.730, dec()),
    ("bce-docstring-none", BCE(from_logits=True, reduction=None), [[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]],
     None, [0.235, 1.496], dec()),
    ("bce-function-docstring", BCE(reduction=None), [[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]], None,
     [0.916, 0.714], dec()),
    # CategoricalCrossentropyTest
    ("cce-all-correct", CCE(), CCE_T, [[1.0, 0, 0], [0, 1, 0], [0, 0, 1]], None, 0.0, dec()),
    ("cce-all-correct-logits", CCE(from_logits=True), CCE_T, [[10.0, 0, 0], [0, 10, 0], [0, 0, 10]], None, 0.0,
     dec()),
    ("cce-unweighted", CCE(), CCE_T, CCE_P, None, 0.3239, dec()),
    ("cce-unweighted-logits", CCE(from_logits=True), CCE_T, CCE_Z, None, 0.0573, dec()),
    ("cce-scalar-weighted", CCE(), CCE_T, CCE_P, 2.3, 0.7449, dec()),
    ("cce-scalar-weighted-logits", CCE(from_logits=True), CCE_T, CCE_Z, 2.3, 0.1317, dec()),
    ("cce-sample-weighted", CCE(), CCE_T, CCE_P, SW3, 1.0696, dec()),
    ("cce-sample-weighted-logits", CCE(from_logits=True), CCE_T, CCE_Z, SW3, 0.31829, dec()),
    ("cce-no-reduction", CCE(from_logits=True, reduction=None), CCE_T, CCE_Z, None, [0.001822, 0.000459, 0.169846],
     CLOSE),
    ("cce-label-smoothing", CCE(from_logits=True, label_smoothing=0.1), [[1, 0, 0]], [[100.0, -100, -100]], None,
     400.0 * 0.1 / 3.0, dec()),
    ("cce-label-smoothing-axis", CCE(label_smoothing=0.1, axis=1), SMOOTH_T, SMOOTH_P, None, SMOOTH_WANT, dec(5)),
    ("cce-docstring", CCE(), [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], None, 1.177, dec()),
    ("cce-docstring-weighted", CCE(), [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], [0.3, 0.7],
     0.814, dec()),
    ("cce-docstring-sum", CCE(reduction="sum"), [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], None,
     2.354, dec()),
    ("cce-docstring-none", CCE(reduction=None), [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], None,
     [0.0513, 2.303], dec()),
    # SparseCategoricalCrossentropyTest
    ("scce-all-correct", SCCE(), [[0], [1], [2]], [[1.0, 0, 0], [0, 1, 0], [0, 0, 1]], None, 0.0, dec()),
    ("scce-all-correct-logits", SCCE(from_logits=True), [[0], [1], [2]], [[10.0, 0, 0], [0, 10, 0], [0, 0, 10]],
     None, 0.0, dec()),
    ("scce-unweighted", SCCE(), [0, 1, 2], CCE_P, None, 0.3239, dec()),
    ("scce-unweighted-logits", SCCE(from_logits=True), [0, 1, 2], CCE_Z, None, 0.0573, dec()),
    ("scce-scalar-weighted", SCCE(), [[0], [1], [2]], CCE_P, 2.3, 0.7449, dec()),
    ("scce-scalar-weighted-logits", SCCE(from_logits=True), [[0], [1], [2]], CCE_Z, 2.3, 0.1317, dec()),
    ("scce-sample-weighted", SCCE(), [[0], [1], [2]], CCE_P, SW3, 1.0696, dec()),
    ("scce-sample-weighted-logits", SCCE(from_logits=True), [[0], [1], [2]], CCE_Z, SW3, 0.31829, dec()),
    ("scce-no-reduction", SCCE(from_logits=True, reduction=None), [[0], [1], [2]], CCE_Z, None,
     [0.001822, 0.000459, 0.169846], CLOSE),
    ("scce-ignore-class", SCCE(from_logits=True, ignore_class=-1, reduction=None), [[-1, 2]],
     [[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]], None, [[0.0, 1.480129]], CLOSE),
    ("scce-ignore-class-column", SCCE(from_logits=True, ignore_class=-1, reduction=None), [[[-1], [2]]],
     [[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]], None, [[0.0, 1.480129]], CLOSE),
    ("scce-binary-segmentation-exact", SCCE(), SEG_T, SEG_P, None, 0.0, CLOSE),
    ("scce-binary-segmentation", SCCE(), SEG_T, SEG_P2, None, SEG_WANT, CLOSE),
    ("scce-multi-class-segmentation-exact", SCCE(), MC_T, MC_P, None, 0.0, CLOSE),
    ("scce-multi-class-segmentation", SCCE(), MC_T, MC_P2, None, MC_WANT, CLOSE),
    # channels-first segmentation: Keras' torch backend takes axis=0 / axis=1 (TF and JAX refuse)
    ("scce-binary-segmentation-axis0-exact", SCCE(axis=0), SEG_T, np.moveaxis(SEG_P, 2, 0), None, 0.0, CLOSE),
    ("scce-binary-segmentation-axis0", SCCE(axis=0), SEG_T, np.moveaxis(SEG_P2, 2, 0), None, SEG_WANT, CLOSE),
    ("scce-binary-segmentation-axis1", SCCE(axis=1), np.stack([SEG_T] * 3), np.stack([np.moveaxis(SEG_P2, 2, 0)] * 3),
     None, SEG_WANT, CLOSE),
    ("scce-multi-class-segmentation-axis0-exact", SCCE(axis=0), MC_T, np.moveaxis(MC_P, 2, 0), None, 0.0, CLOSE),
    ("scce-multi-class-segmentation-axis0", SCCE(axis=0), MC_T, np.moveaxis(MC_P2, 2, 0), None, MC_WANT, CLOSE),
    ("scce-multi-class-segmentation-axis1", SCCE(axis=1), np.stack([MC_T] * 3),
     np.stack([np.moveaxis(MC_P2, 2, 0)] * 3),
     None, MC_WANT, CLOSE),
    ("scce-docstring", SCCE(), [1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], None, 1.177, dec()),
    ("scce-docstring-weighted", SCCE(), [1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], [0.3, 0.7], 0.814, dec()),
    ("scce-docstring-sum", SCCE(reduction="sum"), [1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], None, 2.354, dec()),
    ("scce-docstring-none", SCCE(reduction=None), [1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]], None,
     [0.0513, 2.303], dec()),
]


@pytest.mark.parametrize("cid, loss, y_true, y_pred, weight, want, tol", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_loss(backend, cid, loss, y_true, y_pred, weight, want, tol):
    sw = weight if weight is None or isinstance(weight, (int, float)) else _arr(backend, np.asarray(weight, float))
    _check(backend, loss(_arr(backend, y_true), _arr(backend, y_pred, DTYPE), sample_weight=sw), want, tol)


def test_mse_function_keeps_one_value_per_sample(backend):
    """Keras' test_base_function_reduction: labels (3,) against predictions (3, 1) give (3,)."""
    out = MSE(reduction=None)(_arr(backend, [4, 8, 12]), _arr(backend, [[3.0], [0], [1]]))
    assert out.shape == (3,)
    _check(backend, out, [1.0, 64.0, 121.0], CLOSE)


@pytest.mark.parametrize("loss", [BCE(), CCE()], ids=["bce", "cce"])
def test_loss_shape_mismatch_is_refused(backend, loss):
    """Keras' test_shape_mismatch: labels (3, 1) against predictions (3, 3) raise ValueError
    ("must have the same shape"); ours is InputError, a ValueError, naming both shapes."""
    with pytest.raises(ValueError, match=r"must have the same shape.*\(3, 1\).*\(3, 3\)"):
        loss(_arr(backend, [[0], [1], [2]]), _arr(backend, CCE_P))


# -- activations -----------------------------------------------------------------------------

X5 = [-10.0, -5, 0.0, 5, 10]
RELU_CASES = [
    ("relu", {}, X5, [0.0, 0, 0, 5, 10]),
    ("negative-slope", {"negative_slope": 0.5}, X5, [-5.0, -2.5, 0.0, 5.0, 10.0]),
    ("max-value", {"max_value": 5.0}, X5, [0.0, 0.0, 0.0, 5.0, 5.0]),
    ("threshold", {"threshold": 5.0}, X5, [-0.0, -0.0, 0.0, 0.0, 10.0]),
    ("threshold-and-max-value", {"threshold": 5.0, "max_value": 5.0}, X5, [0.0, 0.0, 0.0, 0.0, 5.0]),
    ("all-parameters", {"negative_slope": 0.5, "max_value": 5.0, "threshold": 5.0}, X5, [-7.5, -5.0, -2.5, 0.0, 5.0]),
    ("relu6", {"max_value": 6.0}, X5 + [12.0], [0.0, 0.0, 0.0, 5.0, 6.0, 6.0]),
]


@pytest.mark.parametrize("cid, kwargs, x, want", RELU_CASES, ids=[c[0] for c in RELU_CASES])
def test_relu(backend, cid, kwargs, x, want):
    _check(backend, activations.relu(_arr(backend, x), **kwargs), want, {"rtol": 1e-5, "atol": 0.0})
    _check(backend, activations.ReLU(**kwargs).forward(_arr(backend, x), backend.xp), want,
           {"rtol": 1e-5, "atol": 0.0})


def _ref_softmax(v: np.ndarray) -> np.ndarray:
    """Keras' test reference: exp(v - max) / sum, over the whole array it is given."""
    e = np.exp(v - np.max(v))
    return e / np.sum(e)


def _apply(ref, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Apply a whole-array reference over ``axes`` of x, slice by slice (as Keras' tests loop)."""
    moved = np.moveaxis(x, axes, tuple(range(x.ndim - len(axes), x.ndim)))
    lead = moved.shape[:x.ndim - len(axes)]
    out = np.empty_like(moved)
    for idx in np.ndindex(*lead):
        out[idx] = ref(moved[idx])
    return np.moveaxis(out, tuple(range(x.ndim - len(axes), x.ndim)), axes)


SOFTMAX_CASES = [
    ("2d", (2, 5), -1, (1,)), ("2d-axis-0", (1, 2, 5), 1, (1,)), ("3d-axis-tuple", (2, 3, 5), (1, 2), (1, 2)),
    ("1d", (5,), -1, (0,)), ("higher-dim", (2, 3, 4, 5), (2, 3), (2, 3)),
    ("higher-dim-multiple-axes", (2, 3, 4, 5, 6), (2, 3, 4), (2, 3, 4)), ("negative-axis", (2, 5), -1, (1,)),
    ("temporal", (1, 2, 2, 3), -1, (3,)),
]


@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
@pytest.mark.parametrize("cid, shape, axis, axes", SOFTMAX_CASES, ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax(backend, cid, shape, axis, axes, log):
    """Keras' softmax / log_softmax tests: random inputs against the reference over the axes."""
    x = np.random.default_rng(0).random(shape).astype(DTYPE)
    ref = _apply(_ref_softmax, x.astype(np.float64), axes)
    fn = activations.log_softmax if log else activations.softmax
    _check(backend, fn(_arr(backend, x), axis=axis), np.log(ref) if log else ref, {"rtol": 1e-5, "atol": 1e-7})


@pytest.mark.parametrize("slope", [0.01, 0.3])
def test_leaky_relu(backend, slope):
    rng = np.random.default_rng(1)
    for x in (rng.random((2, 5)), rng.uniform(-1, 0, (2, 5))):
        x = x.astype(DTYPE)
        want = np.where(x.astype(np.float64) >= 0, x, slope * x.astype(np.float64))
        _check(backend, activations.leaky_relu(_arr(backend, x), negative_slope=slope), want,
               {"rtol": 1e-5, "atol": 0.0})


def test_elu(backend):
    """Keras' test_elu: identity on positives, exp(x) - 1 on [-1, -2]."""
    x = np.random.default_rng(2).random((2, 5)).astype(DTYPE)
    _check(backend, activations.elu(_arr(backend, x)), x, {"rtol": 1e-5, "atol": 0.0})
    _check(backend, activations.elu(_arr(backend, [[-1.0, -2.0]])), np.exp([[-1.0, -2.0]]) - 1, CLOSE)


@pytest.mark.parametrize("name, ref", [
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("tanh", np.tanh), ("softplus", lambda x: np.log1p(np.exp(x))),
    ("linear", lambda x: x),
])
def test_elementwise(backend, name, ref):
    """Keras' sigmoid, tanh, softplus and linear tests on (2, 5) inputs in [-10, 10)."""
    x = np.random.default_rng(3).uniform(-10, 10, (2, 5)).astype(DTYPE)
    _check(backend, getattr(activations, name)(_arr(backend, x)), ref(x.astype(np.float64)),
           {"rtol": 1e-5, "atol": 1e-7})


# -- optimizers -----------------------------------------------------------------------------

def _steps(backend, opt, x0, first, then, n_then, segments=None):
    """Run ``opt`` from x0 on a first gradient, then ``n_then`` times on ``then``; yield x."""
    x = _arr(backend, np.asarray(x0, dtype=DTYPE))
    state = opt.init(x, backend.xp)
    for k, g in enumerate([first] + [then] * n_then):
        opt.update(x, _arr(backend, np.asarray(g, dtype=DTYPE)), state, backend.xp, segments=segments)
        yield x


SINGLE_STEP = [
    ("sgd", lambda: SGD(learning_rate=0.5), [0.5, -1.0, -0.5, 3.0]),
    ("rmsprop", lambda: RMSprop(learning_rate=0.5), [-0.5811, 0.4189, 1.4189, 2.4189]),
    ("adam", lambda: Adam(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5]),
    ("adamw", lambda: AdamW(learning_rate=0.5), [0.4980, 1.4960, 2.494, 3.492]),
]


@pytest.mark.parametrize("cid, make, want", SINGLE_STEP, ids=[c[0] for c in SINGLE_STEP])
def test_optimizer_single_step(backend, cid, make, want):
    """Keras' test_single_step: one step from [1, 2, 3, 4] with gradient [1, 6, 7, 2]."""
    x = next(_steps(backend, make(), [1.0, 2, 3, 4], [1.0, 6, 7, 2], None, 0))
    _check(backend, x, want, {"rtol": 1e-4, "atol": 1e-4})


GRADS = np.arange(0.1, 1.1, 0.1)[:10]
GOLDEN = {
    "sgd-nesterov": (lambda: SGD(nesterov=True), [
        [0.9999] * 10,
        [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
        [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
        [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
        [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599]]),
    "rmsprop-centered": (lambda: RMSprop(centered=True), [[v] * 10 for v in (0.9967, 0.9933, 0.9908, 0.9885, 0.9864)]),
    "adam-amsgrad": (lambda: Adam(amsgrad=True), [[v] * 10 for v in (0.999, 0.9982, 0.9974, 0.9965, 0.9955)]),
    "adamw-decay-0.5": (lambda: AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2), [
        [0.4998] * 10,
        [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
        [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
        [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
        [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159]]),
}


@pytest.mark.parametrize("cid", sorted(GOLDEN))
def test_optimizer_golden_trajectory(backend, cid):
    """Keras' test_correctness_with_golden: ones(10), a first gradient of 0.01, then 0.1..1.0."""
    make, golden = GOLDEN[cid]
    xs = _steps(backend, make(), np.ones(10), np.full(10, 0.01), GRADS, len(golden) - 1)
    for k, x in enumerate(xs):
        _check(backend, x, golden[k], {"rtol": 5e-4, "atol": 5e-4})


@pytest.mark.parametrize("make", [SGD, RMSprop, Adam, AdamW], ids=lambda c: c.__name__)
def test_optimizer_weight_decay(backend, make):
    """Keras' test_weight_decay: three optimizers with lr 1 and weight_decay 0.004 each take a
    zero-gradient step on a variable at 2.0: 2 * 0.996**3 = 1.9760959; an excluded variable
    (here: a 0 in the decay mask with decay_kernels_only=True) stays at 2.0."""
    x = _arr(backend, np.array([2.0, 2.0], dtype=DTYPE))
    mask = _arr(backend, np.array([1.0, 0.0], dtype=DTYPE))
    for _ in range(3):
        opt = make(learning_rate=1.0, weight_decay=0.004, decay_kernels_only=True)
        opt.update(x, _arr(backend, np.zeros(2, dtype=DTYPE)), opt.init(x, backend.xp), backend.xp, decay_mask=mask)
    _check(backend, x, [1.9760959, 2.0], dec(6))


@pytest.mark.parametrize("kind, want", [("clipnorm", [2 ** 0.5 / 2] * 2), ("clipvalue", [1.0, 1.0])])
@pytest.mark.parametrize("make", [SGD, RMSprop, Adam, AdamW], ids=lambda c: c.__name__)
def test_optimizer_clipping(backend, make, kind, want):
    """Keras' test_clip_norm / test_clip_value: [100, 100] clipped with 1."""
    opt = make(**{kind: 1})
    g = opt.clip(_arr(backend, np.array([100.0, 100.0], dtype=DTYPE)), backend.xp, segments=[(0, 2)])
    _check(backend, g, want, CLOSE)


# -- metrics ---------------------------------------------------------------------------------

BA_T, BA_P = [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]
CA_T, CA_P = [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
REG_T = [[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]]
REG_P = [[0.0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [1, 1, 1, 1, 1]]
EYE3 = [[1.0, 0, 0], [0, 1, 0], [0, 0, 1]]

# (id, metric, y_true, y_pred, sample_weight, expected, tolerance)
METRIC_CASES = [
    ("binary-unweighted", metrics.BinaryAccuracy(), BA_T, BA_P, None, 0.75, dec()),
    ("binary-broadcast-labels", metrics.BinaryAccuracy(), [1, 1, 0, 0], BA_P, None, 0.75, dec()),
    ("binary-weighted", metrics.BinaryAccuracy(), BA_T, BA_P, [1, 0, 0, 1], 0.5, dec()),
    ("binary-weighted-rank-1", metrics.BinaryAccuracy(), [1, 1, 0, 0], [0.98, 1, 0, 0.6], [1, 0, 0, 1], 0.5, dec()),
    ("binary-nd-weights", metrics.BinaryAccuracy(), [[1, 1], [0, 0]], [[0.98, 1], [0, 0.6]], [[1, 0], [0, 1]], 0.5,
     dec()),
    ("binary-nd-broadcast-weights", metrics.BinaryAccuracy(), [[1, 1], [0, 0]], [[0.98, 1], [0, 0.6]], [[1, 0]], 1.0,
     dec()),
    ("binary-threshold-0.3", metrics.BinaryAccuracy(threshold=0.3), BA_T, [[0.98], [0.5], [0.1], [0.2]], None, 1.0,
     CLOSE),
    ("binary-threshold-0.9", metrics.BinaryAccuracy(threshold=0.9), BA_T, [[0.98], [0.5], [0.1], [0.2]], None, 0.75,
     CLOSE),
    ("categorical-unweighted", metrics.CategoricalAccuracy(), CA_T, CA_P, None, 0.5, dec()),
    ("categorical-weighted", metrics.CategoricalAccuracy(), CA_T, CA_P, [0.7, 0.3], 0.3, dec()),
    ("sparse-unweighted", metrics.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]], None,
     0.5, dec()),
    ("sparse-weighted", metrics.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]],
     [0.7, 0.3], 0.3, dec()),
    ("sparse-squeeze-y-true", metrics.SparseCategoricalAccuracy(), [[0], [1], [2]],
     [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]], None, 1.0, {"atol": 1e-4, "rtol": 1e-6}),
    ("sparse-cast-y-pred-dtype", metrics.SparseCategoricalAccuracy(), np.array([0, 1], dtype=np.int64),
     [[0.9, 0.1], [0.1, 0.9]], None, 1.0, {"atol": 1e-4, "rtol": 1e-6}),
    ("sparse-squeeze-y-true-shape", metrics.SparseCategoricalAccuracy(), [[0], [1], [2]], EYE3, None, 1.0,
     {"atol": 1e-4, "rtol": 1e-6}),
    ("sparse-int32-labels", metrics.SparseCategoricalAccuracy(), np.array([0, 1, 2], dtype=np.int32),
     [[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.1, 0.0, 0.9]], None, 1.0, {"atol": 1e-4, "rtol": 1e-6}),
    ("sparse-reshape-to-original", metrics.SparseCategoricalAccuracy(), [[0], [1]], [[0.9, 0.1], [0.1, 0.9]], None,
     1.0, {"atol": 1e-4, "rtol": 1e-6}),
    ("sparse-matching-shapes", metrics.SparseCategoricalAccuracy(), np.array([2, 1, 0], dtype=np.int32),
     [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], None, 1.0, {"atol": 1e-4, "rtol": 1e-6}),
    ("top-k-unweighted", metrics.TopKCategoricalAccuracy(k=1), CA_T, CA_P, None, 0.5, dec()),
    ("top-k-weighted", metrics.TopKCategoricalAccuracy(k=1), CA_T, CA_P, [0.7, 0.3], 0.3, dec()),
    ("sparse-top-k-unweighted", metrics.SparseTopKCategoricalAccuracy(k=1), [2, 1], CA_P, None, 0.5, dec()),
    ("sparse-top-k-weighted", metrics.SparseTopKCategoricalAccuracy(k=1), [2, 1], CA_P, [0.7, 0.3], 0.3, dec()),
    ("sparse-top-k-sorted-ids", metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True), [2, 1],
     [[1.0, 0, 3], [1, 2, 3]], None, 0.5, dec()),
    ("sparse-top-k-sorted-ids-weighted", metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True), [2, 1],
     [[1.0, 0, 3], [1, 2, 3]], [0.7, 0.3], 0.3, dec()),
    ("mse-unweighted", metrics.MeanSquaredError(), REG_T, REG_P, None, 0.5, {"atol": 1e-5, "rtol": 1e-6}),
    ("mse-weighted", metrics.MeanSquaredError(), REG_T, REG_P, [1.0, 1.5, 2.0, 2.5], 0.54285,
     {"atol": 1e-5, "rtol": 1e-6}),
    ("mae-unweighted", metrics.MeanAbsoluteError(), REG_T, REG_P, None, 0.5, {"atol": 1e-5, "rtol": 1e-6}),
    ("mae-weighted", metrics.MeanAbsoluteError(), REG_T, REG_P, [1.0, 1.5, 2.0, 2.5], 0.54285,
     {"atol": 1e-5, "rtol": 1e-6}),
]


@pytest.mark.parametrize("cid, metric, y_true, y_pred, weight, want, tol", METRIC_CASES,
                         ids=[c[0] for c in METRIC_CASES])
def test_metric(backend, cid, metric, y_true, y_pred, weight, want, tol):
    metric.reset_state()
    sw = None if weight is None else _arr(backend, np.asarray(weight, dtype=DTYPE))
    metric.update_state(_arr(backend, y_true), _arr(backend, y_pred, DTYPE), sample_weight=sw)
    _check(backend, metric.result(), want, tol)
    metric.reset_state()


def test_sparse_accuracy_refuses_what_keras_broadcasts(backend):
    """Keras' test_reshape_matches: labels (2, 1) against predictions (1, 2, 3). Keras
    broadcasts (2, 1) against the (1, 2) argmax and reports 1.0 by coincidence (labels [0, 1]
    would give 0.5 for two right answers); anynet refuses. Deliberately different."""
    m = metrics.SparseCategoricalAccuracy()
    with pytest.raises(InputError, match=r"\(1, 2\)"):
        m.update_state(_arr(backend, [[0], [0]]), _arr(backend, [[[0.9, 0.1, 0.0], [0.8, 0.15, 0.05]]]))
    # The same labels in the shape the predictions have give Keras' number.
    _check(backend, m(_arr(backend, [[0, 0]]), _arr(backend, [[[0.9, 0.1, 0.0], [0.8, 0.15, 0.05]]])), 1.0, CLOSE)


def test_metric_configs(backend):
    """Keras' test_config: names and arguments survive get_config."""
    for m, name in ((metrics.BinaryAccuracy(name="binary_accuracy"), "binary_accuracy"),
                    (metrics.TopKCategoricalAccuracy(k=1, name="top_k_categorical_accuracy"),
                     "top_k_categorical_accuracy"),
                    (metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True),
                     "sparse_top_k_categorical_accuracy"),
                    (metrics.MeanAbsoluteError(name="my_mae"), "my_mae")):
        again = type(m)(**m.get_config())
        assert again.name == name and again.get_config() == m.get_config()
    assert metrics.SparseTopKCategoricalAccuracy(**metrics.SparseTopKCategoricalAccuracy(k=1).get_config()).k == 1
    assert math.isclose(metrics.BinaryAccuracy(threshold=0.3).get_config()["threshold"], 0.3)
