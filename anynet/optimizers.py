"""Optimizers that update one flat parameter vector in place: SGD (momentum, Nesterov),
RMSprop, Adam, AdamW; and learning-rate schedules.

Formulas and defaults follow Keras. Each update is a handful of whole-vector operations
(no per-layer loop), and a backend may replace one with a fused kernel through its
``kernels`` mapping (``"sgd_update"``, ``"rmsprop_update"``, ``"adam_update"``), which
receives ``(theta, g, state, **hyper)`` and updates in place.

State is a dict of flat arrays plus the Python int ``iterations``; it is plain data, so
it can be copied, restored and saved.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from anynet.errors import InputError, InputTypeError, lookup
from anynet.validation import check_int

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Schedule", "ExponentialDecay", "StepDecay", "get"]


class Schedule:
    """A learning rate as a function of the optimizer step (0-based)."""

    def __call__(self, step: int) -> float:
        raise TypeError(f"{type(self).__name__} does not define __call__")

    def get_config(self) -> dict[str, Any]:
        return dict(vars(self))


class ExponentialDecay(Schedule):
    """``lr0 * decay_rate ** (step / decay_steps)`` (floored exponent when ``staircase``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        self.initial_learning_rate = _positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = check_int("decay_steps", decay_steps)
        self.decay_rate = _positive("decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class StepDecay(Schedule):
    """``lr0 * factor ** (step // step_size)``: drop by ``factor`` every ``step_size`` steps."""

    def __init__(self, initial_learning_rate: float, factor: float = 0.5, step_size: int = 1000) -> None:
        self.initial_learning_rate = _positive("initial_learning_rate", initial_learning_rate)
        self.factor = _positive("factor", factor)
        self.step_size = check_int("step_size", step_size)

    def __call__(self, step):
        return self.initial_learning_rate * self.factor ** (step // self.step_size)


def _number(name: str, value: Any, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be {expected}, got {value!r} of type {type(value).__name__}.")
    return float(value)


def _positive(name: str, value: Any) -> float:
    v = _number(name, value, "a positive number")
    if not 0 < v < float("inf"):
        raise InputError(f"{name} must be a finite positive number, got {value!r}.")
    return v


def _unit(name: str, value: Any) -> float:
    v = _number(name, value, "a number in [0, 1)")
    if not 0 <= v < 1:
        raise InputError(f"{name} must be in [0, 1), got {value!r}.")
    return v


def _nonnegative(name: str, value: Any) -> float:
    v = _number(name, value, "a number >= 0")
    if not 0 <= v < float("inf"):
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}.")
    return v


class Optimizer:
    """Base class: ``init(theta, xp)`` makes the state, ``update(theta, g, state, xp)`` steps."""

    name = "optimizer"
    _slots: tuple[str, ...] = ()

    def __init__(self, learning_rate: float | Schedule = 0.01) -> None:
        self.learning_rate = learning_rate if isinstance(learning_rate, Schedule) else _positive(
            "learning_rate", learning_rate)

    def lr(self, step: int) -> float:
        """Return the learning rate for step ``step``."""
        lr = self.learning_rate
        return float(lr(step)) if isinstance(lr, Schedule) else lr

    def init(self, theta: Any, xp: Any) -> dict[str, Any]:
        """Return a fresh state for a parameter vector like ``theta``."""
        state: dict[str, Any] = {"iterations": 0}
        for s in self._slots:
            state[s] = xp.zeros_like(theta)
        return state

    def update(self, theta: Any, g: Any, state: dict[str, Any], xp: Any, *,
               kernels: dict[str, Any] | None = None, decay_mask: Any = None) -> None:
        """Apply one step to ``theta`` in place from gradient ``g``; advances ``state``."""
        step = state["iterations"]
        fast = (kernels or {}).get(f"{self.name}_update")
        hyper = self._hyper(step)
        if fast is not None:
            fast(theta, g, state, **hyper)
        else:
            self._update(theta, g, state, xp, **hyper)
        state["iterations"] = step + 1

    def _hyper(self, step: int) -> dict[str, float]:
        return {"lr": self.lr(step)}

    def _update(self, theta: Any, g: Any, state: dict[str, Any], xp: Any, **hyper: float) -> None:
        raise TypeError(f"{type(self).__name__} does not define _update")

    def get_config(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if not k.startswith("_")}
        if isinstance(self.learning_rate, Schedule):
            out["learning_rate"] = {"schedule": type(self.learning_rate).__name__,
                                    **self.learning_rate.get_config()}
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"


class SGD(Optimizer):
    """Plain, momentum or Nesterov gradient descent (Keras' formulation).

    ``v = momentum * v - lr * g``; ``theta += v`` (or ``theta += momentum * v - lr * g``
    with Nesterov).
    """

    name = "sgd"

    def __init__(self, learning_rate: float | Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
        super().__init__(learning_rate)
        self.momentum = _unit("momentum", momentum)
        self.nesterov = bool(nesterov)
        self._slots = ("velocity",) if self.momentum else ()

    def _update(self, theta, g, state, xp, lr):
        if not self.momentum:
            theta -= lr * g
            return
        v = state["velocity"]
        v *= self.momentum
        v -= lr * g
        if self.nesterov:
            theta += self.momentum * v - lr * g
        else:
            theta += v


class RMSprop(Optimizer):
    """``s = rho * s + (1 - rho) * g**2``; ``theta -= lr * g / (sqrt(s) + epsilon)``."""

    name = "rmsprop"
    _slots = ("s",)

    def __init__(self, learning_rate: float | Schedule = 0.001, rho: float = 0.9, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.rho = _unit("rho", rho)
        self.epsilon = _positive("epsilon", epsilon)

    def _hyper(self, step):
        return {"lr": self.lr(step), "rho": self.rho, "epsilon": self.epsilon}

    def _update(self, theta, g, state, xp, lr, rho, epsilon):
        s = state["s"]
        s *= rho
        s += (1.0 - rho) * (g * g)
        theta -= lr * g / (xp.sqrt(s) + epsilon)


class Adam(Optimizer):
    """Adam with bias correction (Keras' epsilon placement):
    ``theta -= lr_t * m / (sqrt(v) + epsilon)``, ``lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)``."""

    name = "adam"
    _slots = ("m", "v")

    def __init__(self, learning_rate: float | Schedule = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate)
        self.beta_1 = _unit("beta_1", beta_1)
        self.beta_2 = _unit("beta_2", beta_2)
        self.epsilon = _positive("epsilon", epsilon)

    def _hyper(self, step):
        t = step + 1
        lr = self.lr(step)
        return {"lr": lr, "lr_t": lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t),
                "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _update(self, theta, g, state, xp, lr, lr_t, beta_1, beta_2, epsilon, **_):
        m, v = state["m"], state["v"]
        m *= beta_1
        m += (1.0 - beta_1) * g
        v *= beta_2
        v += (1.0 - beta_2) * (g * g)
        theta -= lr_t * m / (xp.sqrt(v) + epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``theta -= lr * weight_decay * theta`` on kernels
    (biases are not decayed), then the Adam step."""

    name = "adamw"

    def __init__(self, learning_rate: float | Schedule = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon)
        self.weight_decay = _nonnegative("weight_decay", weight_decay)

    def update(self, theta, g, state, xp, *, kernels=None, decay_mask=None):
        if self.weight_decay:
            factor = self.lr(state["iterations"]) * self.weight_decay
            theta -= factor * (theta * decay_mask if decay_mask is not None else theta)
        super().update(theta, g, state, xp, kernels=kernels)


_NAMES: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get(spec: str | Optimizer) -> Optimizer:
    """Return the Optimizer for a name ("sgd", "rmsprop", "adam", "adamw") or an Optimizer."""
    return lookup("optimizer", spec, Optimizer, _NAMES, "adam")
