"""Saving and loading models: one ``.anynet`` file, a safetensors file anyone can read.

The tensors are ``params`` (the flat parameter vector, in the model's dtype) and
``opt/<slot>`` (the optimizer's moments). The header's ``__metadata__`` holds
``format: "anynet"``, ``format_version`` and ``model``: JSON with the architecture, the
compile settings, the seed, the epoch, the History, the optimizer's step count and both
random generators' states, everything :func:`anynet.training.fit` needs to resume.

Loading never runs code from a file: tensors are raw bytes (no pickle), and layers,
activations, initializers, regularizers, optimizers, losses and metrics are rebuilt by
name from the registries below, never imported by a name found in the file. Every
check runs before a model is touched; a file that fails one raises
:class:`~anynet.errors.SaveFileError` naming the problem.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from anynet import activations, initializers, layers, losses, metrics, optimizers, regularizers, tensorfile
from anynet.backend import resolve
from anynet.callbacks import History
from anynet.errors import AnynetError, BackendError, InputError, InputTypeError, SaveFileError
from anynet.model import Sequential
from anynet.params import Layout
from anynet.validation import check_int

__all__ = ["save", "load", "load_weights", "resume", "FORMAT_VERSION"]

FORMAT_VERSION = 1


def _classes(module: Any, base: type) -> dict[str, type]:
    return {n: c for n in module.__all__ if isinstance(c := getattr(module, n), type) and issubclass(c, base)}


# Everything a file may name. A class not listed here cannot be saved, so it is never loaded.
LAYERS = {c.__name__: c for c in (layers.Dense, layers.Activation, layers.Dropout, layers.Flatten, layers.Input)}
LAYERS.update({n: getattr(layers, n) for n in layers.__all__ if n not in ("Layer", "Context")})
ACTIVATIONS = dict(activations._REGISTRY)
INITIALIZERS = _classes(initializers, initializers.Initializer)
REGULARIZERS = _classes(regularizers, regularizers.Regularizer)
SCHEDULES = {c.__name__: c for c in (optimizers.ExponentialDecay, optimizers.StepDecay)}
OPTIMIZERS = {c.__name__: c for c in (optimizers.SGD, optimizers.RMSprop, optimizers.Adam, optimizers.AdamW)}
LOSSES = {n: c for n, c in _classes(losses, losses.Loss).items() if c is not losses.Loss}
METRICS = {n: c for n, c in _classes(metrics, metrics.Metric).items() if c is not metrics.Metric}
_FAMILIES = {"activation": ACTIVATIONS, "initializer": INITIALIZERS, "regularizer": REGULARIZERS,
             "schedule": SCHEDULES}


# -- objects <-> JSON ---------------------------------------------------------------------

def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def _family_of(v: Any) -> str | None:
    kinds = {"activation": activations.Activation, "initializer": initializers.Initializer,
             "regularizer": regularizers.Regularizer, "schedule": optimizers.Schedule}
    return next((k for k, t in kinds.items() if isinstance(v, t)), None)


def _settings(obj: Any) -> dict[str, Any]:
    """Return the object's constructor arguments as its own config reports them."""
    config = obj.get_config() if hasattr(obj, "get_config") else dict(vars(obj))
    params = inspect.signature(type(obj)).parameters
    out = {k: v for k, v in config.items() if k in params}
    if isinstance(obj, optimizers.Optimizer):
        out["learning_rate"] = obj.learning_rate
    if isinstance(obj, layers.Layer) and hasattr(obj, "activation"):
        out["activation"] = obj.activation
    return out


def encode(obj: Any, registry: dict[str, type], kind: str) -> dict[str, Any]:
    """Return ``{"class": name, "config": {...}}`` for an object of a registered class."""
    name = next((n for n, c in registry.items() if type(obj) is c), None)
    if name is None:
        raise InputTypeError(f"Cannot save the {kind} {obj!r}: only anynet's own {kind}s can be saved "
                             f"({', '.join(sorted(registry))}); loading another class would mean running its code.")
    config = {}
    for k, v in _settings(obj).items():
        family = _family_of(v)
        config[k] = encode(v, _FAMILIES[family], family) if family else _plain(v)
    out = {"class": name, "config": config}
    if isinstance(obj, metrics.Metric):
        out["name"] = obj.name
    return out


