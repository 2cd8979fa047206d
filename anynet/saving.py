"""Saving and loading models: one ``.anynet`` file, a safetensors file anyone can read.

The tensors are ``params`` (the flat parameter vector, in the model's dtype) and
``opt/<slot>`` (the optimizer's moments). The header's ``__metadata__`` holds
``format: "anynet"``, ``format_version`` and ``model``: JSON with the architecture, the
compile settings, the seed, the epoch, the History, the optimizer's step count and the
random generators' states (seeded layers' too), everything :func:`anynet.training.fit` needs to resume.

Loading never runs code from a file: tensors are raw bytes (no pickle), and layers,
activations, initializers, regularizers, optimizers, losses and metrics are rebuilt by
name from the registries of :mod:`anynet.registry`, never imported by a name found in the
file. A functional model's graph is saved as JSON too: its layers, and each call as the
layer and the tensors it took (``[layer index, call]`` pairs). Every check runs before a
model is touched; a file that fails one raises :class:`~anynet.errors.SaveFileError`
naming the problem.

This module writes files and is the public side of reading them; the checks and the
rebuilding live in :mod:`anynet.loading`. Both know models through their methods only:
the model module imports them, and the functions that make a model from a file take the
class's ``from_config``.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import numpy as np

from anynet import architecture, loading, tensorfile
from anynet import metadata as usermeta
from anynet.backend import resolve
from anynet.errors import AnynetError, BackendError, InputError, InputTypeError, SaveFileError
from anynet.loading import FORMAT_VERSION, need
from anynet.registry import LOSSES, METRICS, OPTIMIZERS, encode
from anynet.validation import check_int
from anynet.version import __version__

__all__ = ["save", "read", "load_weights", "resume", "need", "read_metadata", "FORMAT_VERSION"]

read_metadata = usermeta.read_metadata
Model = Any  # any anynet model: this module uses its methods only


def _rng_state(model: Model) -> dict[str, Any]:
    """Return the model's generators as JSON data: its own stream's state, and each seeded layer's."""
    gens = model.rng
    where = {"backend": model.placement.backend.name, "device": str(model.placement.device)}
    out = {**where, **_encoded(gens.main.get_state(), where["backend"])}
    if gens.layers:
        out["layers"] = {name: _encoded(g.get_state(), where["backend"]) for name, g in sorted(gens.layers.items())}
    return out


def _encoded(state: Any, backend: str) -> dict[str, Any]:
    if isinstance(state, (bytes, bytearray)):
        return {"encoding": "base64", "state": base64.b64encode(bytes(state)).decode("ascii")}
    try:
        json.dumps(state)
    except (TypeError, ValueError):
        raise InputTypeError(f"The {backend} generator's state {state!r} is neither bytes nor JSON data, "
                             f"so it cannot be saved.") from None
    return {"encoding": "json", "state": state}


