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


class TorchBackend(Backend):
    name = "torch"
    library = "torch"
    install_hint = f"pip install '{DIST}[torch]' (CPU-only machines: see DEVELOPERS.md for the CPU build)"

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
