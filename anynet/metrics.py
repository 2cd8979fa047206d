"""Metrics computed on the device, with Keras' stateful API (see :mod:`anynet.metric_base`
for ``update_state`` / ``result`` / ``reset_state`` and the per-batch sums of ``fit``).

Values are Keras': the mean over samples and positions of each sample's value, weighted
as Keras' ``MeanMetricWrapper`` weights them. Shapes that do not match are refused with
InputError rather than broadcast into a wrong count: ``y_true`` must be shaped like
``y_pred`` (a trailing axis of size 1 may be added or dropped), or for the sparse metrics
like ``y_pred`` without its class axis.
"""

from __future__ import annotations

import numbers
from typing import Any

from anynet.errors import InputError, InputTypeError, unknown_name
from anynet.losses import BinaryCrossentropy, Loss, SparseCategoricalCrossentropy
from anynet.metric_base import Metric, mean_over

__all__ = ["Metric", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
           "get"]


def _matches(mask: Any, dtype: Any, xp: Any) -> Any:
    return xp.astype(mask, dtype)


class BinaryAccuracy(Metric):
    """Share of outputs on the right side of ``threshold`` (0.5 on probabilities).

    A target counts as class 1 when it is above 0.5 (Keras compares targets for equality
    with 0 and 1; the two agree on 0/1 targets).
    """

    name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise InputTypeError(f"threshold must be a number, got {threshold!r}.")
        self.threshold = float(threshold)
        super().__init__(name)

    def _values(self, Y, T, xp):
        return _matches((Y > self.threshold) == (T > 0.5), Y.dtype, xp)

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """Share of rows (positions) whose largest output is the largest target (one-hot targets)."""

    name = "categorical_accuracy"

    def _values(self, Y, T, xp):
        return _matches(xp.argmax(Y, axis=-1) == xp.argmax(T, axis=-1), Y.dtype, xp)


def _labels(T: Any, Y: Any, xp: Any, who: str) -> tuple[Any, Any]:
    """Return ``(labels, known)`` for sparse targets: integer labels shaped like Y without its
    class axis, and a mask of positions that have a label (one-hot rows of zeros, as
    SparseCategoricalCrossentropy(ignore_class=...) makes them, have none)."""
    rows = tuple(Y.shape[:-1])
    if tuple(T.shape) == tuple(Y.shape) and Y.shape[-1] > 1 and xp.isdtype(T.dtype, "real floating"):
        return xp.argmax(T, axis=-1), xp.sum(T, axis=-1) > 0  # one-hot, as the loss prepared them
    if T.ndim == Y.ndim and T.shape[-1] == 1:
        T = xp.reshape(T, T.shape[:-1])
    if tuple(T.shape) != rows:
        raise InputError(f"{who}: labels must have y_pred's shape without its class axis, {rows}, got y_true with "
                         f"shape {tuple(T.shape)} for y_pred with shape {tuple(Y.shape)}.")
    return (xp.astype(T, xp.int64) if T.dtype != xp.int64 else T), None


class SparseCategoricalAccuracy(Metric):
    """Share of rows (positions) whose largest output is the integer label; targets may be
    labels or the one-hot rows SparseCategoricalCrossentropy prepares."""

    name = "sparse_categorical_accuracy"
    sparse = True

    def _shape_targets(self, T, Y, xp):
        return T  # checked in _values with the labels

    def _values(self, Y, T, xp):
        labels, known = _labels(T, Y, xp, type(self).__name__)
        hit = xp.argmax(Y, axis=-1) == labels
        return _matches(hit if known is None else hit & known, Y.dtype, xp)


def _in_top_k(Y: Any, labels: Any, k: int, xp: Any) -> Any:
    """Return where the label's score is among the k largest of its row: fewer than k
    classes score strictly higher (ties at the boundary count as in, as TF's in_top_k)."""
    classes = xp.arange(Y.shape[-1], dtype=xp.int64, device=Y.device)
    hot = xp.reshape(labels, tuple(labels.shape) + (1,)) == classes
    score = xp.max(xp.where(hot, Y, -xp.inf), axis=-1, keepdims=True)
    higher = xp.sum(xp.astype(Y > score, xp.int64), axis=-1)
    return (higher < k) & xp.any(hot, axis=-1)


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise InputError(f"k must be an int >= 1, got {k!r}.")
    return int(k)


class TopKCategoricalAccuracy(Metric):
    """Share of rows whose target class (argmax of the one-hot target) is among the ``k``
    largest outputs."""

    name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None) -> None:
        self.k = _check_k(k)
        super().__init__(name)

    def _values(self, Y, T, xp):
        return _matches(_in_top_k(Y, xp.argmax(T, axis=-1), self.k, xp), Y.dtype, xp)

    def get_config(self):
        return {"k": self.k, "name": self.name}


class SparseTopKCategoricalAccuracy(Metric):
    """Share of rows whose integer label is among the ``k`` largest outputs; with
    ``from_sorted_ids=True``, y_pred holds class ids sorted best first, as Keras allows."""

    name = "sparse_top_k_categorical_accuracy"
    sparse = True

    def __init__(self, k: int = 5, name: str | None = None, from_sorted_ids: bool = False) -> None:
        self.k = _check_k(k)
        self.from_sorted_ids = bool(from_sorted_ids)
        super().__init__(name)

    def _shape_targets(self, T, Y, xp):
        return T

    def _values(self, Y, T, xp):
        labels, known = _labels(T, Y, xp, type(self).__name__)
        if self.from_sorted_ids:
            ids = xp.astype(Y[..., :self.k], xp.int64)
            hit = xp.any(ids == xp.reshape(labels, tuple(labels.shape) + (1,)), axis=-1)
        else:
            hit = _in_top_k(Y, labels, self.k, xp)
        return _matches(hit if known is None else hit & known, Y.dtype, xp)

    def get_config(self):
        return {"k": self.k, "name": self.name, "from_sorted_ids": self.from_sorted_ids}


class MeanSquaredError(Metric):
    """Mean of ``(y - t)**2`` over outputs and samples."""

    name = "mean_squared_error"

    def _values(self, Y, T, xp):
        D = Y - T
        return D * D

    def _weighted(self, V, W, xp):
        return super()._weighted(mean_over(V, V.ndim - 1, xp) if V.ndim > 1 else V, W, xp)


class MeanAbsoluteError(MeanSquaredError):
    """Mean of ``|y - t|`` over outputs and samples."""

    name = "mean_absolute_error"

    def _values(self, Y, T, xp):
        return xp.abs(Y - T)


_NAMES = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}


def get(spec: str | Metric, loss: Loss | None = None, n_outputs: int | None = None) -> Metric:
    """Return the Metric for a name or a Metric; a name also names the metric (its log key).

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
        sparse = isinstance(loss, SparseCategoricalCrossentropy)
        if isinstance(loss, BinaryCrossentropy) or (n_outputs == 1 and not sparse):
            return BinaryAccuracy(name=spec)
        if sparse:
            return SparseCategoricalAccuracy(name=spec)
        return CategoricalAccuracy(name=spec)
    if key not in _NAMES:
        raise unknown_name("metric", spec, list(_NAMES) + ["accuracy"])
    return _NAMES[key](name=spec)
