"""What ``compile`` sets per model output: its loss, loss weight, metrics, and target checks.

A model with one output has one :class:`Head`; a functional model has one per output,
named after the layer that produces it. ``compile`` takes a loss (and metrics) for all,
or one per output as a list in output order or a dict by output name, as Keras does.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anynet import losses, metrics as metrics_mod
from anynet.errors import InputError, InputTypeError
from anynet.validation import check_finite

__all__ = ["Head", "make_heads", "class_axis"]


@dataclass
class Head:
    """One output's loss, weight and metrics; ``fused``: its last activation is folded into the loss."""

    name: str
    shape: tuple[int, ...]
    loss: losses.Loss
    weight: float = 1.0
    metrics: list[metrics_mod.Metric] = field(default_factory=list)
    fused: bool = False

    def check_targets(self, y: Any, kind: str, xp: Any, dtype: Any, what: str = "y") -> Any:
        """Return targets ``y`` checked against this output's shape and loss, cast for the loss."""
        loss = self.loss
        if loss.sparse:
            return self._check_labels(y, kind, xp, what)
        k = self.shape[0] if len(self.shape) == 1 else None
        if y.ndim == 1 and k == 1:
            y = xp.reshape(y, (-1, 1))
        if tuple(y.shape[1:]) != self.shape:
            hint = (" For integer class labels use loss='sparse_categorical_crossentropy' or one-hot encode y."
                    if y.ndim == 1 else "")
            raise InputError(f"{what} must have shape (samples, {', '.join(map(str, self.shape))}) to match the "
                             f"model's outputs, got {what} with shape {tuple(y.shape)}.{hint}")
        y = xp.astype(y, dtype) if y.dtype != dtype else y
        check_finite(y, xp, what)
        if isinstance(loss, (losses.BinaryCrossentropy, losses.CategoricalCrossentropy)) and not loss.from_logits:
            lo, hi = float(xp.min(y)), float(xp.max(y))
            if lo < 0 or hi > 1:
                raise InputError(f"{loss.name} needs targets in [0, 1]; {what} holds values from {lo:g} to {hi:g}.")
        return y

    def _check_labels(self, y: Any, kind: str, xp: Any, what: str) -> Any:
        """Return integer labels shaped like the outputs without their class axis, checked."""
        loss, ax = self.loss, class_axis(self)
        k = int(self.shape[ax])
        want = tuple(d for i, d in enumerate(self.shape) if i != ax)
        if y.ndim == len(self.shape) + 1 and y.shape[1 + ax] == 1:  # Keras squeezes a class axis of size 1
            y = xp.reshape(y, (y.shape[0], *want))
        if tuple(y.shape[1:]) != want:
            shape = "(samples,)" if not want else f"(samples, {', '.join(map(str, want))})"
            raise InputError(f"{loss.name} needs integer labels of shape {shape}, got {what} with shape "
                             f"{tuple(y.shape)}: labels have the outputs' shape without their class axis. For "
                             f"one-hot targets use 'categorical_crossentropy'.")
        if kind == "float":
            check_finite(y, xp, what)
            if int(xp.sum(xp.astype(y != xp.round(y), xp.int64))):
                raise InputError(f"{loss.name} needs integer class labels; {what} holds non-integer values.")
        y = xp.astype(y, xp.int64)
        ic = loss.ignore_class
        bad = (y < 0) | (y >= k)
        if ic is not None:
            bad = bad & (y != ic)
        if bool(xp.any(bad)):
            # the range of the labels other than the ignored class
            lo = int(xp.min(y if ic is None else xp.where(y == ic, xp.max(y), y)))
            hi = int(xp.max(y if ic is None else xp.where(y == ic, xp.min(y), y)))
            of = f"a model with {k} outputs" if not want else f"{k} classes"
            also = "" if ic is None else f" (or {ic}, the ignore_class)"
            raise InputError(f"Labels must be in 0..{k - 1} for {of}{also}; {what} holds values from {lo} to {hi}.")
        return y


def class_axis(head: Head) -> int:
    """Return the index of the loss's class axis in the output's sample shape (the last by default)."""
    n, a = len(head.shape), head.loss.axis
    i = a + n if a < 0 else a - 1  # the loss's axis counts the batch axis
    return i if 0 <= i < n else n - 1


def _per_output(what: str, value: Any, names: list[str], default: Any) -> list[Any]:
    """Return one entry per output from a single value, a list in output order, or a dict by name."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise InputError(f"compile: {what} has key(s) {unknown} that name no output; the outputs are {names}.")
        if default is _REQUIRED:
            missing = [n for n in names if n not in value]
            if missing:
                raise InputError(f"compile: {what} has no entry for output(s) {missing}; give one per output "
                                 f"(the outputs are {names}).")
        return [value.get(n, default) for n in names]
    if isinstance(value, (list, tuple)) and len(names) > 1:
        if len(value) != len(names):
            raise InputError(f"compile: {what} lists {len(value)} entries for a model with {len(names)} outputs "
                             f"{names}; give one per output, or a dict by output name.")
        return list(value)
    return [value] * len(names)


_REQUIRED = object()


def make_heads(outputs: Sequence[tuple[str, tuple[int, ...], Any]], loss: Any, loss_weights: Any,
               metrics: Any) -> list[Head]:
    """Return one Head per ``(name, sample shape, producing layer)`` output, from compile's arguments."""
    names = [n for n, _, _ in outputs]
    if loss is None:
        raise InputError("compile needs a loss, e.g. loss='categorical_crossentropy'.")
    loss_list = _per_output("loss", loss, names, _REQUIRED)
    weights = _per_output("loss_weights", loss_weights, names, 1.0) if loss_weights is not None else [1.0] * len(names)
    if metrics is None:
        metric_lists: list[Any] = [[] for _ in names]
    elif isinstance(metrics, dict):
        metric_lists = _per_output("metrics", metrics, names, [])
    elif len(names) == 1:
        metric_lists = [metrics]
    elif isinstance(metrics, (list, tuple)) and all(isinstance(m, (list, tuple)) or m is None for m in metrics):
        metric_lists = _per_output("metrics", list(metrics), names, [])
    else:
        raise InputError(f"compile: for a model with outputs {names}, give metrics per output, as a dict "
                         f"{{'{names[0]}': ['accuracy']}} or a list of lists, got {metrics!r}.")
    heads = []
    for (name, shape, layer), spec, w, ms in zip(outputs, loss_list, weights, metric_lists):
        if spec is None:
            raise InputError(f"compile: output {name!r} has no loss; give one per output (outputs: {names}).")
        head_loss = losses.get(spec)
        if isinstance(w, bool) or not isinstance(w, numbers.Real):
            raise InputTypeError(f"compile: loss_weights for {name!r} must be a number, got {w!r}.")
        ms = [ms] if isinstance(ms, (str, metrics_mod.Metric)) else list(ms or [])
        act = getattr(getattr(layer, "activation", None), "name", None)
        if head_loss.from_logits and act in ("sigmoid", "softmax"):
            warnings.warn(f"{head_loss.name} has from_logits=True but the last layer applies {act}; "
                          f"its outputs are probabilities, not logits.", UserWarning, stacklevel=3)
        heads.append(Head(name, tuple(shape), head_loss, float(w),
                          [metrics_mod.get(m, head_loss, getattr(layer, "units", None)) for m in ms],
                          bool(not head_loss.from_logits and act is not None and act == head_loss.fuses_with)))
    return heads