def decode(spec: Any, registry: dict[str, type], kind: str) -> Any:
    """Return the object that :func:`encode` described; raise SaveFileError for anything else."""
    if not isinstance(spec, dict) or not {"class", "config"} <= set(spec) or not isinstance(spec["config"], dict):
        raise SaveFileError(f"A {kind} must be saved as {{'class': name, 'config': {{...}}}}, got {spec!r}.")
    cls = registry.get(spec["class"]) if isinstance(spec["class"], str) else None
    if cls is None:
        raise SaveFileError(f"Unknown {kind} {spec['class']!r} in the file; this anynet knows "
                            f"{', '.join(sorted(registry))}.")
    config = {}
    for k, v in spec["config"].items():
        if isinstance(v, dict):
            family = "activation" if k == "activation" else "schedule" if k == "learning_rate" else k.rpartition("_")[2]
            if family not in _FAMILIES:
                raise SaveFileError(f"{spec['class']}: argument {k!r} cannot be an object, got {v!r}.")
            v = decode(v, _FAMILIES[family], family)
        config[k] = v
    try:
        obj = cls(**config)
    except (TypeError, ValueError, ArithmeticError) as exc:  # ArithmeticError: float() of a 400-digit int
        raise SaveFileError(f"Cannot rebuild {kind} {spec['class']} from {spec['config']!r}: {exc}") from None
    if isinstance(obj, metrics.Metric):
        obj.name = str(spec.get("name", obj.name))
    return obj


def _architecture(model: Sequential, compare: bool = False) -> list[dict[str, Any]]:
    """Return the layers as JSON data; to ``compare`` two models, without names and initializers
    (neither changes what given weights compute)."""
    out = [encode(layer, LAYERS, "layer") for layer in model.layers]
    if compare:
        for spec in out:
            spec["config"] = {k: v for k, v in spec["config"].items() if k != "name" and not k.endswith("_initializer")}
    return json.loads(json.dumps(out))


# -- saving -------------------------------------------------------------------------------

def _rng_state(model: Sequential) -> dict[str, Any]:
    state = model.rng.get_state()
    where = {"backend": model.placement.backend.name, "device": str(model.placement.device)}
    if isinstance(state, (bytes, bytearray)):
        return {**where, "encoding": "base64", "state": base64.b64encode(bytes(state)).decode("ascii")}
    try:
        json.dumps(state)
    except (TypeError, ValueError):
        raise InputTypeError(f"The {where['backend']} generator's state {state!r} is neither bytes nor JSON data, "
                             f"so it cannot be saved.") from None
    return {**where, "encoding": "json", "state": state}


