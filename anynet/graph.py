"""Symbolic tensors, nodes, and the topological order of a graph of layers.

Calling a layer on a :class:`SymbolicTensor` (``an.Input(...)`` or another layer's
output) computes nothing: it records a :class:`Node` (the layer, the tensors it was called
on, the tensor it returns, whose sample shape the layer's ``build`` inferred). A
:class:`Graph` walks the nodes back from a model's outputs to its inputs, puts them in
topological order, names unnamed layers, and refuses what cannot be a model: cycles,
outputs that need an input the model does not take, inputs no output uses, and two
layers with one name. This module knows layers only by their attributes (``name``,
``kind``, ``multi_input``), so the layers import it and not the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anynet.errors import InputError, InputTypeError

__all__ = ["SymbolicTensor", "Node", "Graph", "symbolic", "layer_label"]


class SymbolicTensor:
    """A placeholder for a batch of samples of ``sample_shape``; ``shape`` is ``(None, *sample_shape)``."""

    __slots__ = ("node", "sample_shape")

    def __init__(self, node: Node, sample_shape: tuple[int, ...]) -> None:
        self.node = node
        self.sample_shape = tuple(int(d) for d in sample_shape)

    @property
    def shape(self) -> tuple[int | None, ...]:
        return (None, *self.sample_shape)

    @property
    def name(self) -> str:
        """The name of the layer that produced it (an input's own name for an Input)."""
        return layer_label(self.node.layer)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} from {layer_label(self.node.layer)!r}>"

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise InputTypeError(f"{self!r} is symbolic: it holds no data. Build a model with an.Model(inputs, "
                             f"outputs) and call predict or fit with arrays.")


class Node:
    """One call of a layer: the tensors it was called on and the tensor it returned."""

    __slots__ = ("layer", "inputs", "output")

    def __init__(self, layer: Any, inputs: Sequence[SymbolicTensor], output_shape: tuple[int, ...]) -> None:
        self.layer = layer
        self.inputs = list(inputs)
        self.output = SymbolicTensor(self, output_shape)

    def __repr__(self) -> str:
        return f"<Node {layer_label(self.layer)}({', '.join(t.name for t in self.inputs)})>"


def layer_label(layer: Any) -> str:
    """Return the layer's name, or ``<unnamed Dense>`` before a model named it."""
    return layer.name if layer.name is not None else f"<unnamed {type(layer).__name__}>"


def symbolic(x: Any) -> SymbolicTensor | None:
    """Return x as a SymbolicTensor (an Input layer stands for its tensor), or None if it is not one."""
    if isinstance(x, SymbolicTensor):
        return x
    as_tensor = getattr(x, "_as_symbolic", None)
    return as_tensor() if callable(as_tensor) else None


def _tensors(what: str, value: Any) -> list[SymbolicTensor]:
    items = list(value.values()) if isinstance(value, dict) else (
        list(value) if isinstance(value, (list, tuple)) else [value])
    if not items:
        raise InputError(f"Model {what} must name at least one tensor, got {value!r}.")
    out = []
    for x in items:
        t = symbolic(x)
        if t is None:
            raise InputTypeError(f"Model {what} must be symbolic tensors (an.Input(...) or a layer's output), "
                                 f"got {x!r}.")
        out.append(t)
    return out


