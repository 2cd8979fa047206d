"""Activation functions and their backprops, numerically stable, through ``xp`` only.

Each activation is an :class:`Activation` with ``forward(Z, xp) -> Y`` and
``backward(dY, Z, Y, xp) -> dZ`` (it gets both Z and Y so it can use the cheaper one).
The functions ``sigmoid(Z)``, ``relu(Z)``, ... are the same maths for direct use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import array_api_compat

from anynet.errors import lookup

__all__ = [
    "Activation", "get", "names",
    "linear", "sigmoid", "sigmoid_gradient", "tanh", "relu", "leaky_relu", "elu", "softplus",
    "softmax", "log_softmax",
]

Kernels = Mapping[str, Callable[..., Any]]


def _ns(x: Any, xp: Any) -> Any:
    return xp if xp is not None else array_api_compat.array_namespace(x)


# -- the portable maths -------------------------------------------------------------------

def _sigmoid_portable(Z: Any, xp: Any) -> Any:
    # exp(-|z|) never overflows, so no warning and no inf even for |z| = 1e4.
    E = xp.exp(-xp.abs(Z))
    return xp.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E))


def _softmax(Z: Any, xp: Any) -> Any:
    E = xp.exp(Z - xp.max(Z, axis=-1, keepdims=True))
    return E / xp.sum(E, axis=-1, keepdims=True)


def _log_softmax(Z: Any, xp: Any) -> Any:
    S = Z - xp.max(Z, axis=-1, keepdims=True)
    return S - xp.log(xp.sum(xp.exp(S), axis=-1, keepdims=True))


def _softmax_and_log(Z: Any, xp: Any) -> tuple[Any, Any]:
    """Return softmax(Z) and log_softmax(Z) over the last axis from one shift and one exp."""
    S = Z - xp.max(Z, axis=-1, keepdims=True)
    E = xp.exp(S)
    total = xp.sum(E, axis=-1, keepdims=True)
    return E / total, S - xp.log(total)


def _softplus(Z: Any, xp: Any) -> Any:
    return xp.maximum(Z, 0.0) + xp.log1p(xp.exp(-xp.abs(Z)))


class Activation:
    """An elementwise (or, for softmax, row-wise) nonlinearity with its backprop."""

    name = "linear"

    def forward(self, Z: Any, xp: Any, kernels: Kernels | None = None) -> Any:
        """Return Y = f(Z), same shape and dtype as Z."""
        return Z

    def backward(self, dY: Any, Z: Any, Y: Any, xp: Any, kernels: Kernels | None = None) -> Any:
        """Return dZ = dY * f'(Z) (for softmax, the Jacobian-vector product)."""
        return dY

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments, for saving."""
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.get_config().items()))))


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


def _step(Z: Any, xp: Any) -> Any:
    """Return 1 where Z > 0, else 0, in Z's dtype.

    Multiplying by this mask is an order of magnitude faster than ``where`` with a random
    condition on NumPy, and no slower elsewhere.
    """
    return xp.astype(Z > 0, Z.dtype)


class ReLU(Activation):
    name = "relu"

    def forward(self, Z, xp, kernels=None):
        return xp.maximum(Z, 0.0)

    def backward(self, dY, Z, Y, xp, kernels=None):
        fast = kernels.get("relu_backward") if kernels else None
        return fast(dY, Z) if fast is not None else dY * _step(Z, xp)


class LeakyReLU(Activation):
    name = "leaky_relu"

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = float(alpha)

    def forward(self, Z, xp, kernels=None):
        if self.alpha <= 1.0:  # then max(z, alpha z) is z for z > 0 and alpha z otherwise
            return xp.maximum(Z, self.alpha * Z)
        return xp.where(Z > 0, Z, self.alpha * Z)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return dY * (self.alpha + (1.0 - self.alpha) * _step(Z, xp))

    def get_config(self):
        return {"alpha": self.alpha}


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
    """Softmax over the last axis, shifted by the row maximum."""

    name = "softmax"

    def forward(self, Z, xp, kernels=None):
        return _softmax(Z, xp)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return Y * (dY - xp.sum(dY * Y, axis=-1, keepdims=True))


class LogSoftmax(Activation):
    name = "log_softmax"

    def forward(self, Z, xp, kernels=None):
        return _log_softmax(Z, xp)

    def backward(self, dY, Z, Y, xp, kernels=None):
        return dY - xp.exp(Y) * xp.sum(dY, axis=-1, keepdims=True)


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


def relu(Z: Any, xp: Any = None) -> Any:
    """Return max(Z, 0)."""
    return ReLU().forward(Z, _ns(Z, xp))


def leaky_relu(Z: Any, alpha: float = 0.2, xp: Any = None) -> Any:
    """Return Z where Z > 0, else alpha * Z."""
    return LeakyReLU(alpha).forward(Z, _ns(Z, xp))


def elu(Z: Any, alpha: float = 1.0, xp: Any = None) -> Any:
    """Return Z where Z > 0, else alpha * (exp(Z) - 1)."""
    return ELU(alpha).forward(Z, _ns(Z, xp))


def softplus(Z: Any, xp: Any = None) -> Any:
    """Return log(1 + exp(Z)) without overflow."""
    return _softplus(Z, _ns(Z, xp))


def softmax(Z: Any, xp: Any = None) -> Any:
    """Return the softmax of Z over its last axis (rows sum to 1), max-shifted."""
    return _softmax(Z, _ns(Z, xp))


def log_softmax(Z: Any, xp: Any = None) -> Any:
    """Return log(softmax(Z)) over the last axis, computed without forming softmax."""
    return _log_softmax(Z, _ns(Z, xp))