def save(model: Sequential, path: str | os.PathLike[str], *, epoch: int | None = None,
         history: History | None = None) -> None:
    """Write ``model`` to ``path`` atomically: architecture, compile settings, weights, optimizer
    state, History, epoch and random generators (see the module docstring).

    ``epoch`` is the number of epochs done (default: one past the last in ``history``, which
    defaults to ``model.history``).
    """
    if not isinstance(model, Sequential):
        raise InputTypeError(f"save needs an anynet Sequential model, got {model!r}.")
    model._require_built("save")
    adapter = model.placement.backend
    theta = np.asarray(adapter.to_numpy(model.params))
    bad = int(np.sum(~np.isfinite(theta)))
    if bad:
        raise InputError(f"The model's parameters hold {bad} NaN or infinite value(s); refusing to save them.")
    tensors = {"params": theta}
    state = model.opt_state
    if state is not None:
        tensors.update({f"opt/{k}": np.asarray(adapter.to_numpy(v)) for k, v in state.items() if k != "iterations"})
    history = history if history is not None else model.history
    if history is not None and not isinstance(history, History):
        raise InputTypeError(f"history must be an anynet History, got {history!r}.")
    if epoch is None:
        epoch = history.epoch[-1] + 1 if history is not None and history.epoch else 0
    epoch = check_int("epoch", epoch, minimum=0)
    compiled = None
    if model.optimizer is not None and model.loss is not None:
        compiled = {"optimizer": encode(model.optimizer, OPTIMIZERS, "optimizer"),
                    "loss": encode(model.loss, LOSSES, "loss"),
                    "metrics": [encode(m, METRICS, "metric") for m in model.metrics]}
    doc = {
        "anynet_version": _version(),
        "model": {"name": model.name, "dtype": model.dtype, "seed": model.seed,
                  "input_shape": list(model.input_shape), "layers": _architecture(model)},
        "weights": [{"layer": model.layers[s.layer].name, "name": s.name, "shape": list(s.shape)} for s in model.layout],
        "compile": compiled,
        "training": {
            "epoch": int(epoch),
            "iterations": None if state is None else int(state["iterations"]),
            "history": {"epoch": list(history.epoch), "history": history.history} if history is not None else None,
            "shuffle_rng": model.shuffle_rng.bit_generator.state,
            "rng": _rng_state(model),
        },
    }
    try:
        text = json.dumps(doc, default=_json_scalar)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"Cannot save the model's settings or History as JSON: {exc}") from None
    metadata = {"format": "anynet", "format_version": str(FORMAT_VERSION), "model": text}
    tensorfile.write(path, tensors, metadata)


def _json_scalar(v: Any) -> Any:
    if isinstance(v, np.generic) and v.ndim == 0:
        return v.item()  # a NumPy float a callback put into the logs
    raise TypeError(f"{v!r} of type {type(v).__name__} is not JSON data")


def _version() -> str:
    from anynet import __version__

    return __version__


# -- loading ------------------------------------------------------------------------------

@dataclass
class _Loaded:
    model: Sequential
    epoch: int
    history: History | None


def _need(d: Any, key: str, kind: type, where: str) -> Any:
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise SaveFileError(f"{where}.{key} must be a {kind.__name__}, got {v!r}.")
    return v


def _doc(path: Any, meta: dict[str, str]) -> dict[str, Any]:
    if meta.get("format") != "anynet" or "model" not in meta:
        raise SaveFileError(f"{os.fspath(path)!r} is a safetensors file but not an anynet model (its metadata has "
                            f"keys {sorted(meta)}, expected 'format': 'anynet').")
    version = meta.get("format_version", "")
    if not version.isdigit():
        raise SaveFileError(f"{os.fspath(path)!r} has format_version {version!r}; expected a number.")
    if int(version) > FORMAT_VERSION:
        raise SaveFileError(f"{os.fspath(path)!r} has format version {int(version)}, newer than this anynet "
                            f"({_version()}) reads ({FORMAT_VERSION}); upgrade anynet to load it.")
    try:
        doc = json.loads(meta["model"])
    except (ValueError, RecursionError) as exc:
        raise SaveFileError(f"{os.fspath(path)!r} has a malformed 'model' entry ({exc}).") from None
    if not isinstance(doc, dict):
        raise SaveFileError(f"{os.fspath(path)!r} has a 'model' entry that is not a JSON object.")
    return doc


def _tensor(tensors: dict[str, np.ndarray], name: str, size: int, dtype: str, finite: bool = True) -> np.ndarray:
    a = tensors.get(name)
    if a is None:
        raise SaveFileError(f"The tensor {name!r} is missing; the file holds {sorted(tensors)}.")
    if a.shape != (size,) or a.dtype != np.dtype(dtype):
        raise SaveFileError(f"The tensor {name!r} has shape {a.shape} and dtype {a.dtype}; the architecture in "
                            f"the file needs shape ({size},) and dtype {dtype}.")
    bad = int(np.sum(~np.isfinite(a))) if finite else 0
    if bad:
        raise SaveFileError(f"The tensor {name!r} holds {bad} NaN or infinite value(s).")
    return a


