"""The text of ``model.summary()``: Keras' table of layers, output shapes and parameter counts.

A chain of layers gets three columns; a graph gets Keras' fourth, "Connected to", naming
each call's inputs as ``layer[call][0]``. A layer called twice is one row (its weights are
counted once) with every call's inputs.
"""

from __future__ import annotations

from typing import Any

from anynet.params import Layout

__all__ = ["summary_lines", "layer_rows"]


def _shape(nodes: list[Any]) -> str:
    shapes = {t for t in (n.output.shape for n in nodes)}
    return str(next(iter(shapes))) if len(shapes) == 1 else "multiple"


def _is_chain(graph: Any) -> bool:
    return (len(graph.inputs) == 1 and len(graph.outputs) == 1 and all(len(n.inputs) <= 1 for n in graph.nodes)
            and all(c <= 1 for c in graph.consumers.values())
            and len({id(n.layer) for n in graph.nodes}) == len(graph.nodes))


def summary_lines(model: Any, rows: list[tuple[Any, list[Any], int]], line_length: int | None = None) -> list[str]:
    """Return the lines of the summary of ``model`` from its ``(layer, calls, parameter count)`` rows."""
    graph = model._graph
    chain = _is_chain(graph)
    table = []
    for layer, nodes, n in rows:
        cells = [f"{layer.name} ({type(layer).__name__})", _shape(nodes), f"{n:,}"]
        if not chain:
            cells.append(", ".join(graph.connected_to(node) for node in nodes if node.inputs))
        table.append(cells)
    head = ["Layer (type)", "Output Shape", "Param #"] + ([] if chain else ["Connected to"])
    widths = [max(len(r[c]) for r in [head, *table]) + 3 for c in range(len(head))]
    if line_length is not None and line_length > sum(widths):
        widths[0] += line_length - sum(widths)
    total = sum(widths)

    def line(cells: list[str]) -> str:
        return " " + "".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    where = f" ({model.placement}, {model.dtype})" if model.built else f" ({model.dtype})"
    out = [f'Model: "{model.name}"{where}', "_" * total, line(head), "=" * total]
    out += [line(r) for r in table]
    n_total = sum(n for _, _, n in rows)
    out += ["=" * total, f"Total params: {n_total:,}", f"Trainable params: {n_total:,}", "Non-trainable params: 0",
            "_" * total]
    return out


def layer_rows(graph: Any, layers: list[Any]) -> list[tuple[Any, list[Any], int]]:
    """Return ``(layer, its calls in ``graph``, parameter count)`` per layer, from shapes alone."""
    rows = []
    for layer in layers:
        nodes = [n for n in graph.nodes if n.layer is layer]
        scratch = Layout()
        if nodes[0].inputs:
            shapes = [t.sample_shape for t in nodes[0].inputs]
            layer.build(0, shapes if layer.multi_input else shapes[0], scratch)
        rows.append((layer, nodes, scratch.size))
    return rows
