"""Metrics computed on the device per batch and read back once per epoch.

A metric returns ``(sum, count)``: a 0-d device array and a Python int, so the training
loop accumulates on the device and divides once at the end of the epoch. Calling a
metric directly, ``BinaryAccuracy()(y_true, y_pred)``, returns the finished value as a 0-d
array (a NumPy scalar on NumPy).
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from anynet.errors import InputTypeError, unknown_name
from anynet.losses import BinaryCrossentropy, Loss, SparseCategoricalCrossentropy

__all__ = ["Metric", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "get"]


class Metric:
    """``batch(Y, T, xp) -> (sum, count)`` where Y are outputs and T targets as the loss prepared them."""

    name = "metric"

    def batch(self, Y: Any, T: Any, xp: Any) -> tuple[Any, int]:
        raise TypeError(f"{type(self).__name__} does not define batch")

    def __call__(self, y_true: Any, y_pred: Any) -> Any:
        """Return the metric of ``y_pred`` against ``y_true`` as a 0-d array (a NumPy scalar on NumPy)."""
        xp = array_api_compat.array_namespace(y_pred)
        Y = xp.reshape(y_pred, (-1, 1)) if y_pred.ndim == 1 else y_pred
        T = xp.reshape(y_true, (-1, 1)) if y_true.ndim == 1 and not isinstance(self, SparseCategoricalAccuracy) else y_true
        s, n = self.batch(Y, T, xp)
        return s / n

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _count(mask: Any, xp: Any, dtype: Any) -> Any:
    return xp.sum(xp.astype(mask, dtype))


class BinaryAccuracy(Metric):
    """Share of outputs on the right side of ``threshold`` (0.5 on probabilities)."""

    name = "accuracy"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = float(threshold)

    def batch(self, Y, T, xp):
        n = Y.shape[0] * (Y.shape[1] if Y.ndim > 1 else 1)
        return _count((Y > self.threshold) == (T > 0.5), xp, Y.dtype), n


class CategoricalAccuracy(Metric):
    """Share of rows whose largest output is the largest target (one-hot targets)."""

    name = "accuracy"

    def batch(self, Y, T, xp):
        return _count(xp.argmax(Y, axis=-1) == xp.argmax(T, axis=-1), xp, Y.dtype), Y.shape[0]


class SparseCategoricalAccuracy(CategoricalAccuracy):
    """Share of rows whose largest output is the integer label; targets may be labels or one-hot."""

    def batch(self, Y, T, xp):
        if T.ndim == Y.ndim and T.shape[-1] == Y.shape[-1] and Y.shape[-1] > 1:
            return super().batch(Y, T, xp)  # one-hot, as SparseCategoricalCrossentropy.targets makes them
        labels = xp.astype(xp.reshape(T, (-1,)), xp.int64)
        return _count(xp.argmax(Y, axis=-1) == labels, xp, Y.dtype), Y.shape[0]


class MeanSquaredError(Metric):
    name = "mse"

    def batch(self, Y, T, xp):
        D = Y - T
        return xp.sum(D * D), Y.shape[0] * (Y.shape[1] if Y.ndim > 1 else 1)


class MeanAbsoluteError(Metric):
    name = "mae"

    def batch(self, Y, T, xp):
        return xp.sum(xp.abs(Y - T)), Y.shape[0] * (Y.shape[1] if Y.ndim > 1 else 1)


_NAMES = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def get(spec: str | Metric, loss: Loss | None = None, n_outputs: int | None = None) -> Metric:
    """Return the Metric for a name or a Metric.

    ``"accuracy"`` (or ``"acc"``) picks the kind from the loss, as Keras does: binary for
    binary cross-entropy or a single output, sparse for sparse categorical cross-entropy,
    categorical otherwise.
    """
    if isinstance(spec, Metric):
        return spec
    if not isinstance(spec, str):
        raise InputTypeError(f"A metric is a name such as 'accuracy' or an anynet Metric, got {spec!r}.")
    key = spec.lower()
    if key in ("accuracy", "acc"):
        if isinstance(loss, BinaryCrossentropy) or (n_outputs == 1 and not isinstance(loss, SparseCategoricalCrossentropy)):
            return BinaryAccuracy()
        if isinstance(loss, SparseCategoricalCrossentropy):
            return SparseCategoricalAccuracy()
        return CategoricalAccuracy()
    if key not in _NAMES:
        raise unknown_name("metric", spec, list(_NAMES) + ["accuracy"])
    metric = _NAMES[key]()
    if key.endswith("accuracy"):
        metric.name = key
    return metric
