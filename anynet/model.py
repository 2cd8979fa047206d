"""Model: a graph of layers from inputs to outputs, trained as one function of a flat vector.

A model is a pure function of ``(theta, X)``: ``theta`` is one flat vector on the model's
backend and device, and each layer reads shaped views of it on every pass. ``Model(inputs,
outputs)`` takes any directed acyclic graph of layer calls (:mod:`anynet.graph`);
:class:`~anynet.sequential.Sequential` is a Model whose graph is a chain. Training,
evaluation and prediction come from :class:`~anynet.training.Trainer`.

A model built only from layers whose weights another built model holds (for example
``Model(model.inputs, [l.output for l in model.layers])``) shares that model's parameter
vector, as Keras layers share weights: training either trains both. A model that mixes
in new layers owns a new vector and starts from the others' current weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anynet import architecture, backends, passes, saving
from anynet.backend import resolve
from anynet.callbacks import History
from anynet.data import Data, image_hint, prepare, sample_shape
from anynet.errors import InputError, InputTypeError, NotCompiledError, SaveFileError
from anynet.generators import Generators
from anynet.graph import Graph, SymbolicTensor
from anynet.heads import Head, make_heads
from anynet.layers import Context, Dense, Layer
from anynet.registry import LAYERS, decode
from anynet.summary import layer_rows, summary_lines
from anynet.training import Trainer
from anynet.validation import check_int, shape_of
from anynet.weights import Weights

__all__ = ["Model", "Data", "load"]

_DTYPES = ("float32", "float64")


class Model(Trainer, Weights):
    """A network from ``inputs`` to ``outputs`` (symbolic tensors; lists or dicts by name).

    ``dtype`` is the dtype of parameters, gradients and outputs (float32 unless asked, or
    the dtype of the model whose weights it shares);
    ``seed`` fixes the initial weights (bit-identical on every backend), the shuffling and
    the dropout masks. ``backend`` / ``device`` pin where it runs; otherwise the first data
    it sees decides (see :mod:`anynet.backend`).
    """

    #: the model classes a file may name, by their saved "class" (Sequential adds itself)
    _kinds: dict[str, type] = {}
    kind = "Model"

    def __init__(self, inputs: Any = None, outputs: Any = None, *, dtype: str | None = None, seed: int | None = None,
                 backend: str | None = None, device: Any = None, name: str = "functional") -> None:
        self._setup(dtype, seed, backend, device, name)
        if inputs is None or outputs is None:
            raise InputError("Model(inputs, outputs) needs both: symbolic tensors from an.Input(...) and the layer "
                             "outputs they lead to. For a stack of layers use an.Sequential([...]).")
        self._graph = Graph(inputs, outputs)
        self.layers = list(self._graph.layers)
        self._claim()
    def _setup(self, dtype: str | None, seed: int | None, backend: Any, device: Any, name: str) -> None:
        self._dtype_arg = dtype
        dtype = "float32" if dtype is None else dtype
        if dtype not in _DTYPES:
            raise InputError(f"dtype must be one of {_DTYPES}, got {dtype!r}.")
        if seed is not None:
            check_int("seed", seed, minimum=0)
        if not isinstance(name, str):
            raise InputTypeError(f"A model name is a string, got {name!r}.")
        self.name, self.dtype = name, dtype
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        if backend is not None:  # refuse an unknown or unusable backend here, not at the first fit
            adapter = backends.get(backend).require()
            if device is not None:
                adapter.device(device)
        self._backend_arg, self._device_arg = backend, device
        seeds = np.random.SeedSequence(self.seed).spawn(3)
        self._init_seed = seeds[0]
        self.shuffle_rng = np.random.default_rng(seeds[1])
        self._dropout_seed = int(seeds[2].generate_state(1, np.uint64)[0] >> 1)
        self._graph: Graph | None = None
        self._source: Model | None = None
        self._own: dict[str, Any] = {"placement": None, "layout": None, "theta": None}
        self._index: dict[int, int] = {}
        self.layers: list[Layer] = []
        self.rng: Any = None
        self.optimizer: Any = None
        self.heads: list[Head] = []
        self.opt_state: dict[str, Any] | None = None
        self.stop_training = False
        self.history: Any = None
        self.metadata: dict[str, Any] | None = None  # what model.save(metadata=...) stored, after anynet.load

    # -- the graph -------------------------------------------------------------------------
    def _maybe_graph(self) -> Graph | None:
        """Return the graph, or None while the input shape is unknown (a Sequential makes it late)."""
        return self._graph

    def _get_graph(self, what: str) -> Graph:
        if self._maybe_graph() is None:
            raise InputError(f"The input shape is unknown, so the model has no graph yet ({what}); give "
                             f"Input(shape) or input_shape=, or call build(input_shape), fit or predict.")
        return self._graph

    @property
    def inputs(self) -> list[SymbolicTensor]:
        """The input tensors, in order."""
        return list(self._get_graph("inputs").inputs)

    @property
    def outputs(self) -> list[SymbolicTensor]:
        """The output tensors, in order."""
        return list(self._get_graph("outputs").outputs)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def input_names_or_default(self) -> list[str]:
        return self.input_names if self._maybe_graph() is not None else ["X"]

    def _input_shapes(self) -> list[tuple[int, ...]]:
        return [t.sample_shape for t in self._get_graph("input shapes").inputs]

    @property
    def input_shape(self) -> tuple[int, ...] | list[tuple[int, ...]] | None:
        """The sample shape of the input (no batch axis); a list for several inputs; None while unknown."""
        if self._maybe_graph() is None:
            return None
        shapes = self._input_shapes()
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> tuple[int, ...] | list[tuple[int, ...]] | None:
        """The sample shape of the output; a list for several outputs; None while unknown."""
        if self._maybe_graph() is None:
            return None
        shapes = [t.sample_shape for t in self._graph.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """Return the layer called ``name`` (or at ``index`` of ``model.layers``)."""
        if index is not None:
            if not isinstance(index, int) or not -len(self.layers) <= index < len(self.layers):
                raise InputError(f"get_layer: index {index!r} is out of range for {len(self.layers)} layers.")
            return self.layers[index]
        found = [layer for layer in self.layers if layer.name == name]
        if not found:
            raise InputError(f"get_layer: no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}.")
        return found[0]

    # -- building: where the parameters live ------------------------------------------------
    def _prepare_graph(self, input_shape: Any) -> None:
        """Check ``input_shape`` against the graph's (a Sequential makes its chain here)."""
        if input_shape is None:
            return
        given = (list(input_shape.values()) if isinstance(input_shape, dict) else
                 list(input_shape) if len(self.inputs) > 1 else [input_shape])
        shapes = [sample_shape(s) for s in given]
        if shapes != self._input_shapes():
            raise InputError(f"build: the model's inputs take samples of shape {self.input_shape}, "
                             f"got input_shape={input_shape!r}.")

    def build(self, input_shape: Any = None, *, backend: str | None = None, device: Any = None) -> Model:
        """Create the parameters and return self; ``input_shape`` is ``784``, ``(784,)`` or ``(None, 784)``."""
        self._prepare_graph(input_shape)
        graph = self._get_graph("build")
        placement = resolve(backend=backend or self._backend_arg,
                            device=device if device is not None else self._device_arg)
        self._place_weights(graph, placement)
        adapter, dev = self.placement.backend, self.placement.device
        self.rng = Generators(adapter, self._dropout_seed, dev)
        self.opt_state = None
        for head, t in zip(self.heads, graph.outputs):
            head.name, head.shape = t.name, t.sample_shape
        return self

    def _ensure_built(self, xs: list[Any], y: Any) -> None:
        if self.built:
            return
        names = self.input_names_or_default()
        arrays = {("X" if len(xs) == 1 else f"X[{n!r}]"): x for n, x in zip(names, xs)}
        ys = dict(y) if isinstance(y, dict) else dict(enumerate(y)) if isinstance(y, (list, tuple)) and len(
            self.heads) > 1 else {None: y}
        arrays.update({("y" if k is None else f"y[{k!r}]"): t for k, t in ys.items() if hasattr(t, "shape")})
        placement = resolve(arrays, backend=self._backend_arg, device=self._device_arg)
        shape = None
        if self._maybe_graph() is None:
            full = shape_of(xs[0])
            if len(full) < 2:
                raise InputError(f"X must have shape (samples, features...), got shape {full}.")
            shape = full[1:]
        self.build(shape, backend=placement.backend, device=placement.device)

    # -- compile ----------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                metrics: Any = None) -> None:
        """Choose the optimizer, the loss (one, or per output as a list or dict), loss weights and metrics."""
        from anynet import optimizers

        self.optimizer = optimizers.get(optimizer)
        if self._maybe_graph() is None:  # a Sequential whose input shape comes with the data: one output
            last = self.layers[-1] if self.layers else None
            outs = [("output", (getattr(last, "units", 1),), last)]
        else:
            outs = [(t.name, t.sample_shape, t.node.layer) for t in self._graph.outputs]
        self.heads = make_heads(outs, loss, loss_weights, metrics)
        self.opt_state = None

    @property
    def loss(self) -> Any:
        """The loss of a single-output model (a list of losses for several outputs); None before compile."""
        if not self.heads:
            return None
        return self.heads[0].loss if len(self.heads) == 1 else [h.loss for h in self.heads]

    @property
    def metrics(self) -> list[Any]:
        return [m for h in self.heads for m in h.metrics]

    @property
    def fused(self) -> bool:
        return bool(self.heads) and all(h.fused for h in self.heads)

    def _require_compiled(self, what: str) -> None:
        if not self.heads or self.optimizer is None:
            raise NotCompiledError(f"Call model.compile(optimizer=..., loss=...) before {what}.")

    # -- parameters -------------------------------------------------------------------------
    # -- the passes -------------------------------------------------------------------------
    def prepare(self, X: Any, y: Any = None, *, sample_weight: Any = None, class_weight: Any = None,
                where: str = "") -> Data:
        """Return X (and y, and sample weights) checked, cast to the model's dtype and placed on its
        device (see anynet.data and anynet.weighting)."""
        return prepare(self, X, y, sample_weight=sample_weight, class_weight=class_weight, where=where)

    def _shape_message(self, name: str, got: tuple[int, ...], want: tuple[int, ...], label: str) -> str:
        users = [n.layer for n in self._graph.nodes if any(t.name == name for t in n.inputs)]
        first = users[0] if len(users) == 1 else None
        if isinstance(first, Dense) and len(want) == 1 and len(got) == 2:
            return f"Dense({first.units}) expected {want[0]} input features, got {label} with shape {got}."
        if len(got) == len(want) and tuple(got) == want:
            return (f"The model expects a batch of samples of shape {want}, got {label} with shape {got}: one "
                    f"sample without a batch axis. Add one: {label}[None] or reshape(1, -1).")
        return f"The model expects samples of shape {want}, got {label} with shape {got}.{image_hint(want, got)}"

    def context(self, *, training: bool = False, rng: Any = None) -> Context:
        """Return the Context of a pass on this model's placement."""
        p = self.placement
        return Context(p.xp, training, rng if rng is not None else self.rng, dict(p.backend.kernels),
                       getattr(p.xp, self.dtype))

    def value_and_grad(self, theta: Any, X: tuple[Any, ...], y: tuple[Any, ...], ctx: Context, *,
                       grad: bool = True, sample_weight: tuple[Any, ...] | None = None) -> passes.Result:
        """Return the :class:`~anynet.passes.Result` (loss, flat gradient, outputs, targets, per-output
        losses); ``sample_weight`` holds one weight array (or None) per output."""
        return passes.value_and_grad(self, theta, X, y, ctx, grad=grad, sample_weight=sample_weight)

    def outputs_of(self, theta: Any, X: tuple[Any, ...], ctx: Context) -> list[Any]:
        """Return the model's outputs for prepared inputs X (a list, one array per output)."""
        values, _, _ = passes.forward(self, theta, X, ctx)
        return [values[id(t)] for t in self._graph.outputs]

    def loss_and_grad(self, X: Any, y: Any = None, theta: Any = None, *, training: bool = False) -> tuple[Any, Any]:
        """Return ``(loss, gradient)`` of the compiled loss at ``theta`` (default: the model's).

        ``X`` may be a :class:`Data` from :meth:`prepare` (then ``y`` is ignored) or raw
        inputs and targets. The loss is a 0-d array and the gradient a flat vector like theta.
        """
        self._require_compiled("loss_and_grad")
        data = X if isinstance(X, Data) else self.prepare(X, y)
        theta = self.params if theta is None else theta
        r = self.value_and_grad(theta, data.X, data.y, self.context(training=training), sample_weight=data.w)
        return r.loss, r.grad

    # -- files -----------------------------------------------------------------------------
    def save(self, path: Any, *, metadata: dict[str, Any] | None = None) -> None:
        """Write the model to ``path`` atomically (see :mod:`anynet.saving`); ``anynet.load`` reads it.

        ``metadata``, a small JSON dict of your own (such as the preprocessing), is stored too;
        the loaded model gives it back as ``model.metadata``.
        """
        saving.save(self, path, metadata=metadata)

    def load_weights(self, path: Any) -> None:
        """Set the weights from a saved model file with the same layers; everything is checked first."""
        saving.load_weights(self, path)

    @classmethod
    def from_config(cls, spec: dict[str, Any]) -> Model:
        """Return an unbuilt model from the JSON data :mod:`anynet.saving` wrote (any model class)."""
        name = spec.get("class", "Sequential")
        kind = Model._kinds.get(name) if isinstance(name, str) else None
        if kind is None:
            raise SaveFileError(f"Unknown model class {name!r} in the file; this anynet knows {sorted(Model._kinds)}.")
        layers = [decode(s, LAYERS, "layer") for s in saving.need(spec, "layers", list, "model")]
        return kind._from_spec(spec, layers)

    @classmethod
    def _from_spec(cls, spec: dict[str, Any], layers: list[Layer]) -> Model:
        inputs, outputs = architecture.graph_ends(spec, layers)
        return cls(inputs, outputs, dtype=spec["dtype"], seed=spec["seed"], name=str(spec.get("name", "functional")))

    # -- description -----------------------------------------------------------------------
    def _layer_rows(self) -> list[tuple[Layer, list[Any], int]]:
        """Return ``(layer, its calls in this graph, parameter count)`` per layer, from shapes alone."""
        return layer_rows(self._get_graph("summary"), self.layers)

    def summary(self, print_fn: Any = print, line_length: int | None = None) -> None:
        """Print Keras' table: each layer, its output shape, parameter count (and inputs, for graphs); totals."""
        for line in summary_lines(self, self._layer_rows(), line_length):
            print_fn(line)

    def __repr__(self) -> str:
        where = f", {self.placement}" if self.placement else ""
        return f"<{type(self).__name__} {self.name!r}: {len(self.layers)} layers, {self.dtype}{where}>"


Model._kinds["Model"] = Model


def load(path: Any, *, backend: str | None = None, device: Any = None) -> Model:
    """Return the model saved at ``path``, built on ``backend`` / ``device`` (default: the usual choice).

    The model comes back compiled (when it was), with its weights, optimizer state, random
    generators and ``model.history``. Raises SaveFileError naming the problem for a file
    that is missing, truncated, damaged, of a newer format, or that does not fit together.
    """
    model, history = saving.read(path, Model.from_config, backend=backend, device=device)
    if history is not None:
        h = History()
        h.epoch, h.history = history.epoch, history.history
        history = h
    model.history = history
    model.metadata = saving.read_metadata(path)
    return model
