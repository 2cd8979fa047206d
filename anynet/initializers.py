"""Initial weights, drawn on the host from a seeded NumPy Generator, with Keras 3's
classes, arguments and distributions.

Every initializer returns a float64 NumPy array; the model casts it to its dtype and
moves it to its device, so every backend starts from bit-identical weights for a seed.

``init(shape, rng, fan_in, fan_out)``: a model passes its generator and the layer's fans.
Called as Keras calls it, ``init(shape)``, the fans come from the shape (Keras'
``compute_fans``: a kernel ``(..., n_in, n_out)`` has fan-in ``n_in`` times its receptive
field). An initializer made with ``seed=`` draws from its own generator on that seed, so,
as in Keras, it gives the same values at every call; without a seed it draws from the
model's generator (or, called alone, a fresh unseeded one).

``GlorotNormal``, ``HeNormal`` and ``LecunNormal`` are Keras' truncated normals: draws
beyond two standard deviations are redrawn, and the standard deviation is divided by
0.87962566103423978 (the standard deviation of a unit normal truncated at +-2) so that
the values keep the variance ``scale / n``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from anynet.errors import InputError, InputTypeError, lookup

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "Identity", "RandomUniform", "RandomNormal", "TruncatedNormal",
    "StandardNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
    "LecunNormal", "Orthogonal", "compute_fans", "get",
]

#: The standard deviation of a unit normal truncated to [-2, 2] (Keras' constant).
TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` of a weight shape, as Keras computes them."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), int(shape[0])
    if len(shape) == 2:
        return int(shape[0]), int(shape[1])
    receptive = math.prod(int(d) for d in shape[:-2])
    return int(shape[-2]) * receptive, int(shape[-1]) * receptive


def _seed(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise InputTypeError(f"seed must be a non-negative int or None, got {seed!r}.")
    return None if seed is None else int(seed)


def truncated_normal(rng: np.random.Generator, shape: tuple[int, ...], mean: float, stddev: float) -> np.ndarray:
    """Return normal draws of ``shape`` with those beyond two standard deviations redrawn."""
    x = rng.standard_normal(size=math.prod(shape))
    bad = np.abs(x) > 2.0
    while bad.any():
        x[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(x) > 2.0
    return mean + stddev * x.reshape(shape)


class Initializer:
    """Draws an initial array of a given shape; ``fan_in``/``fan_out`` scale the variance ones."""

    seed: int | None = None

    def __call__(self, shape: tuple[int, ...], rng: np.random.Generator | None = None, fan_in: int | None = None,
                 fan_out: int | None = None) -> np.ndarray:
        """Return a float64 array of ``shape``."""
        shape = tuple(int(d) for d in shape)
        if fan_in is None or fan_out is None:
            fan_in, fan_out = compute_fans(shape)
        if self.seed is not None or rng is None:
            rng = np.random.default_rng(self.seed)
        return np.asarray(self._draw(shape, rng, fan_in, fan_out), dtype=np.float64)

    def _draw(self, shape: tuple[int, ...], rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
        return np.zeros(shape)

    def get_config(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class Zeros(Initializer):
    """All zeros (the default for biases)."""


class Ones(Initializer):
    """All ones."""

    def _draw(self, shape, rng, fan_in, fan_out):
        return np.ones(shape)


class Constant(Initializer):
    """Every entry equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def _draw(self, shape, rng, fan_in, fan_out):
        return np.full(shape, self.value)


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only, as in Keras)."""

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = float(gain)

    def _draw(self, shape, rng, fan_in, fan_out):
        if len(shape) != 2:
            raise InputError(f"Identity initializes 2-D weights only, got shape {shape}.")
        return self.gain * np.eye(*shape)


class RandomUniform(Initializer):
    """Uniform on [minval, maxval). ex4's random initialisation is ``RandomUniform(-0.12, 0.12)``."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        if not maxval > minval:
            raise InputError(f"RandomUniform needs minval < maxval, got minval={minval!r}, maxval={maxval!r}.")
        self.minval, self.maxval = float(minval), float(maxval)
        self.seed = _seed(seed)

    def _draw(self, shape, rng, fan_in, fan_out):
        return rng.uniform(self.minval, self.maxval, size=shape)


