"""How a loss turns per-position values into one number, with Keras' ``reduction`` and
``sample_weight`` semantics; shared by :mod:`anynet.losses` and :mod:`anynet.metrics`.

A loss first reduces over its class axis, leaving ``L`` with one value per sample (or
per position, for sequences and images). Then, as in Keras 3:

- ``sample_weight`` multiplies ``L``. Its rank may differ from ``L``'s by a trailing axis of
  size 1 (Keras' squeeze-or-expand rule); a weight of lower rank gets trailing axes, so
  ``(n,)`` weights whole samples of a ``(n, time)`` loss (Keras 3 would broadcast it against
  the last axis instead). A weight that does not broadcast raises InputError.
- a mask (``ignore_class``) zeroes positions; under ``"sum_over_batch_size"``/``"mean"`` the
  kept positions are rescaled by ``total / valid``, so the mean runs over kept positions only.
- ``reduction``: ``"sum_over_batch_size"`` (default) and ``"mean"`` divide the weighted sum by
  the number of positions in ``L``; ``"sum"`` does not divide; ``"mean_with_sample_weight"``
  divides by the sum of the weights (broadcast to ``L``'s shape; Keras sums them before
  broadcasting, which differs only for a scalar or broadcast weight); ``None``/``"none"``
  returns the weighted ``L``. A zero divisor gives 0, as Keras' ``divide_no_nan``.
"""

from __future__ import annotations

import numbers
from typing import Any

from anynet.errors import InputError
from anynet.validation import place_like

__all__ = ["REDUCTIONS", "check_reduction", "as_weights", "reduce"]

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
_MEANS = ("sum_over_batch_size", "mean")


def check_reduction(reduction: Any) -> str | None:
    """Return ``reduction`` if it is one of Keras' names (or None), else raise InputError."""
    if isinstance(reduction, str) and reduction in REDUCTIONS or reduction is None:
        return reduction
    raise InputError(f"reduction must be one of {[r for r in REDUCTIONS if r]} or None, got {reduction!r}.")


def _to(x: Any, like: Any, xp: Any) -> Any:
    """Return array-like ``x`` as an array of ``like``'s namespace, device and dtype."""
    x = place_like(x, like, xp, "sample_weight")
    return xp.astype(x, like.dtype) if x.dtype != like.dtype else x


def as_weights(sample_weight: Any, L: Any, xp: Any) -> Any:
    """Return ``sample_weight`` broadcast to ``L``'s shape, on its device and in its dtype
    (a Python float stays a float)."""
    if isinstance(sample_weight, numbers.Real) and not isinstance(sample_weight, bool):
        return float(sample_weight)
    W = _to(sample_weight, L, xp)
    given = tuple(W.shape)
    if W.ndim == L.ndim + 1 and W.shape[-1] == 1:  # Keras' squeeze-or-expand by one trailing axis
        W = xp.reshape(W, W.shape[:-1])
    while W.ndim < L.ndim:  # (n,) weights whole samples of an (n, time, ...) loss
        W = xp.reshape(W, tuple(W.shape) + (1,))
    ok = W.ndim == L.ndim and all(w in (1, d) for w, d in zip(W.shape, L.shape))
    if not ok:
        raise InputError(f"sample_weight of shape {given} does not fit the loss's per-sample "
                         f"values of shape {tuple(L.shape)}; pass one weight per sample, (n,), or per position.")
    return xp.broadcast_to(W, L.shape) if tuple(W.shape) != tuple(L.shape) else W


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def reduce(L: Any, xp: Any, reduction: str | None, W: Any = None, mask: Any = None) -> tuple[Any, Any]:
    """Return ``(value, G)``: the reduced loss and ``G = d value / d L`` (a float or an
    array shaped like ``L``). ``W`` comes from :func:`as_weights`; ``mask`` is a boolean
    array shaped like ``L`` (True where a position counts)."""
    if mask is not None:
        m = xp.astype(mask, L.dtype)
        if reduction in _MEANS:
            valid = xp.sum(m)
            total = float(_size(L.shape))
            m = m * xp.where(valid > 0, total / xp.where(valid > 0, valid, 1.0), 0.0)
        W = m if W is None else m * W
    if reduction is None or reduction == "none":
        return (L if W is None else L * W), (1.0 if W is None else W)
    weighted = W is not None and not isinstance(W, float)
    total = xp.sum(L * W) if weighted else (xp.sum(L) * W if W is not None else xp.sum(L))
    if reduction == "sum":
        return total, (1.0 if W is None else W)
    if reduction == "mean_with_sample_weight" and W is not None:
        d = xp.sum(W) if weighted else W * _size(L.shape)
    else:
        d = float(_size(L.shape))
    if isinstance(d, float):
        scale = 1.0 / d if d else 0.0
        return total * scale, (scale if W is None else W * scale)
    nonzero = d != 0
    scale = xp.where(nonzero, 1.0 / xp.where(nonzero, d, 1.0), 0.0)
    return total * scale, W * scale
