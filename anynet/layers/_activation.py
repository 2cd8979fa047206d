"""A layer's ``activation=`` argument both ways: what the constructor takes, what ``get_config`` gives.

``get_config`` holds the activation's name where the name alone rebuilds it ("relu", as
Keras writes built-in activations), and ``{"class": name, "config": {...}}`` where it has
arguments (``ReLU(max_value=6)``), so ``type(layer)(**layer.get_config())`` is the same
layer. That dict is the form a saved file uses too (see :mod:`anynet.registry`).
"""

from __future__ import annotations

from typing import Any

from anynet import activations
from anynet.errors import InputError

__all__ = ["get", "config", "bias_and_activate"]


def get(spec: str | activations.Activation | dict[str, Any] | None) -> activations.Activation:
    """Return the Activation for a name, an Activation, None (linear) or a dict from :func:`config`."""
    if not isinstance(spec, dict):
        return activations.get(spec)
    if set(spec) != {"class", "config"} or not isinstance(spec["class"], str) or not isinstance(spec["config"], dict):
        raise InputError(f"An activation given as a dict is {{'class': name, 'config': {{...}}}} as get_config "
                         f"writes it, such as {{'class': 'relu', 'config': {{'max_value': 6.0}}}}; got {spec!r}.")
    cls = type(activations.get(spec["class"]))
    try:
        return cls(**spec["config"])
    except TypeError as exc:
        raise InputError(f"Cannot make the activation {spec['class']!r} from {spec['config']!r}: {exc}.") from None


def config(act: activations.Activation) -> str | dict[str, Any] | activations.Activation:
    """Return the name of ``act`` if the name alone makes it, else ``{"class": name, "config": {...}}``;
    an activation anynet has no name for (your own subclass) is returned as itself."""
    name = getattr(type(act), "name", None)
    if name not in activations.names() or type(activations.get(name)) is not type(act):
        return act
    if act == activations.get(name):
        return name
    return {"class": name, "config": act.get_config()}


def bias_and_activate(Z: Any, b: Any, act: activations.Activation, activate: bool, ctx: Any) -> Any:
    """Return Y = act(Z + b) (Z + b when not ``activate``; no bias when ``b`` is None).

    Z must be a fresh array the layer owns: the bias is added in place, and a backend's
    ``bias_activation`` kernel may write Y over Z (then Y is Z).
    """
    fast = ctx.kernels.get("bias_activation") if activate else None  # kernels hook
    Y = fast(Z, b, act) if fast is not None else None
    if Y is None:
        if b is not None:
            Z += b  # Z is a fresh array: adding in place saves an allocation
        Y = act.forward(Z, ctx.xp, ctx.kernels) if activate else Z
    return Y
