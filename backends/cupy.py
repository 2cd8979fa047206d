"""CuPy adapter: NVIDIA GPUs through array-api-compat's cupy namespace.

CuPy imports fine on a machine without a driver and fails at the first allocation, so
:meth:`CupyBackend.unavailable_reason` allocates one element on the GPU before it calls
the backend usable.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np

from anynet.backends import DIST, Backend
from anynet.errors import BackendUnavailableError


class CupyRNG:
    """Seeded random arrays drawn on one GPU with cuRAND's Philox generator.

    Each draw ``k`` uses its own generator seeded from ``(seed, k)``, so the whole state
    is two integers: :meth:`get_state` / :meth:`set_state` restore a stream exactly
    (used when training resumes or replays a step).
    """

    def __init__(self, seed: int | None, device: Any) -> None:
        self.device = device
        self._seed = int(np.random.SeedSequence(seed).generate_state(1, np.uint64)[0])
        self._k = 0

    def _next(self) -> Any:
        import cupy
        from cupy.cuda import curand

        sub = np.random.SeedSequence([self._seed, self._k]).generate_state(1, np.uint64)[0]
        self._k += 1
        return cupy.random.RandomState(int(sub) >> 1, method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)

    def uniform(self, shape: Sequence[int], *, low: float = 0.0, high: float = 1.0, dtype: str = "float64") -> Any:
        with self.device:
            x = self._next().random_sample(tuple(shape), dtype=dtype)
            return x if (low, high) == (0.0, 1.0) else x * (high - low) + low

    def normal(self, shape: Sequence[int], *, mean: float = 0.0, std: float = 1.0, dtype: str = "float64") -> Any:
        with self.device:
            x = self._next().standard_normal(tuple(shape), dtype=dtype)
            return x if (mean, std) == (0.0, 1.0) else x * std + mean

    def bernoulli(self, shape: Sequence[int], p: float, *, dtype: str = "float64") -> Any:
        with self.device:
            return (self._next().random_sample(tuple(shape), dtype="float32") < p).astype(dtype)

    def permutation(self, n: int) -> Any:
        with self.device:
            return self._next().permutation(int(n)).astype("int64")

    def get_state(self) -> dict[str, int]:
        return {"seed": self._seed, "k": self._k}

    def set_state(self, state: dict[str, int]) -> None:
        self._seed, self._k = int(state["seed"]), int(state["k"])


class CupyBackend(Backend):
    name = "cupy"
    library = "cupy"
    install_hint = (f"pip install '{DIST}[cupy]' for a CUDA 13 driver, or '{DIST}[cupy-cuda12]' for a CUDA 12 "
                    f"driver (needs an NVIDIA GPU)")
    host_memory = False

    def unavailable_reason(self) -> str | None:
        return _probe()

    def version(self) -> str | None:
        if importlib.util.find_spec("cupy") is None:
            return None
        import cupy

        return cupy.__version__

    def namespace(self) -> Any:
        import array_api_compat.cupy

        return array_api_compat.cupy

    def devices(self) -> list[Any]:
        import cupy

        return [cupy.cuda.Device(i) for i in range(cupy.cuda.runtime.getDeviceCount())]

    def default_device(self) -> Any:
        import cupy

        return cupy.cuda.Device()

    def device(self, spec: Any = None) -> Any:
        if isinstance(spec, str):
            head, _, index = spec.lower().partition(":")
            if head in ("cuda", "gpu") and index.isdigit():
                spec = int(index)
            elif head in ("cuda", "gpu") and not index:
                spec = None
        if isinstance(spec, int) and not isinstance(spec, bool):
            n = len(self.devices())
            if not 0 <= spec < n:
                raise BackendUnavailableError(
                    f"GPU {spec} was asked for, but cupy sees {n} GPU(s): "
                    f"{list(range(n))}.")
        return super().device(spec)

    def owns(self, x: Any) -> bool:
        import array_api_compat

        return array_api_compat.is_cupy_array(x)

    def device_of(self, x: Any) -> Any:
        return x.device

    def to_numpy(self, x: Any) -> np.ndarray:
        import cupy

        return cupy.asnumpy(x)

    def from_numpy(self, a: np.ndarray, device: Any = None) -> Any:
        import cupy

        with self.device(device):
            return cupy.asarray(a)

    def synchronize(self, device: Any = None) -> None:
        self.device(device).synchronize()

    def rng(self, seed: int | None, device: Any = None) -> CupyRNG:
        return CupyRNG(seed, self.device(device))


@functools.cache
def _probe() -> str | None:
    if importlib.util.find_spec("cupy") is None:
        return "the package cupy is not installed"
    try:
        import cupy

        n = cupy.cuda.runtime.getDeviceCount()
        if n < 1:
            return "cupy is installed but sees no CUDA device"
        cupy.zeros(1, dtype=cupy.float32).sum().item()  # the first allocation is what fails without a driver
    except Exception as exc:
        return f"cupy is installed but no CUDA device is usable ({type(exc).__name__}: {exc})"
    return None


adapter = CupyBackend()
