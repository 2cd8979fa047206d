"""Losses with their gradients: mse, mae, quadratic, binary / categorical / sparse
categorical cross-entropy, with Keras 3's arguments and numbers.

A loss first reduces over its class axis (``axis``, the last by default): by the mean
(``output_reduction="mean"``, Keras' convention for mse, mae and binary cross-entropy) or
the sum (``"sum"``: categorical cross-entropy always; ex4's cost is
``BinaryCrossentropy(output_reduction="sum")``). That leaves one value per sample, or per
position for sequences ``(batch, time, classes)`` and images ``(batch, h, w, classes)``;
``reduction`` and ``sample_weight`` then make one number as Keras does (see
:mod:`anynet.reduction`): by default the mean over every sample and position.

Cross-entropies take probabilities or, with ``from_logits=True``, raw scores. As in Keras,
probabilities are clipped to ``[1e-7, 1 - 1e-7]`` (whatever the dtype), and categorical
ones are first rescaled so each row sums to one; the gradient is that of this clipped
value (zero where a probability was clipped). When a model ends in the sigmoid (binary)
or softmax (categorical) the loss expects, the model hands the loss the logits instead and
the gradient is the fused, stable ``p - t``.

``value_and_grad(Y, T, xp, sample_weight=None)`` and ``logits_value_and_grad`` take
targets ``T`` shaped like ``Y`` (from :meth:`Loss.targets`); ``loss(y_true, y_pred,
sample_weight=None)`` is the direct form, which also takes host data, applies Keras' shape
rules (a trailing axis of size 1 may be added or dropped; nothing else is broadcast) and
refuses other shapes with InputError.
"""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat
import numpy as np

from anynet.activations import _sigmoid_portable, _softmax_and_log
from anynet.errors import InputError, InputTypeError, lookup
from anynet.reduction import as_weights, check_reduction, place_like, reduce

__all__ = [
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Quadratic", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "EPSILON", "get",
]

#: Keras' ``backend.epsilon()``: probabilities are clipped to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def _to_last(x: Any, axis: int, xp: Any) -> Any:
    """Return x with axis ``axis`` moved to the end (x itself when it already is)."""
    a = axis % x.ndim
    if a == x.ndim - 1:
        return x
    return xp.permute_dims(x, tuple(i for i in range(x.ndim) if i != a) + (a,))


def _from_last(x: Any, axis: int, xp: Any) -> Any:
    """Undo :func:`_to_last`."""
    a = axis % x.ndim
    if a == x.ndim - 1:
        return x
    order = list(range(x.ndim - 1))
    order.insert(a, x.ndim - 1)
    return xp.permute_dims(x, tuple(order))


def _axis(axis: Any) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise InputTypeError(f"axis must be an int, got {axis!r}.")
    return int(axis)


