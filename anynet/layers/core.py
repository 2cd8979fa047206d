"""The core layers: Input, Dense, Activation, Dropout, Flatten, Reshape.

Each layer's ``forward(P, X, ctx)`` returns ``(Y, backprop)``; see :mod:`anynet.layers.base`
for the interface every layer follows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anynet import activations, backends, initializers, regularizers
from anynet.errors import InputError, InputTypeError
from anynet.generators import Generators
from anynet.graph import Node, SymbolicTensor
from anynet.layers import _activation
from anynet.layers.base import Backprop, Context, Layer
from anynet.validation import check_int

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Input", "Context", "Backprop"]


class Input(Layer):
    """A model input of samples of ``shape`` (no batch axis); it stands for its symbolic tensor.

    Keras style, in both forms: ``Sequential([Input((784,)), Dense(10)])``, and
    ``image = Input(shape=(784,), name="image"); h = Dense(64)(image)``.
    """

    kind = "input"

    def __init__(self, shape: Sequence[int] | int, *, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=shape)
        self._nodes.append(Node(self, [], self.input_shape))

    @property
    def shape(self) -> tuple[int | None, ...]:
        """``(None, *sample_shape)``, as a Keras input tensor's shape."""
        return (None, *self.input_shape)

    def _as_symbolic(self) -> SymbolicTensor:
        return self._nodes[0].output

    def get_config(self):
        return {"shape": self.input_shape, "name": self.name}


