"""Optimizers that update one flat parameter vector in place: SGD (momentum, Nesterov),
RMSprop (momentum, centered), Adam (AMSGrad), AdamW; learning-rate schedules are in
:mod:`anynet.schedules` and the base class in :mod:`anynet.optimizer_base` (both
re-exported here).

Formulas, argument names and defaults follow Keras 3. Every optimizer takes Keras'
``weight_decay``, ``clipnorm``, ``global_clipnorm`` and ``clipvalue`` (see
:mod:`anynet.optimizer_base`). A backend may replace a step with a fused kernel from its
``kernels`` mapping, called as ``kernel(theta, g, state, **hyper)``:

- ``"sgd_update"``: ``lr, momentum, nesterov``; ``state["velocity"]`` exists when
  momentum > 0. ``v = momentum * v - lr * g``; ``theta += v`` (Nesterov:
  ``theta += momentum * v - lr * g``); without momentum ``theta -= lr * g``.
- ``"rmsprop_update"``: ``lr, rho, epsilon``; ``s = rho * s + (1 - rho) * g**2``;
  ``theta -= lr * g / sqrt(s + epsilon)`` (Keras' form: epsilon inside the root). Called
  only when ``momentum == 0`` and ``centered`` is False.
- ``"adam_update"`` (Adam and AdamW): ``lr, lr_t, beta_1, beta_2, epsilon`` with
  ``lr_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``; ``theta -= lr_t * m / (sqrt(v) +
  epsilon)``. Called only when ``amsgrad`` is False.
"""

from __future__ import annotations

import math

from anynet.errors import InputError, lookup
from anynet.optimizer_base import Optimizer
from anynet.schedules import ExponentialDecay, Schedule, StepDecay
from anynet.validation import check_positive, check_unit

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Schedule", "ExponentialDecay", "StepDecay", "get"]


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