def _history(spec: Any) -> History | None:
    if spec is None:
        return None
    epochs = _need(spec, "epoch", list, "training.history")
    values = _need(spec, "history", dict, "training.history")
    h = History()
    try:
        if not all(_is_int(e) for e in epochs) or not all(
                isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
                for v in values.values()):
            raise TypeError("not a number")
        h.epoch, h.history = list(epochs), {k: [float(x) for x in v] for k, v in values.items()}
    except (TypeError, ValueError, OverflowError):
        raise SaveFileError(f"training.history must hold int epochs and lists of numbers, got {spec!r}.") from None
    return h


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _build(doc: dict[str, Any], tensors: dict[str, np.ndarray], placement: Any) -> _Loaded:
    spec = _need(doc, "model", dict, "file")
    layer_specs = _need(spec, "layers", list, "model")
    dtype = _need(spec, "dtype", str, "model")
    shape = _need(spec, "input_shape", list, "model")
    seed = _need(spec, "seed", int, "model")
    if not all(_is_int(d) and d > 0 for d in shape):
        raise SaveFileError(f"model.input_shape must be positive ints, got {shape!r}.")
    stack = [decode(s, LAYERS, "layer") for s in layer_specs]
    model = Sequential(stack, dtype=dtype, seed=seed, name=str(spec.get("name", "sequential")))
    # Work out the parameter count without allocating, so a file cannot make us build a huge model.
    layout, out = Layout(), tuple(shape)
    for i, layer in enumerate(stack):
        out = layer.build(i, out, layout)
    listed = [(w.get("name"), w.get("shape")) if isinstance(w, dict) else w for w in _need(doc, "weights", list, "file")]
    if listed != [(s.name, list(s.shape)) for s in layout]:
        raise SaveFileError(f"The file lists weights {listed}, but its layers on inputs {tuple(shape)} have "
                            f"{[(s.name, list(s.shape)) for s in layout]}.")
    theta = _tensor(tensors, "params", layout.size, dtype)
    model.build(tuple(shape), backend=placement.backend, device=placement.device)
    model.params = theta

    compiled, train = doc.get("compile"), _need(doc, "training", dict, "file")
    expected = {"params"}
    if compiled is not None:
        model.compile(optimizer=decode(_need(compiled, "optimizer", dict, "compile"), OPTIMIZERS, "optimizer"),
                      loss=decode(_need(compiled, "loss", dict, "compile"), LOSSES, "loss"),
                      metrics=[decode(m, METRICS, "metric") for m in _need(compiled, "metrics", list, "compile")])
        iterations = train.get("iterations")
        if iterations is not None:
            if not _is_int(iterations) or iterations < 0:
                raise SaveFileError(f"training.iterations must be an int >= 0, got {iterations!r}.")
            state = {"iterations": iterations}
            for k in model.optimizer._slots:
                # Moments may legitimately hold inf (Adam's v after a huge gradient), so they load as saved.
                a = _tensor(tensors, f"opt/{k}", layout.size, dtype, finite=False)
                state[k] = placement.backend.from_numpy(a, placement.device)
                expected.add(f"opt/{k}")
            model.opt_state = state
    extra = sorted(set(tensors) - expected)
    if extra:
        raise SaveFileError(f"The file holds tensors this model does not use: {extra}; expected {sorted(expected)}.")
    _restore_generators(model, train)
    epoch = _need(train, "epoch", int, "training")
    if epoch < 0:
        raise SaveFileError(f"training.epoch must be >= 0, got {epoch}.")
    return _Loaded(model, epoch, _history(train.get("history")))


def _restore_generators(model: Sequential, train: dict[str, Any]) -> None:
    gen = np.random.default_rng()
    try:
        gen.bit_generator.state = _need(train, "shuffle_rng", dict, "training")
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise SaveFileError(f"training.shuffle_rng is not a NumPy PCG64 state: {exc}") from None
    model.shuffle_rng = gen
    rng = _need(train, "rng", dict, "training")
    p = model.placement
    # A generator's state only means something to the same library on the same device; elsewhere
    # the dropout generator starts afresh from the model's seed, as Sequential.to() does.
    if rng.get("backend") != p.backend.name or rng.get("device") != str(p.device):
        return
    state = rng.get("state")
    try:
        if rng.get("encoding") == "base64":
            state = base64.b64decode(state, validate=True)
        model.rng.set_state(state)
    except Exception as exc:  # each adapter's generator rejects a bad state in its own way
        raise SaveFileError(f"training.rng is not a state of the {p.backend.name} generator: {exc}") from None


