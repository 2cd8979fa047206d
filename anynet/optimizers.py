"""Optimizers that update one flat parameter vector in place: SGD (momentum, Nesterov),
RMSprop (momentum, centered), Adam (AMSGrad), AdamW; learning-rate schedules are in
:mod:`anynet.schedules` (re-exported here).

Formulas, argument names and defaults follow Keras 3. Every optimizer takes Keras'
``weight_decay`` (decoupled: ``theta -= lr * weight_decay * theta`` before the step, on
every entry, or only on kernels with ``decay_kernels_only=True``, which needs the model's
``decay_mask``) and one of ``clipnorm`` (each variable's gradient clipped to that norm,
which needs the model's ``segments``), ``global_clipnorm`` (the whole gradient) or
``clipvalue`` (each entry). Clipping, then decay, then the step, as Keras orders them.

Each step is a handful of whole-vector operations (no per-layer loop), and a backend may
replace it with a fused kernel from its ``kernels`` mapping, called as
``kernel(theta, g, state, **hyper)`` to update ``theta`` and ``state`` in place, with ``g``
already clipped and the decay already applied:

- ``"sgd_update"``: ``lr, momentum, nesterov``; ``state["velocity"]`` exists when
  momentum > 0. ``v = momentum * v - lr * g``; ``theta += v`` (Nesterov:
  ``theta += momentum * v - lr * g``); without momentum ``theta -= lr * g``.
- ``"rmsprop_update"``: ``lr, rho, epsilon``; ``s = rho * s + (1 - rho) * g**2``;
  ``theta -= lr * g / sqrt(s + epsilon)`` (Keras' form: epsilon inside the root). Called
  only when ``momentum == 0`` and ``centered`` is False.
- ``"adam_update"`` (Adam and AdamW): ``lr, lr_t, beta_1, beta_2, epsilon`` with
  ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``; ``theta -= lr_t * m / (sqrt(v) +
  epsilon)``. Called only when ``amsgrad`` is False.

State is a dict of flat arrays (``_slots``) plus the Python int ``iterations``; it is plain
data, so it can be copied, restored and saved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from anynet.errors import InputError, lookup
from anynet.schedules import ExponentialDecay, Schedule, StepDecay
from anynet.validation import check_nonnegative, check_positive, check_unit

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Schedule", "ExponentialDecay", "StepDecay", "get"]


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


class SGD(Optimizer):
    """Plain, momentum or Nesterov gradient descent (Keras' formulation).

    ``v = momentum * v - lr * g``; ``theta += v`` (or ``theta += momentum * v - lr * g``
    with Nesterov).
    """

    name = "sgd"
    kernel = "sgd_update"

    def __init__(self, learning_rate: float | Schedule = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, *, decay_kernels_only: bool = False) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, decay_kernels_only=decay_kernels_only)
        self.momentum = check_unit("momentum", momentum)
        self.nesterov = bool(nesterov)
        self._slots = ("velocity",) if self.momentum else ()

    def _hyper(self, step):
        return {"lr": self.lr(step), "momentum": self.momentum, "nesterov": self.nesterov}

    def _update(self, theta, g, state, xp, lr, momentum, nesterov):
        if not momentum:
            theta -= lr * g
            return
        v = state["velocity"]
        v *= momentum
        v -= lr * g
        if nesterov:
            theta += momentum * v - lr * g
        else:
            theta += v


class RMSprop(Optimizer):
    """Keras' RMSprop: ``s = rho * s + (1 - rho) * g**2``; ``theta -= lr * g / sqrt(s + epsilon)``.

    Epsilon sits inside the square root, as in Keras; torch's ``RMSprop`` divides by
    ``sqrt(s) + eps`` instead, which differs where ``s`` is near ``eps``: for gradients of
    about 1e-4 with Keras' default ``epsilon=1e-7``, torch's step is about 10 times Keras' at
    the first step and 3 times later. ``centered``
    subtracts the squared running mean of ``g`` from ``s`` under the root; ``momentum``
    accumulates the increments (``m = momentum * m + inc``; ``theta -= m``).
    """

    name = "rmsprop"
    kernel = "rmsprop_update"

    def __init__(self, learning_rate: float | Schedule = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 *, decay_kernels_only: bool = False) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, decay_kernels_only=decay_kernels_only)
        self.rho = check_unit("rho", rho)
        self.momentum = check_unit("momentum", momentum)
        self.epsilon = check_positive("epsilon", epsilon)
        self.centered = bool(centered)
        self._slots = ("s",) + (("mg",) if self.centered else ()) + (("momentum",) if self.momentum else ())

    def _fusable(self):
        return not self.centered and not self.momentum

    def _hyper(self, step):
        return {"lr": self.lr(step), "rho": self.rho, "epsilon": self.epsilon}

    def _update(self, theta, g, state, xp, lr, rho, epsilon):
        s = state["s"]
        s *= rho
        s += (1.0 - rho) * (g * g)
        if self.centered:
            mg = state["mg"]
            mg *= rho
            mg += (1.0 - rho) * g
            increment = lr * g / xp.sqrt(s - mg * mg + epsilon)
        else:
            increment = lr * g / xp.sqrt(s + epsilon)
        if self.momentum:
            m = state["momentum"]
            m *= self.momentum
            m += increment
            theta -= m
        else:
            theta -= increment


class Adam(Optimizer):
    """Adam with bias correction (Keras' epsilon placement):
    ``theta -= lr_t * m / (sqrt(v) + epsilon)``, ``lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t)``;
    with ``amsgrad`` the running maximum of ``v`` takes its place."""

    name = "adam"
    kernel = "adam_update"

    def __init__(self, learning_rate: float | Schedule = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 *, decay_kernels_only: bool = False) -> None:
        super().__init__(learning_rate, weight_decay=weight_decay, clipnorm=clipnorm, clipvalue=clipvalue,
                         global_clipnorm=global_clipnorm, decay_kernels_only=decay_kernels_only)
        self.beta_1 = check_unit("beta_1", beta_1)
        self.beta_2 = check_unit("beta_2", beta_2)
        self.epsilon = check_positive("epsilon", epsilon)
        self.amsgrad = bool(amsgrad)
        self._slots = ("m", "v", "vhat") if self.amsgrad else ("m", "v")

    def _fusable(self):
        return not self.amsgrad

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
        if self.amsgrad:
            vhat = state["vhat"]
            vhat[...] = xp.maximum(vhat, v)
            v = vhat
        theta -= lr_t * m / (xp.sqrt(v) + epsilon)


class AdamW(Adam):
    """Adam with decoupled weight decay (Keras' default 0.004): ``theta -= lr *
    weight_decay * theta`` on every entry (Keras' default; kernels only with
    ``decay_kernels_only=True``), then the Adam step."""

    name = "adamw"

    def __init__(self, learning_rate: float | Schedule = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None, *,
                 decay_kernels_only: bool = False) -> None:
        if weight_decay is None:
            raise InputError("AdamW needs a weight_decay number (Keras' default is 0.004), got None; "
                             "for no decay use Adam.")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay, clipnorm, clipvalue,
                         global_clipnorm, decay_kernels_only=decay_kernels_only)


_NAMES: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW}


def get(spec: str | Optimizer) -> Optimizer:
    """Return the Optimizer for a name ("sgd", "rmsprop", "adam", "adamw") or an Optimizer."""
    return lookup("optimizer", spec, Optimizer, _NAMES, "adam")
