"""Sequential: build, compile, fit, evaluate, predict, and the flat parameter vector.

A model is a pure function of ``(theta, X)``: ``theta`` is one flat vector on the model's
backend and device, and each layer reads shaped views of it on every pass. The training
loop lives in :mod:`anynet.training`; this module holds the model and its passes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from anynet import backends, losses, metrics as metrics_mod, optimizers
from anynet.backend import Placement, resolve, to_placement
from anynet.errors import InputError, InputTypeError, NonFiniteOutputError, NotCompiledError
from anynet.layers import Context, Dense, Input, Layer
from anynet.params import Layout, Slots
from anynet.validation import as_data_array, check_finite, check_int, shape_of

__all__ = ["Sequential", "Data"]

_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Data:
    """Inputs and targets checked, cast and placed on the model's device; ``n`` samples."""

    X: Any
    y: Any
    n: int


class Sequential:
    """A stack of layers trained as one function of a flat parameter vector.

    ``dtype`` is the dtype of parameters, gradients and outputs (float32 unless asked);
    ``seed`` fixes the initial weights (bit-identical on every backend), the shuffling
    and the dropout masks. ``backend`` / ``device`` pin where it runs; otherwise the
    first data it sees decides (see :mod:`anynet.backend`).
    """

    def __init__(self, layers: Sequence[Layer] | None = None, *, dtype: str = "float32", seed: int | None = None,
                 backend: str | None = None, device: Any = None, name: str = "sequential") -> None:
        if dtype not in _DTYPES:
            raise InputError(f"dtype must be one of {_DTYPES}, got {dtype!r}.")
        if seed is not None:
            check_int("seed", seed, minimum=0)
        self.name = name
        self.dtype = dtype
        self.seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self.layers: list[Layer] = []
        for layer in layers or ():
            self.add(layer)
        self._backend_arg, self._device_arg = backend, device
        seeds = np.random.SeedSequence(self.seed).spawn(3)
        self._init_seed = seeds[0]
        self.shuffle_rng = np.random.default_rng(seeds[1])
        self._dropout_seed = int(seeds[2].generate_state(1, np.uint64)[0] >> 1)
        self.placement: Placement | None = None
        self.layout: Layout | None = None
        self._theta: Any = None
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.rng: Any = None
        self.optimizer: optimizers.Optimizer | None = None
        self.loss: losses.Loss | None = None
        self.metrics: list[metrics_mod.Metric] = []
        self.opt_state: dict[str, Any] | None = None
        self.stop_training = False
        self.history: Any = None

    # -- construction -------------------------------------------------------------------
    def add(self, layer: Layer) -> None:
        """Append a layer (before the model is built)."""
        if not isinstance(layer, Layer):
            raise InputTypeError(f"Sequential takes anynet layers, got {layer!r}.")
        if self.built:
            raise InputError("Cannot add layers to a model that is already built.")
        if isinstance(layer, Input) and self.layers:
            raise InputError("Input(...) may only be the first layer.")
        self.layers.append(layer)

    @property
    def built(self) -> bool:
        return getattr(self, "_theta", None) is not None

    def _declared_input_shape(self) -> tuple[int, ...] | None:
        return self.layers[0].input_shape if self.layers else None

    def build(self, input_shape: Sequence[int] | None = None, *, backend: str | None = None,
              device: Any = None) -> Sequential:
        """Create the parameters for samples of ``input_shape`` (no batch axis) and return self."""
        if not self.layers:
            raise InputError("The model has no layers; pass a list of layers to Sequential or call add().")
        shape = tuple(input_shape) if input_shape is not None else self._declared_input_shape()
        if shape is None:
            raise InputError("The input shape is unknown: give Input(shape) or input_shape=, or call fit/predict.")
        if any(int(d) < 1 for d in shape):
            raise InputError(f"Each sample needs at least one value on every axis; got samples of shape {tuple(shape)}.")
        self.placement = resolve(backend=backend or self._backend_arg, device=device if device is not None
                                 else self._device_arg)
        layout, used, out = Layout(), {}, tuple(int(d) for d in shape)
        for i, layer in enumerate(self.layers):
            out = layer.build(i, out, layout)
            if layer.name is None:
                k = used.get(layer.kind, 0)
                layer.name = layer.kind if k == 0 else f"{layer.kind}_{k}"
            used[layer.kind] = used.get(layer.kind, 0) + 1
        self.layout, self.input_shape, self.output_shape = layout, tuple(int(d) for d in shape), out
        theta = layout.initial(np.random.default_rng(self._init_seed), self.dtype)
        adapter, dev = self.placement.backend, self.placement.device
        self._theta = adapter.from_numpy(theta, dev)
        self.rng = adapter.rng(self._dropout_seed, dev)
        self.opt_state = None
        self._first_param_layer = min((s.layer for s in layout), default=len(self.layers))
        return self

    def _ensure_built(self, X: Any, arrays: dict[str, Any]) -> None:
        if self.built:
            return
        placement = resolve(arrays, backend=self._backend_arg, device=self._device_arg)
        shape = self._declared_input_shape() or shape_of(X)[1:]
        if not shape:
            raise InputError(f"X must have shape (samples, features...), got shape {shape_of(X)}.")
        self.build(shape, backend=placement.backend, device=placement.device)

    # -- compile --------------------------------------------------------------------------
    def compile(self, optimizer: str | optimizers.Optimizer = "rmsprop", loss: str | losses.Loss | None = None,
                metrics: Sequence[str | metrics_mod.Metric] | None = None) -> None:
        """Choose the optimizer, the loss and the metrics reported during training."""
        if loss is None:
            raise InputError("compile needs a loss, e.g. loss='categorical_crossentropy'.")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        last = getattr(self.layers[-1], "activation", None) if self.layers else None
        if self.loss.from_logits and last is not None and last.name in ("sigmoid", "softmax"):
            warnings.warn(f"{self.loss.name} has from_logits=True but the last layer applies {last.name}; "
                          f"its outputs are probabilities, not logits.", UserWarning, stacklevel=2)
        self.fused = bool(not self.loss.from_logits and last is not None and last.name == self.loss.fuses_with)
        units = getattr(self.layers[-1], "units", None) if self.layers else None
        self.metrics = [metrics_mod.get(m, self.loss, units) for m in (metrics or [])]
        self.opt_state = None

    def _require_compiled(self, what: str) -> None:
        if self.loss is None or self.optimizer is None:
            raise NotCompiledError(f"Call model.compile(optimizer=..., loss=...) before {what}.")

    # -- parameters --------------------------------------------------------------------------
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

    def get_params_copy(self) -> Any:
        """Return a copy of the flat parameter vector on the model's device."""
        return self.placement.xp.asarray(self.params, copy=True)

    def count_params(self) -> int:
        self._require_built("count_params")
        return self.layout.size

    def get_weights(self) -> list[np.ndarray]:
        """Return host NumPy copies of every parameter in Keras order (W then b, per layer)."""
        theta = self.placement.backend.to_numpy(self.params)
        return [theta[s.offset:s.stop].reshape(s.shape).copy() for s in self.layout]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every parameter from arrays in Keras order (builds the model from W's shape if needed)."""
        weights = list(weights)
        if not self.built and weights and isinstance(self._first_layer(), Dense):
            self.build((int(shape_of(weights[0])[0]),))
        self._require_built("set_weights")
        if len(weights) != len(self.layout):
            raise InputError(f"set_weights expected {len(self.layout)} arrays "
                             f"({[(s.name, s.shape) for s in self.layout]}), got {len(weights)}.")
        flat = np.empty(self.layout.size, dtype=self.dtype)
        for s, w in zip(self.layout, weights):
            src = backends.for_array(w)
            a = src.to_numpy(w) if src is not None else np.asarray(w)
            if tuple(a.shape) != s.shape:
                name = self.layers[s.layer].name
                raise InputError(f"set_weights: {name}.{s.name} has shape {s.shape}, got an array of shape {a.shape}.")
            flat[s.offset:s.stop] = a.reshape(-1)
        self.params = flat

    def _first_layer(self) -> Layer | None:
        body = [layer for layer in self.layers if not isinstance(layer, Input)]
        return body[0] if body else None

    def to(self, backend: str | None = None, device: Any = None) -> Sequential:
        """Move the parameters (and optimizer state) to another backend/device; returns self."""
        self._require_built("to()")
        src = self.placement.backend
        dst = resolve(backend=backend or src, device=device)
        move = lambda a: dst.backend.from_numpy(src.to_numpy(a), dst.device)  # noqa: E731
        self._theta = move(self._theta)
        if self.opt_state is not None:
            self.opt_state = {k: (move(v) if k != "iterations" else v) for k, v in self.opt_state.items()}
        self.placement = dst
        self.rng = dst.backend.rng(self._dropout_seed, dst.device)
        return self

    # -- data ----------------------------------------------------------------------------------
    def prepare(self, X: Any, y: Any = None) -> Data:
        """Return X (and y) checked, cast to the model's dtype and placed on its device.

        Host data goes to the model's device; arrays of another backend or device raise
        DeviceMismatchError; shapes, dtypes, ranges and finiteness are checked here, once.
        """
        self._ensure_built(X, {"X": X, "y": y})
        p, xp = self.placement, self.placement.xp
        dtype = getattr(xp, self.dtype)
        Xd, _ = as_data_array(X, p, name="X", dtype=dtype)
        if tuple(Xd.shape[1:]) != self.input_shape:
            raise InputError(self._shape_message(tuple(Xd.shape)))
        check_finite(Xd, xp, "X")
        if y is None:
            return Data(Xd, None, int(Xd.shape[0]))
        self._require_compiled("passing targets")
        yd, kind = as_data_array(y, p, name="y")
        if yd.shape[0] != Xd.shape[0]:
            raise InputError(f"X and y hold different numbers of samples: X has {Xd.shape[0]} (shape "
                             f"{tuple(Xd.shape)}), y has {yd.shape[0]} (shape {tuple(yd.shape)}).")
        return Data(Xd, self._check_targets(yd, kind, xp, dtype), int(Xd.shape[0]))

    def _shape_message(self, got: tuple[int, ...]) -> str:
        first = self._first_layer()
        if isinstance(first, Dense) and len(self.input_shape) == 1 and len(got) == 2:
            return f"Dense({first.units}) expected {self.input_shape[0]} input features, got X with shape {got}."
        return f"The model expects samples of shape {self.input_shape}, got X with shape {got}."

    def _check_targets(self, y: Any, kind: str, xp: Any, dtype: Any) -> Any:
        k = self.output_shape[0] if len(self.output_shape) == 1 else None
        loss = self.loss
        if loss.sparse:
            if y.ndim == 2 and y.shape[1] == 1:
                y = xp.reshape(y, (-1,))
            if y.ndim != 1:
                raise InputError(f"{loss.name} needs integer labels of shape (samples,), got y with shape "
                                 f"{tuple(y.shape)}; for one-hot targets use 'categorical_crossentropy'.")
            if kind == "float":
                check_finite(y, xp, "y")
                if int(xp.sum(xp.astype(y != xp.round(y), xp.int64))):
                    raise InputError(f"{loss.name} needs integer class labels; y holds non-integer values.")
            y = xp.astype(y, xp.int64)
            lo, hi = int(xp.min(y)), int(xp.max(y))
            if lo < 0 or hi >= k:
                raise InputError(f"Labels must be in 0..{k - 1} for a model with {k} outputs; y holds values "
                                 f"from {lo} to {hi}.")
            return y
        if y.ndim == 1 and k == 1:
            y = xp.reshape(y, (-1, 1))
        if tuple(y.shape[1:]) != self.output_shape:
            hint = (" For integer class labels use loss='sparse_categorical_crossentropy' or one-hot encode y."
                    if y.ndim == 1 else "")
            raise InputError(f"y must have shape (samples, {', '.join(map(str, self.output_shape))}) to match the "
                             f"model's outputs, got y with shape {tuple(y.shape)}.{hint}")
        y = xp.astype(y, dtype) if y.dtype != dtype else y
        check_finite(y, xp, "y")
        if isinstance(loss, (losses.BinaryCrossentropy, losses.CategoricalCrossentropy)) and not loss.from_logits:
            lo, hi = float(xp.min(y)), float(xp.max(y))
            if lo < 0 or hi > 1:
                raise InputError(f"{loss.name} needs targets in [0, 1]; y holds values from {lo:g} to {hi:g}.")
        return y

    # -- the passes ---------------------------------------------------------------------------
    def context(self, *, training: bool = False, rng: Any = None) -> Context:
        """Return the Context of a pass on this model's placement."""
        p = self.placement
        return Context(p.xp, training, rng if rng is not None else self.rng, dict(p.backend.kernels),
                       getattr(p.xp, self.dtype))

    def _forward(self, theta: Any, X: Any, ctx: Context, *, logits: bool) -> tuple[Any, list, dict[int, Slots]]:
        slots = self.layout.slots(theta, ctx.xp)
        last, H, backprops = len(self.layers) - 1, X, []
        for i, layer in enumerate(self.layers):
            H, bp = layer.forward(slots.get(i) or Slots(), H, ctx, activate=not (logits and i == last))
            backprops.append(bp)
        return H, backprops, slots

    def value_and_grad(self, theta: Any, X: Any, y: Any, ctx: Context, *, grad: bool = True) -> tuple[Any, Any, Any, Any]:
        """Return ``(loss, flat gradient or None, outputs, targets)`` for prepared data.

        ``theta`` may have another floating dtype than the model's (the gradient check
        runs in float64); X is cast to it. Regularization penalties are included.
        """
        xp = ctx.xp
        if X.dtype != theta.dtype:
            X = xp.astype(X, theta.dtype)
        fused = self.fused
        H, backprops, slots = self._forward(theta, X, ctx, logits=fused)
        T = self.loss.targets(y, H.shape[-1] if H.ndim > 1 else 1, xp, theta.dtype)
        if fused:
            loss, dH, Y = self.loss.logits_value_and_grad(H, T, xp, ctx.kernels)
        else:
            loss, dH = self.loss.value_and_grad(H, T, xp)
            Y = H
        for s in self.layout:
            if s.regularizer is not None:
                loss = loss + s.regularizer.penalty(slots[s.layer][s.name], xp)
        if not grad:
            return loss, None, Y, T
        first = self._first_param_layer
        for i in range(len(self.layers) - 1, first - 1, -1):
            dH = backprops[i](dH, i > first)
        parts = []
        for s in self.layout:
            G = slots[s.layer].grads[s.name]
            if s.regularizer is not None:
                G = G + s.regularizer.gradient(slots[s.layer][s.name], xp)
            parts.append(xp.reshape(G, (-1,)))
        concat = ctx.kernels.get("flat_concat")  # kernels hook: the gradient into a buffer kept per epoch
        return loss, (concat(parts, ctx.scratch) if concat is not None else xp.concat(parts)), Y, T

    def loss_and_grad(self, X: Any, y: Any = None, theta: Any = None, *, training: bool = False) -> tuple[Any, Any]:
        """Return ``(loss, gradient)`` of the compiled loss at ``theta`` (default: the model's).

        ``X`` may be a :class:`Data` from :meth:`prepare` (then ``y`` is ignored) or raw
        inputs and targets. The loss is a 0-d array and the gradient a flat vector like theta.
        """
        self._require_compiled("loss_and_grad")
        data = X if isinstance(X, Data) else self.prepare(X, y)
        theta = self.params if theta is None else theta
        loss, g, _, _ = self.value_and_grad(theta, data.X, data.y, self.context(training=training))
        return loss, g

    # -- inference ----------------------------------------------------------------------------
    def _batches(self, n: int, batch_size: int | None) -> list[tuple[int, int]]:
        bs = n if batch_size is None else check_int("batch_size", batch_size)
        return [(i, min(i + bs, n)) for i in range(0, n, bs)]

    def predict(self, X: Any, batch_size: int | None = None, verbose: int = 0) -> Any:
        """Return the outputs for X, shape (samples, *output_shape).

        Host input (NumPy, lists) gives a NumPy array; device input gives an array of the
        same backend and device. ``batch_size=None`` runs all samples in one pass.
        """
        data = self.prepare(X)
        xp, ctx = self.placement.xp, self.context()
        outs = [self._forward(self.params, data.X[a:b, ...], ctx, logits=False)[0] for a, b in self._batches(data.n, batch_size)]
        Y = outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)
        if not bool(xp.all(xp.isfinite(Y))):  # one pass and one sync: never hand back a silent NaN
            bad = int(xp.sum(xp.astype(~xp.isfinite(Y), xp.int64)))
            raise NonFiniteOutputError(f"predict: {bad} of the {math.prod(Y.shape)} outputs are NaN or infinite; "
                                       f"{self._overflow_hint()}")
        src = backends.for_array(X)
        return self.placement.backend.to_numpy(Y) if src is None or src.name == "numpy" else Y

    def evaluate_data(self, data: Data, batch_size: int | None = None) -> dict[str, float]:
        """Return the loss and metrics over prepared data as Python floats (one device sync)."""
        xp, ctx = self.placement.xp, self.context()
        total, sums, counts = 0.0, [0.0] * len(self.metrics), [0] * len(self.metrics)
        for a, b in self._batches(data.n, batch_size):
            loss, _, Y, T = self.value_and_grad(self.params, data.X[a:b, ...], data.y[a:b, ...], ctx, grad=False)
            total = total + loss * (b - a)
            for j, m in enumerate(self.metrics):
                s, c = m.batch(Y, T, xp)
                sums[j], counts[j] = sums[j] + s, counts[j] + c
        values = self.placement.backend.to_numpy(xp.stack([xp.asarray(v, dtype=getattr(xp, self.dtype), device=self.placement.device)
                                                           for v in [total, *sums]]))
        out = {"loss": float(values[0]) / data.n}
        out.update({m.name: float(values[j + 1]) / counts[j] for j, m in enumerate(self.metrics)})
        bad = {k: v for k, v in out.items() if not math.isfinite(v)}
        if bad:
            raise NonFiniteOutputError(f"evaluate: {bad} on {data.n} samples; {self._overflow_hint()}")
        return out

    def _overflow_hint(self) -> str:
        return (f"the computation overflowed {self.dtype} (the inputs are finite, so they or the weights are too "
                f"large for it). Scale the inputs" + (", or use dtype='float64'." if self.dtype == "float32" else "."))

    def evaluate(self, X: Any, y: Any, batch_size: int | None = None, verbose: int = 0,
                 return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Return the loss (and metrics) on X, y: a float, a list [loss, *metrics], or a dict."""
        self._require_compiled("evaluate")
        result = self.evaluate_data(self.prepare(X, y), batch_size)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        if return_dict:
            return result
        return result["loss"] if not self.metrics else list(result.values())

    def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
        """Train; see :func:`anynet.training.fit` for the arguments. Returns a History."""
        from anynet.training import fit

        return fit(self, X, y, **kwargs)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: Any) -> None:
        """Write the model to ``path`` atomically (see :mod:`anynet.saving`); ``anynet.load`` reads it."""
        from anynet.saving import save

        save(self, path)

    def load_weights(self, path: Any) -> None:
        """Set the weights from a saved model file with the same layers; everything is checked first."""
        from anynet.saving import load_weights

        load_weights(self, path)

    # -- description ---------------------------------------------------------------------------
    def summary(self, print_fn: Any = print) -> None:
        """Print the layers, their output shapes and parameter counts."""
        self._require_built("summary")
        rows, shape = [], self.input_shape
        for i, layer in enumerate(self.layers):
            shape = layer.build(i, shape, Layout())
            n = sum(s.size for s in self.layout.of_layer(i))
            rows.append((f"{layer.name} ({type(layer).__name__})", str((None, *shape)), str(n)))
        w = [max(len(r[c]) for r in rows + [("Layer (type)", "Output Shape", "Param #")]) + 2 for c in range(3)]
        line = "-" * sum(w)
        print_fn(f'Model: "{self.name}"  ({self.placement}, {self.dtype})')
        print_fn(line)
        print_fn("Layer (type)".ljust(w[0]) + "Output Shape".ljust(w[1]) + "Param #")
        print_fn(line)
        for r in rows:
            print_fn(r[0].ljust(w[0]) + r[1].ljust(w[1]) + r[2])
        print_fn(line)
        print_fn(f"Total params: {self.layout.size:,}")

    def __repr__(self) -> str:
        where = f", {self.placement}" if self.placement else ""
        return f"<Sequential {self.name!r}: {len(self.layers)} layers, {self.dtype}{where}>"

