"""Losses with their gradients: mse, mae, quadratic, binary / categorical / sparse
categorical cross-entropy.

A loss is ``mean over samples of (reduce over outputs of the elementwise loss)``; the
reduction over outputs is ``"mean"`` (Keras' convention for mse, mae and binary
cross-entropy) or ``"sum"`` (categorical cross-entropy always; ex4's cost is
``BinaryCrossentropy(output_reduction="sum")``).

Cross-entropies take probabilities (clipped to [eps, 1 - eps] with the dtype's own eps)
or, with ``from_logits=True``, raw scores. When a model ends in the sigmoid (for binary)
or softmax (for categorical) that the loss expects, the model hands the loss the logits
instead and the gradient is the fused, stable ``p - y``.
"""

from __future__ import annotations

from typing import Any

import array_api_compat

from anynet.activations import _sigmoid_portable, _softmax_and_log
from anynet.errors import InputError, lookup

__all__ = [
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Quadratic", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "get",
]


class Loss:
    """Base class. ``value_and_grad(Y, T, xp)`` returns ``(loss, dY)``, loss a 0-d array (a NumPy scalar on NumPy)."""

    name = "loss"
    #: the output activation whose pre-activation this loss can take as logits
    fuses_with: str | None = None
    #: True where targets are integer class labels rather than arrays shaped like Y
    sparse = False

    def __init__(self, *, from_logits: bool = False, output_reduction: str = "mean") -> None:
        if output_reduction not in ("mean", "sum"):
            raise InputError(f"output_reduction must be 'mean' or 'sum', got {output_reduction!r}.")
        self.from_logits = bool(from_logits)
        self.output_reduction = output_reduction

    # -- normalisation ------------------------------------------------------------------
    def _norm(self, Y: Any) -> float:
        n = Y.shape[0]
        k = 1
        for d in Y.shape[1:]:
            k *= d
        return float(n * (k if self.output_reduction == "mean" else 1))

    # -- the interface --------------------------------------------------------------------
    def targets(self, T: Any, n_outputs: int, xp: Any, dtype: Any) -> Any:
        """Return targets as the loss wants them per batch: same shape as Y, in ``dtype``."""
        if T.ndim == 1 and n_outputs == 1:
            T = xp.reshape(T, (-1, 1))
        return xp.astype(T, dtype) if T.dtype != dtype else T

    def value_and_grad(self, Y: Any, T: Any, xp: Any) -> tuple[Any, Any]:
        """Return the loss and dLoss/dY for outputs Y and targets T (from :meth:`targets`)."""
        raise TypeError(f"{type(self).__name__} does not define value_and_grad")

    def logits_value_and_grad(self, Z: Any, T: Any, xp: Any, kernels: Any = None) -> tuple[Any, Any, Any]:
        """Return ``(loss, dLoss/dZ, probabilities)`` for the pre-activation Z (fused path)."""
        raise TypeError(f"{self.name} cannot take logits")

    def __call__(self, y_true: Any, y_pred: Any) -> Any:
        """Return the loss of predictions ``y_pred`` for targets ``y_true`` as a 0-d array (a NumPy scalar on NumPy)."""
        xp = array_api_compat.array_namespace(y_pred)
        T = self.targets(y_true, y_pred.shape[-1] if y_pred.ndim > 1 else 1, xp, y_pred.dtype)
        Y = xp.reshape(y_pred, (-1, 1)) if y_pred.ndim == 1 else y_pred
        return self.value_and_grad(Y, T, xp)[0]

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "output_reduction": self.output_reduction}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


def _eps(Y: Any, xp: Any) -> float:
    return float(xp.finfo(Y.dtype).eps)


class MeanSquaredError(Loss):
    """``(y - t)**2``, mean over outputs and samples."""

    name = "mse"

    def value_and_grad(self, Y, T, xp):
        D = Y - T
        norm = self._norm(Y)
        return xp.sum(D * D) / norm, D * (2.0 / norm)


