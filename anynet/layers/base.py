"""The layer interface: Context, and Layer with its symbolic side (calls record graph nodes).

A layer has two sides. Symbolically, calling it on a tensor (``Dense(64)(image)``) records
a node of a graph and returns the output tensor, whose shape ``build`` inferred; a layer
called twice is one layer with one set of weights. Numerically, ``forward(P, X, ctx)``
returns ``(Y, backprop)``; ``backprop(dY, need_dX=True)`` returns dX (or None when the
caller says it needs none) and writes the gradients of the layer's parameters into
``P.grads``. Nothing is cached on the layer between calls: everything the backward pass
needs lives in the closure. Layers with ``multi_input = True`` (the merge layers) take a
list of shapes in ``build``, a list of arrays in ``forward``, and return a list of dX.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from anynet.errors import InputError, InputTypeError
from anynet.graph import Node, SymbolicTensor, layer_label, symbolic
from anynet.params import Layout, Slots

__all__ = ["Layer", "Context", "Backprop"]

Backprop = Callable[..., Any]


@dataclass
class Context:
    """What one forward/backward pass needs besides parameters and data."""

    xp: Any
    training: bool = False
    rng: Any = None                       # the backend generator (dropout masks)
    kernels: dict[str, Any] = field(default_factory=dict)
    dtype: Any = None
    scratch: dict[Any, Any] | None = None  # buffers kernels may reuse across batches (the training loop's only)
    plan: Any = None                       # the pass's bookkeeping, made once (anynet.plan)


def _shape(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    try:
        shape = tuple(int(d) for d in value)
        ok = all(int(d) == d and d > 0 for d in value) and len(shape) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{name} must be a tuple of positive ints such as (784,), got {value!r}.")
    return shape


class Layer:
    """Base class: a layer without parameters that passes its input through."""

    #: Keras-style base name; the model numbers duplicates ("dense", "dense_1", ...).
    kind = "layer"
    #: True for layers called on a list of tensors (Concatenate, Add, ...).
    multi_input = False

    def __init__(self, *, name: str | None = None, input_shape: Sequence[int] | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise InputTypeError(f"A layer name is a string, got {name!r}.")
        self.name = name
        self.input_shape = _shape("input_shape", input_shape) if input_shape is not None else None

    def build(self, index: int, input_shape: tuple[int, ...], layout: Layout) -> tuple[int, ...]:
        """Register this layer's parameters (if any) and return its output shape (no batch axis).

        ``index`` is the layer's place in the model (pass it to ``layout.add``). ``build`` may
        run more than once (for each call and for summaries), so it must not keep state.
        """
        return input_shape

    def forward(self, P: Slots, X: Any, ctx: Context, *, activate: bool = True) -> tuple[Any, Backprop]:
        """Return ``(Y, backprop)`` for a batch X."""
        return X, lambda dY, need_dX=True: dY

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments, for summaries and saving."""
        return {"name": self.name}

    # -- the symbolic side: calls record nodes of a graph ----------------------------------
    @property
    def _nodes(self) -> list[Node]:
        return self.__dict__.setdefault("_node_list", [])

    def __call__(self, inputs: Any) -> SymbolicTensor:
        """Return the symbolic output of this layer called on ``inputs`` (a tensor, or a list for merges)."""
        label = layer_label(self)
        items = list(inputs) if self.multi_input and isinstance(inputs, (list, tuple)) else [inputs]
        if self.multi_input and (not isinstance(inputs, (list, tuple)) or len(items) < 2):
            raise InputError(f"{label} ({type(self).__name__}) merges a list of at least two tensors, got {inputs!r}.")
        tensors = [symbolic(x) for x in items]
        bad = next((x for x, t in zip(items, tensors) if t is None), None)
        if bad is not None or not items:
            raise InputTypeError(f"{label} ({type(self).__name__}) is called on symbolic tensors (an.Input(...) or "
                                 f"another layer's output) to build a model, got {bad!r}. To compute on data, "
                                 f"build an.Model(inputs, outputs) and call predict().")
        if getattr(self, "kind", None) == "input":
            raise InputError(f"An Input is not called on tensors; pass it to other layers: Dense(8)({label}).")
        shapes = [t.sample_shape for t in tensors]
        scratch = Layout()
        try:
            out = self.build(0, shapes if self.multi_input else shapes[0], scratch)
        except InputError as exc:
            raise InputError(f"Calling {label} ({type(self).__name__}) on {[t.name for t in tensors]} (samples of "
                             f"shape {shapes if self.multi_input else shapes[0]}): {exc}") from None
        params = [(s.name, s.shape) for s in scratch]
        first = self.__dict__.get("_param_shapes")
        if self._nodes and first != params:
            raise InputError(f"{label} ({type(self).__name__}) was first called on samples of shape "
                             f"{_call_shape(self._nodes[0])} (weights {first}) and now on {shapes} (weights "
                             f"{params}); a layer called twice shares its weights, so both calls must fit them.")
        self.__dict__["_param_shapes"] = params
        node = Node(self, tensors, tuple(out))
        self._nodes.append(node)
        return node.output

    def _has_params(self) -> bool:
        return bool(self.__dict__.get("_param_shapes"))

    def get_output_at(self, node_index: int) -> SymbolicTensor:
        """Return the output tensor of this layer's ``node_index``-th call."""
        return self._node_at(node_index, "output").output

    def get_input_at(self, node_index: int) -> SymbolicTensor | list[SymbolicTensor]:
        """Return the input tensor(s) of this layer's ``node_index``-th call."""
        node = self._node_at(node_index, "input")
        return list(node.inputs) if self.multi_input else node.inputs[0]

    def _node_at(self, i: int, what: str) -> Node:
        nodes = self._nodes
        if not nodes:
            raise InputError(f"{layer_label(self)} has not been called on a tensor yet, so it has no {what}; "
                             f"call it (layer(tensor)) or put it in a model whose input shape is known.")
        if not isinstance(i, int) or not -len(nodes) <= i < len(nodes):
            raise InputError(f"{layer_label(self)} was called {len(nodes)} time(s); node_index {i!r} is out of range.")
        return nodes[i]

    @property
    def output(self) -> SymbolicTensor:
        """The symbolic output of this layer's only call (``get_output_at(i)`` for a shared layer)."""
        return self.get_output_at(self._single("output"))

    @property
    def input(self) -> SymbolicTensor | list[SymbolicTensor]:
        """The symbolic input(s) of this layer's only call (``get_input_at(i)`` for a shared layer)."""
        return self.get_input_at(self._single("input"))

    def _single(self, what: str) -> int:
        n = len(self._nodes)
        if n > 1:
            raise InputError(f"{layer_label(self)} was called {n} times, so its {what} is ambiguous; use "
                             f"layer.get_{what}_at(i) for the i-th call.")
        return 0

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


def _call_shape(node: Node) -> Any:
    shapes = [t.sample_shape for t in node.inputs]
    return shapes if node.layer.multi_input else shapes[0]
