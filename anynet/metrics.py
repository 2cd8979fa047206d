"""Metrics computed on the device, with Keras' stateful API.

Two ways in:

- the training loop calls ``batch(Y, T, xp) -> (sum, count)`` per batch, with outputs Y
  and targets T as the loss prepared them; it accumulates on the device and divides once
  per epoch. ``count`` is a Python int (a 0-d array when ``sample_weight`` is given);
- users call Keras' ``update_state(y_true, y_pred, sample_weight=None)``, ``result()`` and
  ``reset_state()``; ``metric(y_true, y_pred)`` updates and returns ``result()``, as in
  Keras (so it accumulates across calls until ``reset_state``). These take host data too.

Values are Keras': the mean over samples and positions of each sample's value, weighted
as Keras' ``MeanMetricWrapper`` weights them. Shapes that do not match are refused with
InputError rather than broadcast into a wrong count: ``y_true`` must be shaped like
``y_pred`` (a trailing axis of size 1 may be added or dropped), or for the sparse metrics
like ``y_pred`` without its class axis.
"""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat

from anynet.errors import InputError, InputTypeError, unknown_name
from anynet.losses import BinaryCrossentropy, Loss, SparseCategoricalCrossentropy
from anynet.validation import host_array, place_like

__all__ = ["Metric", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError",
           "get"]


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _mean_over(x: Any, start: int, xp: Any) -> Any:
    """Return x averaged over its axes from ``start`` on (x itself when there are none)."""
    return xp.mean(x, axis=tuple(range(start, x.ndim))) if x.ndim > start else x


class Metric:
    """Base class: subclasses define ``_values(Y, T, xp)``, the per-position values whose
    (weighted) mean is the metric, and ``_shape_targets`` for their shape rule."""

    name = "metric"
    #: True where targets are integer labels (the sparse metrics)
    sparse = False

    def __init__(self, name: str | None = None) -> None:
        if name is not None:
            if not isinstance(name, str):
                raise InputTypeError(f"A metric's name is a str, got {name!r}.")
            self.name = name
        self.reset_state()

    # -- per batch (the training loop) --------------------------------------------------------
    def batch(self, Y: Any, T: Any, xp: Any, sample_weight: Any = None) -> tuple[Any, Any]:
        """Return ``(sum, count)`` for one batch: the metric is ``sum / count``.

        Without ``sample_weight`` count is a Python int; with it, a 0-d array (Keras: the
        summed per-sample weights). ``sample_weight`` must be an array of Y's namespace.
        """
        V = self._values(Y, self._shape_targets(T, Y, xp), xp)
        if sample_weight is None:
            return xp.sum(V), _size(tuple(V.shape))
        return self._weighted(V, sample_weight, xp)

    def _weighted(self, V: Any, W: Any, xp: Any) -> tuple[Any, Any]:
        # Keras' reduce_to_samplewise_values with a mean: per-sample values and weights.
        if isinstance(W, numbers.Real):
            W = xp.full((), float(W), dtype=V.dtype, device=V.device)
        W = xp.astype(W, V.dtype) if W.dtype != V.dtype else W
        if W.ndim == V.ndim + 1 and W.shape[-1] == 1:
            W = xp.reshape(W, W.shape[:-1])
        elif V.ndim == W.ndim + 1 and V.shape[-1] == 1:
            V = xp.reshape(V, V.shape[:-1])
        if W.ndim > V.ndim or not all(w in (1, v) for w, v in zip(W.shape, V.shape[:W.ndim])):
            raise InputError(f"{type(self).__name__}: sample_weight of shape {tuple(W.shape)} does not fit values of "
                             f"shape {tuple(V.shape)}; pass one weight per sample.")
        V = _mean_over(V, W.ndim, xp)
        W = xp.broadcast_to(W, V.shape)
        V = V * W
        if W.ndim > 1:
            W = _mean_over(W, 1, xp)
        return xp.sum(_mean_over(V, 1, xp)), xp.sum(W)

    # -- Keras' stateful API -------------------------------------------------------------------
    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add a batch of targets and predictions (host data or arrays) to the running value."""
        Y = y_pred if array_api_compat.is_array_api_obj(y_pred) else host_array(y_pred, "y_pred")
        xp = array_api_compat.array_namespace(Y)
        if not xp.isdtype(Y.dtype, "real floating"):
            Y = xp.astype(Y, xp.float64)
        if Y.ndim == 0:
            raise InputError(f"{type(self).__name__}: y_pred must have at least one axis, got a scalar.")
        T = place_like(y_true, Y, xp, "y_true")
        if sample_weight is not None and not isinstance(sample_weight, numbers.Real):
            sample_weight = place_like(sample_weight, Y, xp, "sample_weight")
        s, c = self.batch(Y, T, xp, sample_weight)
        self._total, self._count, self._xp = self._total + s, self._count + c, xp

    def result(self) -> Any:
        """Return the running value: a 0-d array (a NumPy scalar on NumPy), 0.0 before any data."""
        total, count, xp = self._total, self._count, self._xp
        if isinstance(count, numbers.Real):
            return total / count if count else 0.0
        nonzero = count != 0
        return xp.where(nonzero, total / xp.where(nonzero, count, 1.0), 0.0)

    def reset_state(self) -> None:
        """Forget everything seen so far."""
        self._total: Any = 0.0
        self._count: Any = 0
        self._xp: Any = None

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """Update the state with this batch and return :meth:`result` (Keras' behaviour)."""
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    # -- shapes --------------------------------------------------------------------------------
    def _shape_targets(self, T: Any, Y: Any, xp: Any) -> Any:
        """Return T shaped like Y (Keras' squeeze-or-expand of one trailing unit axis) in Y's
        dtype, or raise."""
        if T.ndim == Y.ndim + 1 and T.shape[-1] == 1:
            T = xp.reshape(T, T.shape[:-1])
        elif Y.ndim == T.ndim + 1 and Y.shape[-1] == 1:
            T = xp.reshape(T, tuple(T.shape) + (1,))
        if tuple(T.shape) != tuple(Y.shape):
            raise InputError(f"{type(self).__name__}: y_true must be shaped like y_pred {tuple(Y.shape)}, got "
                             f"shape {tuple(T.shape)}.")
        return xp.astype(T, Y.dtype) if T.dtype != Y.dtype else T

    def _values(self, Y: Any, T: Any, xp: Any) -> Any:
        raise TypeError(f"{type(self).__name__} does not define _values")


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
        return super()._weighted(_mean_over(V, V.ndim - 1, xp) if V.ndim > 1 else V, W, xp)


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
