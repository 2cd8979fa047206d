"""Activation functions and their backprops, numerically stable, through ``xp`` only.

Each activation is an :class:`Activation` (the base class and the portable maths are in
:mod:`anynet.activation_base`) with ``forward(Z, xp) -> Y`` and ``backward(dY, Z, Y, xp)
-> dZ``. The functions ``sigmoid(Z)``, ``relu(Z)``, ... are the same maths for direct use.
The portable forms stay reachable here as ``_<kernel>_portable`` (``_sigmoid_portable``),
which is how the adapter tests compare a backend's elementwise kernel with them.

Arguments follow Keras 3: ``relu(negative_slope, max_value, threshold)``,
``leaky_relu(negative_slope=0.2)`` (``alpha`` is kept as the older name), ``elu(alpha)``,
``softmax(axis=-1)`` and ``log_softmax(axis=-1)``. A softmax over another axis than the
last is named ``"softmax(axis=k)"``, so a model fuses it only with a
``CategoricalCrossentropy(axis=k)``.
"""

from __future__ import annotations

from typing import Any

from anynet.activation_base import (Activation, _axis, _log_softmax, _ns, _number, _sigmoid_portable, _softmax,
                                    _softplus, _step)
from anynet.errors import InputError, lookup

__all__ = [
    "Activation", "get", "names",
    "linear", "sigmoid", "sigmoid_gradient", "tanh", "relu", "leaky_relu", "elu", "softplus",
    "softmax", "log_softmax",
]

class Linear(Activation):
    name = "linear"


class Sigmoid(Activation):
    name = "sigmoid"

    def forward(self, Z, xp, kernels=None):
        fast = kernels.get("sigmoid") if kernels else None
        return fast(Z) if fast is not None else _sigmoid_portable(Z, xp)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return dY * Y * (1.0 - Y)


class Tanh(Activation):
    name = "tanh"

    def forward(self, Z, xp, kernels=None):
        return xp.tanh(Z)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return dY * (1.0 - Y * Y)


class ReLU(Activation):
    """Keras' relu: ``Z`` above ``threshold`` (else 0), capped at ``max_value``, minus
    ``negative_slope * (threshold - Z)`` below the threshold."""

    name = "relu"

    def __init__(self, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0) -> None:
        self.negative_slope = _number("negative_slope", negative_slope)
        self.max_value = None if max_value is None else _number("max_value", max_value)
        if self.max_value is not None and self.max_value < 0:
            raise InputError(f"max_value must be >= 0, got {max_value!r}.")
        self.threshold = _number("threshold", threshold)
        self._plain = self.negative_slope == 0.0 and self.max_value is None and self.threshold == 0.0

    def forward(self, Z, xp, kernels=None):
        if self._plain:
            return xp.maximum(Z, 0.0)
        t = self.threshold
        Y = xp.where(Z > t, Z, 0.0) if t else xp.maximum(Z, 0.0)
        if self.max_value is not None:
            Y = xp.clip(Y, 0.0, self.max_value)
        if self.negative_slope:
            Y = Y - self.negative_slope * xp.maximum(t - Z, 0.0)
        return Y

    def backward(self, dY, Z, Y, xp, kernels=None):
        if self._plain:
            fast = kernels.get("relu_backward") if kernels else None  # kernels hook: no float mask
            return fast(dY, Z) if fast is not None else dY * _step(Z, xp)
        passes = Z > self.threshold
        if self.max_value is not None:
            passes = passes & (Z >= 0.0) & (Z <= self.max_value)
        d = xp.astype(passes, Z.dtype)
        if self.negative_slope:
            d = d + self.negative_slope * xp.astype(Z < self.threshold, Z.dtype)
        return dY * d

    def get_config(self):
        return {"negative_slope": self.negative_slope, "max_value": self.max_value, "threshold": self.threshold}


class LeakyReLU(Activation):
    """``Z`` where ``Z > 0``, else ``negative_slope * Z`` (Keras' default 0.2; ``alpha`` is
    the older name of the same argument)."""

    name = "leaky_relu"

    def __init__(self, negative_slope: float = 0.2, *, alpha: float | None = None) -> None:
        self.negative_slope = _number("negative_slope", negative_slope if alpha is None else alpha)

    @property
    def alpha(self) -> float:
        return self.negative_slope

    def forward(self, Z, xp, kernels=None):
        a = self.negative_slope
        if a <= 1.0:  # then max(z, a z) is z for z > 0 and a z otherwise
            return xp.maximum(Z, a * Z)
        return xp.where(Z > 0, Z, a * Z)

    def backward(self, dY, Z, Y, xp, kernels=None):
        a = self.negative_slope
        return dY * (a + (1.0 - a) * _step(Z, xp))

    def get_config(self):
        return {"negative_slope": self.negative_slope}


