"""One flat parameter vector per model; layers see named, shaped views of it.

The optimizers and the scipy adapter work on the flat vector ``theta``; a layer's ``W``
and ``b`` are ``reshape(theta[offset:offset + size], shape)``, sliced afresh from the
current ``theta`` on every forward pass. Nothing relies on a view staying aliased to the
vector after an update, so backends that cannot alias views behave the same; gradients
are gathered into one flat vector with a single ``concat``.

Order is Keras' ``get_weights()`` order: layer by layer, ``W`` (n_in, n_out) then ``b``,
each flattened row-major.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

from anynet.errors import InputError
from anynet.initializers import Initializer
from anynet.regularizers import Regularizer

__all__ = ["ParamSpec", "Layout", "Slots", "serialize", "deserialize", "from_thetas", "to_thetas"]


@dataclass(frozen=True)
class ParamSpec:
    """Where one named parameter of one layer lives in the flat vector."""

    layer: int          # index of the layer in the model
    name: str           # "W" or "b"
    shape: tuple[int, ...]
    offset: int
    initializer: Initializer
    regularizer: Regularizer | None = None
    fan_in: int = 1
    fan_out: int = 1

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def stop(self) -> int:
        return self.offset + self.size

    @property
    def decays(self) -> bool:
        """Whether decoupled weight decay (AdamW) applies: kernels yes, biases no."""
        return self.name == "W"


class Layout:
    """The ordered list of ParamSpecs of a model and the total size of its flat vector."""

    def __init__(self) -> None:
        self.specs: list[ParamSpec] = []
        self.size = 0

    def add(self, layer: int, name: str, shape: Sequence[int], initializer: Initializer,
            regularizer: Regularizer | None = None, fan_in: int = 1, fan_out: int = 1) -> ParamSpec:
        """Append a parameter and return its spec."""
        spec = ParamSpec(layer, name, tuple(int(d) for d in shape), self.size, initializer, regularizer,
                         fan_in, fan_out)
        self.specs.append(spec)
        self.size = spec.stop
        return spec

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(self.specs)

    def __len__(self) -> int:
        return len(self.specs)

    def of_layer(self, layer: int) -> list[ParamSpec]:
        return [s for s in self.specs if s.layer == layer]

    def view(self, theta: Any, spec: ParamSpec, xp: Any) -> Any:
        """Return the shaped view (or copy, where the backend cannot view) of one parameter."""
        return xp.reshape(theta[spec.offset:spec.stop], spec.shape)

    def slots(self, theta: Any, xp: Any) -> dict[int, Slots]:
        """Return, per layer index, the Slots holding that layer's parameter views."""
        out: dict[int, Slots] = {}
        for s in self.specs:
            out.setdefault(s.layer, Slots()).values[s.name] = self.view(theta, s, xp)
        return out

    def initial(self, rng: Any, dtype: str) -> Any:
        """Return a host NumPy vector of initial values drawn in order from ``rng``."""
        theta = np.empty(self.size, dtype=np.float64)
        for s in self.specs:
            theta[s.offset:s.stop] = np.asarray(s.initializer(s.shape, rng, s.fan_in, s.fan_out),
                                                dtype=np.float64).reshape(-1)
        return theta.astype(dtype)

    def segments(self) -> list[tuple[int, int]]:
        """Return ``(start, stop)`` of every parameter in the flat vector, in order: what
        an optimizer's per-variable ``clipnorm`` clips separately."""
        return [(s.offset, s.stop) for s in self.specs]

    def decay_mask(self, xp: Any, dtype: Any, device: Any) -> Any:
        """Return a flat 0/1 vector: 1 where weight decay applies (kernels)."""
        m = np.zeros(self.size)
        for s in self.specs:
            if s.decays:
                m[s.offset:s.stop] = 1.0
        return xp.asarray(m, dtype=dtype, device=device)


class Slots:
    """A layer's parameters for one pass: ``P["W"]`` reads a view, backprop writes ``P.grads["W"]``.

    ``out``, where the training loop gives it, maps a parameter's name to the place in the
    flat gradient buffer its gradient goes (a layer with a kernel to write there may; the
    gradient is gathered from ``grads`` either way).
    """

    __slots__ = ("values", "grads", "out")

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        self.out: dict[str, Any] | None = None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values


def serialize(arrays: Sequence[Any], xp: Any = None) -> Any:
    """Return one flat vector holding every array of ``arrays`` row-major, in order.

    ex4's ``nn_params = [Theta1(:); Theta2(:)]``, but row-major as NumPy orders it.
    """
    if not arrays:
        raise InputError("serialize needs at least one array.")
    xp = xp or array_api_compat.array_namespace(*arrays)
    return xp.concat([xp.reshape(a, (-1,)) for a in arrays])


def deserialize(theta: Any, shapes: Sequence[Sequence[int]], xp: Any = None) -> list[Any]:
    """Return the arrays of ``shapes`` cut in order from the flat vector ``theta``.

    Raises InputError when the sizes do not add up to ``theta``'s length.
    """
    xp = xp or array_api_compat.array_namespace(theta)
    sizes = [int(_prod(s)) for s in shapes]
    if theta.ndim != 1 or sum(sizes) != theta.shape[0]:
        raise InputError(f"deserialize: shapes {[tuple(s) for s in shapes]} hold {sum(sizes)} values, "
                         f"but theta has shape {tuple(theta.shape)}.")
    out, o = [], 0
    for shape, n in zip(shapes, sizes):
        out.append(xp.reshape(theta[o:o + n], tuple(shape)))
        o += n
    return out


def _prod(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def from_thetas(thetas: Sequence[Any]) -> list[np.ndarray]:
    """Return Keras-order weights ``[W1, b1, W2, b2, ...]`` from ex4-style ``Theta`` matrices.

    ``Theta`` is (n_out, 1 + n_in) with the bias in column 0, so ``W = Theta[:, 1:].T`` and
    ``b = Theta[:, 0]``: ``model.set_weights(from_thetas([Theta1, Theta2]))``.
    """
    out: list[np.ndarray] = []
    for i, T in enumerate(thetas):
        T = np.asarray(T, dtype=np.float64)
        if T.ndim != 2 or T.shape[1] < 2:
            raise InputError(f"Theta{i + 1} must be (n_out, 1 + n_in) with the bias in column 0, got shape {T.shape}.")
        out += [T[:, 1:].T.copy(), T[:, 0].copy()]
    return out


def to_thetas(weights: Sequence[Any]) -> list[np.ndarray]:
    """Return ex4-style ``Theta`` matrices (bias in column 0) from Keras-order ``[W1, b1, ...]``."""
    if len(weights) % 2:
        raise InputError(f"to_thetas needs (W, b) pairs, got {len(weights)} arrays.")
    return [np.concatenate([np.asarray(b)[:, None], np.asarray(W).T], axis=1)
            for W, b in zip(weights[::2], weights[1::2])]