def _smoothing(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
        raise InputError(f"label_smoothing must be a number in [0, 1], got {value!r}.")
    return float(value)


class Loss:
    """Base class. ``value_and_grad(Y, T, xp, sample_weight=None)`` returns ``(loss, dY)``,
    loss a 0-d array (a NumPy scalar on NumPy)."""

    name = "loss"
    #: the output activation whose pre-activation this loss can take as logits
    fuses_with: str | None = None
    #: True where targets are integer class labels rather than arrays shaped like Y
    sparse = False
    #: True where the loss is a sum or mean of elementwise terms over the class axis
    _elementwise = True

    def __init__(self, *, from_logits: bool = False, output_reduction: str = "mean",
                 reduction: str | None = "sum_over_batch_size", name: str | None = None, axis: int = -1) -> None:
        if output_reduction not in ("mean", "sum"):
            raise InputError(f"output_reduction must be 'mean' or 'sum', got {output_reduction!r}.")
        self.from_logits = bool(from_logits)
        self.output_reduction = output_reduction
        self.reduction = check_reduction(reduction)
        self.axis = _axis(axis)
        if name is not None:
            self.name = str(name)

    # -- the interface --------------------------------------------------------------------
    def targets(self, T: Any, n_outputs: int, xp: Any, dtype: Any) -> Any:
        """Return targets as the loss wants them per batch: same shape as Y, in ``dtype``."""
        if T.ndim == 1 and n_outputs == 1:
            T = xp.reshape(T, (-1, 1))
        return xp.astype(T, dtype) if T.dtype != dtype else T

    def value_and_grad(self, Y: Any, T: Any, xp: Any, sample_weight: Any = None) -> tuple[Any, Any]:
        """Return the loss and dLoss/dY for outputs Y and targets T (from :meth:`targets`)."""
        if self.reduction in (None, "none"):
            raise InputError(f"{type(self).__name__}(reduction={self.reduction!r}) gives one loss per sample, for "
                             f"direct calls; training needs one number: use 'sum_over_batch_size' (the default).")
        value, dY, _ = self._compute(Y, T, xp, sample_weight, grad=True, logits=self.from_logits)
        return value, dY

    def logits_value_and_grad(self, Z: Any, T: Any, xp: Any, sample_weight: Any = None) -> tuple[Any, Any, Any]:
        """Return ``(loss, dLoss/dZ, probabilities)`` for the pre-activation Z (fused path)."""
        if self.fuses_with is None:
            raise TypeError(f"{self.name} cannot take logits")
        return self._compute(Z, T, xp, sample_weight, grad=True, logits=True)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """Return the loss of predictions ``y_pred`` for targets ``y_true``: a 0-d array (a
        NumPy scalar on NumPy), or one value per sample with ``reduction=None``."""
        if array_api_compat.is_array_api_obj(y_pred):
            Y = y_pred
        else:
            Y = np.asarray(y_pred, dtype=np.float64)
        xp = array_api_compat.array_namespace(Y)
        if not xp.isdtype(Y.dtype, "real floating"):
            Y = xp.astype(Y, xp.float64)
        if Y.ndim == 0:
            raise InputError(f"{type(self).__name__}: y_pred must have at least one axis, got a scalar.")
        T = self._call_targets(place_like(y_true, Y, xp, "y_true"), Y, xp)
        return self._compute(Y, T, xp, sample_weight, grad=False, logits=self.from_logits)[0]

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "output_reduction": self.output_reduction,
                "reduction": self.reduction, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"

    # -- shapes -------------------------------------------------------------------------------
    def _call_targets(self, T: Any, Y: Any, xp: Any) -> Any:
        """Return y_true of a direct call shaped like Y, or raise InputError."""
        if T.ndim == Y.ndim + 1 and T.shape[-1] == 1:  # Keras' squeeze-or-expand rule
            T = xp.reshape(T, T.shape[:-1])
        elif Y.ndim == T.ndim + 1 and Y.shape[-1] == 1:
            T = xp.reshape(T, tuple(T.shape) + (1,))
        self._check_shapes(Y, T)
        return xp.astype(T, Y.dtype) if T.dtype != Y.dtype else T

    def _check_shapes(self, Y: Any, T: Any) -> None:
        if tuple(T.shape) == tuple(Y.shape):
            return
        hint = ""
        if Y.ndim >= 1 and tuple(T.shape) in (tuple(Y.shape[:-1]), tuple(Y.shape[:-1]) + (1,)) and Y.shape[-1] > 1:
            hint = (" These look like integer class labels: use SparseCategoricalCrossentropy, or one-hot "
                    "encode them.")
        raise InputError(f"{type(self).__name__}: y_true and y_pred must have the same shape, got y_true with shape "
                         f"{tuple(T.shape)} and y_pred with shape {tuple(Y.shape)}.{hint}")

    # -- the computation ------------------------------------------------------------------
    def _compute(self, Y: Any, T: Any, xp: Any, sample_weight: Any, *, grad: bool, logits: bool):
        self._check_shapes(Y, T)
        axis = self.axis if Y.ndim else -1
        if Y.ndim and not -Y.ndim <= axis < Y.ndim:
            raise InputError(f"{type(self).__name__}(axis={axis}) does not exist for y_pred with shape "
                             f"{tuple(Y.shape)}.")
        Yl, Tl = (_to_last(Y, axis, xp), _to_last(T, axis, xp)) if Y.ndim else (Y, T)
        Tl = self._smooth(Tl, xp)
        E, dE, P = (self._logit_terms if logits else self._terms)(Yl, Tl, xp, grad)
        mask = self._mask(Tl, xp)
        out = float(Yl.shape[-1]) if self._elementwise and self.output_reduction == "mean" and Yl.ndim else 1.0
        positions = tuple(Yl.shape[:-1])
        if sample_weight is None and mask is None and self.reduction not in (None, "none"):
            # The common case: no per-position array at all, one reduction of E.
            d = out * (1.0 if self.reduction == "sum" else float(_size(positions)))
            value = xp.sum(E) * (1.0 / d)
            dY = dE * (1.0 / d) if grad else None
        else:
            L = (xp.sum(E, axis=-1) * (1.0 / out)) if self._elementwise and Yl.ndim else E
            W = as_weights(sample_weight, L, xp) if sample_weight is not None else None
            value, G = reduce(L, xp, self.reduction, W, mask)
            dY = None
            if grad:
                G = G if isinstance(G, float) else xp.reshape(G, tuple(G.shape) + (1,))
                dY = dE * (G * (1.0 / out) if out != 1.0 else G)
        if Y.ndim:
            dY = _from_last(dY, axis, xp) if dY is not None else None
            P = _from_last(P, axis, xp) if P is not None else None
        return value, dY, P

    def _smooth(self, T: Any, xp: Any) -> Any:
        return T

    def _mask(self, T: Any, xp: Any) -> Any:
        return None

    def _terms(self, Y: Any, T: Any, xp: Any, grad: bool) -> tuple[Any, Any, Any]:
        """Return ``(E, dE/dY, None)`` with the class axis last: E elementwise (shaped like Y)
        or, for row-wise losses, one value per row."""
        raise TypeError(f"{type(self).__name__} does not define _terms")

    def _logit_terms(self, Z: Any, T: Any, xp: Any, grad: bool) -> tuple[Any, Any, Any]:
        """Return ``(E, dE/dZ, P)`` from logits Z, P the probabilities."""
        raise TypeError(f"{self.name} cannot take logits")


class _Regression(Loss):
    """What mse and mae share: Keras' arguments (reduction, name) and no logits."""

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None, *,
                 output_reduction: str = "mean") -> None:
        super().__init__(output_reduction=output_reduction, reduction=reduction, name=name)

    def get_config(self):
        return {"reduction": self.reduction, "name": self.name, "output_reduction": self.output_reduction}


