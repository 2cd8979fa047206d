"""NumPy fast paths for convolution and pooling, channels last: kernels ``conv2d``, ``max_pool2d``, ``sum_pool2d``.

Each does the maths of the portable function of the same name in
:mod:`anynet.layers._windows` (same signature, same results; tests/conformance/test_conv.py
checks them against it and against torch), with NumPy's own tools:

- Windows are read through one ``as_strided`` view and copied once into the rows of the
  im2col matrix (each row holds ``kw * C`` contiguous values per kernel row), then one
  BLAS product. With few input channels (the first layer) the matrix is built transposed,
  one contiguous row per tap, so the copy moves whole image rows.
- The gradient goes back to the input (col2im) by one product per tap, each into its own
  contiguous (n, Ho, Wo, C) block, then one strided in-place add per tap, whose rows are
  then whole image rows; at stride 1 the first tap is a plain copy and only the strips it
  misses are zeroed.
- Pooling takes a running maximum (or sum) over the taps with ``out=``; the max-pooling
  backward finds each window's first maximum tap by tap and writes each tap's share
  straight into its strided place, with no zero-fill where the windows tile the input.
- Every array of the step comes from :data:`workspace`, so the buffers are reused batch
  after batch instead of being mapped and faulted in again.
- The memory-bound loops run over slices of a few samples, so the arrays a slice touches
  stay in the CPU's cache between the passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from anynet.backends._numpy_workspace import workspace

__all__ = ["conv2d", "max_pool2d", "sum_pool2d", "KERNELS"]

Pair = tuple[int, int]
_CACHE_BYTES = 1 << 18  # a slice of the batch touches about this much per array: it stays in L2


def _slices(n: int, sample_bytes: int) -> Iterator[slice]:
    """Yield slices of the batch axis, each of about ``_CACHE_BYTES`` (at least one sample)."""
    step = max(1, _CACHE_BYTES // max(1, sample_bytes))
    for a in range(0, n, step):
        yield slice(a, min(a + step, n))


def _padded(X: np.ndarray, pads: Any, value: float) -> np.ndarray:
    """Return X with ``pads`` rows/columns of ``value`` around axes 1 and 2 (a workspace array)."""
    (t, b), (l, r) = pads
    if not (t or b or l or r):
        return X
    n, H, W, C = X.shape
    Xp = workspace.empty((n, H + t + b, W + l + r, C), X.dtype)
    Xp[:, :t], Xp[:, t + H:], Xp[:, t:t + H, :l], Xp[:, t:t + H, l + W:] = value, value, value, value
    Xp[:, t:t + H, l:l + W] = X
    return Xp


def _unpad(dXp: np.ndarray, pads: Any) -> np.ndarray:
    (t, b), (l, r) = pads
    return dXp[:, t:dXp.shape[1] - b, l:dXp.shape[2] - r, :]


def _tap(A: np.ndarray, i: int, j: int, s: Pair, out: Pair) -> np.ndarray:
    """Return the (n, Ho, Wo, C) strided view of A that kernel tap (i, j) reads (i, j already dilated)."""
    return A[:, i:i + s[0] * (out[0] - 1) + 1:s[0], j:j + s[1] * (out[1] - 1) + 1:s[1], :]


def _prepare(dXp: np.ndarray, out: Pair, strides: Pair, window: Pair | None) -> int:
    """Zero what the gradient's taps will not write; return how many leading taps may be copied, not added.

    Windows that tile the input (stride = window, no overlap): every tap is copied and only
    the rows and columns past the last window are zeroed. Stride 1: the first tap covers
    [0:Ho, 0:Wo], so it is copied and the rest zeroed. Otherwise: all zeros, every tap added.
    """
    (Ho, Wo), (sh, sw) = out, strides
    if strides == window or strides == (1, 1):
        dXp[:, Ho * sh:], dXp[:, :Ho * sh, Wo * sw:] = 0, 0
        return 1 << 30 if strides == window else 1
    dXp.fill(0)
    return 0


# -- convolution ---------------------------------------------------------------------------------

def conv2d(X: np.ndarray, W: np.ndarray, strides: Pair, pads: Any, dilation: Pair,
           xp: Any = None) -> tuple[np.ndarray, Callable]:
    """Return ``(Y, backward)``: Y (n, Ho, Wo, F) the cross-correlation of X (n, H, W, C) with W (kh, kw, C, F);
    ``backward(dY, need_dX=True)`` returns ``(dX or None, dW)``."""
    kh, kw, C, F = W.shape
    dtype = np.result_type(X.dtype, W.dtype)
    Xp = _padded(X, pads, 0.0)
    n, Hp, Wp, _ = Xp.shape
    (sh, sw), (dh, dw) = strides, dilation
    Ho, Wo = (Hp - dh * (kh - 1) - 1) // sh + 1, (Wp - dw * (kw - 1) - 1) // sw + 1
    M, K = n * Ho * Wo, kh * kw * C
    s0, s1, s2, s3 = Xp.strides
    win = as_strided(Xp, (n, Ho, Wo, kh, kw, C), (s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3), writeable=False)
    Wr = W.reshape(K, F)
    rows = kw * C >= 16  # im2col rows hold runs of kw*C values: long enough to copy well
    if rows:
        cols = workspace.empty((M, K), X.dtype)
        np.copyto(cols.reshape(n, Ho, Wo, kh, kw, C), win)
        A = cols
    else:  # few channels: one contiguous row per tap (and channel) instead
        colsT = workspace.empty((K, M), X.dtype)
        np.copyto(colsT.reshape(kh, kw, C, n, Ho, Wo), win.transpose(3, 4, 5, 0, 1, 2))
        A = colsT.T
    Y = np.matmul(A, Wr, out=workspace.empty((M, F), dtype)).reshape(n, Ho, Wo, F)

    def backward(dY: np.ndarray, need_dX: bool = True) -> tuple[Any, np.ndarray]:
        dYr = dY.reshape(M, F)
        dW = np.matmul(A.T, dYr).reshape(W.shape)
        if not need_dX:
            return None, dW
        dXp = workspace.empty(Xp.shape, dtype)
        if rows:  # one product per tap, each (M, C) contiguous, so the adds below run over whole rows
            WT = W.reshape(kh * kw, C, F).transpose(0, 2, 1)
            dA = np.matmul(dYr[None], WT, out=workspace.empty((kh * kw, M, C), dtype)).reshape(kh, kw, n, Ho, Wo, C)
            part = lambda i, j: dA[i, j]  # noqa: E731
        else:
            dAT = np.matmul(Wr, dYr.T, out=workspace.empty((K, M), dtype)).reshape(kh, kw, C, n, Ho, Wo)
            part = lambda i, j: dAT[i, j].transpose(1, 2, 3, 0)  # noqa: E731
        copies = _prepare(dXp, (Ho, Wo), strides, (kh, kw) if (dh, dw) == (1, 1) else None)
        for b in _slices(n, Xp[0].nbytes):
            dXb = dXp[b]
            for i in range(kh):
                for j in range(kw):
                    view = _tap(dXb, i * dh, j * dw, strides, (Ho, Wo))
                    if i * kw + j < copies:
                        np.copyto(view, part(i, j)[b])
                    else:
                        view += part(i, j)[b]
        return _unpad(dXp, pads), dW

    return Y, backward


# -- pooling ---------------------------------------------------------------------------------------

def _pool_taps(X: np.ndarray, pool: Pair, strides: Pair, pads: Any, fill: float
               ) -> tuple[np.ndarray, list[tuple[int, int]], Pair]:
    Xp = _padded(X, pads, fill)
    Hp, Wp = Xp.shape[1:3]
    out = ((Hp - pool[0]) // strides[0] + 1, (Wp - pool[1]) // strides[1] + 1)
    return Xp, [(i, j) for i in range(pool[0]) for j in range(pool[1])], out


def _running(op: Any, Xp: np.ndarray, taps: Any, strides: Pair, out: Any, n: int, C: int,
             dtype: Any) -> tuple[np.ndarray, int]:
    """Return ``(Y, bytes of one padded sample)``: Y (n, Ho, Wo, C) folds ``op`` (np.maximum,
    np.add) over the window taps, in place, a cache-sized slice of the batch at a time."""
    Y = workspace.empty((n, *out, C), dtype)
    sample = Xp[0].nbytes
    for b in _slices(n, sample):
        Xb, Yb = Xp[b], Y[b]
        first = _tap(Xb, *taps[0], strides, out)
        if len(taps) == 1:
            np.copyto(Yb, first)
        for t, (i, j) in enumerate(taps[1:]):
            op(first if t == 0 else Yb, _tap(Xb, i, j, strides, out), out=Yb)
    return Y, sample


def max_pool2d(X: np.ndarray, pool: Pair, strides: Pair, pads: Any, xp: Any = None) -> tuple[np.ndarray, Callable]:
    """Return ``(Y, backward)``: Y (n, Ho, Wo, C) the maximum of each window (padding never wins);
    ``backward(dY)`` returns dX, each window's gradient sent to its first maximum (row-major)."""
    low = -np.inf if np.issubdtype(X.dtype, np.floating) else np.iinfo(X.dtype).min
    Xp, taps, out = _pool_taps(X, pool, strides, pads, low)
    n, C = X.shape[0], X.shape[3]
    Y, sample = _running(np.maximum, Xp, taps, strides, out, n, C, X.dtype)

    def backward(dY: np.ndarray) -> np.ndarray:
        dXp = workspace.empty(Xp.shape, dY.dtype)
        copies = _prepare(dXp, out, strides, pool)
        hit = workspace.empty(Y.shape, bool)
        free = workspace.empty(Y.shape, bool)
        for b in _slices(n, sample):
            Xb, dXb, Yb, dYb, hb, fb = Xp[b], dXp[b], Y[b], dY[b], hit[b], free[b]
            last = len(taps) - 1
            for t, (i, j) in enumerate(taps):
                np.equal(_tap(Xb, i, j, strides, out), Yb, out=hb)
                if t == 0:
                    np.copyto(fb, hb)
                    np.logical_not(fb, out=fb)
                else:  # only the first tap holding the maximum gets the gradient
                    hb &= fb
                    if t < last:
                        fb ^= hb
                view = _tap(dXb, i, j, strides, out)
                if t < copies:
                    np.multiply(dYb, hb, out=view)
                else:
                    view += dYb * hb
        return _unpad(dXp, pads)

    return Y, backward


def sum_pool2d(X: np.ndarray, pool: Pair, strides: Pair, pads: Any, xp: Any = None) -> tuple[np.ndarray, Callable]:
    """Return ``(Y, backward)``: Y (n, Ho, Wo, C) the sum of each window (padding adds zeros);
    ``backward(dY)`` returns dX."""
    Xp, taps, out = _pool_taps(X, pool, strides, pads, 0.0)
    n, C = X.shape[0], X.shape[3]
    Y, sample = _running(np.add, Xp, taps, strides, out, n, C, X.dtype)

    def backward(dY: np.ndarray) -> np.ndarray:
        dXp = workspace.empty(Xp.shape, dY.dtype)
        copies = _prepare(dXp, out, strides, pool)
        for b in _slices(n, sample):
            dXb, dYb = dXp[b], dY[b]
            for t, (i, j) in enumerate(taps):
                view = _tap(dXb, i, j, strides, out)
                if t < copies:
                    np.copyto(view, dYb)
                else:
                    view += dYb
        return _unpad(dXp, pads)

    return Y, backward


KERNELS = {"conv2d": conv2d, "max_pool2d": max_pool2d, "sum_pool2d": sum_pool2d}
