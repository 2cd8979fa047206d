"""Layers, one module per family: :mod:`~anynet.layers.core` (Input, Dense, Activation,
Dropout, Flatten) and :mod:`~anynet.layers.merge` (Concatenate, Add, Subtract, Multiply,
Average, Maximum). :mod:`~anynet.layers.base` holds the interface every layer follows.
"""

from __future__ import annotations

from anynet.layers.base import Backprop, Context, Layer
from anynet.layers.core import Activation, Dense, Dropout, Flatten, Input
from anynet.layers.merge import Add, Average, Concatenate, Maximum, Multiply, Subtract

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Input", "Context", "Backprop",
           "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum"]
