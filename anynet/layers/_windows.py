"""Sliding windows over the two spatial axes of channels-last batches, in standard calls only.

The portable convolution and pooling maths that every backend falls back to. Arrays are
``(n, height, width, channels)``; a window op returns ``(Y, backward)`` where ``backward``
gives the gradients. Windows are gathered by strided slices and ``stack`` (im2col), and a
convolution is then one ``matmul``; gradients go back to the input by strided
``x[slices] += v`` (col2im), the only in-place update the standard needs here.

Each function here has the signature of the fast path of the same name in an adapter's
``kernels`` (``"conv2d"``, ``"max_pool2d"``, ``"sum_pool2d"``), so a layer calls
``ctx.kernels.get(name, portable)(...)`` and the conformance suite compares the two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["Pads", "out_and_pads", "conv2d", "max_pool2d", "sum_pool2d", "window_counts"]

Pair = tuple[int, int]
Pads = tuple[Pair, Pair]          # ((top, bottom), (left, right))


def out_and_pads(size: int, k: int, s: int, d: int, padding: str) -> tuple[int, int, int]:
    """Return ``(output size, pad before, pad after)`` along one axis, as Keras/TensorFlow count them.

    "valid": no padding, ``(size - d*(k-1) - 1) // s + 1`` outputs (0 when the window does
    not fit); "same": ``ceil(size / s)`` outputs, the padding split with the odd one after;
    "causal" (1-D): all padding before, so an output never sees a later input.
    """
    ke = d * (k - 1) + 1
    if padding == "valid":
        return ((size - ke) // s + 1 if size >= ke else 0), 0, 0
    if padding == "causal":
        return (size - 1) // s + 1, ke - 1, 0
    out = -(-size // s)
    total = max((out - 1) * s + ke - size, 0)
    return out, total // 2, total - total // 2


def _pad(X: Any, pads: Pads, value: float, xp: Any) -> Any:
    """Return X with ``pads`` rows/columns of ``value`` added around axes 1 and 2 (by concat)."""
    (t, b), (l, r) = pads
    if not (t or b or l or r):
        return X
    n, H, W, C = X.shape
    full = lambda shape: xp.full(shape, value, dtype=X.dtype, device=X.device)  # noqa: E731
    if t or b:
        X = xp.concat([p for p in (full((n, t, W, C)) if t else None, X, full((n, b, W, C)) if b else None)
                       if p is not None], axis=1)
    if l or r:
        Hp = H + t + b
        X = xp.concat([p for p in (full((n, Hp, l, C)) if l else None, X, full((n, Hp, r, C)) if r else None)
                       if p is not None], axis=2)
    return X


def _unpad(X: Any, pads: Pads) -> Any:
    (t, b), (l, r) = pads
    if not (t or b or l or r):
        return X
    return X[:, t:X.shape[1] - b, l:X.shape[2] - r, :]


def _offsets(kernel: Pair, dilation: Pair, strides: Pair, out: Pair) -> list[tuple[slice, slice]]:
    """Return, per kernel tap (row-major), the strided slices of the padded input it reads."""
    (kh, kw), (dh, dw), (sh, sw), (Ho, Wo) = kernel, dilation, strides, out
    return [(slice(i * dh, i * dh + sh * (Ho - 1) + 1, sh), slice(j * dw, j * dw + sw * (Wo - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _out(padded: Sequence[int], kernel: Pair, strides: Pair, dilation: Pair) -> Pair:
    return tuple((padded[a] - dilation[a] * (kernel[a] - 1) - 1) // strides[a] + 1 for a in (0, 1))  # type: ignore


def _windows(Xp: Any, taps: list[tuple[slice, slice]], xp: Any) -> Any:
    """Return the windows of the padded input as (n, Ho, Wo, taps, C)."""
    return xp.stack([Xp[:, si, sj, :] for si, sj in taps], axis=3)


def _scatter(parts: Callable[[int], Any], taps: list[tuple[slice, slice]], shape: Sequence[int], like: Any,
             xp: Any) -> Any:
    """Return the (n, Hp, Wp, C) sum of each tap's (n, Ho, Wo, C) gradient put back where it was read."""
    dXp = xp.zeros(tuple(shape), dtype=like.dtype, device=like.device)
    for t, (si, sj) in enumerate(taps):
        dXp[:, si, sj, :] += parts(t)
    return dXp


