"""anynet: neural networks written once against the Python Array API standard.

The same network code trains on NumPy (CPU), CuPy (NVIDIA GPUs), PyTorch tensors and
array-api-strict; each concrete library is reached only through a small adapter in
:mod:`anynet.backends`.
"""

from __future__ import annotations

from anynet import (activations, backends, callbacks, errors, initializers, layers, losses, metrics, optimize,
                    optimizers, regularizers)
from anynet.backend import Placement, current, resolve, use, using
from anynet.callbacks import EarlyStopping, History, ModelCheckpoint
from anynet.gradcheck import gradcheck
from anynet.layers import Input
from anynet.model import Model, load
from anynet.sequential import Sequential
from anynet.threads import get_threads, set_threads
from anynet.version import __version__

__all__ = [
    "Model", "Sequential", "Input", "History", "EarlyStopping", "ModelCheckpoint", "gradcheck", "load",
    "activations", "backends", "callbacks", "errors", "initializers", "layers", "losses", "metrics",
    "optimize", "optimizers", "regularizers",
    "use", "using", "current", "resolve", "Placement", "__version__", "set_threads", "get_threads",
]
