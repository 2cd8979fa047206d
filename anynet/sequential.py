"""Sequential: a Model whose graph is a chain of layers, made once the input shape is known.

The shape comes from ``Input(shape)`` as the first layer, ``input_shape=`` on the first
layer, ``build(input_shape)``, or the first data the model sees. Everything else (build,
compile, fit, evaluate, predict, saving, the scipy adapter) is :class:`~anynet.model.Model`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anynet import saving
from anynet.errors import InputError, InputTypeError, SaveFileError
from anynet.graph import Graph
from anynet.layers import Input, Layer
from anynet.data import sample_shape
from anynet.model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """A stack of layers trained as one function of a flat parameter vector.

    ``dtype`` is the dtype of parameters, gradients and outputs (float32 unless asked);
    ``seed`` fixes the initial weights (bit-identical on every backend), the shuffling
    and the dropout masks. ``backend`` / ``device`` pin where it runs; otherwise the
    first data it sees decides (see :mod:`anynet.backend`).
    """

    def __init__(self, layers: Sequence[Layer] | None = None, *, dtype: str = "float32", seed: int | None = None,
                 backend: str | None = None, device: Any = None, name: str = "sequential") -> None:
        self._setup(dtype, seed, backend, device, name)
        for layer in layers or ():
            self.add(layer)

    kind = "Sequential"

    def add(self, layer: Layer) -> None:
        """Append a layer (before the model is built)."""
        if not isinstance(layer, Layer):
            raise InputTypeError(f"Sequential takes anynet layers, got {layer!r}.")
        if self.built:
            raise InputError("Cannot add layers to a model that is already built.")
        if isinstance(layer, Input) and self.layers:
            raise InputError("Input(...) may only be the first layer.")
        if any(layer is other for other in self.layers):
            raise InputError(f"{layer!r} is already in this Sequential; a layer called twice needs an.Model.")
        self._drop_graph()
        self.layers.append(layer)

    def _declared_input_shape(self) -> tuple[int, ...] | None:
        return self.layers[0].input_shape if self.layers else None

    def _drop_graph(self) -> None:
        """Forget the chain's calls on the layers, so a new input shape can make a new chain."""
        if self._graph is None:
            return
        for node in self._graph.nodes:
            if node.inputs:
                calls = node.layer._nodes
                calls[:] = [n for n in calls if n is not node]
                if not calls:
                    node.layer.__dict__.pop("_param_shapes", None)
        self._graph = None

    def _chain(self, shape: tuple[int, ...]) -> None:
        self._drop_graph()
        first = self.layers[0]
        x = first if isinstance(first, Input) else Input(shape)
        inputs = x
        for layer in self.layers[1 if isinstance(first, Input) else 0:]:
            x = layer(x)
        self._graph = Graph([inputs], [x])
        self._claim()

    def _maybe_graph(self) -> Graph | None:
        if self._graph is None and self.layers and self._declared_input_shape() is not None:
            self._chain(self._declared_input_shape())
        return self._graph

    def _prepare_graph(self, input_shape: Any) -> None:
        if not self.layers:
            raise InputError("The model has no layers; pass a list of layers to Sequential or call add().")
        declared = self._declared_input_shape()
        if input_shape is None and self._graph is not None:
            return
        shape = sample_shape(input_shape) if input_shape is not None else declared
        if shape is None:
            raise InputError("The input shape is unknown: give Input(shape) or input_shape=, or call fit/predict.")
        if isinstance(self.layers[0], Input) and shape != declared:
            raise InputError(f"build: the first layer Input declares samples of shape {declared}, got "
                             f"input_shape={input_shape!r}.")
        if self._graph is None or self._graph.inputs[0].sample_shape != shape:
            self._chain(shape)

    @classmethod
    def _from_spec(cls, spec: dict[str, Any], layers: list[Layer]) -> Sequential:
        shape = saving.need(spec, "input_shape", list, "model")
        if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            raise SaveFileError(f"model.input_shape must be positive ints, got {shape!r}.")
        model = cls(layers, dtype=spec["dtype"], seed=spec["seed"], name=str(spec.get("name", "sequential")))
        model._prepare_graph(tuple(shape))
        return model


Model._kinds["Sequential"] = Sequential
