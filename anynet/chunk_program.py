"""What a worker runs on one row chunk: a parameter-free copy of a model and the per-chunk functions.

:class:`ChunkProgram` is a model without its parameters, penalties, optimizer state or
random generators. It is sent to the workers once per use (a training run, an evaluate, a
predict); the parameters come with each call as a host NumPy vector. Each per-chunk
function places a copy of the model on the chunk's own array library and device (NumPy,
or CuPy when the chunks are CuPy arrays) and runs ordinary anynet code on it
(``prepare``, ``value_and_grad``, ``predict``), so a chunk is checked and computed exactly
as in-memory data is. Every function takes ``(program, theta, *chunks)``, the chunks being
one row chunk of each model input, then of each target, in order, and returns a 1-d
float64 NumPy vector that the adapter sums over chunks (or, for predict, the outputs).

The vector of a pass over a chunk of ``n_c`` samples is ``[n_c, total, *gradient,
*values, *counts]``: ``total`` is the scaled loss (without penalties), the gradient is
that of ``total`` (absent without ``grad``), and ``values`` / ``counts`` are the
numerators and denominators of the other History entries (per-output losses, metrics;
absent without ``logs``), in the order of :func:`anynet.epoch.log_names`.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np

from anynet import backends
from anynet.backend import Placement, to_placement
from anynet.graph import Graph, Node
from anynet.params import Layout

__all__ = ["ChunkProgram", "is_mean", "check_chunk", "loss_grad_chunk", "train_chunk", "score_chunk",
           "predict_chunk"]

#: the optimizer runs on the driver; a worker's model only needs to count as compiled
_ON_THE_DRIVER = "the optimizer runs on the driver"


def is_mean(loss: Any) -> bool:
    """Return whether ``loss`` is a mean over samples (True) or a sum (``reduction="sum"``)."""
    return getattr(loss, "reduction", "sum_over_batch_size") != "sum"


def _detached(layer: Any) -> Any:
    """Return a copy of ``layer`` without its link to the model holding its weights or its calls in other graphs."""
    clone = copy.copy(layer)
    clone.__dict__.pop("_owner", None)  # a weak reference: neither picklable nor wanted on a worker
    clone.__dict__["_node_list"] = []
    return clone


class ChunkProgram:
    """The model without parameters, penalties, optimizer state or generators: what workers run per chunk.

    It pickles without the model: copies of the layers, the graph as positions, the
    layout with no regularizers (the penalties are added once, on the driver), the
    heads. Each process rebuilds the model from them once. ``rows`` is the number of
    samples a full-batch loss is over (for losses with ``reduction="sum"``).
    """

    def __init__(self, model: Any, rows: int | None = None) -> None:
        graph = model._graph
        self.kind, self.name, self.dtype, self.rows = type(model), model.name, model.dtype, rows
        self.layers = [_detached(layer) for layer in graph.layers]
        self.index = [model._index.get(id(layer)) for layer in graph.layers]
        position = {id(layer): i for i, layer in enumerate(graph.layers)}
        given = {id(t) for t in graph.inputs}
        made: dict[int, int] = {}  # id(tensor) -> the node that made it
        self.nodes: list[tuple[int, list[int], tuple[int, ...]]] = []
        for j, node in enumerate(graph.nodes):
            ins = [] if id(node.output) in given else [made[id(t)] for t in node.inputs]
            self.nodes.append((position[id(node.layer)], ins, node.output.sample_shape))
            made[id(node.output)] = j
        self.inputs = [made[id(t)] for t in graph.inputs]
        self.outputs = [made[id(t)] for t in graph.outputs]
        self.input_keys, self.output_keys = graph.input_keys, graph.output_keys
        self.layout = Layout()
        self.layout.specs = [dataclasses.replace(s, regularizer=None) for s in model.layout]
        self.layout.size = model.layout.size
        self.heads = [dataclasses.replace(h, metrics=list(h.metrics)) for h in model.heads]
        self.compiled = model.optimizer is not None
        self._model: Any = None

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_model"] = None  # rebuilt where it lands
        return state

    def model(self) -> Any:
        """Return this process's model (built once): the graph on the copied layers, no parameters placed."""
        if self._model is None:
            tensors = []
            for i, ins, shape in self.nodes:
                node = Node(self.layers[i], [tensors[k] for k in ins], shape)
                self.layers[i]._nodes.append(node)
                tensors.append(node.output)
            inputs, outputs = [tensors[k] for k in self.inputs], [tensors[k] for k in self.outputs]
            graph = Graph(dict(zip(self.input_keys, inputs)) if self.input_keys is not None else inputs,
                          dict(zip(self.output_keys, outputs)) if self.output_keys is not None else outputs)
            m = object.__new__(self.kind)
            m._setup(self.dtype, 0, None, None, self.name)
            m._graph, m.layers = graph, list(self.layers)
            m._index = {id(layer): i for layer, i in zip(self.layers, self.index) if i is not None}
            m.heads = self.heads
            m.optimizer = _ON_THE_DRIVER if self.compiled else None
            self._model = m
        return self._model

    def on(self, chunks: tuple[Any, ...], theta: np.ndarray) -> Any:
        """Return a copy of the model on the library and device of ``chunks[0]``, holding ``theta``."""
        adapter = backends.for_array(chunks[0]) or backends.get("numpy")
        device = adapter.device_of(chunks[0])
        m = copy.copy(self.model())
        m._own = {"placement": Placement(adapter, device, adapter.namespace()), "layout": self.layout,
                  "theta": adapter.from_numpy(np.asarray(theta), device)}
        return m

    def split(self, chunks: tuple[Any, ...]) -> tuple[Any, Any]:
        """Return the chunks as ``prepare`` takes them: X (one array, or a list in input order) and y."""
        xs, ys = list(chunks[:self.n_inputs]), list(chunks[self.n_inputs:])
        return (xs[0] if len(xs) == 1 else xs), (None if not ys else ys[0] if len(ys) == 1 else ys)