def conv2d(X: Any, W: Any, strides: Pair, pads: Pads, dilation: Pair, xp: Any = None) -> tuple[Any, Callable]:
    """Return ``(Y, backward)``: Y (n, Ho, Wo, F) is the cross-correlation of X (n, H, W, C) with
    the kernel W (kh, kw, C, F), Keras' layout; ``backward(dY, need_dX=True)`` returns
    ``(dX or None, dW)``."""
    n, C = X.shape[0], X.shape[3]
    kh, kw, _, F = W.shape
    Xp = _pad(X, pads, 0.0, xp)
    Ho, Wo = _out(Xp.shape[1:3], (kh, kw), strides, dilation)
    taps = _offsets((kh, kw), dilation, strides, (Ho, Wo))
    cols = xp.reshape(_windows(Xp, taps, xp), (n * Ho * Wo, kh * kw * C))
    Wr = xp.reshape(W, (kh * kw * C, F))
    Y = xp.reshape(xp.matmul(cols, Wr), (n, Ho, Wo, F))

    def backward(dY: Any, need_dX: bool = True) -> tuple[Any, Any]:
        dYr = xp.reshape(dY, (n * Ho * Wo, F))
        dW = xp.reshape(xp.matmul(cols.T, dYr), (kh, kw, C, F))
        if not need_dX:
            return None, dW
        dcols = xp.reshape(xp.matmul(dYr, Wr.T), (n, Ho, Wo, kh * kw, C))
        dXp = _scatter(lambda t: dcols[:, :, :, t, :], taps, Xp.shape, dY, xp)
        return _unpad(dXp, pads), dW

    return Y, backward


def max_pool2d(X: Any, pool: Pair, strides: Pair, pads: Pads, xp: Any = None) -> tuple[Any, Callable]:
    """Return ``(Y, backward)``: Y (n, Ho, Wo, C) the maximum of each window (padding never wins);
    ``backward(dY)`` returns dX, each window's gradient sent to its first maximum (row-major)."""
    Xp = _pad(X, pads, -math.inf, xp)
    out = _out(Xp.shape[1:3], pool, strides, (1, 1))
    taps = _offsets(pool, (1, 1), strides, out)
    # A running maximum over the taps, remembering which tap first held it: a later tap
    # takes over only when strictly greater, so ties go to the first (row-major) maximum.
    Y = Xp[:, taps[0][0], taps[0][1], :]
    first = xp.zeros(Y.shape, dtype=xp.int32, device=X.device)
    for t, (si, sj) in enumerate(taps[1:], 1):
        V = Xp[:, si, sj, :]
        greater = V > Y
        Y = xp.where(greater, V, Y)
        first = xp.where(greater, xp.full(Y.shape, t, dtype=xp.int32, device=X.device), first)
    shape = tuple(Xp.shape)

    def backward(dY: Any) -> Any:
        zero = xp.zeros_like(dY)
        return _unpad(_scatter(lambda t: xp.where(first == t, dY, zero), taps, shape, dY, xp), pads)

    return Y, backward


def sum_pool2d(X: Any, pool: Pair, strides: Pair, pads: Pads, xp: Any = None) -> tuple[Any, Callable]:
    """Return ``(Y, backward)``: Y (n, Ho, Wo, C) the sum of each window (padding adds zeros);
    ``backward(dY)`` returns dX."""
    Xp = _pad(X, pads, 0.0, xp)
    out = _out(Xp.shape[1:3], pool, strides, (1, 1))
    taps = _offsets(pool, (1, 1), strides, out)
    Y = xp.sum(_windows(Xp, taps, xp), axis=3)
    shape = tuple(Xp.shape)
    return Y, lambda dY: _unpad(_scatter(lambda t: dY, taps, shape, dY, xp), pads)


def window_counts(size: Pair, pool: Pair, strides: Pair, pads: Pads, out: Pair) -> list[list[int]]:
    """Return, per output position (Ho x Wo), how many input values (not padding) its window covers."""
    def along(a: int) -> list[int]:
        before = pads[a][0]
        return [sum(0 <= o * strides[a] + i - before < size[a] for i in range(pool[a])) for o in range(out[a])]
    rows, cols = along(0), along(1)
    return [[r * c for c in cols] for r in rows]
