"""Convolution layers, channels last, with Keras' names, arguments and weight layouts.

``Conv2D`` takes samples (height, width, channels) and holds a kernel W of shape
(kh, kw, in_channels, filters) and a bias b of shape (filters,), exactly Keras' layout,
so ``get_weights()`` matches Keras'. ``Conv1D`` is the same code on (steps, channels)
with a kernel (k, in_channels, filters). The maths is the portable im2col in
:mod:`anynet.layers._windows`, or an adapter's ``"conv2d"`` kernel where it has one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from anynet import activations, initializers, regularizers
from anynet.errors import InputError
from anynet.layers import _activation, _spatial, _windows
from anynet.layers.core import Layer

__all__ = ["Conv1D", "Conv2D"]


def _channel_sums(dZ: Any, xp: Any) -> Any:
    """Return the (channels,) sums of dZ (..., channels) over every other axis.

    As a product with a vector of ones: on NumPy a BLAS product sums a (positions,
    channels) block about ten times faster than ``sum`` over the leading axes.
    """
    c = dZ.shape[-1]
    m = math.prod(dZ.shape[:-1])
    return xp.matmul(xp.ones((m,), dtype=dZ.dtype, device=dZ.device), xp.reshape(dZ, (m, c)))


class _Conv(Layer):
    """Cross-correlation of the input with ``filters`` learned kernels, plus a bias, then the activation."""

    rank = 2
    kind = "conv2d"

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | Sequence[int] = 1, *,
                 activation: str | activations.Activation | dict[str, Any] | None = None, use_bias: bool = True,
                 kernel_initializer: str | initializers.Initializer = "glorot_uniform",
                 bias_initializer: str | initializers.Initializer = "zeros",
                 kernel_regularizer: str | regularizers.Regularizer | None = None,
                 bias_regularizer: str | regularizers.Regularizer | None = None,
                 input_shape: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        cls = type(self).__name__
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise InputError(f"{cls}(filters) needs a positive int, got filters={filters!r}.")
        self.filters = filters
        here = f"{cls}({filters})"
        self.kernel_size = _spatial.int_tuple(here, "kernel_size", kernel_size, self.rank)
        here = f"{cls}({filters}, {self.kernel_size})"
        self.strides = _spatial.int_tuple(here, "strides", strides, self.rank)
        self.dilation_rate = _spatial.int_tuple(here, "dilation_rate", dilation_rate, self.rank)
        allowed = ("valid", "same", "causal") if self.rank == 1 else ("valid", "same")
        self.padding = _spatial.padding_name(here, padding, allowed)
        _spatial.data_format(here, data_format)
        self.activation = _activation.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _what(self) -> str:
        return f"{type(self).__name__}({self.filters}, kernel_size={self.kernel_size})"

    def _geometry(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], _windows.Pads]:
        return _spatial.output_and_pads(self._what(), shape, self.kernel_size, self.strides, self.dilation_rate,
                                        self.padding)

    def build(self, index, input_shape, layout):
        _spatial.check_input(self._what(), input_shape, self.rank)
        out, _ = self._geometry(input_shape)
        channels, taps = input_shape[-1], math.prod(self.kernel_size)
        fan_in, fan_out = taps * channels, taps * self.filters  # Keras' receptive-field fans
        layout.add(index, "W", (*self.kernel_size, channels, self.filters), self.kernel_initializer,
                   self.kernel_regularizer, fan_in=fan_in, fan_out=fan_out)
        if self.use_bias:
            layout.add(index, "b", (self.filters,), self.bias_initializer, self.bias_regularizer,
                       fan_in=fan_in, fan_out=fan_out)
        return (*out, self.filters)

    def _as_2d(self) -> tuple[tuple[int, int], tuple[int, int]]:
        if self.rank == 2:
            return self.strides, self.dilation_rate  # type: ignore[return-value]
        return (1, self.strides[0]), (1, self.dilation_rate[0])

    def forward(self, P, X, ctx, *, activate=True):
        xp, act, rank = ctx.xp, self.activation, self.rank
        shape = tuple(X.shape)
        _, pads = self._geometry(shape[1:])
        strides, dilation = self._as_2d()
        W = P["W"]
        X4 = X if rank == 2 else xp.reshape(X, (shape[0], 1, *shape[1:]))
        W4 = W if rank == 2 else xp.reshape(W, (1, *W.shape))
        conv = ctx.kernels.get("conv2d", _windows.conv2d)
        Z4, conv_backward = conv(X4, W4, strides, pads, dilation, xp)
        Z = Z4 if rank == 2 else xp.reshape(Z4, (shape[0], Z4.shape[2], self.filters))
        Y = _activation.bias_and_activate(Z, P["b"] if self.use_bias else None, act, activate, ctx)

        def backprop(dY: Any, need_dX: bool = True) -> Any:
            dZ = act.backward(dY, Z, Y, xp, ctx.kernels) if activate else dY
            if self.use_bias:
                P.grads["b"] = _channel_sums(dZ, xp)
            dZ4 = dZ if rank == 2 else xp.reshape(dZ, Z4.shape)
            dX4, dW4 = conv_backward(dZ4, need_dX)
            P.grads["W"] = dW4 if rank == 2 else xp.reshape(dW4, tuple(W.shape))
            if not need_dX:
                return None
            return dX4 if rank == 2 else xp.reshape(dX4, shape)

        return Y, backprop

    def get_config(self):
        return {"filters": self.filters, "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "dilation_rate": self.dilation_rate,
                "activation": _activation.config(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": self.kernel_initializer, "bias_initializer": self.bias_initializer,
                "kernel_regularizer": self.kernel_regularizer,
                "bias_regularizer": self.bias_regularizer, "name": self.name}


class Conv2D(_Conv):
    """2-D convolution (Keras' ``Conv2D``): samples (height, width, channels) -> (out_h, out_w, filters).

    ``Y = activation(correlate(X, W) + b)`` with W of shape (kh, kw, in_channels, filters).
    ``padding="valid"`` keeps only windows inside the input; ``"same"`` pads with zeros so the
    output is ``ceil(size / stride)`` (the odd padding row/column goes after, as in Keras).
    Kernel fans follow Keras: fan_in = kh*kw*in_channels, fan_out = kh*kw*filters.
    """

    rank = 2
    kind = "conv2d"


class Conv1D(_Conv):
    """1-D convolution (Keras' ``Conv1D``): samples (steps, channels) -> (out_steps, filters).

    W has shape (k, in_channels, filters); ``padding`` may also be ``"causal"`` (all the
    zeros before, so output t sees inputs up to t only).
    """

    rank = 1
    kind = "conv1d"
