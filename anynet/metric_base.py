"""The metric base class: Keras' stateful API, sample weights and the shape rule.

A metric is the (weighted) mean of per-position values that a subclass defines in
``_values(Y, T, xp)``. Two ways in:

- the training loop calls ``batch(Y, T, xp) -> (sum, count)`` per batch, with outputs Y
  and targets T as the loss prepared them; it accumulates on the device and divides once
  per epoch. ``count`` is a Python int (a 0-d array when ``sample_weight`` is given);
- users call Keras' ``update_state(y_true, y_pred, sample_weight=None)``, ``result()`` and
  ``reset_state()``; ``metric(y_true, y_pred)`` updates and returns ``result()``, as in
  Keras (so it accumulates across calls until ``reset_state``). These take host data too.

Weights follow Keras' ``MeanMetricWrapper``. ``y_true`` must be shaped like ``y_pred`` (a
trailing axis of size 1 may be added or dropped), or InputError says why. The metrics
themselves are in :mod:`anynet.metrics`.
"""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat

from anynet.errors import InputError, InputTypeError
from anynet.validation import host_array, place_like

__all__ = ["Metric", "mean_over"]


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def mean_over(x: Any, start: int, xp: Any) -> Any:
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
        V = mean_over(V, W.ndim, xp)
        W = xp.broadcast_to(W, V.shape)
        V = V * W
        if W.ndim > 1:
            W = mean_over(W, 1, xp)
        return xp.sum(mean_over(V, 1, xp)), xp.sum(W)

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
