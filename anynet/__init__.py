"""anynet: neural networks written once against the Python Array API standard.

The same network code trains on NumPy (CPU), CuPy (NVIDIA GPUs), PyTorch tensors and
array-api-strict; each concrete library is reached only through a small adapter in
:mod:`anynet.backends`.
"""

from __future__ import annotations

from anynet import backends, errors
from anynet.backend import Placement, current, resolve, use, using

__version__ = "0.1.0"

__all__ = ["backends", "errors", "use", "using", "current", "resolve", "Placement", "__version__"]
