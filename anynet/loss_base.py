"""The base class of anynet's losses: targets, Keras' shape rules and reduction, and the
shared value-and-gradient computation (see :mod:`anynet.losses` for the losses themselves)."""

from __future__ import annotations

import numbers
from typing import Any

import array_api_compat

from anynet.errors import InputError, InputTypeError
from anynet.reduction import as_weights, check_reduction, reduce
from anynet.validation import host_array, place_like

__all__ = ["Loss", "EPSILON", "to_last", "from_last", "check_smoothing"]

#: Keras' ``backend.epsilon()``: probabilities are clipped to [EPSILON, 1 - EPSILON].
EPSILON = 1e-7


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def to_last(x: Any, axis: int, xp: Any) -> Any:
    """Return x with axis ``axis`` moved to the end (x itself when it already is)."""
    a = axis % x.ndim
    if a == x.ndim - 1:
        return x
    return xp.permute_dims(x, tuple(i for i in range(x.ndim) if i != a) + (a,))


def from_last(x: Any, axis: int, xp: Any) -> Any:
    """Undo :func:`to_last`."""
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


def check_smoothing(value: Any) -> float:
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

    def logits_value_and_grad(self, Z: Any, T: Any, xp: Any, sample_weight: Any = None,
                              kernels: Any = None) -> tuple[Any, Any, Any]:
        """Return ``(loss, dLoss/dZ, probabilities)`` for the pre-activation Z (fused path).

        ``kernels`` is the backend's mapping of fast paths, which a loss may use (see
        CategoricalCrossentropy); the result is the same with or without it.
        """
        if self.fuses_with is None:
            raise TypeError(f"{self.name} cannot take logits")
        return self._compute(Z, T, xp, sample_weight, grad=True, logits=True)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """Return the loss of predictions ``y_pred`` for targets ``y_true``: a 0-d array (a
        NumPy scalar on NumPy), or one value per sample with ``reduction=None``."""
        if array_api_compat.is_array_api_obj(y_pred):
            Y = y_pred
        else:
            Y = host_array(y_pred, "y_pred")
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
        Yl, Tl = (to_last(Y, axis, xp), to_last(T, axis, xp)) if Y.ndim else (Y, T)
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
            dY = from_last(dY, axis, xp) if dY is not None else None
            P = from_last(P, axis, xp) if P is not None else None
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
