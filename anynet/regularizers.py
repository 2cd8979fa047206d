"""Weight penalties added to the loss: L1, L2 and both.

Conventions follow Keras: ``L2(l)`` adds ``l * sum(W**2)`` to every batch's loss, with
gradient ``2 * l * W``. ex4's ``lambda / (2 m) * sum(Theta**2)`` over m samples is
``L2(lambda / (2 * m))``. Biases are unregularized unless a ``bias_regularizer`` is given.
"""

from __future__ import annotations

import numbers
from typing import Any

from anynet.errors import InputError, InputTypeError, lookup

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get"]


def _coef(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a non-negative number, got {value!r} of type {type(value).__name__}.")
    v = float(value)
    if not 0 <= v < float("inf"):
        raise InputError(f"{name} must be a finite non-negative number, got {value!r}.")
    return v


class Regularizer:
    """``l1 * sum(|W|) + l2 * sum(W**2)``; subclasses only fix the defaults."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _coef("l1", l1)
        self.l2 = _coef("l2", l2)

    def penalty(self, W: Any, xp: Any) -> Any:
        """Return the penalty of W as a 0-d array (a NumPy scalar on NumPy) of W's dtype."""
        terms = []
        if self.l1:
            terms.append(self.l1 * xp.sum(xp.abs(W)))
        if self.l2:
            terms.append(self.l2 * xp.sum(W * W))
        if not terms:
            return xp.zeros((), dtype=W.dtype, device=W.device)
        return terms[0] + terms[1] if len(terms) == 2 else terms[0]

    def gradient(self, W: Any, xp: Any) -> Any:
        """Return d penalty / dW, same shape as W."""
        if self.l1 and self.l2:
            return self.l1 * xp.sign(W) + (2.0 * self.l2) * W
        if self.l1:
            return self.l1 * xp.sign(W)
        return (2.0 * self.l2) * W

    def get_config(self) -> dict[str, float]:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1!r}, l2={self.l2!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regularizer) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((self.l1, self.l2))


class L1(Regularizer):
    """``l1 * sum(|W|)``."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)


class L2(Regularizer):
    """``l2 * sum(W**2)``."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)


class L1L2(Regularizer):
    """``l1 * sum(|W|) + l2 * sum(W**2)``."""


_NAMES = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(spec: str | Regularizer | None) -> Regularizer | None:
    """Return the regularizer for None, a name ("l1", "l2", "l1_l2") or a Regularizer."""
    return None if spec is None else lookup("regularizer", spec, Regularizer, _NAMES, "l2")
