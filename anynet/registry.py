"""What a model file may name, and objects <-> JSON: ``{"class": name, "config": {...}}``.

Layers, activations, initializers, regularizers, optimizers, losses and metrics are
rebuilt by name from the registries below, never imported by a name found in a file. A
class not listed here cannot be saved, so it is never loaded.
"""

from __future__ import annotations

import inspect
from typing import Any

from anynet import activations, initializers, layers, losses, metrics, optimizers, regularizers
from anynet.errors import InputTypeError, SaveFileError

__all__ = ["encode", "decode", "LAYERS", "OPTIMIZERS", "LOSSES", "METRICS"]


def _classes(module: Any, base: type) -> dict[str, type]:
    return {n: c for n in module.__all__ if isinstance(c := getattr(module, n), type) and issubclass(c, base)}


# Every layer class anynet exports (core, merge, conv, pooling, augmentation). A class not
# listed here cannot be saved, so it is never loaded.
LAYERS = {n: c for n in layers.__all__
          if isinstance(c := getattr(layers, n), type) and issubclass(c, layers.Layer) and c is not layers.Layer}
ACTIVATIONS = dict(activations._REGISTRY)
INITIALIZERS = _classes(initializers, initializers.Initializer)
REGULARIZERS = _classes(regularizers, regularizers.Regularizer)
SCHEDULES = {c.__name__: c for c in (optimizers.ExponentialDecay, optimizers.StepDecay)}
OPTIMIZERS = {c.__name__: c for c in (optimizers.SGD, optimizers.RMSprop, optimizers.Adam, optimizers.AdamW)}
LOSSES = {n: c for n, c in _classes(losses, losses.Loss).items() if c is not losses.Loss}
METRICS = {n: c for n, c in _classes(metrics, metrics.Metric).items() if c is not metrics.Metric}
_FAMILIES = {"activation": ACTIVATIONS, "initializer": INITIALIZERS, "regularizer": REGULARIZERS,
             "schedule": SCHEDULES}


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


def known(registry: dict[str, type]) -> str:
    """Return the names of a registry's classes for a message; layers by family, the core ones first."""
    families: dict[str, list[str]] = {}
    for name, cls in registry.items():
        family = cls.__module__.rpartition(".")[2] if registry is LAYERS else ""
        families.setdefault("" if family == "core" else family, []).append(name)
    first = ", ".join(sorted(families.pop("", [])))
    rest = "; ".join(f"{family}: {', '.join(sorted(names))}" for family, names in sorted(families.items()))
    return "; ".join(x for x in (first, rest) if x)


def encode(obj: Any, registry: dict[str, type], kind: str) -> dict[str, Any]:
    """Return ``{"class": name, "config": {...}}`` for an object of a registered class."""
    name = next((n for n, c in registry.items() if type(obj) is c), None)
    if name is None:
        raise InputTypeError(f"Cannot save the {kind} {obj!r}: only anynet's own {kind}s can be saved "
                             f"({known(registry)}); loading another class would mean running its code.")
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
                            f"{known(registry)}.")
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