class RandomNormal(Initializer):
    """Normal with ``mean`` and ``stddev``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        if not stddev >= 0:
            raise InputError(f"{type(self).__name__} needs stddev >= 0, got {stddev!r}.")
        self.mean, self.stddev = float(mean), float(stddev)
        self.seed = _seed(seed)

    def _draw(self, shape, rng, fan_in, fan_out):
        return rng.normal(self.mean, self.stddev, size=shape)


class TruncatedNormal(RandomNormal):
    """Normal with ``mean`` and ``stddev``, draws beyond two ``stddev`` from the mean redrawn."""

    def _draw(self, shape, rng, fan_in, fan_out):
        return truncated_normal(rng, shape, self.mean, self.stddev)


class StandardNormal(RandomNormal):
    """N(0, 1) for weights and biases alike, as in Nielsen's ``network.py``."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(0.0, 1.0, seed)

    def get_config(self):
        return {"seed": self.seed}


class VarianceScaling(Initializer):
    """Keras' VarianceScaling: variance ``scale / n`` with n the fan-in, fan-out or their mean
    (``mode``), drawn from a ``"truncated_normal"`` (``"normal"`` is the same),
    ``"untruncated_normal"`` or ``"uniform"`` distribution (U(-l, l), l = sqrt(3 scale / n))."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None) -> None:
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not scale > 0:
            raise InputError(f"scale must be a positive number, got {scale!r}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise InputError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}.")
        dist = distribution.lower() if isinstance(distribution, str) else distribution
        dist = "truncated_normal" if dist == "normal" else dist
        if dist not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise InputError(f"distribution must be 'truncated_normal', 'untruncated_normal' or 'uniform', "
                             f"got {distribution!r}.")
        self.scale, self.mode, self.distribution = float(scale), mode, dist
        self.seed = _seed(seed)

    def _draw(self, shape, rng, fan_in, fan_out):
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        var = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(var), size=shape)
        return truncated_normal(rng, shape, 0.0, math.sqrt(var) / TRUNCATED_STDDEV)


class _Preset(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed; only ``seed`` is an argument."""

    preset: tuple[float, str, str] = (1.0, "fan_in", "uniform")

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(*self.preset, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Xavier/Glorot uniform: U(-l, l), l = sqrt(6 / (fan_in + fan_out)). Keras' default kernel."""

    preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Xavier/Glorot normal: truncated normal of variance 2 / (fan_in + fan_out), as Keras."""

    preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """He uniform: U(-l, l), l = sqrt(6 / fan_in); for ReLU layers."""

    preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """He normal: truncated normal of variance 2 / fan_in, as Keras."""

    preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """LeCun uniform: U(-l, l), l = sqrt(3 / fan_in)."""

    preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """LeCun normal: truncated normal of variance 1 / fan_in, as Keras."""

    preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """``gain`` times an orthogonal matrix from the QR decomposition of a normal draw (Keras'
    recipe); shapes of more than two axes are flattened to ``(prod(shape[:-1]), shape[-1])``."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        self.gain = float(gain)
        self.seed = _seed(seed)

    def _draw(self, shape, rng, fan_in, fan_out):
        if len(shape) < 2:
            raise InputError(f"Orthogonal initializes weights of two or more axes, got shape {shape}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        q, r = np.linalg.qr(rng.standard_normal(size=(max(rows, cols), min(rows, cols))))
        q = q * np.sign(np.diag(r))  # makes the decomposition unique, so Q is uniformly distributed
        return self.gain * (q.T if rows < cols else q).reshape(shape)


_NAMES: dict[str, Any] = {
    "zeros": Zeros, "ones": Ones, "identity": Identity,
    "uniform": RandomUniform, "random_uniform": RandomUniform,
    "normal": RandomNormal, "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "standard_normal": StandardNormal, "nielsen": StandardNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform, "xavier_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "xavier_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal,
    "ex4": lambda: RandomUniform(-0.12, 0.12),
}


def get(spec: str | Initializer) -> Initializer:
    """Return the initializer for a name ("he_normal", "ex4", ...) or an Initializer."""
    return lookup("initializer", spec, Initializer, _NAMES, "glorot_uniform")