def save(model: Model, path: str | os.PathLike[str], *, epoch: int | None = None, history: Any = None,
         metadata: dict[str, Any] | None = None) -> None:
    """Write ``model`` to ``path`` atomically: architecture, compile settings, weights, optimizer
    state, History, epoch and random generators (see the module docstring).

    ``epoch`` is the number of epochs done (default: one past the last in ``history``, which
    defaults to ``model.history``). ``metadata``, a small JSON dict of your own, is stored
    too (see :mod:`anynet.metadata`).
    """
    user = None if metadata is None else usermeta.encode(metadata)  # refuse bad metadata before any work
    if not callable(getattr(model, "_own_specs", None)):
        raise InputTypeError(f"save needs an anynet model, got {model!r}.")
    model._require_built("save")
    adapter = model.placement.backend
    specs = model._own_specs()
    # A model that shares another's vector saves its own layers' weights only.
    keep = np.concatenate([np.arange(s.offset, s.stop) for s in specs]) if specs else np.zeros(0, dtype=np.int64)
    whole = len(specs) == len(model.layout)
    theta = np.asarray(adapter.to_numpy(model.params))
    theta = theta if whole else theta[keep]
    bad = int(np.sum(~np.isfinite(theta)))
    if bad:
        raise InputError(f"The model's parameters hold {bad} NaN or infinite value(s); refusing to save them.")
    tensors = {"params": theta}
    state = model.opt_state
    if state is not None:
        tensors.update({f"opt/{k}": np.asarray(adapter.to_numpy(v))[... if whole else keep]
                        for k, v in state.items() if k != "iterations"})
    history = history if history is not None else model.history
    if history is not None and not (isinstance(getattr(history, "history", None), dict)
                                    and isinstance(getattr(history, "epoch", None), list)):
        raise InputTypeError(f"history must be an anynet History, got {history!r}.")
    if epoch is None:
        epoch = history.epoch[-1] + 1 if history is not None and history.epoch else 0
    epoch = check_int("epoch", epoch, minimum=0)
    compiled = None
    if model.optimizer is not None and model.heads:
        heads = model.heads
        compiled = {"optimizer": encode(model.optimizer, OPTIMIZERS, "optimizer")}
        if len(heads) == 1:
            compiled.update(loss=encode(heads[0].loss, LOSSES, "loss"),
                            metrics=[encode(m, METRICS, "metric") for m in heads[0].metrics])
        else:
            compiled.update(loss=[encode(h.loss, LOSSES, "loss") for h in heads],
                            loss_weights=[h.weight for h in heads],
                            metrics=[[encode(m, METRICS, "metric") for m in h.metrics] for h in heads])
    if model.kind == "Sequential":
        spec = {"name": model.name, "dtype": model.dtype, "seed": model.seed,
                "input_shape": list(model.input_shape), "layers": architecture.describe(model)}
    else:
        spec = {"class": model.kind, "name": model.name, "dtype": model.dtype, "seed": model.seed,
                **architecture.describe(model)}
    doc = {
        "anynet_version": __version__,
        "model": spec,
        "weights": [{"layer": model._layer_at(s.layer).name, "name": s.name, "shape": list(s.shape)} for s in specs],
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
    header = {"format": "anynet", "format_version": str(FORMAT_VERSION), "model": text}
    if user is not None:
        header[usermeta.KEY] = user
    tensorfile.write(path, tensors, header)


def _json_scalar(v: Any) -> Any:
    if isinstance(v, np.generic) and v.ndim == 0:
        return v.item()  # a NumPy float a callback put into the logs
    raise TypeError(f"{v!r} of type {type(v).__name__} is not JSON data")


def _read(path: Any, from_config: Any, backend: Any = None, device: Any = None) -> loading.Loaded:
    placement = resolve(backend=backend, device=device)  # a bad backend= is the caller's error, not the file's
    tensors, meta = tensorfile.read(path)
    try:
        return loading.build(loading.document(path, meta), tensors, placement, from_config)
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


def read(path: str | os.PathLike[str], from_config: Any, *, backend: str | None = None,
         device: Any = None) -> tuple[Model, loading.History | None]:
    """Return the model saved at ``path`` (made by ``from_config``, built on ``backend`` /
    ``device``) and its History data. ``anynet.load`` is this with the model classes."""
    loaded = _read(path, from_config, backend, device)
    return loaded.model, loaded.history


def _check_fits(model: Model, other: Model, path: Any) -> None:
    mine, theirs = architecture.describe(model, compare=True), architecture.describe(other, compare=True)
    shape = model.input_shape
    if mine != theirs or model.dtype != other.dtype or (shape is not None and shape != other.input_shape):
        raise SaveFileError(
            f"{os.fspath(path)!r} holds a {other.dtype} model of {architecture.classes(theirs)} on inputs "
            f"{other.input_shape} ({other.layout.size} parameters); this model is {model.dtype} with "
            f"{architecture.classes(mine)} on inputs {shape}. Layers must match: {theirs} vs {mine}.")


def _placement_for(model: Model) -> tuple[Any, Any]:
    if model.built:
        return model.placement.backend, model.placement.device
    return model._backend_arg, model._device_arg


def load_weights(model: Model, path: str | os.PathLike[str]) -> None:
    """Set ``model``'s weights from the file at ``path``; everything is checked first.

    The model must have the file's layers and dtype; it is built from the file's input
    shape if it is not built yet. Optimizer state and generators are left alone.
    """
    other = _read(path, model.from_config, *_placement_for(model)).model
    _check_fits(model, other, path)
    if not model.built:
        model.build(other.input_shape, backend=other.placement.backend, device=other.placement.device)
    if len(model._own_specs()) == len(model.layout):
        model._theta = other._theta
    else:
        model.set_weights(other.get_weights())


def resume(model: Model, path: str | os.PathLike[str], history: Any) -> int:
    """Return the epoch to go on from, after restoring ``path``'s training state into ``model``.

    Restores the parameters, the optimizer state, both random generators and (into
    ``history``) the History. Checks first that the file fits the model (same layers,
    dtype and optimizer); nothing changes unless everything does.
    """
    model._require_built("resume")
    if model._source is not None:
        raise InputError(f"This model shares its weights with model {model._source.name!r}; resume that one.")
    loaded = _read(path, model.from_config, model.placement.backend, model.placement.device)
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

