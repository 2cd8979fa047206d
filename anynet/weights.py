"""Where a model's parameters live: its own flat vector, or a share of another model's.

:class:`Weights` is the part of a Model that holds parameters: the flat vector ``theta``
on a placement, the :class:`~anynet.params.Layout` that cuts it into named, shaped views,
and the Keras-style accessors (``params``, ``get_weights``, ``set_weights``,
``count_params``, ``to``). A model built only from layers whose weights another model
holds shares that model's vector (its ``_source``); its own layers' specs are
``_own_specs()``, and gradients for the rest of the vector are zero.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from anynet import backends
from anynet.backend import Placement, resolve, to_placement
from anynet.errors import InputError, InputTypeError
from anynet.generators import Generators
from anynet.graph import Graph
from anynet.layers import Dense, Layer
from anynet.params import Layout, ParamSpec
from anynet.validation import shape_of

__all__ = ["Weights"]


class Weights:
    """The parameter side of a Model (a mixin; the Model sets ``layers``, ``dtype`` and the graph)."""

    def _claim(self) -> None:
        """Become the holder of the weights of every layer no living model holds yet."""
        for layer in self.layers:
            ref = layer.__dict__.get("_owner")
            if ref is None or ref() is None:
                layer.__dict__["_owner"] = weakref.ref(self)

    def _place_weights(self, graph: Graph, placement: Placement) -> None:
        """Share the vector of the model that holds every parametrized layer, or make an own one."""
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

    def _scratch_layout(self) -> Layout:
        """Return the Layout of this model's own parameters, from shapes alone (nothing allocated)."""
        graph, layout = self._get_graph("build"), Layout()
        for i, layer in enumerate(self.layers):
            node = _node_in(layer, graph)
            if node.inputs:
                shapes = [t.sample_shape for t in node.inputs]
                layer.build(i, shapes if layer.multi_input else shapes[0], layout)
        return layout

    def _build_own(self, graph: Graph, placement: Placement, params: list[Layer], owners: dict[int, Weights]) -> None:
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
        host = np.asarray(src.to_numpy(x) if src is not None else x, dtype=np.float64)
        _refuse_nonfinite(host, "set_flat_weights")
        with np.errstate(over="ignore"):
            flat = host.astype(self.dtype)
        _refuse_nonfinite(flat, f"set_flat_weights: the weights in {self.dtype}")
        self.params = flat

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
            if a.dtype.kind not in "biuf":
                raise InputTypeError(f"set_weights: {self._layer_at(s.layer).name}.{s.name} must hold real numbers, "
                                     f"got an array of dtype {a.dtype}.")
            _refuse_nonfinite(a, f"set_weights: {self._layer_at(s.layer).name}.{s.name}")
            with np.errstate(over="ignore"):  # a value beyond the dtype's range becomes inf: refused next
                flat[s.offset:s.stop] = a.reshape(-1)
        _refuse_nonfinite(flat, f"set_weights: the weights in {self.dtype}")
        self.params = flat

    def _layer_at(self, i: int) -> Layer:
        return (self._source or self).layers[i]

    def to(self, backend: str | None = None, device: Any = None) -> Weights:
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
        self.rng = Generators(dst.backend, self._dropout_seed, dst.device)
        return self


def _refuse_nonfinite(a: np.ndarray, what: str) -> None:
    """Raise InputError when the host array ``a`` holds NaN or infinity (or overflows the cast)."""
    with np.errstate(over="ignore", invalid="ignore"):
        bad = int(np.count_nonzero(~np.isfinite(a))) if a.dtype.kind == "f" else 0
    if bad:
        raise InputError(f"{what} holds {bad} NaN or infinite value(s) (or values beyond the model's dtype); "
                         f"weights must be finite numbers.")


def _owner(layer: Layer) -> Weights | None:
    """Return the model that holds the layer's weights (the first model it joined), if it lives."""
    ref = layer.__dict__.get("_owner")
    return ref() if ref is not None else None


def _node_in(layer: Layer, graph: Graph) -> Any:
    return next((n for n in graph.nodes if n.layer is layer), None)
