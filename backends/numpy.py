"""NumPy adapter: the CPU reference backend, always available."""

from __future__ import annotations

from typing import Any

import numpy as np

from anynet.backends import DIST, Backend


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(Z)


# -- fast paths for convolution and pooling (channels last) ------------------------------------------
#
# The portable code gathers windows with one strided slice per kernel tap; here one
# sliding_window_view does it, and pooling windows that tile the input (stride = pool, the
# usual MaxPooling2D(2)) are a reshape: no copy at all on the way forward.

def _windows_view(Xp: np.ndarray, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]) -> np.ndarray:
    """Return the (n, Ho, Wo, C, kh, kw) view of every window of the padded input."""
    from numpy.lib.stride_tricks import sliding_window_view

    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    return sliding_window_view(Xp, span, axis=(1, 2))[:, ::s[0], ::s[1], :, ::d[0], ::d[1]]


def _pad(X: np.ndarray, pads: Any, value: float) -> np.ndarray:
    if pads == ((0, 0), (0, 0)):
        return X
    return np.pad(X, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=value)


def _scatter(dXp: np.ndarray, parts: Any, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int],
             out: tuple[int, int]) -> np.ndarray:
    """Add each tap's (n, Ho, Wo, C) gradient back where it was read (col2im, in place)."""
    for i in range(k[0]):
        for j in range(k[1]):
            dXp[:, i * d[0]:i * d[0] + s[0] * (out[0] - 1) + 1:s[0],
                j * d[1]:j * d[1] + s[1] * (out[1] - 1) + 1:s[1], :] += parts(i, j)
    return dXp


def _unpad(dXp: np.ndarray, pads: Any) -> np.ndarray:
    (t, b), (l, r) = pads
    return dXp[:, t:dXp.shape[1] - b, l:dXp.shape[2] - r, :]


def _conv2d(X: np.ndarray, W: np.ndarray, strides: Any, pads: Any, dilation: Any, xp: Any = None) -> tuple[Any, Any]:
    kh, kw, C, F = W.shape
    Xp = _pad(X, pads, 0.0)
    win = _windows_view(Xp, (kh, kw), strides, dilation)
    n, Ho, Wo = win.shape[:3]
    # one copy into (n*Ho*Wo, kh*kw*C) rows, in Keras' kernel order, then one BLAS product
    cols = np.ascontiguousarray(win.transpose(0, 1, 2, 4, 5, 3)).reshape(n * Ho * Wo, kh * kw * C)
    Wr = W.reshape(kh * kw * C, F)
    Y = (cols @ Wr).reshape(n, Ho, Wo, F)

    def backward(dY: np.ndarray, need_dX: bool = True) -> tuple[Any, Any]:
        dYr = dY.reshape(n * Ho * Wo, F)
        dW = (cols.T @ dYr).reshape(kh, kw, C, F)
        if not need_dX:
            return None, dW
        dcols = (dYr @ Wr.T).reshape(n, Ho, Wo, kh, kw, C)
        dXp = _scatter(np.zeros(Xp.shape, dY.dtype), lambda i, j: dcols[:, :, :, i, j, :], (kh, kw), strides,
                       dilation, (Ho, Wo))
        return _unpad(dXp, pads), dW

    return Y, backward


def _tiles(X: np.ndarray, pool: Any, strides: Any, pads: Any) -> np.ndarray | None:
    """Return X as (n, Ho, ph, Wo, pw, C) when the windows tile it (stride = pool, no padding), else None."""
    if tuple(pool) != tuple(strides) or pads != ((0, 0), (0, 0)):
        return None
    n, H, W, C = X.shape
    (ph, pw), Ho, Wo = pool, H // pool[0], W // pool[1]
    return X[:, :Ho * ph, :Wo * pw, :].reshape(n, Ho, ph, Wo, pw, C)


def _untile(dT: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    n, Ho, ph, Wo, pw, C = dT.shape
    if shape[1] == Ho * ph and shape[2] == Wo * pw:
        return dT.reshape(shape)
    dX = np.zeros(shape, dT.dtype)
    dX[:, :Ho * ph, :Wo * pw, :] = dT.reshape(n, Ho * ph, Wo * pw, C)
    return dX


def _max_pool2d(X: np.ndarray, pool: Any, strides: Any, pads: Any, xp: Any = None) -> tuple[Any, Any]:
    T = _tiles(X, pool, strides, pads)
    if T is None:
        from anynet.layers._windows import max_pool2d

        return max_pool2d(X, pool, strides, pads, xp)
    ph, pw = pool
    taps = [T[:, :, t // pw, :, t % pw, :] for t in range(ph * pw)]
    Y = taps[0].copy()
    for V in taps[1:]:
        np.maximum(Y, V, out=Y)

    def backward(dY: np.ndarray) -> np.ndarray:
        # each window's gradient goes to its first maximum in row-major order, as in the portable code
        dT = np.zeros(T.shape, dY.dtype)
        free = np.ones(Y.shape, bool)
        for t, V in enumerate(taps):
            hit = V == Y
            hit &= free
            free &= ~hit
            dT[:, :, t // pw, :, t % pw, :] = dY * hit
        return _untile(dT, X.shape)

    return Y, backward


def _sum_pool2d(X: np.ndarray, pool: Any, strides: Any, pads: Any, xp: Any = None) -> tuple[Any, Any]:
    T = _tiles(X, pool, strides, pads)
    if T is None:
        Xp = _pad(X, pads, 0.0)
        win = _windows_view(Xp, pool, strides, (1, 1))
        out = win.shape[1:3]

        def scatter(dY: np.ndarray) -> np.ndarray:
            return _unpad(_scatter(np.zeros(Xp.shape, dY.dtype), lambda i, j: dY, pool, strides, (1, 1), out), pads)

        return win.sum(axis=(4, 5)), scatter
    return T.sum(axis=(2, 4)), lambda dY: _untile(
        np.broadcast_to(dY[:, :, None, :, None, :], T.shape).astype(dY.dtype, copy=True), X.shape)


class NumpyBackend(Backend):
    name = "numpy"
    library = "numpy"
    install_hint = f"pip install {DIST}"
    host_memory = True
    # scipy's expit is one pass in C and stable for any |z|; the core's portable form
    # needs several temporaries.
    kernels = {"sigmoid": _sigmoid, "conv2d": _conv2d, "max_pool2d": _max_pool2d, "sum_pool2d": _sum_pool2d}

    def namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy

    def devices(self) -> list[Any]:
        return ["cpu"]

    def default_device(self) -> Any:
        return "cpu"

    def owns(self, x: Any) -> bool:
        return isinstance(x, np.ndarray)

    def device_of(self, x: Any) -> Any:
        return "cpu"

    def to_numpy(self, x: Any) -> np.ndarray:
        return np.asarray(x)

    def from_numpy(self, a: np.ndarray, device: Any = None) -> Any:
        self.device(device)  # validates the name
        return np.asarray(a)

    def quiet(self) -> Any:
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")


adapter = NumpyBackend()
