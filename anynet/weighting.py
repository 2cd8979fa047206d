"""Per-sample weights from fit's and evaluate's ``sample_weight`` and ``class_weight`` (Keras' meaning).

- ``sample_weight``: one weight per sample, shape ``(n,)`` (or ``(n, 1)``), or one per
  position of the loss (``(n, time)`` for sequences, ``(n, h, w)`` for segmentation).
  For several outputs: a list in output order or a dict by output name (``None`` for an
  output without weights); a single array weights every output, as Keras does.
- ``class_weight``: a dict ``{class index: weight}``; each sample (each position, for
  integer labels with more axes such as segmentation masks) gets the weight of its class,
  classes missing from the dict weigh 1. The class is the integer label (sparse
  cross-entropy), the argmax of a one-hot row, or the rounded target of a single output
  (binary). Single-output models only, and not together with ``sample_weight`` (Keras
  refuses both the same way).

The weights multiply each sample's loss before the reduction (Keras: the default
``"sum_over_batch_size"`` still divides by the number of samples, not by the summed
weights) and weight the metrics, whose value is ``sum(w * value) / sum(w)``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from anynet.errors import InputError, InputTypeError
from anynet.heads import class_axis
from anynet.validation import as_data_array

__all__ = ["sample_weights"]


def _per_output(sample_weight: Any, names: list[str], label: str) -> list[Any]:
    """Return one sample_weight entry (or None) per output name."""
    if isinstance(sample_weight, dict):
        unknown = [k for k in sample_weight if k not in names]
        if unknown:
            raise InputError(f"{label} is a dict with keys {list(sample_weight)}; {unknown} name no output (the "
                             f"outputs are {names}).")
        return [sample_weight.get(n) for n in names]
    if len(names) > 1 and isinstance(sample_weight, (list, tuple)) and len(sample_weight) == len(names) and all(
            w is None or hasattr(w, "shape") or isinstance(w, (list, tuple)) for w in sample_weight):
        return list(sample_weight)
    return [sample_weight] * len(names)  # one array weights every output, as in Keras


def _positions(head: Any) -> tuple[int, ...]:
    """Return the per-sample shape of the loss's values: the output's shape without the class axis."""
    axis = class_axis(head)
    return tuple(d for i, d in enumerate(head.shape) if i != axis)


def _check_sample_weight(arr: Any, head: Any, n: int, xp: Any, label: str) -> Any:
    if int(arr.shape[0]) != n:
        raise InputError(f"{label} has {arr.shape[0]} weights (shape {tuple(arr.shape)}) for {n} samples; give one "
                         f"weight per sample.")
    rest, pos = tuple(arr.shape[1:]), _positions(head)
    if len(rest) == len(pos) + 1 and rest[-1] == 1:  # Keras' (n, 1)
        rest = rest[:-1]
        arr = xp.reshape(arr, (n, *rest))
    if len(rest) > len(pos) or any(r not in (1, p) for r, p in zip(rest, pos)):
        want = "(samples,)" + (f" or one per position, (samples, {', '.join(map(str, pos))})" if pos else "")
        raise InputError(f"{label} must have shape {want} for output {head.name!r} of shape {head.shape}, got shape "
                         f"{tuple(arr.shape)}.")
    # A sum of finite non-negative values is finite and >= 0 unless something is wrong: one sync.
    total = float(xp.sum(arr)) if arr.ndim else 0.0
    if not math.isfinite(total) or bool(xp.any(arr < 0)):
        bad = int(xp.sum(xp.astype(~xp.isfinite(arr), xp.int64)))
        what = f"{bad} NaN or infinite value(s)" if bad else "negative values"
        raise InputError(f"{label} contains {what}; sample weights are finite numbers >= 0.")
    return arr


def _check_class_weight(class_weight: Any, k: int) -> dict[int, float]:
    if not isinstance(class_weight, dict):
        raise InputTypeError(f"class_weight must be a dict {{class index: weight}}, got {class_weight!r}.")
    out = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise InputTypeError(f"class_weight keys are class indices (ints), got {key!r}.")
        if not 0 <= int(key) < k:
            raise InputError(f"class_weight has class {key!r}, but the model's output has {k} classes, 0..{k - 1}.")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                math.isfinite(float(value)) and float(value) >= 0):
            raise InputError(f"class_weight[{key!r}] must be a finite number >= 0, got {value!r}.")
        out[int(key)] = float(value)
    return out


def _from_classes(class_weight: Any, head: Any, T: Any, xp: Any, dtype: Any) -> Any:
    """Return each sample's (or position's) class weight for targets T as check_targets made them."""
    if head.loss.sparse:
        k = int(head.shape[class_axis(head)])
        labels = T
    else:
        k = int(T.shape[-1]) if T.shape[-1] > 1 else 2
        if T.shape[-1] > 1:
            labels = xp.argmax(T, axis=-1)
        else:
            labels = xp.astype(xp.round(xp.reshape(T, T.shape[:-1])), xp.int64)
    table_host = [1.0] * k
    for key, value in _check_class_weight(class_weight, k).items():
        table_host[key] = value
    table = xp.asarray(table_host, dtype=dtype, device=T.device)
    inside = (labels >= 0) & (labels < k)  # an ignore_class label keeps weight 1; the loss leaves it out
    flat = xp.reshape(xp.where(inside, labels, xp.zeros_like(labels)), (-1,))
    w = xp.reshape(xp.take(table, flat, axis=0), tuple(labels.shape))
    return xp.where(inside, w, xp.ones_like(w))


def sample_weights(model: Any, targets: list[Any], sample_weight: Any, class_weight: Any, n: int,
                   labels: tuple[str, str]) -> tuple[Any, ...] | None:
    """Return one weight array (or None) per output on the model's device, or None without weights.

    ``targets`` are the checked targets per output; ``labels`` name ``sample_weight`` and
    ``class_weight`` in messages.
    """
    if sample_weight is None and class_weight is None:
        return None
    heads, p = model.heads, model.placement
    xp, dtype = p.xp, getattr(p.xp, model.dtype)
    sw_label, cw_label = labels
    if class_weight is not None:
        if sample_weight is not None:
            raise InputError(f"Pass {sw_label} or {cw_label}, not both (Keras refuses both too); for both effects "
                             f"multiply each sample's weight by its class weight into {sw_label}.")
        if len(heads) > 1:
            raise InputError(f"{cw_label} works for models with one output (as in Keras); this model has "
                             f"{[h.name for h in heads]}: pass per-output {sw_label} instead.")
        return (_from_classes(class_weight, heads[0], targets[0], xp, dtype),)
    names = [h.name for h in heads]
    out = []
    for head, w in zip(heads, _per_output(sample_weight, names, sw_label)):
        if w is None:
            out.append(None)
            continue
        label = sw_label if len(heads) == 1 else f"{sw_label}[{head.name!r}]"
        arr, _ = as_data_array(w, p, name=label, dtype=dtype)
        out.append(_check_sample_weight(arr, head, n, xp, label))
    return tuple(out) if any(w is not None for w in out) else None
