"""A model's structure as JSON data: its layers and, for a functional model, its graph.

A tensor is named by ``[layer index, call]``: the layer's place in ``model.layers`` and
which of its calls (counted within this model) made it. A graph is its ``nodes`` (each
call as the layer's index and the tensors it took, in topological order), ``inputs``
and ``outputs``. :func:`graph_ends` replays the calls on freshly decoded layers, so a
file never runs code, only anynet's own layers.
"""

from __future__ import annotations

import json
from typing import Any

from anynet.errors import SaveFileError
from anynet.graph import SymbolicTensor
from anynet.registry import LAYERS, encode

__all__ = ["describe", "classes", "graph_ends"]


def describe(model: Any, compare: bool = False) -> Any:
    """Return the layers (and a functional model's graph) as JSON data; to ``compare`` two
    models, without names and initializers (neither changes what given weights compute)."""
    out = [encode(layer, LAYERS, "layer") for layer in model.layers]
    if compare:
        for spec in out:
            spec["config"] = {k: v for k, v in spec["config"].items() if k != "name" and not k.endswith("_initializer")}
    if model.kind != "Sequential":
        out = {"layers": out, **_graph(model)}
    return json.loads(json.dumps(out))


def _graph(model: Any) -> dict[str, Any]:
    """Return the graph as ``nodes`` (layer index, input tensors) in order, ``inputs`` and ``outputs``;
    a tensor is ``[layer index, call]``, the call counted within this model."""
    graph, index = model._graph, {id(layer): i for i, layer in enumerate(model.layers)}
    calls: dict[int, int] = {}
    ref: dict[int, list[int]] = {}
    nodes = []
    for node in graph.nodes:
        i = index[id(node.layer)]
        ref[id(node.output)] = [i, calls.get(i, 0)]
        calls[i] = calls.get(i, 0) + 1
        if node.inputs:
            nodes.append([i, [ref[id(t)] for t in node.inputs]])
    return {"nodes": nodes, "inputs": [ref[id(t)] for t in graph.inputs], "outputs": [ref[id(t)] for t in graph.outputs],
            "input_keys": graph.input_keys, "output_keys": graph.output_keys}


# -- saving -------------------------------------------------------------------------------

def classes(arch: Any) -> list[str]:
    return [s["class"] for s in (arch["layers"] if isinstance(arch, dict) else arch)]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _list(spec: dict[str, Any], key: str) -> list[Any]:
    v = spec.get(key)
    if not isinstance(v, list):
        raise SaveFileError(f"model.{key} must be a list, got {v!r}.")
    return v


def graph_ends(spec: dict[str, Any], layers: list[Any]) -> tuple[Any, Any]:
    """Return ``(inputs, outputs)`` (lists, or dicts when saved by name) by replaying the saved calls."""
    made: dict[tuple[int, int], SymbolicTensor] = {}
    calls: dict[int, int] = {}
    for i, layer in enumerate(layers):
        if layer.kind == "input":
            made[(i, 0)] = layer._as_symbolic()
            calls[i] = 1

    def tensor(ref: Any) -> SymbolicTensor:
        key = tuple(ref) if isinstance(ref, list) and len(ref) == 2 and all(_is_int(v) for v in ref) else None
        if key not in made:
            raise SaveFileError(f"model graph refers to tensor {ref!r}, which no earlier layer call made.")
        return made[key]

    for entry in _list(spec, "nodes"):
        if not (isinstance(entry, list) and len(entry) == 2 and _is_int(entry[0]) and 0 <= entry[0] < len(layers)
                and isinstance(entry[1], list) and entry[1]):
            raise SaveFileError(f"model.nodes entries are [layer index, [tensors]], got {entry!r}.")
        layer, args = layers[entry[0]], [tensor(r) for r in entry[1]]
        if not layer.multi_input and len(args) != 1:
            raise SaveFileError(f"model.nodes calls {layer.name!r} on {len(args)} tensors; it takes one.")
        made[(entry[0], calls.get(entry[0], 0))] = layer(args if layer.multi_input else args[0])
        calls[entry[0]] = calls.get(entry[0], 0) + 1
    ends = []
    for key in ("inputs", "outputs"):
        refs = [tensor(r) for r in _list(spec, key)]
        names = spec.get(f"{key[:-1]}_keys")
        ends.append(dict(zip(names, refs)) if isinstance(names, list) and len(names) == len(refs)
                    and all(isinstance(n, str) for n in names) else refs)
    return ends[0], ends[1]
