"""Pooling layers, channels last: max, average and Lp (L2) pooling over windows, and global pooling.

Names and arguments follow Keras (``MaxPooling2D(pool_size=2, strides=None, padding="valid")``,
strides defaulting to the pool size). Padding "same" never lets padding win a max and
leaves it out of an average's count, as Keras does. ``LPPooling2D`` is torch's
``LPPool2d`` (Keras has none): the p-norm of each window, and ``L2Pooling2D`` its p = 2
case, the "square root of the sum of the squares" pooling of Nielsen's chapter 6.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

from anynet.errors import InputError
from anynet.layers import _spatial, _windows
from anynet.layers.core import Layer

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D", "LPPooling2D", "L2Pooling2D",
           "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D", "GlobalMaxPooling2D"]


class _Pooling(Layer, abc.ABC):
    """Reduces each window of each channel to one value."""

    rank = 2

    def __init__(self, pool_size: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, *, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(name=name, input_shape=input_shape)
        here = f"{type(self).__name__}"
        self.pool_size = _spatial.int_tuple(here, "pool_size", pool_size, self.rank)
        self.strides = self.pool_size if strides is None else _spatial.int_tuple(here, "strides", strides, self.rank)
        self.padding = _spatial.padding_name(here, padding)
        _spatial.data_format(here, data_format)

    def _what(self) -> str:
        return f"{type(self).__name__}(pool_size={self.pool_size}, strides={self.strides})"

    def _geometry(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], _windows.Pads]:
        return _spatial.output_and_pads(self._what(), shape, self.pool_size, self.strides, (1,) * self.rank,
                                        self.padding, what="pool_size")

    def build(self, index, input_shape, layout):
        _spatial.check_input(self._what(), input_shape, self.rank)
        out, _ = self._geometry(input_shape)
        return (*out, input_shape[-1])

    def _as_2d(self, X: Any, xp: Any) -> tuple[Any, tuple[int, int], tuple[int, int], _windows.Pads]:
        """Return X as (n, H, W, C) with the pool, strides and pads in two dimensions."""
        _, pads = self._geometry(tuple(X.shape[1:]))
        if self.rank == 2:
            return X, self.pool_size, self.strides, pads  # type: ignore[return-value]
        return xp.reshape(X, (X.shape[0], 1, *X.shape[1:])), (1, *self.pool_size), (1, *self.strides), pads

    @abc.abstractmethod
    def _pool(self, X4: Any, pool: Any, strides: Any, pads: Any, ctx: Any) -> tuple[Any, Any]:
        """Return ``(Y4, backprop)`` for (n, H, W, C) input pooled over 2-D windows."""

    def forward(self, P, X, ctx, *, activate=True):
        xp, shape = ctx.xp, tuple(X.shape)
        X4, pool, strides, pads = self._as_2d(X, xp)
        Y4, back = self._pool(X4, pool, strides, pads, ctx)
        Y = Y4 if self.rank == 2 else xp.reshape(Y4, (shape[0], *Y4.shape[2:]))

        def backprop(dY: Any, need_dX: bool = True) -> Any:
            if not need_dX:
                return None
            dX4 = back(dY if self.rank == 2 else xp.reshape(dY, Y4.shape))
            return dX4 if self.rank == 2 else xp.reshape(dX4, shape)

        return Y, backprop

    def get_config(self):
        return {"pool_size": self.pool_size, "strides": self.strides, "padding": self.padding, "name": self.name}


class _Max(_Pooling):
    def _pool(self, X4, pool, strides, pads, ctx):
        return ctx.kernels.get("max_pool2d", _windows.max_pool2d)(X4, pool, strides, pads, ctx.xp)


class _Average(_Pooling):
    def _pool(self, X4, pool, strides, pads, ctx):
        xp = ctx.xp
        S, back = ctx.kernels.get("sum_pool2d", _windows.sum_pool2d)(X4, pool, strides, pads, xp)
        if pads == ((0, 0), (0, 0)):
            scale: Any = 1.0 / (pool[0] * pool[1])
        else:  # Keras divides by the number of real (not padding) values in each window
            counts = _windows.window_counts(tuple(X4.shape[1:3]), pool, strides, pads, tuple(S.shape[1:3]))
            inv = [[[1.0 / c] for c in row] for row in counts]
            scale = xp.asarray(inv, dtype=S.dtype, device=S.device)
        return S * scale, lambda dY: back(dY * scale)


class MaxPooling2D(_Max):
    """Max pooling (Keras' ``MaxPooling2D``): (h, w, c) -> (out_h, out_w, c); strides default to pool_size.

    The backward pass sends each window's gradient to one input: its first maximum in
    row-major order, so ties are broken the same way on every backend.
    """

    kind = "max_pooling2d"


class AveragePooling2D(_Average):
    """Average pooling (Keras' ``AveragePooling2D``): (h, w, c) -> (out_h, out_w, c); strides default to pool_size."""

    kind = "average_pooling2d"


class MaxPooling1D(_Max):
    """Max pooling over steps (Keras' ``MaxPooling1D``): (steps, c) -> (out_steps, c)."""

    rank = 1
    kind = "max_pooling1d"


class AveragePooling1D(_Average):
    """Average pooling over steps (Keras' ``AveragePooling1D``): (steps, c) -> (out_steps, c)."""

    rank = 1
    kind = "average_pooling1d"


class LPPooling2D(_Pooling):
    """Lp pooling, torch's ``LPPool2d`` in Keras' argument style: (h, w, c) -> (out_h, out_w, c).

    Each output is ``(sum over the window of |x|**p) ** (1/p)`` with ``p = norm_type``; torch
    computes ``sum(x**p) ** (1/p)``, which is the same for p = 2 and for non-negative inputs
    (after a ReLU). Padding adds zeros. Where a whole window is zero the gradient is taken
    as 0 (the norm is not differentiable there).
    """

    kind = "lp_pooling2d"

    def __init__(self, norm_type: float = 2.0, pool_size: int | Sequence[int] = 2,
                 strides: int | Sequence[int] | None = None, padding: str = "valid", data_format: str | None = None,
                 *, name: str | None = None, input_shape: Sequence[int] | None = None) -> None:
        super().__init__(pool_size, strides, padding, data_format, name=name, input_shape=input_shape)
        try:
            ok = float(norm_type) >= 1.0 and not isinstance(norm_type, bool)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"{type(self).__name__}: norm_type must be a number >= 1, got norm_type={norm_type!r}.")
        self.norm_type = float(norm_type)

    def _pool(self, X4, pool, strides, pads, ctx):
        xp, p = ctx.xp, self.norm_type
        A = xp.abs(X4)
        S, back = ctx.kernels.get("sum_pool2d", _windows.sum_pool2d)(X4 * X4 if p == 2.0 else A ** p, pool,
                                                                        strides, pads, xp)
        Y = xp.sqrt(S) if p == 2.0 else S ** (1.0 / p)
        positive = Y > 0
        safe = xp.where(positive, Y, xp.ones_like(Y))

        def backward(dY: Any) -> Any:
            # dY/dS = Y**(1-p) / p and dS/dX = p |X|**(p-1) sign(X); 0 where a window is all zeros
            G = back(xp.where(positive, dY / (safe if p == 2.0 else safe ** (p - 1.0)), xp.zeros_like(dY)))
            return G * X4 if p == 2.0 else G * (A ** (p - 1.0)) * xp.sign(X4)

        return Y, backward

    def get_config(self):
        return {"norm_type": self.norm_type, **super().get_config()}


class L2Pooling2D(LPPooling2D):
    """L2 pooling: the square root of the sum of squares over each window; ``LPPooling2D(norm_type=2)``."""

    kind = "l2_pooling2d"

    def __init__(self, pool_size: int | Sequence[int] = 2, strides: int | Sequence[int] | None = None,
                 padding: str = "valid", data_format: str | None = None, *, name: str | None = None,
                 input_shape: Sequence[int] | None = None) -> None:
        super().__init__(2.0, pool_size, strides, padding, data_format, name=name, input_shape=input_shape)

    def get_config(self):
        return {k: v for k, v in super().get_config().items() if k != "norm_type"}


class _Global(Layer):
    """Reduces every spatial axis of each channel to one value: (..., c) -> (c,)."""

    rank = 2

    def __init__(self, data_format: str | None = None, keepdims: bool = False, *, name: str | None = None) -> None:
        super().__init__(name=name)
        _spatial.data_format(type(self).__name__, data_format)
        self.keepdims = bool(keepdims)

    def build(self, index, input_shape, layout):
        _spatial.check_input(type(self).__name__, input_shape, self.rank)
        return (*(1,) * self.rank, input_shape[-1]) if self.keepdims else (input_shape[-1],)

    def forward(self, P, X, ctx, *, activate=True):
        xp, shape = ctx.xp, tuple(X.shape)
        n, c, m = shape[0], shape[-1], 1
        for d in shape[1:-1]:
            m *= d
        Xr = xp.reshape(X, (n, m, c))
        Yr, back = self._reduce(Xr, xp)  # (n, c)
        Y = xp.reshape(Yr, (n, *(1,) * self.rank, c)) if self.keepdims else Yr

        def backprop(dY: Any, need_dX: bool = True) -> Any:
            return xp.reshape(back(xp.reshape(dY, (n, 1, c))), shape) if need_dX else None

        return Y, backprop

    def get_config(self):
        return {"keepdims": self.keepdims, "name": self.name}


class _GlobalAverage(_Global):
    def _reduce(self, Xr, xp):
        m = Xr.shape[1]
        return xp.mean(Xr, axis=1), lambda dY: xp.zeros(Xr.shape, dtype=dY.dtype, device=dY.device) + dY / m


class _GlobalMax(_Global):
    def _reduce(self, Xr, xp):
        def back(dY: Any) -> Any:
            first = xp.argmax(Xr, axis=1, keepdims=True)  # (n, 1, c): the first maximum
            where = xp.reshape(xp.arange(Xr.shape[1], dtype=first.dtype, device=dY.device), (1, Xr.shape[1], 1))
            return xp.astype(where == first, dY.dtype) * dY
        return xp.max(Xr, axis=1), back


class GlobalAveragePooling2D(_GlobalAverage):
    """The mean over height and width (Keras' ``GlobalAveragePooling2D``): (h, w, c) -> (c,)."""

    kind = "global_average_pooling2d"


class GlobalMaxPooling2D(_GlobalMax):
    """The maximum over height and width (Keras' ``GlobalMaxPooling2D``): (h, w, c) -> (c,); gradient to the first maximum."""

    kind = "global_max_pooling2d"


class GlobalAveragePooling1D(_GlobalAverage):
    """The mean over steps (Keras' ``GlobalAveragePooling1D``): (steps, c) -> (c,)."""

    rank = 1
    kind = "global_average_pooling1d"


class GlobalMaxPooling1D(_GlobalMax):
    """The maximum over steps (Keras' ``GlobalMaxPooling1D``): (steps, c) -> (c,)."""

    rank = 1
    kind = "global_max_pooling1d"
