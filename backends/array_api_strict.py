"""array-api-strict adapter: the standard and nothing more, to prove the core is portable.

Its namespace rejects every call, dtype promotion and keyword the standard does not
define, and it simulates several devices on the CPU ("CPU_DEVICE", "device1", ...), so
device mismatches are tested without a GPU. Random numbers come from NumPy on the host.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from anynet.backends import DIST, Backend


class ArrayApiStrictBackend(Backend):
    name = "array_api_strict"
    library = "array_api_strict"
    install_hint = f"pip install '{DIST}[strict]'"
    host_memory = True
    blas_threads = True  # array_api_strict computes with NumPy underneath

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("array_api_strict") is None:
            return "the package array-api-strict is not installed"
        return None

    def namespace(self) -> Any:
        import array_api_strict

        return array_api_strict

    def devices(self) -> list[Any]:
        return list(self.namespace().__array_namespace_info__().devices())

    def device(self, spec: Any = None) -> Any:
        if isinstance(spec, str):  # "device1" names array_api_strict.Device('device1')
            for d in self.devices():
                if str(d) == f"array_api_strict.Device({spec!r})":
                    return d
        return super().device(spec)

    def owns(self, x: Any) -> bool:
        return type(x).__module__.startswith("array_api_strict")

    def device_of(self, x: Any) -> Any:
        return x.device

    def to_numpy(self, x: Any) -> np.ndarray:
        # np.asarray refuses arrays that are not on CPU_DEVICE; DLPack works on every
        # simulated device, and the copy keeps the host array independent of x.
        return np.array(np.from_dlpack(x), copy=True)

    def from_numpy(self, a: np.ndarray, device: Any = None) -> Any:
        return self.namespace().asarray(np.asarray(a), device=self.device(device))

    def quiet(self) -> Any:
        # array-api-strict computes with NumPy, which warns on overflow and invalid values
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")


adapter = ArrayApiStrictBackend()