class MeanSquaredError(_Regression):
    """``(y - t)**2``, mean over outputs, then Keras' reduction over samples."""

    name = "mse"

    def _terms(self, Y, T, xp, grad):
        D = Y - T
        return D * D, (2.0 * D if grad else None), None


class MeanAbsoluteError(_Regression):
    """``|y - t|``, mean over outputs, then Keras' reduction over samples."""

    name = "mae"

    def _terms(self, Y, T, xp, grad):
        D = Y - T
        return xp.abs(D), (xp.sign(D) if grad else None), None


class Quadratic(Loss):
    """Nielsen's quadratic cost ``0.5 * ||y - t||**2`` per sample, mean over samples."""

    name = "quadratic"

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str | None = None) -> None:
        super().__init__(output_reduction="sum", reduction=reduction, name=name)

    def _terms(self, Y, T, xp, grad):
        D = Y - T
        return 0.5 * (D * D), (D if grad else None), None

    def get_config(self):
        return {"reduction": self.reduction, "name": self.name}


class BinaryCrossentropy(Loss):
    """``-(t log p + (1 - t) log(1 - p))`` for independent sigmoid outputs, mean over ``axis``.

    ``label_smoothing`` moves targets toward 0.5: ``t (1 - s) + s / 2``, as Keras does.
    """

    name = "binary_crossentropy"
    fuses_with = "sigmoid"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str | None = None, *,
                 output_reduction: str = "mean") -> None:
        super().__init__(from_logits=from_logits, output_reduction=output_reduction, reduction=reduction,
                         name=name, axis=axis)
        self.label_smoothing = _smoothing(label_smoothing)

    def _smooth(self, T, xp):
        s = self.label_smoothing
        return T * (1.0 - s) + 0.5 * s if s else T

    def _terms(self, Y, T, xp, grad):
        P = xp.clip(Y, EPSILON, 1.0 - EPSILON)
        E = -(T * xp.log(P) + (1.0 - T) * xp.log(1.0 - P))
        if not grad:
            return E, None, None
        inside = xp.astype((Y >= EPSILON) & (Y <= 1.0 - EPSILON), Y.dtype)
        return E, (P - T) / (P * (1.0 - P)) * inside, None

    def _logit_terms(self, Z, T, xp, grad):
        # max(z, 0) - z t + log(1 + exp(-|z|)) is log(1 + e^z) - z t without overflow.
        E = xp.maximum(Z, 0.0) - Z * T + xp.log1p(xp.exp(-xp.abs(Z)))
        P = _sigmoid_portable(Z, xp)
        return E, P - T, P

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis,
                "reduction": self.reduction, "name": self.name, "output_reduction": self.output_reduction}