class Dense(Layer):
    """``Y = activation(X @ W + b)`` with W of shape (n_in, units) and b of shape (units,).

    On inputs of more than two axes it acts on the last one, as Keras' Dense does:
    (n, t, n_in) -> (n, t, units), with the same W at every position. Initializers and
    regularizers are names or objects from :mod:`anynet.initializers` and
    :mod:`anynet.regularizers`; biases are not regularized unless ``bias_regularizer`` is set.
    """

    kind = "dense"

    def __init__(self, units: int, activation: str | activations.Activation | dict[str, Any] | None = None, *,
                 use_bias: bool = True, kernel_initializer: str | initializers.Initializer = "glorot_uniform",
                 bias_initializer: str | initializers.Initializer = "zeros",
                 kernel_regularizer: str | regularizers.Regularizer | None = None,
                 bias_regularizer: str | regularizers.Regularizer | None = None,
                 input_shape: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise InputError(f"Dense(units) needs a positive int, got units={units!r}.")
        self.units = units
        self.activation = _activation.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, index, input_shape, layout):
        n_in = input_shape[-1]
        layout.add(index, "W", (n_in, self.units), self.kernel_initializer, self.kernel_regularizer,
                   fan_in=n_in, fan_out=self.units)
        if self.use_bias:
            layout.add(index, "b", (self.units,), self.bias_initializer, self.bias_regularizer,
                       fan_in=n_in, fan_out=self.units)
        return (*input_shape[:-1], self.units)

    def forward(self, P, X, ctx, *, activate=True):
        xp, act = ctx.xp, self.activation
        W = P["W"]
        Z = xp.matmul(X, W)  # (..., n_in) @ (n_in, units): the standard's matmul broadcasts over the leading axes
        Y = _activation.bias_and_activate(Z, P["b"] if self.use_bias else None, act, activate, ctx)

        def backprop(dY: Any, need_dX: bool = True) -> Any:
            dZ = act.backward(dY, Z, Y, xp, ctx.kernels) if activate else dY
            # Every position along the leading axes is one more sample for W and b.
            X2, dZ2 = (X, dZ) if X.ndim == 2 else (xp.reshape(X, (-1, W.shape[0])), xp.reshape(dZ, (-1, W.shape[1])))
            out = P.out  # kernels hook: the gradient buffer's places for W and b, in the training loop
            if out is None:
                P.grads["W"] = xp.matmul(X2.T, dZ2)
                if self.use_bias:
                    P.grads["b"] = xp.sum(dZ2, axis=0)
            else:
                P.grads["W"] = ctx.kernels["matmul_into"](X2.T, dZ2, out["W"])
                if self.use_bias:
                    P.grads["b"] = ctx.kernels["sum_rows_into"](dZ2, out["b"])
            return xp.matmul(dZ, W.T) if need_dX else None

        return Y, backprop

    def get_config(self):
        return {"units": self.units, "activation": _activation.config(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer, "bias_regularizer": self.bias_regularizer,
                "name": self.name}


class Activation(Layer):
    """Applies an activation by name: ``Activation("softmax")``."""

    kind = "activation"

    def __init__(self, activation: str | activations.Activation | dict[str, Any], *, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        self.activation = _activation.get(activation)

    def forward(self, P, X, ctx, *, activate=True):
        if not activate:
            return super().forward(P, X, ctx)
        xp, act = ctx.xp, self.activation
        Y = act.forward(X, xp, ctx.kernels)
        return Y, lambda dY, need_dX=True: act.backward(dY, X, Y, xp, ctx.kernels)

    def get_config(self):
        return {"activation": _activation.config(self.activation), "name": self.name}


class Dropout(Layer):
    """Keras' inverted dropout: in training, zero units with probability ``rate`` and scale the
    rest by 1 / (1 - rate); at inference, the identity.

    ``noise_shape`` is the mask's shape, batch axis first: an axis given as 1 shares one mask
    value along it, None takes the input's size there (``(None, 1, features)`` drops the same
    features at every time step). ``seed`` gives the layer a generator of its own started from
    it (:mod:`anynet.generators`), so its masks repeat whatever the model's seed; without one
    the masks come from the model's generator. Either way the backend adapter draws them.
    """

    kind = "dropout"

    def __init__(self, rate: float, noise_shape: Sequence[int | None] | None = None, seed: int | None = None, *,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        try:
            ok = 0.0 <= float(rate) < 1.0
        except (TypeError, ValueError):
            ok = False
        if not ok or isinstance(rate, bool):
            raise InputError(f"Dropout(rate) needs 0 <= rate < 1, got rate={rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else _noise_shape(noise_shape)
        self.seed = None if seed is None else check_int("Dropout seed", seed, minimum=0)

    def _mask_shape(self, shape: tuple[int | None, ...]) -> tuple[int, ...] | None:
        """Return the mask's shape for inputs of ``shape`` (batch axis first, None where unknown)."""
        if self.noise_shape is None:
            return None
        ns = self.noise_shape
        if len(ns) != len(shape) or any(v is not None and v != 1 and d is not None and v != d
                                        for v, d in zip(ns, shape)):
            raise InputError(f"Dropout noise_shape {ns} does not fit inputs of shape {shape}: it needs "
                             f"{len(shape)} entries, batch axis first, each None, 1 or the input's size.")
        return tuple(d if v is None else v for v, d in zip(ns, shape))

    def build(self, index, input_shape, layout):
        self._mask_shape((None, *input_shape))
        return input_shape

    def forward(self, P, X, ctx, *, activate=True):
        if not ctx.training or self.rate == 0.0:
            return super().forward(P, X, ctx)
        keep = 1.0 - self.rate
        shape = tuple(X.shape)
        mask = self._generator(ctx, X).bernoulli(self._mask_shape(shape) or shape, keep,
                                                  dtype=_dtype_name(X.dtype, ctx.xp)) * (1.0 / keep)
        return X * mask, lambda dY, need_dX=True: dY * mask

    def _generator(self, ctx: Context, X: Any) -> Any:
        if self.seed is None:
            return ctx.rng
        if isinstance(ctx.rng, Generators) and self.name is not None:
            return ctx.rng.for_layer(self.name, self.seed)
        # A context without the model's generators (a hand-made one, gradcheck's): the seed's first masks.
        adapter = backends.for_array(X)
        return adapter.rng(self.seed, adapter.device_of(X))

    def get_config(self):
        return {"rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed, "name": self.name}


def _noise_shape(value: Any) -> tuple[int | None, ...]:
    try:
        shape = tuple(value)
        ok = len(shape) > 0 and all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
                                    for d in shape)
    except TypeError:
        ok = False
    if not ok:
        raise InputError(f"Dropout noise_shape is a tuple of positive ints or None, batch axis first, such as "
                         f"(None, 1, 64); got {value!r}.")
    return shape


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


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (Keras' ``Reshape``; one entry may be -1): (784,) -> (28, 28, 1)."""

    kind = "reshape"

    def __init__(self, target_shape: Sequence[int], *, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        try:
            shape = tuple(target_shape)
            ok = (all(isinstance(d, int) and not isinstance(d, bool) and (d > 0 or d == -1) for d in shape)
                  and sum(d == -1 for d in shape) <= 1 and len(shape) > 0)
        except TypeError:
            ok = False
        if not ok:
            raise InputError(f"Reshape(target_shape) needs a tuple of positive ints with at most one -1, such as "
                             f"(28, 28, 1), got {target_shape!r}.")
        self.target_shape = shape

    def build(self, index, input_shape, layout):
        n = 1
        for d in input_shape:
            n *= d
        known = 1
        for d in self.target_shape:
            known *= d if d > 0 else 1
        out = tuple(n // known if d == -1 else d for d in self.target_shape)
        total = 1
        for d in out:
            total *= d
        if total != n or (-1 in self.target_shape and n % known):
            raise InputError(f"Reshape({self.target_shape}) cannot hold samples of shape {input_shape} "
                             f"({n} values).")
        return out

    def forward(self, P, X, ctx, *, activate=True):
        xp = ctx.xp
        shape = tuple(X.shape)
        Y = xp.reshape(X, (shape[0], *self.target_shape))
        return Y, lambda dY, need_dX=True: xp.reshape(dY, shape) if need_dX else None

    def get_config(self):
        return {"target_shape": self.target_shape, "name": self.name}


def _dtype_name(dtype: Any, xp: Any) -> str:
    for name in ("float32", "float64", "float16"):
        if hasattr(xp, name) and dtype == getattr(xp, name):
            return name
    raise InputTypeError(f"Dropout needs a floating-point input, got dtype {dtype}.")
