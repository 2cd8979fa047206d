"""PyTorch adapter: torch tensors through array-api-compat's torch namespace.

CPU tensors everywhere; CUDA tensors where torch sees a GPU. Random numbers come from a
``torch.Generator`` on the tensor's device, so dropout masks never cross the bus.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from anynet.backends import DIST, Backend


class TorchRNG:
    """Seeded random tensors from a ``torch.Generator`` on one device."""

    def __init__(self, seed: int | None, device: Any) -> None:
        import torch

        self._torch = torch
        self.device = device
        self._gen = torch.Generator(device=device)
        if seed is None:
            self._gen.seed()
        else:
            self._gen.manual_seed(int(seed))

    def _dtype(self, dtype: str) -> Any:
        return getattr(self._torch, str(dtype))

    def uniform(self, shape: Sequence[int], *, low: float = 0.0, high: float = 1.0, dtype: str = "float64") -> Any:
        x = self._torch.rand(tuple(shape), generator=self._gen, device=self.device, dtype=self._dtype(dtype))
        return x if (low, high) == (0.0, 1.0) else x * (high - low) + low

    def normal(self, shape: Sequence[int], *, mean: float = 0.0, std: float = 1.0, dtype: str = "float64") -> Any:
        x = self._torch.randn(tuple(shape), generator=self._gen, device=self.device, dtype=self._dtype(dtype))
        return x if (mean, std) == (0.0, 1.0) else x * std + mean

    def bernoulli(self, shape: Sequence[int], p: float, *, dtype: str = "float64") -> Any:
        u = self._torch.rand(tuple(shape), generator=self._gen, device=self.device, dtype=self._torch.float32)
        return (u < p).to(self._dtype(dtype))

    def permutation(self, n: int) -> Any:
        return self._torch.randperm(int(n), generator=self._gen, device=self.device, dtype=self._torch.int64)

    def get_state(self) -> bytes:
        return bytes(self._gen.get_state().numpy().tobytes())

    def set_state(self, state: bytes) -> None:
        t = self._torch.frombuffer(bytearray(state), dtype=self._torch.uint8)
        self._gen.set_state(t)


# -- fast paths: torch's native convolution and pooling, channels last -------------------------------
#
# anynet's batches are (n, h, w, c); permuting them to (n, c, h, w) gives torch a
# channels-last-strided tensor, which its CPU (oneDNN) and CUDA (cuDNN) kernels take as is.
# Keras' "same" padding may be uneven (the odd row after), so padding is applied with F.pad
# unless it is symmetric. Backward passes call the aten backward operators directly: no
# autograd graph is kept between forward and backward.

def _nchw(X: Any) -> Any:
    return X.permute(0, 3, 1, 2)


def _nhwc(X: Any) -> Any:
    return X.permute(0, 2, 3, 1)


def _padded(Xn: Any, pads: Any, value: float) -> tuple[Any, list[int], Any]:
    """Return (input for the op, symmetric padding for the op, how to crop the input gradient)."""
    import torch.nn.functional as F

    (t, b), (l, r) = pads
    if t == b and l == r:
        return Xn, [t, l], None
    return F.pad(Xn, (l, r, t, b), value=value), [0, 0], (t, b, l, r)


def _crop(dXn: Any, crop: Any) -> Any:
    if crop is None:
        return dXn
    t, b, l, r = crop
    return dXn[:, :, t:dXn.shape[2] - b, l:dXn.shape[3] - r]


def _conv2d(X: Any, W: Any, strides: Any, pads: Any, dilation: Any, xp: Any = None) -> tuple[Any, Any]:
    import torch

    Xn, padding, crop = _padded(_nchw(X), pads, 0.0)
    Wn = W.permute(3, 2, 0, 1)
    Yn = torch.nn.functional.conv2d(Xn, Wn, None, list(strides), padding, list(dilation))

    def backward(dY: Any, need_dX: bool = True) -> tuple[Any, Any]:
        dXn, dWn, _ = torch.ops.aten.convolution_backward(
            _nchw(dY), Xn, Wn, None, list(strides), padding, list(dilation), False, [0, 0], 1,
            [bool(need_dX), True, False])
        dW = dWn.permute(2, 3, 1, 0)
        return (_nhwc(_crop(dXn, crop)) if need_dX else None), dW

    return _nhwc(Yn), backward


def _max_pool2d(X: Any, pool: Any, strides: Any, pads: Any, xp: Any = None) -> tuple[Any, Any]:
    import torch

    (t, b), (l, r) = pads
    # torch pads a max pool with -inf itself, but only evenly and up to half the window
    fits = t == b and l == r and 2 * t <= pool[0] and 2 * l <= pool[1]
    Xn, padding, crop = _padded(_nchw(X), pads if not fits else ((0, 0), (0, 0)), -float("inf"))
    if fits:
        padding = [t, l]
    Yn, idx = torch.ops.aten.max_pool2d_with_indices(Xn, list(pool), list(strides), padding, [1, 1], False)

    def backward(dY: Any) -> Any:
        dXn = torch.ops.aten.max_pool2d_with_indices_backward(_nchw(dY), Xn, list(pool), list(strides), padding,
                                                              [1, 1], False, idx)
        return _nhwc(_crop(dXn, crop))

    return _nhwc(Yn), backward


def _sum_pool2d(X: Any, pool: Any, strides: Any, pads: Any, xp: Any = None) -> tuple[Any, Any]:
    import torch

    (t, b), (l, r) = pads
    fits = t == b and l == r and 2 * t <= pool[0] and 2 * l <= pool[1]
    Xn, padding, crop = _padded(_nchw(X), pads if not fits else ((0, 0), (0, 0)), 0.0)
    if fits:
        padding = [t, l]
    Yn = torch.ops.aten.avg_pool2d(Xn, list(pool), list(strides), padding, False, True, 1)

    def backward(dY: Any) -> Any:
        dXn = torch.ops.aten.avg_pool2d_backward(_nchw(dY), Xn, list(pool), list(strides), padding, False, True, 1)
        return _nhwc(_crop(dXn, crop))

    return _nhwc(Yn), backward


class TorchBackend(Backend):
    name = "torch"
    library = "torch"
    install_hint = f"pip install '{DIST}[torch]' (CPU-only machines: see DEVELOPERS.md for the CPU build)"
    kernels = {"conv2d": _conv2d, "max_pool2d": _max_pool2d, "sum_pool2d": _sum_pool2d}

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("torch") is None:
            return "the package torch is not installed"
        return None

    def namespace(self) -> Any:
        import array_api_compat.torch

        return array_api_compat.torch

    def devices(self) -> list[Any]:
        import torch

        out = [torch.device("cpu")]
        if torch.cuda.is_available():
            out = [torch.device("cuda", i) for i in range(torch.cuda.device_count())] + out
        return out

    def default_device(self) -> Any:
        return self.devices()[0]

    def device(self, spec: Any = None) -> Any:
        import torch

        if isinstance(spec, (str, torch.device)):
            try:
                d = torch.device(spec)
            except RuntimeError:
                d = None  # not a torch device string: let the base class report it
            if d is not None and d.type == "cuda" and d.index is None:
                d = torch.device("cuda", 0)
            if d is not None and d in self.devices():
                return d
            spec = str(spec)
        return super().device(spec)

    def owns(self, x: Any) -> bool:
        import array_api_compat

        return array_api_compat.is_torch_array(x)

    def device_of(self, x: Any) -> Any:
        return x.device

    def to_numpy(self, x: Any) -> np.ndarray:
        return x.detach().cpu().numpy()

    def from_numpy(self, a: np.ndarray, device: Any = None) -> Any:
        import torch

        a = np.asarray(a)
        if not a.flags.writeable or not a.flags.c_contiguous:
            a = np.ascontiguousarray(a).copy()
        return torch.as_tensor(a, device=self.device(device))

    def synchronize(self, device: Any = None) -> None:
        import torch

        d = self.device(device)
        if d.type == "cuda":
            torch.cuda.synchronize(d)

    def rng(self, seed: int | None, device: Any = None) -> TorchRNG:
        return TorchRNG(seed, self.device(device))


adapter = TorchBackend()