class Quadratic(Loss):
    """Nielsen's quadratic cost ``0.5 * ||y - t||**2`` per sample, mean over samples."""

    name = "quadratic"

    def __init__(self) -> None:
        super().__init__(output_reduction="sum")

    def value_and_grad(self, Y, T, xp):
        D = Y - T
        n = float(Y.shape[0])
        return 0.5 * xp.sum(D * D) / n, D * (1.0 / n)

    def get_config(self):
        return {}


class MeanAbsoluteError(Loss):
    """``|y - t|``, mean over outputs and samples."""

    name = "mae"

    def value_and_grad(self, Y, T, xp):
        D = Y - T
        norm = self._norm(Y)
        return xp.sum(xp.abs(D)) / norm, xp.sign(D) * (1.0 / norm)


class _CrossEntropy(Loss):
    """What the cross-entropies share: logits take the fused path, probabilities are clipped."""

    def value_and_grad(self, Y, T, xp):
        if self.from_logits:
            loss, dZ, _ = self.logits_value_and_grad(Y, T, xp)
            return loss, dZ
        eps = _eps(Y, xp)
        return self._from_probabilities(xp.clip(Y, eps, 1.0 - eps), T, self._norm(Y), xp)

    def _from_probabilities(self, P: Any, T: Any, norm: float, xp: Any) -> tuple[Any, Any]:
        raise TypeError(f"{type(self).__name__} does not define _from_probabilities")


class BinaryCrossentropy(_CrossEntropy):
    """``-(t log p + (1 - t) log(1 - p))`` for independent sigmoid outputs."""

    name = "binary_crossentropy"
    fuses_with = "sigmoid"

    def _from_probabilities(self, P, T, norm, xp):
        L = T * xp.log(P) + (1.0 - T) * xp.log(1.0 - P)
        return -xp.sum(L) / norm, (P - T) / (P * (1.0 - P) * norm)

    def logits_value_and_grad(self, Z, T, xp, kernels=None):
        # max(z, 0) - z t + log(1 + exp(-|z|)) is log(1 + e^z) - z t without overflow.
        L = xp.maximum(Z, 0.0) - Z * T + xp.log1p(xp.exp(-xp.abs(Z)))
        P = _sigmoid_portable(Z, xp)
        norm = self._norm(Z)
        return xp.sum(L) / norm, (P - T) * (1.0 / norm), P


class CategoricalCrossentropy(_CrossEntropy):
    """``-sum_k t_k log p_k`` per sample (one-hot or soft targets), mean over samples."""

    name = "categorical_crossentropy"
    fuses_with = "softmax"

    def __init__(self, *, from_logits: bool = False, output_reduction: str = "sum") -> None:
        super().__init__(from_logits=from_logits, output_reduction=output_reduction)

    def _from_probabilities(self, P, T, norm, xp):
        return -xp.sum(T * xp.log(P)) / norm, -T / (P * norm)

    def logits_value_and_grad(self, Z, T, xp, kernels=None):
        norm = self._norm(Z)
        fast = kernels.get("softmax_crossentropy") if kernels else None
        if fast is not None and Z.ndim == 2:
            return fast(Z, T, norm)
        P, logP = _softmax_and_log(Z, xp)
        loss = -xp.sum(T * logP) / norm
        # d/dz of -sum t log softmax(z) is softmax(z) * sum(t) - t: p - t for one-hot rows.
        dZ = (P * xp.sum(T, axis=-1, keepdims=True) - T) * (1.0 / norm)
        return loss, dZ, P


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer class labels 0..k-1 of shape (n,) or (n, 1)."""

    name = "sparse_categorical_crossentropy"
    sparse = True

    def targets(self, T, n_outputs, xp, dtype):
        if T.ndim == 2 and T.shape[1] == 1:
            T = xp.reshape(T, (-1,))
        labels = xp.astype(T, xp.int64) if T.dtype != xp.int64 else T
        classes = xp.arange(n_outputs, dtype=xp.int64, device=labels.device)
        return xp.astype(xp.reshape(labels, (-1, 1)) == classes, dtype)


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