class ELU(Activation):
    name = "elu"

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = float(alpha)

    def forward(self, Z, xp, kernels=None):
        # expm1 of min(Z, 0): the unused branch of `where` never overflows.
        return xp.where(Z > 0, Z, self.alpha * xp.expm1(xp.minimum(Z, 0.0)))

    def backward(self, dY, Z, Y, xp, kernels=None):
        return xp.where(Z > 0, dY, dY * (Y + self.alpha))

    def get_config(self):
        return {"alpha": self.alpha}


class Softplus(Activation):
    name = "softplus"

    def forward(self, Z, xp, kernels=None):
        return _softplus(Z, xp)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return dY * Sigmoid().forward(Z, xp, kernels)


class Softmax(Activation):
    """Softmax over ``axis`` (the last by default), shifted by the maximum."""

    name = "softmax"

    def __init__(self, axis: int | tuple[int, ...] = -1) -> None:
        self.axis = _axis(axis)
        if self.axis != -1:  # a softmax over another axis must not fuse with a last-axis loss
            self.name = f"softmax(axis={self.axis})"

    def forward(self, Z, xp, kernels=None):
        return _softmax(Z, xp, self.axis)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return Y * (dY - xp.sum(dY * Y, axis=self.axis, keepdims=True))

    def get_config(self):
        return {"axis": self.axis}


class LogSoftmax(Activation):
    """log(softmax(Z)) over ``axis``, computed without forming the softmax."""

    name = "log_softmax"

    def __init__(self, axis: int | tuple[int, ...] = -1) -> None:
        self.axis = _axis(axis)

    def forward(self, Z, xp, kernels=None):
        return _log_softmax(Z, xp, self.axis)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return dY - xp.exp(Y) * xp.sum(dY, axis=self.axis, keepdims=True)

    def get_config(self):
        return {"axis": self.axis}


_REGISTRY: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Linear, Sigmoid, Tanh, ReLU, LeakyReLU, ELU, Softplus, Softmax, LogSoftmax)
}
_ALIASES: dict[str, type[Activation]] = {"identity": Linear, "logistic": Sigmoid, "leakyrelu": LeakyReLU}


def names() -> list[str]:
    """Return the names :func:`get` accepts."""
    return sorted(_REGISTRY)


def get(spec: str | Activation | None) -> Activation:
    """Return the Activation for a name ("relu"), an Activation, or None (linear).

    Raises UnknownNameError, suggesting the closest name, for a name it does not know.
    """
    return Linear() if spec is None else lookup("activation", spec, Activation, {**_REGISTRY, **_ALIASES}, "relu")


# -- the functional forms -------------------------------------------------------------------

def linear(Z: Any, xp: Any = None) -> Any:
    """Return Z unchanged."""
    return Z


def sigmoid(Z: Any, xp: Any = None) -> Any:
    """Return 1 / (1 + exp(-Z)), same shape; no overflow warning for any |Z|."""
    return _sigmoid_portable(Z, _ns(Z, xp))


def sigmoid_gradient(Z: Any, xp: Any = None) -> Any:
    """Return sigmoid(Z) * (1 - sigmoid(Z)), ex4's sigmoidGradient; 0.25 at Z = 0."""
    S = sigmoid(Z, xp)
    return S * (1.0 - S)


def tanh(Z: Any, xp: Any = None) -> Any:
    """Return tanh(Z)."""
    return _ns(Z, xp).tanh(Z)


def relu(Z: Any, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0, *,
         xp: Any = None) -> Any:
    """Return Keras' relu of Z, same shape: max(Z, 0) with the default arguments."""
    return ReLU(negative_slope, max_value, threshold).forward(Z, _ns(Z, xp))


def leaky_relu(Z: Any, negative_slope: float = 0.2, xp: Any = None) -> Any:
    """Return Z where Z > 0, else negative_slope * Z."""
    return LeakyReLU(negative_slope).forward(Z, _ns(Z, xp))


def elu(Z: Any, alpha: float = 1.0, xp: Any = None) -> Any:
    """Return Z where Z > 0, else alpha * (exp(Z) - 1)."""
    return ELU(alpha).forward(Z, _ns(Z, xp))


def softplus(Z: Any, xp: Any = None) -> Any:
    """Return log(1 + exp(Z)) without overflow."""
    return _softplus(Z, _ns(Z, xp))


def softmax(Z: Any, axis: int | tuple[int, ...] = -1, *, xp: Any = None) -> Any:
    """Return the softmax of Z over ``axis`` (the last by default; it sums to 1 there), max-shifted."""
    return _softmax(Z, _ns(Z, xp), _axis(axis))


def log_softmax(Z: Any, axis: int | tuple[int, ...] = -1, *, xp: Any = None) -> Any:
    """Return log(softmax(Z)) over ``axis``, computed without forming softmax."""
    return _log_softmax(Z, _ns(Z, xp), _axis(axis))
