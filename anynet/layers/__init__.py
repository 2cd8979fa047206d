"""Layers, one module per family: :mod:`~anynet.layers.core` (Input, Dense, Activation,
Dropout, Flatten, Reshape), :mod:`~anynet.layers.merge` (Concatenate, Add, Subtract, Multiply,
Average, Maximum), :mod:`~anynet.layers.conv` (Conv1D, Conv2D), :mod:`~anynet.layers.pooling`
(max, average, Lp and global pooling) and :mod:`~anynet.layers.augment` (RandomTranslation).
:mod:`~anynet.layers.base` holds the interface every layer follows.
"""

from __future__ import annotations

from anynet.layers.augment import RandomTranslation
from anynet.layers.base import Backprop, Context, Layer
from anynet.layers.conv import Conv1D, Conv2D
from anynet.layers.core import Activation, Dense, Dropout, Flatten, Input, Reshape
from anynet.layers.merge import Add, Average, Concatenate, Maximum, Multiply, Subtract
from anynet.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                                   GlobalMaxPooling1D, GlobalMaxPooling2D, L2Pooling2D, LPPooling2D, MaxPooling1D,
                                   MaxPooling2D)

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Flatten", "Reshape", "Input", "Context", "Backprop",
           "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
           "LPPooling2D", "L2Pooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "RandomTranslation"]
