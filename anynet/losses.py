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

from anynet.activation_base import _sigmoid_portable, _softmax_and_log
from anynet.errors import InputError, InputTypeError, lookup
from anynet.loss_base import EPSILON, Loss, from_last, check_smoothing

__all__ = [
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Quadratic", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "EPSILON", "get",
]


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
        self.label_smoothing = check_smoothing(label_smoothing)

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
        self.label_smoothing = check_smoothing(label_smoothing)
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

    def logits_value_and_grad(self, Z, T, xp, sample_weight=None, kernels=None):
        fast = kernels.get("softmax_crossentropy") if kernels else None  # kernels hook: one pass, no E array
        if fast is not None and sample_weight is None and Z.ndim == 2 and self.axis in (-1, 1) \
                and tuple(T.shape) == tuple(Z.shape) and self._mask(T, xp) is None \
                and self.reduction in ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight"):
            # The value is sum(E) / d, d as in Loss._compute's common case.
            d = (float(Z.shape[-1]) if self._elementwise else 1.0) * (
                1.0 if self.reduction == "sum" else float(Z.shape[0]))
            return fast(Z, self._smooth(T, xp), d)
        return super().logits_value_and_grad(Z, T, xp, sample_weight)

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
        return from_last(out, self.axis, xp) if out.ndim > 1 else out

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