class CategoricalCrossentropy(Loss):
    """``-sum_k t_k log p_k`` over ``axis`` (one-hot or soft targets), then Keras' reduction.

    Probabilities are rescaled so each row sums to one, then clipped to [1e-7, 1 - 1e-7];
    ``label_smoothing`` s makes targets ``t (1 - s) + s / k``, as Keras does.
    """

    name = "categorical_crossentropy"
    _elementwise = False

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size", name: str | None = None, *,
                 output_reduction: str = "sum") -> None:
        super().__init__(from_logits=from_logits, output_reduction=output_reduction, reduction=reduction,
                         name=name, axis=axis)
        self.label_smoothing = _smoothing(label_smoothing)
        self._elementwise = output_reduction == "mean"

    @property
    def fuses_with(self) -> str:  # type: ignore[override]
        """The activation whose logits this loss takes: a softmax over the same axis."""
        return "softmax" if self.axis == -1 else f"softmax(axis={self.axis})"

    def _smooth(self, T, xp):
        s = self.label_smoothing
        return T * (1.0 - s) + s / T.shape[-1] if s else T

    def _terms(self, Y, T, xp, grad):
        S = xp.sum(Y, axis=-1, keepdims=True)
        Q = Y / S
        Qc = xp.clip(Q, EPSILON, 1.0 - EPSILON)
        E = -T * xp.log(Qc)
        E = E if self._elementwise else xp.sum(E, axis=-1)
        if not grad:
            return E, None, None
        # d/dY of -sum t log(clip(Y / S)): the clip passes gradient only inside its bounds,
        # and the rescaling by S = sum(Y) projects it: (g - sum(g Q)) / S.
        g = -T / Qc * xp.astype((Q >= EPSILON) & (Q <= 1.0 - EPSILON), Y.dtype)
        return E, (g - xp.sum(g * Q, axis=-1, keepdims=True)) / S, None

    def _logit_terms(self, Z, T, xp, grad):
        P, logP = _softmax_and_log(Z, xp)
        E = -T * logP
        E = E if self._elementwise else xp.sum(E, axis=-1)
        # d/dz of -sum t log softmax(z) is softmax(z) * sum(t) - t: p - t for one-hot rows.
        return E, P * xp.sum(T, axis=-1, keepdims=True) - T, P

    def get_config(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis,
                "reduction": self.reduction, "name": self.name, "output_reduction": self.output_reduction}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer class labels 0..k-1: shaped like the outputs
    without their class axis, ``(n,)`` or ``(n, 1)`` for ``(n, k)`` outputs, ``(n, h, w)``
    for segmentation outputs ``(n, h, w, k)``.

    ``ignore_class`` (Keras' argument, e.g. -1 or 255 for "void" pixels) leaves positions
    with that label out: they add nothing, and the mean runs over the others.
    """

    name = "sparse_categorical_crossentropy"
    sparse = True

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size", axis: int = -1, name: str | None = None, *,
                 output_reduction: str = "sum") -> None:
        super().__init__(from_logits=from_logits, axis=axis, reduction=reduction, name=name,
                         output_reduction=output_reduction)
        if ignore_class is not None and (isinstance(ignore_class, bool)
                                         or not isinstance(ignore_class, numbers.Integral)):
            raise InputTypeError(f"ignore_class must be an int or None, got {ignore_class!r}.")
        self.ignore_class = None if ignore_class is None else int(ignore_class)

    def targets(self, T, n_outputs, xp, dtype):
        """Return one-hot targets shaped like Y (labels' shape plus the class axis at ``axis``);
        rows of an ignored label are all zero."""
        if T.ndim == 2 and T.shape[1] == 1:
            T = xp.reshape(T, (-1,))
        labels = xp.astype(T, xp.int64) if T.dtype != xp.int64 else T
        column = xp.reshape(labels, tuple(labels.shape) + (1,))
        hot = column == xp.arange(n_outputs, dtype=xp.int64, device=labels.device)
        if self.ignore_class is not None:
            hot = hot & (column != self.ignore_class)
        out = xp.astype(hot, dtype)
        return _from_last(out, self.axis, xp) if out.ndim > 1 else out

    def _call_targets(self, T, Y, xp):
        axis = self.axis % Y.ndim
        if T.ndim == Y.ndim and T.shape[axis] == 1:  # Keras squeezes labels' singleton class axis
            T = xp.reshape(T, tuple(d for i, d in enumerate(T.shape) if i != axis))
        expected = tuple(d for i, d in enumerate(Y.shape) if i != axis)
        if tuple(T.shape) != expected:
            raise InputError(f"{type(self).__name__}: labels must have y_pred's shape without its class axis, "
                             f"{expected}, got y_true with shape {tuple(T.shape)} for y_pred with shape "
                             f"{tuple(Y.shape)}.")
        k = int(Y.shape[axis])
        if xp.isdtype(T.dtype, "real floating") and bool(xp.any(T != xp.round(T))):
            raise InputError(f"{type(self).__name__} needs integer class labels; y_true holds non-integer values.")
        bad = (T < 0) | (T >= k)
        if self.ignore_class is not None:
            bad = bad & (T != self.ignore_class)
        if bool(xp.any(bad)):
            ignored = f" (or {self.ignore_class}, the ignored class)" if self.ignore_class is not None else ""
            raise InputError(f"Labels must be in 0..{k - 1} for {k} classes{ignored}"
                             f"; y_true holds values from {float(xp.min(T)):g} to {float(xp.max(T)):g}.")
        return self.targets(T, k, xp, Y.dtype)

    def _mask(self, T, xp):
        return None if self.ignore_class is None else xp.sum(T, axis=-1) > 0

    def get_config(self):
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class, "reduction": self.reduction,
                "axis": self.axis, "name": self.name, "output_reduction": self.output_reduction}


_NAMES: dict[str, type[Loss]] = {
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "quadratic": Quadratic,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}


def get(spec: str | Loss) -> Loss:
    """Return the Loss for a name ("binary_crossentropy", "mse", ...) or a Loss."""
    return lookup("loss", spec, Loss, _NAMES, "mse")
