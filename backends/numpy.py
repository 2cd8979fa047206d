"""NumPy adapter: the CPU reference backend, always available."""

from __future__ import annotations

from typing import Any

import numpy as np

from anynet.backends import DIST, Backend
from anynet.backends._numpy_conv import KERNELS as CONV_KERNELS
from anynet.backends._numpy_kernels import KERNELS


def _sigmoid(Z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(Z)


class NumpyBackend(Backend):
    name = "numpy"
    library = "numpy"
    install_hint = f"pip install {DIST}"
    host_memory = True
    blas_threads = True
    # scipy's expit is one pass in C and stable for any |z|; the core's portable form
    # needs several temporaries. Convolution and pooling: see _numpy_conv.py; the rest are
    # in-place versions of the training step's hot spots (see _numpy_kernels.py).
    kernels = {"sigmoid": _sigmoid, **CONV_KERNELS, **KERNELS}

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