class Graph:
    """The nodes from ``inputs`` to ``outputs``, in topological order, with every check done.

    ``nodes`` lists each call once, inputs first; ``layers`` lists each layer once, in the
    order of its first call; ``needs_grad[id(tensor)]`` says whether a tensor depends on
    parameters (so backprop must reach it); ``consumers[id(tensor)]`` counts its uses.
    """

    def __init__(self, inputs: Any, outputs: Any) -> None:
        self.inputs = _tensors("inputs", inputs)
        self.outputs = _tensors("outputs", outputs)
        self.input_keys = list(inputs) if isinstance(inputs, dict) else None
        self.output_keys = list(outputs) if isinstance(outputs, dict) else None
        if len({id(t) for t in self.inputs}) != len(self.inputs):
            raise InputError(f"Model inputs list one tensor twice: {[t.name for t in self.inputs]}.")
        self.nodes = self._order(self._collect())
        self.layers: list[Any] = []
        for node in self.nodes:
            if not any(node.layer is seen for seen in self.layers):
                self.layers.append(node.layer)
        self._name_layers()
        self.consumers: dict[int, int] = {}
        for node in self.nodes:
            for t in node.inputs:
                self.consumers[id(t)] = self.consumers.get(id(t), 0) + 1
        self.needs_grad: dict[int, bool] = {id(t): False for t in self.inputs}
        for node in self.nodes:
            if id(node.output) not in self.needs_grad:
                self.needs_grad[id(node.output)] = bool(node.layer._has_params()) or any(
                    self.needs_grad[id(t)] for t in node.inputs)
        names = [t.name for t in self.outputs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"Model outputs must come from different layers; {dup} is listed more than once "
                             f"(outputs: {names}).")

    def _collect(self) -> list[Node]:
        """Return every node the outputs depend on, back to the inputs (depth first, discovery order)."""
        given = {id(t) for t in self.inputs}
        seen: dict[int, Node] = {}
        stack: list[tuple[SymbolicTensor, tuple[str, ...]]] = [(t, (t.name,)) for t in reversed(self.outputs)]
        while stack:
            t, path = stack.pop()
            node = t.node
            if id(node) in seen:
                continue
            seen[id(node)] = node
            if id(t) in given:
                continue
            if not node.inputs:
                raise InputError(
                    f"Graph disconnected: output {path[0]!r} needs input {t.name!r} (samples of shape "
                    f"{t.sample_shape}) through {' <- '.join(path)}, but the model's inputs are "
                    f"{[x.name for x in self.inputs]}. Add it to inputs=.")
            for u in reversed(node.inputs):
                stack.append((u, (*path, u.name) if len(path) < 12 else path))
        unused = [t.name for t in self.inputs if id(t.node) not in seen]
        if unused:
            raise InputError(f"Model input(s) {unused} are not connected to any output "
                             f"({[t.name for t in self.outputs]}); drop them from inputs= or use them.")
        return list(seen.values())

    def _order(self, nodes: list[Node]) -> list[Node]:
        """Return the nodes in topological order (Kahn's algorithm); raise naming the layers of a cycle."""
        given = {id(t) for t in self.inputs}
        ids = {id(n) for n in nodes}
        deps = {id(n): ({id(t.node) for t in n.inputs} & ids if id(n.output) not in given else set()) for n in nodes}
        rank = {id(n): i for i, n in enumerate(nodes)}
        users: dict[int, list[Node]] = {}
        for n in nodes:
            for d in deps[id(n)]:
                users.setdefault(d, []).append(n)
        waiting = {k: len(v) for k, v in deps.items()}
        queue, order = [t.node for t in self.inputs], []
        while queue:
            n = queue.pop(0)
            order.append(n)
            fresh = []
            for u in users.get(id(n), []):
                waiting[id(u)] -= 1
                if waiting[id(u)] == 0:
                    fresh.append(u)
            queue.extend(sorted(fresh, key=lambda u: rank[id(u)]))
        if len(order) != len(nodes):
            stuck = [layer_label(n.layer) for n in nodes if waiting[id(n)] > 0]
            raise InputError(f"The layer graph has a cycle through {stuck}: a layer's input depends on its own "
                             f"output. A model must be a directed acyclic graph.")
        return order

    def _name_layers(self) -> None:
        """Give unnamed layers Keras-style names (dense, dense_1, ...) and refuse a name used twice."""
        named: dict[str, Any] = {}
        for layer in self.layers:
            if layer.name is None:
                continue
            other = named.setdefault(layer.name, layer)
            if other is not layer:
                raise InputError(f"Two layers in one model are named {layer.name!r}: {other!r} and {layer!r}; "
                                 f"layer names must be unique (a layer called twice is one layer, shared).")
        counts: dict[str, int] = {}
        for layer in self.layers:
            if layer.name is not None:
                continue
            k = counts.get(layer.kind, 0)
            while (name := layer.kind if k == 0 else f"{layer.kind}_{k}") in named:
                k += 1
            counts[layer.kind] = k + 1
            layer.name = name
            named[name] = layer

    def connected_to(self, node: Node) -> str:
        """Return Keras' "Connected to" words for a node: ``dense[0][0], dense_1[0][0]``."""
        return ", ".join(f"{t.name}[{t.node.layer._nodes.index(t.node)}][0]" for t in node.inputs)