def _read(path: Any, backend: Any = None, device: Any = None) -> _Loaded:
    placement = resolve(backend=backend, device=device)  # a bad backend= is the caller's error, not the file's
    tensors, meta = tensorfile.read(path)
    try:
        return _build(_doc(path, meta), tensors, placement)
    except SaveFileError as exc:
        if str(exc).startswith(repr(os.fspath(path))):
            raise
        raise SaveFileError(f"{os.fspath(path)!r}: {exc}") from None
    except BackendError:
        raise
    except AnynetError as exc:  # a constructor refused a value from the file
        raise SaveFileError(f"{os.fspath(path)!r}: {exc}") from None
    except RecursionError:
        raise SaveFileError(f"{os.fspath(path)!r}: the settings are nested too deeply to be a model.") from None


def load(path: str | os.PathLike[str], *, backend: str | None = None, device: Any = None) -> Sequential:
    """Return the model saved at ``path``, built on ``backend`` / ``device`` (default: the usual choice).

    The model comes back compiled (when it was), with its weights, optimizer state, random
    generators and ``model.history``. Raises SaveFileError naming the problem for a file
    that is missing, truncated, damaged, of a newer format, or that does not fit together.
    """
    loaded = _read(path, backend, device)
    loaded.model.history = loaded.history
    return loaded.model


def _check_fits(model: Sequential, other: Sequential, path: Any) -> None:
    mine, theirs = _architecture(model, compare=True), _architecture(other, compare=True)
    shape = model.input_shape if model.built else model._declared_input_shape()
    if mine != theirs or model.dtype != other.dtype or (shape is not None and tuple(shape) != other.input_shape):
        raise SaveFileError(
            f"{os.fspath(path)!r} holds a {other.dtype} model of {[s['class'] for s in theirs]} on inputs "
            f"{other.input_shape} ({other.layout.size} parameters); this model is {model.dtype} with "
            f"{[s['class'] for s in mine]} on inputs {shape}. Layers must match: {theirs} vs {mine}.")


def _placement_for(model: Sequential) -> tuple[Any, Any]:
    if model.built:
        return model.placement.backend, model.placement.device
    return model._backend_arg, model._device_arg


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Set ``model``'s weights from the file at ``path``; everything is checked first.

    The model must have the file's layers and dtype; it is built from the file's input
    shape if it is not built yet. Optimizer state and generators are left alone.
    """
    other = _read(path, *_placement_for(model)).model
    _check_fits(model, other, path)
    if not model.built:
        model.build(other.input_shape, backend=other.placement.backend, device=other.placement.device)
    model._theta = other._theta


def resume(model: Sequential, path: str | os.PathLike[str], history: History) -> int:
    """Return the epoch to go on from, after restoring ``path``'s training state into ``model``.

    Restores the parameters, the optimizer state, both random generators and (into
    ``history``) the History. Checks first that the file fits the model (same layers,
    dtype and optimizer); nothing changes unless everything does.
    """
    model._require_built("resume")
    loaded = _read(path, model.placement.backend, model.placement.device)
    other = loaded.model
    _check_fits(model, other, path)
    if other.optimizer is None:
        raise SaveFileError(f"{os.fspath(path)!r} was saved before compile, so it holds no training state to resume.")
    if type(other.optimizer) is not type(model.optimizer):
        raise SaveFileError(f"{os.fspath(path)!r} was trained with {type(other.optimizer).__name__}, but the model is "
                            f"compiled with {type(model.optimizer).__name__}; their states do not mix.")
    model._theta, model.opt_state = other._theta, other.opt_state
    model.rng, model.shuffle_rng = other.rng, other.shuffle_rng
    if loaded.history is not None:
        history.epoch, history.history = loaded.history.epoch, loaded.history.history
    return loaded.epoch

