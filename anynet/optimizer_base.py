"""The optimizer base class: weight decay, gradient clipping, the fused-kernel hook and the state.

Every optimizer takes Keras' ``weight_decay`` (decoupled: ``theta -= lr * weight_decay *
theta`` before the step, on every entry, or only on kernels with
``decay_kernels_only=True``, which needs the model's ``decay_mask``) and one of
``clipnorm`` (each variable's gradient clipped to that norm, which needs the model's
``segments``), ``global_clipnorm`` (the whole gradient) or ``clipvalue`` (each entry).
Clipping, then decay, then the step, as Keras orders them.

A subclass defines ``_update`` (the step, a handful of whole-vector operations) and may
name a backend ``kernel`` that takes the step fused, called as ``kernel(theta, g, state,
**hyper)`` to update ``theta`` and ``state`` in place, with ``g`` already clipped and the
decay already applied. State is a dict of flat arrays (``_slots``) plus the Python int
``iterations``; it is plain data, so it can be copied, restored and saved. The optimizers
themselves are in :mod:`anynet.optimizers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anynet.errors import InputError
from anynet.schedules import Schedule
from anynet.validation import check_nonnegative, check_positive

__all__ = ["Optimizer"]


def _optional(name: str, value: Any, check: Any) -> float | None:
    return None if value is None else check(name, value)


class Optimizer:
    """Base class: ``init(theta, xp)`` makes the state, ``update(theta, g, state, xp)`` steps."""

    name = "optimizer"
    #: the name of the backend kernel that can take this optimizer's step
    kernel: str | None = None
    _slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float | Schedule = 0.01, *, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, decay_kernels_only: bool = False) -> None:
        self.learning_rate = learning_rate if isinstance(learning_rate, Schedule) else check_positive(
            "learning_rate", learning_rate)
        self.weight_decay = _optional("weight_decay", weight_decay, check_nonnegative)
        self.clipnorm = _optional("clipnorm", clipnorm, check_positive)
        self.clipvalue = _optional("clipvalue", clipvalue, check_positive)
        self.global_clipnorm = _optional("global_clipnorm", global_clipnorm, check_positive)
        given = {k: v for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                   ("global_clipnorm", global_clipnorm)) if v is not None}
        if len(given) > 1:
            raise InputError(f"Only one of clipnorm, clipvalue and global_clipnorm can be set, got {given}.")
        self.decay_kernels_only = bool(decay_kernels_only)

    def lr(self, step: int) -> float:
        """Return the learning rate for step ``step``."""
        lr = self.learning_rate
        return float(lr(step)) if isinstance(lr, Schedule) else lr

    @property
    def needs_decay_mask(self) -> bool:
        """Whether :meth:`update` needs ``decay_mask`` (weight decay on kernels only)."""
        return bool(self.weight_decay) and self.decay_kernels_only

    @property
    def needs_segments(self) -> bool:
        """Whether :meth:`update` needs ``segments`` (per-variable ``clipnorm``)."""
        return self.clipnorm is not None

    def init(self, theta: Any, xp: Any) -> dict[str, Any]:
        """Return a fresh state for a parameter vector like ``theta``."""
        state: dict[str, Any] = {"iterations": 0}
        for s in self._slots:
            state[s] = xp.zeros_like(theta)
        return state

    def update(self, theta: Any, g: Any, state: dict[str, Any], xp: Any, *, kernels: dict[str, Any] | None = None,
               decay_mask: Any = None, segments: Sequence[tuple[int, int]] | None = None) -> None:
        """Apply one step to ``theta`` in place from gradient ``g``; advances ``state``.

        ``decay_mask`` (1 on kernels, 0 on biases; ``Layout.decay_mask``) is used with
        ``decay_kernels_only=True``; ``segments`` (each parameter's ``(start, stop)``;
        ``Layout.segments()``) with ``clipnorm``.
        """
        step = state["iterations"]
        g = self.clip(g, xp, segments)
        if self.weight_decay:
            self._decay(theta, self.lr(step), xp, decay_mask)
        hyper = self._hyper(step)
        fast = (kernels or {}).get(self.kernel) if self.kernel and self._fusable() else None
        if fast is not None:
            fast(theta, g, state, **hyper)
        else:
            self._update(theta, g, state, xp, **hyper)
        state["iterations"] = step + 1

    def clip(self, g: Any, xp: Any, segments: Sequence[tuple[int, int]] | None = None) -> Any:
        """Return ``g`` clipped as Keras clips: by value, by global norm, or each variable by
        its norm (``g * c / max(norm, c)``); ``g`` itself when no clipping is set."""
        if self.clipvalue is not None:
            return xp.clip(g, -self.clipvalue, self.clipvalue)
        if self.global_clipnorm is not None:
            c = self.global_clipnorm
            return g * (c / xp.maximum(xp.sqrt(xp.sum(g * g)), c))
        if self.clipnorm is not None:
            if segments is None:
                raise InputError("clipnorm clips each variable's gradient by its own norm, so update() needs "
                                 "segments=model.layout.segments(); for one norm over everything use "
                                 "global_clipnorm.")
            c = self.clipnorm
            parts = []
            for a, b in segments:
                part = g[a:b]
                parts.append(part * (c / xp.maximum(xp.sqrt(xp.sum(part * part)), c)))
            return xp.concat(parts)
        return g

    def _decay(self, theta: Any, lr: float, xp: Any, decay_mask: Any) -> None:
        factor = lr * self.weight_decay
        if not self.decay_kernels_only:
            theta -= factor * theta
            return
        if decay_mask is None:
            raise InputError(f"{type(self).__name__}(decay_kernels_only=True) decays kernels but not biases, so "
                             f"update() needs decay_mask=model.layout.decay_mask(...).")
        theta -= factor * (theta * decay_mask)

    def _fusable(self) -> bool:
        return True

    def _hyper(self, step: int) -> dict[str, Any]:
        return {"lr": self.lr(step)}

    def _update(self, theta: Any, g: Any, state: dict[str, Any], xp: Any, **hyper: Any) -> None:
        raise TypeError(f"{type(self).__name__} does not define _update")

    def get_config(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        if isinstance(self.learning_rate, Schedule):
            out["learning_rate"] = {"schedule": type(self.learning_rate).__name__,
                                    **self.learning_rate.get_config()}
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"