def _pass(program: ChunkProgram, theta: np.ndarray, chunks: tuple[Any, ...], *, check: bool, grad: bool,
          logs: bool, full_batch: bool) -> np.ndarray:
    """Return ``[n_c, total, *gradient, *values, *counts]`` of one chunk (see the module docstring).

    Each output's loss is scaled by ``n_c`` (a mean: the driver divides the sum by n), or,
    with ``full_batch`` and ``reduction="sum"``, by ``program.rows`` (so the driver's
    division leaves the sum over every chunk). Without ``check`` the chunks were checked
    before and X is in the model's dtype already.
    """
    m = program.on(chunks, theta)
    if check:
        data = m.prepare(*program.split(chunks))
        X, y = data.X, data.y
    else:
        X = tuple(chunks[:program.n_inputs])
        y = tuple(to_placement(t, m.placement, name="y") for t in chunks[program.n_inputs:])
    n = float(X[0].shape[0])
    scales = [n if not full_batch or is_mean(h.loss) else float(program.rows) for h in m.heads]
    same = len(set(scales)) == 1
    if not same:  # outputs with sums and means: scale each inside the pass
        m.heads = [dataclasses.replace(h, weight=h.weight * s) for h, s in zip(m.heads, scales)]
    backend, xp = m.placement.backend, m.placement.xp
    r = m.value_and_grad(m.params, X, y, m.context(), grad=grad)
    k = scales[0] if same else 1.0
    values, counts = [r.loss], []
    if logs:
        if len(m.heads) > 1:
            values += [loss * s for loss, s in zip(r.losses, scales)]
            counts += [n] * len(m.heads)
        for head, Y, T in zip(m.heads, r.Y, r.T):
            for metric in head.metrics:
                v, c = metric.batch(Y, T, xp)
                values.append(v)
                counts.append(c)
    dtype = r.loss.dtype
    host = backend.to_numpy(xp.stack([xp.asarray(v, dtype=dtype, device=m.placement.device) for v in values]))
    host = np.asarray(host, dtype=np.float64)
    parts = [np.array([n, k * host[0]])]
    if grad:
        parts.append(k * np.asarray(backend.to_numpy(r.grad), dtype=np.float64))
    parts += [host[1:], np.array([float(c) for c in counts])]
    return np.concatenate(parts)


def check_chunk(program: ChunkProgram, theta: np.ndarray, *chunks: Any) -> np.ndarray:
    """Return ``[n_c]`` after checking the chunk as ``model.prepare`` checks in-memory data."""
    m = program.on(chunks, theta)
    return np.array([float(m.prepare(*program.split(chunks)).n)])


def loss_grad_chunk(program: ChunkProgram, theta: np.ndarray, *chunks: Any) -> np.ndarray:
    """Return ``[n_c, total, *gradient]`` of one checked chunk for the full-batch loss."""
    return _pass(program, theta, chunks, check=False, grad=True, logs=False, full_batch=True)


def train_chunk(program: ChunkProgram, theta: np.ndarray, *chunks: Any) -> np.ndarray:
    """Return ``[n_c, total, *gradient, *values, *counts]`` of one checked chunk for the full-batch loss."""
    return _pass(program, theta, chunks, check=False, grad=True, logs=True, full_batch=True)


def score_chunk(program: ChunkProgram, theta: np.ndarray, *chunks: Any) -> np.ndarray:
    """Return ``[n_c, total, *values, *counts]`` of one unchecked chunk, checked here first (one batch)."""
    return _pass(program, theta, chunks, check=True, grad=False, logs=True, full_batch=False)


def predict_chunk(program: ChunkProgram, theta: np.ndarray, *chunks: Any) -> list[Any]:
    """Return the model's outputs for one chunk (a list, one array of the chunk's library per output)."""
    m = program.on(chunks, theta)
    out = m.predict(program.split(chunks)[0])
    if isinstance(out, dict):
        return [out[k] for k in program.output_keys]
    return list(out) if isinstance(out, list) else [out]
