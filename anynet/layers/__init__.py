"""Layers, one file per family: core (Dense, Activation, Dropout, Flatten, Reshape, Input),
conv (Conv1D, Conv2D), pooling (max, average, Lp and global pooling) and augment
(RandomTranslation).

A layer's ``forward(P, X, ctx)`` returns ``(Y, backprop)``; see :mod:`anynet.layers.core`.
"""

from __future__ import annotations

from anynet.layers.core import *  # noqa: F401,F403
from anynet.layers.core import Activation, Context, Dense, Dropout, Flatten, Input, Layer, Reshape
from anynet.layers.conv import Conv1D, Conv2D
from anynet.layers.pooling import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                                   GlobalMaxPooling1D, GlobalMaxPooling2D, L2Pooling2D, LPPooling2D, MaxPooling1D,
                                   MaxPooling2D)
from anynet.layers.augment import RandomTranslation

__all__ = ["Layer", "Context", "Input", "Dense", "Activation", "Dropout", "Flatten", "Reshape",
           "Conv1D", "Conv2D", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
           "LPPooling2D", "L2Pooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "RandomTranslation"]
