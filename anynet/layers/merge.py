"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum (Keras' names).

Each is called on a list of tensors, ``Add()([a, b])``; ``forward(P, Xs, ctx)`` takes the
list of arrays and returns ``(Y, backprop)`` where ``backprop(dY)`` returns the list of dX,
one per input. Apart from Concatenate's axis, the inputs must have equal sample shapes
(no broadcasting: a mismatch is refused rather than guessed).
"""

from __future__ import annotations

import abc
from typing import Any

from anynet.errors import InputError
from anynet.layers.base import Layer

__all__ = ["Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum"]


class _Merge(Layer, abc.ABC):
    """Element-wise merge of inputs of one sample shape."""

    multi_input = True
    n_inputs: int | None = None  # None: any number >= 2

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)

    def build(self, index, input_shape, layout):
        shapes = [tuple(s) for s in input_shape]
        if self.n_inputs is not None and len(shapes) != self.n_inputs:
            raise InputError(f"{type(self).__name__} takes exactly {self.n_inputs} inputs, got {len(shapes)}.")
        if len(set(shapes)) != 1:
            raise InputError(f"{type(self).__name__} needs inputs of one sample shape, got {shapes}.")
        return shapes[0]

    @abc.abstractmethod
    def combine(self, Xs: list[Any], xp: Any) -> Any:
        """Return Y, the inputs ``Xs`` (all of one shape) merged elementwise."""

    @abc.abstractmethod
    def grads(self, dY: Any, Xs: list[Any], Y: Any, xp: Any) -> list[Any]:
        """Return dX for each input, given dY, the inputs and the output Y."""

    def forward(self, P, X, ctx, *, activate=True):
        xp, Xs = ctx.xp, list(X)
        Y = self.combine(Xs, xp)
        return Y, lambda dY, need_dX=True: self.grads(dY, Xs, Y, xp) if need_dX else None


class Add(_Merge):
    """``Y = X1 + X2 + ...``."""

    kind = "add"

    def combine(self, Xs, xp):
        Y = Xs[0] + Xs[1]
        for X in Xs[2:]:
            Y = Y + X
        return Y

    def grads(self, dY, Xs, Y, xp):
        return [dY for _ in Xs]


class Subtract(_Merge):
    """``Y = X1 - X2`` (exactly two inputs)."""

    kind = "subtract"
    n_inputs = 2

    def combine(self, Xs, xp):
        return Xs[0] - Xs[1]

    def grads(self, dY, Xs, Y, xp):
        return [dY, -dY]


class Multiply(_Merge):
    """``Y = X1 * X2 * ...`` element-wise."""

    kind = "multiply"

    def combine(self, Xs, xp):
        Y = Xs[0] * Xs[1]
        for X in Xs[2:]:
            Y = Y * X
        return Y

    def grads(self, dY, Xs, Y, xp):
        out = []
        for i in range(len(Xs)):
            others = [X for j, X in enumerate(Xs) if j != i]
            G = dY * others[0]
            for X in others[1:]:
                G = G * X
            out.append(G)
        return out


class Average(_Merge):
    """``Y = (X1 + ... + Xn) / n``."""

    kind = "average"

    def combine(self, Xs, xp):
        return Add.combine(self, Xs, xp) / len(Xs)

    def grads(self, dY, Xs, Y, xp):
        d = dY / len(Xs)
        return [d for _ in Xs]


class Maximum(_Merge):
    """``Y = max(X1, ..., Xn)`` element-wise; where inputs tie, the first of them gets the gradient."""

    kind = "maximum"

    def combine(self, Xs, xp):
        Y = xp.maximum(Xs[0], Xs[1])
        for X in Xs[2:]:
            Y = xp.maximum(Y, X)
        return Y

    def grads(self, dY, Xs, Y, xp):
        out, free = [], None
        for X in Xs:
            hit = X == Y if free is None else (X == Y) & free
            free = ~hit if free is None else free & ~hit
            out.append(dY * xp.astype(hit, dY.dtype))
        return out


class Concatenate(Layer):
    """Joins the inputs along ``axis`` (default -1, the last; 0 is the batch axis and not allowed)."""

    kind = "concatenate"
    multi_input = True

    def __init__(self, axis: int = -1, *, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise InputError(f"Concatenate(axis) needs a non-zero int (axis 0 is the batch), got axis={axis!r}.")
        self.axis = axis

    def _sample_axis(self, ndim: int) -> int:
        """Return the axis among a sample's ``ndim`` axes (no batch axis)."""
        k = self.axis - 1 if self.axis > 0 else ndim + self.axis
        if not 0 <= k < ndim:
            raise InputError(f"Concatenate(axis={self.axis}) does not fit samples of {ndim} axes.")
        return k

    def build(self, index, input_shape, layout):
        shapes = [tuple(s) for s in input_shape]
        if len({len(s) for s in shapes}) != 1:
            raise InputError(f"Concatenate needs inputs with the same number of axes, got {shapes}.")
        k = self._sample_axis(len(shapes[0]))
        rest = {s[:k] + s[k + 1:] for s in shapes}
        if len(rest) != 1:
            raise InputError(f"Concatenate(axis={self.axis}) needs inputs that agree on every other axis, "
                             f"got {shapes}.")
        return shapes[0][:k] + (sum(s[k] for s in shapes),) + shapes[0][k + 1:]

    def forward(self, P, X, ctx, *, activate=True):
        xp, Xs = ctx.xp, list(X)
        axis = self._sample_axis(Xs[0].ndim - 1) + 1
        sizes = [int(x.shape[axis]) for x in Xs]
        Y = xp.concat(Xs, axis=axis)

        def backprop(dY: Any, need_dX: bool = True) -> Any:
            if not need_dX:
                return None
            out, start = [], 0
            for n in sizes:
                index = (slice(None),) * axis + (slice(start, start + n),)
                out.append(dY[index + (...,)])
                start += n
            return out

        return Y, backprop

    def get_config(self):
        return {"axis": self.axis, "name": self.name}
