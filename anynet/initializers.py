"""Initial weights, drawn on the host from a seeded NumPy Generator.

Every initializer returns a float64 NumPy array; the model casts it to its dtype and
moves it to its device, so every backend starts from bit-identical weights for a seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from anynet.errors import InputError, lookup

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomUniform", "RandomNormal", "StandardNormal",
    "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "get",
]


class Initializer:
    """Draws an initial array of a given shape; ``fan_in``/``fan_out`` scale the variance ones."""

    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
        """Return a float64 array of ``shape``."""
        return np.zeros(shape)

    def get_config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class Zeros(Initializer):
    """All zeros (the default for biases)."""


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape, rng, fan_in, fan_out):
        return np.ones(shape)


class Constant(Initializer):
    """Every entry equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape, rng, fan_in, fan_out):
        return np.full(shape, self.value)


class RandomUniform(Initializer):
    """Uniform on [minval, maxval). ex4's random initialisation is ``RandomUniform(-0.12, 0.12)``."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        if not maxval > minval:
            raise InputError(f"RandomUniform needs minval < maxval, got minval={minval!r}, maxval={maxval!r}.")
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, rng, fan_in, fan_out):
        return rng.uniform(self.minval, self.maxval, size=shape)


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        if not stddev >= 0:
            raise InputError(f"RandomNormal needs stddev >= 0, got {stddev!r}.")
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, rng, fan_in, fan_out):
        return rng.normal(self.mean, self.stddev, size=shape)


class StandardNormal(RandomNormal):
    """N(0, 1) for weights and biases alike, as in Nielsen's ``network.py``."""

    def __init__(self) -> None:
        super().__init__(0.0, 1.0)

    def get_config(self):
        return {}


class _VarianceScaling(Initializer):
    scale = 1.0
    mode = "fan_in"
    uniform = True

    def __call__(self, shape, rng, fan_in, fan_out):
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, n)
        if self.uniform:
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape)
        return rng.normal(0.0, math.sqrt(var), size=shape)


class GlorotUniform(_VarianceScaling):
    """Xavier/Glorot uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras' default kernel."""

    mode = "fan_avg"


class GlorotNormal(_VarianceScaling):
    """Xavier/Glorot normal: N(0, 2 / (fan_in + fan_out)) (not truncated)."""

    mode, uniform = "fan_avg", False


class HeUniform(_VarianceScaling):
    """He uniform: U(-l, l), l = sqrt(6 / fan_in); for ReLU layers."""

    scale = 2.0


class HeNormal(_VarianceScaling):
    """He normal: N(0, 2 / fan_in) (not truncated)."""

    scale, uniform = 2.0, False


class LecunUniform(_VarianceScaling):
    """LeCun uniform: U(-l, l), l = sqrt(3 / fan_in)."""


class LecunNormal(_VarianceScaling):
    """LeCun normal: N(0, 1 / fan_in) (not truncated)."""

    uniform = False


_NAMES: dict[str, Any] = {
    "zeros": Zeros, "ones": Ones,
    "uniform": RandomUniform, "random_uniform": RandomUniform,
    "normal": RandomNormal, "random_normal": RandomNormal,
    "standard_normal": StandardNormal, "nielsen": StandardNormal,
    "glorot_uniform": GlorotUniform, "xavier_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "ex4": lambda: RandomUniform(-0.12, 0.12),
}


def get(spec: str | Initializer) -> Initializer:
    """Return the initializer for a name ("he_normal", "ex4", ...) or an Initializer."""
    return lookup("initializer", spec, Initializer, _NAMES, "glorot_uniform")
