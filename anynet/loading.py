"""Reading a model file: every check on its contents, then the model they describe.

:func:`document` checks the header and parses the JSON; :func:`build` checks the weights'
names and shapes against the architecture before anything is allocated, then sets the
weights, the compile settings, the optimizer state, the History and the random
generators (each seeded layer's too, see :mod:`anynet.generators`). Anything wrong
raises :class:`~anynet.errors.SaveFileError` naming it. :mod:`anynet.saving` is the
public side (save, load_weights, resume) and adds the file's path to every message.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from anynet.errors import SaveFileError
from anynet.registry import LOSSES, METRICS, OPTIMIZERS, decode
from anynet.version import __version__

__all__ = ["FORMAT_VERSION", "History", "Loaded", "need", "document", "build"]

FORMAT_VERSION = 1
Model = Any  # any anynet model: this module uses its methods only


class History:
    """What a loaded History holds; the caller turns it into a callbacks.History."""

    def __init__(self, epoch: list[int], history: dict[str, list[float]]) -> None:
        self.epoch, self.history = epoch, history



@dataclass
class Loaded:
    model: Model
    epoch: int
    history: History | None


def need(d: Any, key: str, kind: type, where: str) -> Any:
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
        raise SaveFileError(f"{where}.{key} must be a {kind.__name__}, got {v!r}.")
    return v


def document(path: Any, meta: dict[str, str]) -> dict[str, Any]:
    if meta.get("format") != "anynet" or "model" not in meta:
        raise SaveFileError(f"{os.fspath(path)!r} is a safetensors file but not an anynet model (its metadata has "
                            f"keys {sorted(meta)}, expected 'format': 'anynet').")
    version = meta.get("format_version", "")
    if not version.isdigit():
        raise SaveFileError(f"{os.fspath(path)!r} has format_version {version!r}; expected a number.")
    if int(version) > FORMAT_VERSION:
        raise SaveFileError(f"{os.fspath(path)!r} has format version {int(version)}, newer than this anynet "
                            f"({__version__}) reads ({FORMAT_VERSION}); upgrade anynet to load it.")
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
    epochs = need(spec, "epoch", list, "training.history")
    values = need(spec, "history", dict, "training.history")
    h = History([], {})
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


def build(doc: dict[str, Any], tensors: dict[str, np.ndarray], placement: Any, from_config: Any) -> Loaded:
    spec = need(doc, "model", dict, "file")
    need(spec, "dtype", str, "model")
    need(spec, "seed", int, "model")
    model = from_config(spec)  # layers and graph, shapes only: nothing is allocated yet
    dtype = model.dtype
    # The parameter count comes from shapes alone, so a file cannot make us build a huge model.
    layout = model._scratch_layout()
    listed = [(w.get("name"), w.get("shape")) if isinstance(w, dict) else w for w in need(doc, "weights", list, "file")]
    if listed != [(s.name, list(s.shape)) for s in layout]:
        raise SaveFileError(f"The file lists weights {listed}, but its layers on inputs {model.input_shape} have "
                            f"{[(s.name, list(s.shape)) for s in layout]}.")
    theta = _tensor(tensors, "params", layout.size, dtype)
    model.build(backend=placement.backend, device=placement.device)
    model.params = theta

    compiled, train = doc.get("compile"), need(doc, "training", dict, "file")
    expected = {"params"}
    if compiled is not None:
        optimizer = decode(need(compiled, "optimizer", dict, "compile"), OPTIMIZERS, "optimizer")
        if isinstance(compiled.get("loss"), list):
            model.compile(optimizer=optimizer, loss=[decode(x, LOSSES, "loss") for x in compiled["loss"]],
                          loss_weights=need(compiled, "loss_weights", list, "compile"),
                          metrics=[[decode(m, METRICS, "metric") for m in ms] if isinstance(ms, list) else
                                   need({"m": ms}, "m", list, "compile.metrics")
                                   for ms in need(compiled, "metrics", list, "compile")])
        else:
            model.compile(optimizer=optimizer, loss=decode(need(compiled, "loss", dict, "compile"), LOSSES, "loss"),
                          metrics=[decode(m, METRICS, "metric") for m in need(compiled, "metrics", list, "compile")])
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
    epoch = need(train, "epoch", int, "training")
    if epoch < 0:
        raise SaveFileError(f"training.epoch must be >= 0, got {epoch}.")
    return Loaded(model, epoch, _history(train.get("history")))


def _restore_generators(model: Model, train: dict[str, Any]) -> None:
    gen = np.random.default_rng()
    try:
        gen.bit_generator.state = need(train, "shuffle_rng", dict, "training")
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise SaveFileError(f"training.shuffle_rng is not a NumPy PCG64 state: {exc}") from None
    model.shuffle_rng = gen
    rng = need(train, "rng", dict, "training")
    p = model.placement
    # A generator's state only means something to the same library on the same device; elsewhere
    # the dropout generators start afresh from the seeds, as Sequential.to() does.
    if rng.get("backend") != p.backend.name or rng.get("device") != str(p.device):
        return
    gens = model.rng
    _set_state(gens.main, rng, "training.rng", p.backend.name)
    layers = rng.get("layers", {})
    seeded = {layer.name for layer in model.layers if getattr(layer, "seed", None) is not None}
    if not isinstance(layers, dict) or not set(layers) <= seeded:
        raise SaveFileError(f"training.rng.layers holds the generators of seeded layers by name ({sorted(seeded)} "
                            f"in this model), got {layers!r}.")
    for name, spec in layers.items():
        gen = gens.for_layer(name, 0)
        _set_state(gen, spec, f"training.rng.layers[{name!r}]", p.backend.name)


def _set_state(gen: Any, spec: Any, where: str, backend: str) -> None:
    """Set ``gen`` to the state saved as ``{"encoding": "base64" or "json", "state": ...}``."""
    state = spec.get("state") if isinstance(spec, dict) else None
    try:
        if spec.get("encoding") == "base64":
            state = base64.b64decode(state, validate=True)
        gen.set_state(state)
    except Exception as exc:  # each adapter's generator rejects a bad state in its own way
        raise SaveFileError(f"{where} is not a state of the {backend} generator: {exc}") from None
