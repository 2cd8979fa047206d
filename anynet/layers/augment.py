"""Data augmentation on the device, per batch, active only in training: random pixel shifts.

Nielsen's chapter 6 expands MNIST by shifting each digit a pixel up, down, left or right;
``RandomTranslation`` (Keras' name and arguments) draws such shifts afresh for every
sample of every batch. The shifts come from the model's seeded generator (the one
dropout uses), so a seeded run is reproducible and a resumed run sees the same
augmented batches. A shift is two products with 0/1 matrices, ``S_rows @ X @ S_cols.T``
per sample and channel: standard ``matmul`` on any backend, and its backward is the
same products transposed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anynet.errors import InputError
from anynet.layers import _spatial
from anynet.layers.core import Layer, _dtype_name

__all__ = ["RandomTranslation"]

FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def _factor(name: str, value: Any) -> tuple[float, float]:
    try:
        lo, hi = (-float(value), float(value)) if not isinstance(value, (tuple, list)) else map(float, value)
        ok = -1.0 <= lo <= hi <= 1.0 and not isinstance(value, bool)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"RandomTranslation: {name} must be a fraction f in [0, 1] (shifts in [-f, f] of the size) "
                         f"or a pair (lower, upper) with -1 <= lower <= upper <= 1, got {name}={value!r}.")
    return lo, hi


class RandomTranslation(Layer):
    """Shifts each training image by whole pixels: (h, w, c) -> (h, w, c); the identity at inference.

    ``height_factor`` f (or a pair (lower, upper)) draws a vertical shift uniformly from
    [-f * h, f * h] pixels, rounded to whole pixels; positive moves the image down (Keras'
    sign). ``width_factor`` likewise, positive moving it right. ``fill_mode`` says what
    fills the uncovered pixels: "constant" (``fill_value``, default 0: black, as Nielsen
    shifts MNIST), "nearest", "reflect" or "wrap", as in Keras. Unlike Keras, the default
    fill is "constant" and only whole-pixel ("nearest") interpolation exists; rotations are
    not offered (not separable into standard products at a useful cost).
    """

    kind = "random_translation"

    def __init__(self, height_factor: float | Sequence[float], width_factor: float | Sequence[float],
                 fill_mode: str = "constant", interpolation: str = "nearest", fill_value: float = 0.0, *,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.height_factor = _factor("height_factor", height_factor)
        self.width_factor = _factor("width_factor", width_factor)
        if fill_mode not in FILL_MODES:
            raise InputError(f"RandomTranslation: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}.")
        if interpolation != "nearest":
            raise InputError(f"RandomTranslation shifts by whole pixels: interpolation must be 'nearest', "
                             f"got {interpolation!r}.")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        try:
            self.fill_value = float(fill_value)
        except (TypeError, ValueError):
            raise InputError(f"RandomTranslation: fill_value must be a number, got {fill_value!r}.") from None

    def build(self, index, input_shape, layout):
        _spatial.check_input("RandomTranslation", input_shape, 2)
        return input_shape

    def _matrices(self, shifts: Any, size: int, xp: Any, dtype: Any) -> tuple[Any, Any]:
        """Return (n, size, size) 0/1 matrices S with S[k, i, s] = 1 where output i reads input s, and the
        (n, size) 0/1 mask of outputs that read a real pixel."""
        out = xp.reshape(xp.arange(size, dtype=xp.int64, device=shifts.device), (1, size))
        src = out - xp.reshape(shifts, (-1, 1))
        valid = xp.astype((src >= 0) & (src < size), dtype)
        if self.fill_mode == "nearest":
            src = xp.clip(src, 0, size - 1)
        elif self.fill_mode == "wrap":
            src = src % size
        elif self.fill_mode == "reflect":  # (d c b a | a b c d | d c b a)
            src = src % (2 * size)
            src = xp.where(src >= size, 2 * size - 1 - src, src)
        onehot = xp.astype(xp.reshape(src, (*src.shape, 1)) == xp.reshape(out, (1, 1, size)), dtype)
        if self.fill_mode == "constant":
            onehot = onehot * xp.reshape(valid, (*valid.shape, 1))
        return onehot, valid

    def _shifts(self, n: int, size: int, factor: tuple[float, float], u: Any, xp: Any) -> Any:
        lo, hi = factor
        return xp.astype(xp.round((lo + (hi - lo) * u) * size), xp.int64)

    def forward(self, P, X, ctx, *, activate=True):
        if not ctx.training or self.height_factor == self.width_factor == (0.0, 0.0):
            return super().forward(P, X, ctx)
        xp = ctx.xp
        n, H, W, C = X.shape
        u = ctx.rng.uniform((2, n), dtype=_dtype_name(X.dtype, xp))
        Sy, vy = self._matrices(self._shifts(n, H, self.height_factor, u[0, :], xp), H, xp, X.dtype)
        Sx, vx = self._matrices(self._shifts(n, W, self.width_factor, u[1, :], xp), W, xp, X.dtype)
        Sy4, SxT4 = xp.reshape(Sy, (n, 1, H, H)), xp.reshape(xp.permute_dims(Sx, (0, 2, 1)), (n, 1, W, W))
        Xt = xp.permute_dims(X, (0, 3, 1, 2))  # (n, C, H, W): the products run over the last two axes
        Yt = xp.matmul(xp.matmul(Sy4, Xt), SxT4)
        if self.fill_mode == "constant" and self.fill_value != 0.0:
            covered = xp.reshape(vy, (n, 1, H, 1)) * xp.reshape(vx, (n, 1, 1, W))
            Yt = Yt + self.fill_value * (1.0 - covered)
        Y = xp.permute_dims(Yt, (0, 2, 3, 1))

        def backprop(dY: Any, need_dX: bool = True) -> Any:
            if not need_dX:
                return None
            dYt = xp.permute_dims(dY, (0, 3, 1, 2))
            dXt = xp.matmul(xp.matmul(xp.permute_dims(Sy4, (0, 1, 3, 2)), dYt), xp.permute_dims(SxT4, (0, 1, 3, 2)))
            return xp.permute_dims(dXt, (0, 2, 3, 1))

        return Y, backprop

    def get_config(self):
        return {"height_factor": self.height_factor, "width_factor": self.width_factor, "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value, "name": self.name}
