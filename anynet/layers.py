"""Layers: Dense, Activation, Dropout, Flatten, and the Input marker.

A layer's ``forward(P, X, ctx)`` returns ``(Y, backprop)``; ``backprop(dY)`` returns dX
(or None when the caller says it needs none) and writes the gradients of the layer's
parameters into ``P.grads``. Nothing is cached on the layer between calls: everything the
backward pass needs lives in the closure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from anynet import activations, initializers, regularizers
from anynet.errors import InputError, InputTypeError
from anynet.params import Layout, Slots

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Input", "Context"]

Backprop = Callable[..., Any]


@dataclass
class Context:
    """What one forward/backward pass needs besides parameters and data."""

    xp: Any
    training: bool = False
    rng: Any = None                       # the backend generator (dropout masks)
    kernels: dict[str, Any] = field(default_factory=dict)
    dtype: Any = None
    scratch: dict[Any, Any] | None = None  # buffers kernels may reuse across batches (training loop only)


def _shape(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    try:
        shape = tuple(int(d) for d in value)
        ok = all(int(d) == d and d > 0 for d in value) and len(shape) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{name} must be a tuple of positive ints such as (784,), got {value!r}.")
    return shape


class Layer:
    """Base class: a layer without parameters that passes its input through."""

    #: Keras-style base name; the model numbers duplicates ("dense", "dense_1", ...).
    kind = "layer"

    def __init__(self, *, name: str | None = None, input_shape: Sequence[int] | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise InputTypeError(f"A layer name is a string, got {name!r}.")
        self.name = name
        self.input_shape = _shape("input_shape", input_shape) if input_shape is not None else None

    def build(self, index: int, input_shape: tuple[int, ...], layout: Layout) -> tuple[int, ...]:
        """Register this layer's parameters (if any) and return its output shape (no batch axis)."""
        return input_shape

    def forward(self, P: Slots, X: Any, ctx: Context, *, activate: bool = True) -> tuple[Any, Backprop]:
        """Return ``(Y, backprop)`` for a batch X."""
        return X, lambda dY, need_dX=True: dY

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments, for summaries and saving."""
        return {"name": self.name}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


class Input(Layer):
    """Declares the shape of one sample, Keras style: ``Sequential([Input((784,)), Dense(10)])``."""

    kind = "input"

    def __init__(self, shape: Sequence[int] | int, *, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=shape)
        self.shape = self.input_shape

    def get_config(self):
        return {"shape": self.shape, "name": self.name}


class Dense(Layer):
    """``Y = activation(X @ W + b)`` with W of shape (n_in, units) and b of shape (units,).

    Initializers and regularizers are names or objects from :mod:`anynet.initializers` and
    :mod:`anynet.regularizers`; biases are not regularized unless ``bias_regularizer`` is set.
    """

    kind = "dense"

    def __init__(self, units: int, activation: str | activations.Activation | None = None, *,
                 use_bias: bool = True, kernel_initializer: str | initializers.Initializer = "glorot_uniform",
                 bias_initializer: str | initializers.Initializer = "zeros",
                 kernel_regularizer: str | regularizers.Regularizer | None = None,
                 bias_regularizer: str | regularizers.Regularizer | None = None,
                 input_shape: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise InputError(f"Dense(units) needs a positive int, got units={units!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, index, input_shape, layout):
        if len(input_shape) != 1:
            raise InputError(f"Dense({self.units}) expects samples of one axis (features,), got samples of shape "
                             f"{input_shape}; put a Flatten() layer before it.")
        n_in = input_shape[0]
        layout.add(index, "W", (n_in, self.units), self.kernel_initializer, self.kernel_regularizer,
                   fan_in=n_in, fan_out=self.units)
        if self.use_bias:
            layout.add(index, "b", (self.units,), self.bias_initializer, self.bias_regularizer,
                       fan_in=n_in, fan_out=self.units)
        return (self.units,)

    def forward(self, P, X, ctx, *, activate=True):
        xp, act = ctx.xp, self.activation
        W = P["W"]
        Z = xp.matmul(X, W)
        fast = ctx.kernels.get("bias_activation") if activate else None  # kernels hook: may overwrite Z with Y
        Y = fast(Z, P["b"] if self.use_bias else None, act) if fast is not None else None
        if Y is None:
            if self.use_bias:
                Z += P["b"]  # Z is a fresh array: adding in place saves an allocation
            Y = act.forward(Z, xp, ctx.kernels) if activate else Z

        def backprop(dY: Any, need_dX: bool = True) -> Any:
            dZ = act.backward(dY, Z, Y, xp, ctx.kernels) if activate else dY
            P.grads["W"] = xp.matmul(X.T, dZ)
            if self.use_bias:
                P.grads["b"] = xp.sum(dZ, axis=0)
            return xp.matmul(dZ, W.T) if need_dX else None

        return Y, backprop

    def get_config(self):
        return {"units": self.units, "activation": self.activation.name, "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer, "bias_regularizer": self.bias_regularizer,
                "name": self.name}


class Activation(Layer):
    """Applies an activation by name: ``Activation("softmax")``."""

    kind = "activation"

    def __init__(self, activation: str | activations.Activation, *, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        self.activation = activations.get(activation)

    def forward(self, P, X, ctx, *, activate=True):
        if not activate:
            return super().forward(P, X, ctx)
        xp, act = ctx.xp, self.activation
        Y = act.forward(X, xp, ctx.kernels)
        return Y, lambda dY, need_dX=True: act.backward(dY, X, Y, xp, ctx.kernels)

    def get_config(self):
        return {"activation": self.activation.name, "name": self.name}


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``rate`` and scale the
    rest by 1 / (1 - rate); at inference, the identity. Masks come from the backend's rng."""

    kind = "dropout"

    def __init__(self, rate: float, *, name: str | None = None) -> None:
        super().__init__(name=name)
        try:
            ok = 0.0 <= float(rate) < 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok or isinstance(rate, bool):
            raise InputError(f"Dropout(rate) needs 0 <= rate < 1, got rate={rate!r}.")
        self.rate = float(rate)

    def forward(self, P, X, ctx, *, activate=True):
        if not ctx.training or self.rate == 0.0:
            return super().forward(P, X, ctx)
        keep = 1.0 - self.rate
        mask = ctx.rng.bernoulli(tuple(X.shape), keep, dtype=_dtype_name(X.dtype, ctx.xp)) * (1.0 / keep)
        return X * mask, lambda dY, need_dX=True: dY * mask

    def get_config(self):
        return {"rate": self.rate, "name": self.name}


class Flatten(Layer):
    """Reshapes each sample to one axis: (n, 28, 28) -> (n, 784)."""

    kind = "flatten"

    def build(self, index, input_shape, layout):
        n = 1
        for d in input_shape:
            n *= d
        return (n,)

    def forward(self, P, X, ctx, *, activate=True):
        xp = ctx.xp
        shape = tuple(X.shape)
        Y = xp.reshape(X, (shape[0], -1))
        return Y, lambda dY, need_dX=True: xp.reshape(dY, shape) if need_dX else None


def _dtype_name(dtype: Any, xp: Any) -> str:
    for name in ("float32", "float64", "float16"):
        if hasattr(xp, name) and dtype == getattr(xp, name):
            return name
    raise InputTypeError(f"Dropout needs a floating-point input, got dtype {dtype}.")
