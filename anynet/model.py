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

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from anynet import backends, passes, saving
from anynet.backend import Placement, resolve, to_placement
from anynet.data import Data, prepare
from anynet.callbacks import History
from anynet.errors import InputError, InputTypeError, NotCompiledError, SaveFileError
from anynet.graph import Graph, SymbolicTensor
from anynet.heads import Head, make_heads
from anynet.layers import Context, Dense, Layer
from anynet.params import Layout, ParamSpec
from anynet.registry import LAYERS, decode
from anynet.summary import summary_lines
from anynet.training import Trainer
from anynet.validation import check_int, shape_of

__all__ = ["Model", "Data", "load", "sample_shape"]

_DTYPES = ("float32", "float64")


def sample_shape(shape: Any, what: str = "input_shape") -> tuple[int, ...]:
    """Return a sample shape from ``784``, ``(784,)`` or Keras' batch-first ``(None, 784)``."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        dims = list(shape)
    except TypeError:
        raise InputTypeError(f"{what} must be an int or a tuple such as (784,) or (None, 784), got {shape!r}.") from None
    if len(dims) > 1 and dims[0] is None:
        dims = dims[1:]
    if not dims or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dims):
        raise InputError(f"{what} must be positive ints such as (784,) or Keras' (None, 784), got {shape!r}.")
    if any(int(d) < 1 for d in dims):
        raise InputError(f"Each sample needs at least one value on every axis; got samples of shape {tuple(dims)}.")
    return tuple(int(d) for d in dims)


class Model(Trainer):
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

    def _claim(self) -> None:
        """Become the holder of the weights of every layer no living model holds yet."""
        for layer in self.layers:
            ref = layer.__dict__.get("_owner")
            if ref is None or ref() is None:
                layer.__dict__["_owner"] = weakref.ref(self)

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
    @property
    def built(self) -> bool:
        return self._theta is not None

    @property
    def placement(self) -> Placement | None:
        return self._source.placement if self._source is not None else self._own["placement"]

    @property
    def layout(self) -> Layout | None:
        return self._source.layout if self._source is not None else self._own["layout"]

    @property
    def _theta(self) -> Any:
        return self._source._theta if self._source is not None else self._own["theta"]

    @_theta.setter
    def _theta(self, theta: Any) -> None:
        if self._source is not None:
            self._source._theta = theta
        else:
            self._own["theta"] = theta

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
        params = [layer for layer in self.layers if layer._has_params()]
        owners = {id(o): o for o in (_owner(layer) for layer in params) if o is not None and o is not self}
        source = next(iter(owners.values())) if len(owners) == 1 else None
        if source is not None and self._dtype_arg in (None, source.dtype) and all(
                _owner(layer) is source for layer in params):
            if not source.built:
                source.build(backend=placement.backend, device=placement.device)
            self._source, self._own = source, {"placement": None, "layout": None, "theta": None}
            self.dtype = source.dtype
            self._index = {id(layer): i for i, layer in enumerate(source.layers)}
        else:
            self._source = None
            self._build_own(graph, placement, params, owners)
        adapter, dev = self.placement.backend, self.placement.device
        self.rng = adapter.rng(self._dropout_seed, dev)
        self.opt_state = None
        for head, t in zip(self.heads, graph.outputs):
            head.name, head.shape = t.name, t.sample_shape
        return self

    def _scratch_layout(self) -> Layout:
        """Return the Layout of this model's own parameters, from shapes alone (nothing allocated)."""
        graph, layout = self._get_graph("build"), Layout()
        for i, layer in enumerate(self.layers):
            node = _node_in(layer, graph)
            if node.inputs:
                shapes = [t.sample_shape for t in node.inputs]
                layer.build(i, shapes if layer.multi_input else shapes[0], layout)
        return layout

    def _build_own(self, graph: Graph, placement: Placement, params: list[Layer], owners: dict[int, Model]) -> None:
        self._index = {id(layer): i for i, layer in enumerate(self.layers)}
        layout = self._scratch_layout()
        theta = layout.initial(np.random.default_rng(self._init_seed), self.dtype)
        for layer in params:  # layers another model holds start from that model's weights
            owner = _owner(layer)
            if owner is not None and owner is not self and owner.built and owner._source is None:
                mine, theirs = layout.of_layer(self._index[id(layer)]), owner._specs_of(layer)
                values = owner.placement.backend.to_numpy(owner._theta)
                for s, o in zip(mine, theirs):
                    theta[s.offset:s.stop] = values[o.offset:o.stop].astype(self.dtype)
        self._own = {"placement": placement, "layout": layout,
                     "theta": placement.backend.from_numpy(theta, placement.device)}

    def _specs_of(self, layer: Layer) -> list[ParamSpec]:
        return self.layout.of_layer(self._index[id(layer)])

    def _own_specs(self) -> list[ParamSpec]:
        """The specs of this model's layers, in its layer order (all of them unless it shares a vector)."""
        if self._source is None:
            return list(self.layout)
        return [s for layer in self.layers if id(layer) in self._index for s in self._specs_of(layer)]

    def decay_mask(self) -> Any:
        """Return a flat 0/1 vector on the device: 1 where decoupled weight decay applies (this model's kernels)."""
        if self._source is None:
            return self.layout.decay_mask(self.placement.xp, self.params.dtype, self.placement.device)
        m = np.zeros(self.layout.size)
        for s in self._own_specs():
            if s.decays:
                m[s.offset:s.stop] = 1.0
        return self.placement.xp.asarray(m, dtype=self.params.dtype, device=self.placement.device)

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
    def _require_built(self, what: str) -> None:
        if not self.built:
            raise InputError(f"The model is not built yet; call fit, predict or build(input_shape) before {what}.")

    @property
    def params(self) -> Any:
        """The live flat parameter vector on the model's device (updated in place by training)."""
        self._require_built("reading params")
        return self._theta

    @params.setter
    def params(self, theta: Any) -> None:
        self._require_built("setting params")
        xp = self.placement.xp
        arr = to_placement(theta, self.placement, name="params")
        if tuple(arr.shape) != (self.layout.size,):
            raise InputError(f"params must have shape ({self.layout.size},), got {tuple(arr.shape)}.")
        self._theta = xp.astype(arr, getattr(xp, self.dtype), copy=True)

    def set_flat_weights(self, x: Any) -> None:
        """Set the parameters from a flat vector such as scipy's ``res.x`` (any float dtype, host or device)."""
        self._require_built("set_flat_weights")
        src = backends.for_array(x)
        host = src.to_numpy(x) if src is not None else np.asarray(x)
        self.params = np.asarray(host, dtype=np.float64).astype(self.dtype)

    def get_params_copy(self) -> Any:
        """Return a copy of the flat parameter vector on the model's device."""
        return self.placement.xp.asarray(self.params, copy=True)

    def count_params(self) -> int:
        """Return the number of parameters of this model's layers (known once the input shape is)."""
        if self.built:
            return sum(s.size for s in self._own_specs())
        return sum(n for _, _, n in self._layer_rows())

    def get_weights(self) -> list[np.ndarray]:
        """Return host NumPy copies of every parameter in Keras order (W then b, per layer)."""
        if not self.built and self._maybe_graph() is not None:
            self.build()  # the shapes are known, so the weights can be, as in Keras
        theta = self.placement.backend.to_numpy(self.params)
        return [theta[s.offset:s.stop].reshape(s.shape).copy() for s in self._own_specs()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every parameter from arrays in Keras order (builds the model from W's shape if needed)."""
        weights = list(weights)
        first = next((layer for layer in self.layers if layer.kind != "input"), None)
        if not self.built and weights and self._maybe_graph() is not None:
            self.build()
        elif not self.built and weights and isinstance(first, Dense):
            self.build((int(shape_of(weights[0])[0]),))
        self._require_built("set_weights")
        specs = self._own_specs()
        if len(weights) != len(specs):
            raise InputError(f"set_weights expected {len(specs)} arrays "
                             f"({[(s.name, s.shape) for s in specs]}), got {len(weights)}.")
        flat = np.asarray(self.placement.backend.to_numpy(self.params)).astype(self.dtype)
        for s, w in zip(specs, weights):
            src = backends.for_array(w)
            a = src.to_numpy(w) if src is not None else np.asarray(w)
            if tuple(a.shape) != s.shape:
                name = self._layer_at(s.layer).name
                raise InputError(f"set_weights: {name}.{s.name} has shape {s.shape}, got an array of shape {a.shape}.")
            flat[s.offset:s.stop] = a.reshape(-1)
        self.params = flat

    def _layer_at(self, i: int) -> Layer:
        return (self._source or self).layers[i]

    def to(self, backend: str | None = None, device: Any = None) -> Model:
        """Move the parameters (and optimizer state) to another backend/device; returns self."""
        self._require_built("to()")
        if self._source is not None:
            raise InputError(f"This model shares its weights with model {self._source.name!r}; move that one.")
        src = self.placement.backend
        dst = resolve(backend=backend or src, device=device)
        move = lambda a: dst.backend.from_numpy(src.to_numpy(a), dst.device)  # noqa: E731
        self._theta = move(self._theta)
        if self.opt_state is not None:
            self.opt_state = {k: (move(v) if k != "iterations" else v) for k, v in self.opt_state.items()}
        self._own["placement"] = dst
        self.rng = dst.backend.rng(self._dropout_seed, dst.device)
        return self

    # -- the passes -------------------------------------------------------------------------
    def prepare(self, X: Any, y: Any = None) -> Data:
        """Return X (and y) checked, cast to the model's dtype and placed on its device (see anynet.data)."""
        return prepare(self, X, y)

    def _shape_message(self, name: str, got: tuple[int, ...], want: tuple[int, ...], label: str) -> str:
        users = [n.layer for n in self._graph.nodes if any(t.name == name for t in n.inputs)]
        first = users[0] if len(users) == 1 else None
        if isinstance(first, Dense) and len(want) == 1 and len(got) == 2:
            return f"Dense({first.units}) expected {want[0]} input features, got {label} with shape {got}."
        if len(got) == len(want) and tuple(got) == want:
            return (f"The model expects a batch of samples of shape {want}, got {label} with shape {got}: one "
                    f"sample without a batch axis. Add one: {label}[None] or reshape(1, -1).")
        return f"The model expects samples of shape {want}, got {label} with shape {got}."

    def context(self, *, training: bool = False, rng: Any = None) -> Context:
        """Return the Context of a pass on this model's placement."""
        p = self.placement
        return Context(p.xp, training, rng if rng is not None else self.rng, dict(p.backend.kernels),
                       getattr(p.xp, self.dtype))

    def value_and_grad(self, theta: Any, X: tuple[Any, ...], y: tuple[Any, ...], ctx: Context, *,
                       grad: bool = True) -> passes.Result:
        """Return the :class:`~anynet.passes.Result` (loss, flat gradient, outputs, targets, per-output losses)."""
        return passes.value_and_grad(self, theta, X, y, ctx, grad=grad)

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
        r = self.value_and_grad(theta, data.X, data.y, self.context(training=training))
        return r.loss, r.grad

    # -- files -----------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the model to ``path`` atomically (see :mod:`anynet.saving`); ``anynet.load`` reads it."""
        saving.save(self, path)

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

        for entry in saving.need(spec, "nodes", list, "model"):
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
            refs = [tensor(r) for r in saving.need(spec, key, list, "model")]
            names = spec.get(f"{key[:-1]}_keys")
            ends.append(dict(zip(names, refs)) if isinstance(names, list) and len(names) == len(refs)
                        and all(isinstance(n, str) for n in names) else refs)
        return cls(ends[0], ends[1], dtype=spec["dtype"], seed=spec["seed"], name=str(spec.get("name", "functional")))

    # -- description -----------------------------------------------------------------------
    def _layer_rows(self) -> list[tuple[Layer, list[Any], int]]:
        """Return ``(layer, its calls in this graph, parameter count)`` per layer, from shapes alone."""
        graph = self._get_graph("summary")
        rows = []
        for layer in self.layers:
            nodes = [n for n in graph.nodes if n.layer is layer]
            scratch = Layout()
            if nodes[0].inputs:
                shapes = [t.sample_shape for t in nodes[0].inputs]
                layer.build(0, shapes if layer.multi_input else shapes[0], scratch)
            rows.append((layer, nodes, scratch.size))
        return rows

    def summary(self, print_fn: Any = print, line_length: int | None = None) -> None:
        """Print Keras' table: each layer, its output shape, parameter count (and inputs, for graphs); totals."""
        for line in summary_lines(self, self._layer_rows(), line_length):
            print_fn(line)

    def __repr__(self) -> str:
        where = f", {self.placement}" if self.placement else ""
        return f"<{type(self).__name__} {self.name!r}: {len(self.layers)} layers, {self.dtype}{where}>"


Model._kinds["Model"] = Model


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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
    return model


def _owner(layer: Layer) -> Model | None:
    """Return the model that holds the layer's weights (the first model it joined), if it lives."""
    ref = layer.__dict__.get("_owner")
    return ref() if ref is not None else None


def _node_in(layer: Layer, graph: Graph) -> Any:
    return next((n for n in graph.nodes if n.layer is layer), None)
