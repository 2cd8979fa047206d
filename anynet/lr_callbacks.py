"""Callbacks that set the optimizer's learning rate between epochs: ReduceLROnPlateau and
LearningRateScheduler, with Keras 3's arguments and behaviour.

Both need a plain-number learning rate: an optimizer driven by a
:class:`~anynet.schedules.Schedule` already has one per step, and they refuse it. Both add
the epoch's rate to the logs as ``"learning_rate"``, as Keras does (callbacks after them,
such as CSVLogger, see it).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

from anynet.callback_base import Callback, auto_mode
from anynet.errors import InputError, InputTypeError
from anynet.schedules import Schedule
from anynet.validation import check_int, check_nonnegative, check_positive

__all__ = ["ReduceLROnPlateau", "LearningRateScheduler"]


def _rate(callback: Callback) -> float:
    lr = callback.model.optimizer.learning_rate
    if isinstance(lr, Schedule):
        raise InputError(f"{type(callback).__name__} sets the learning rate, but the optimizer follows the schedule "
                         f"{lr!r}; give the optimizer a number, or use the schedule alone.")
    return float(lr)


def _set_rate(callback: Callback, value: float) -> None:
    _rate(callback)
    callback.model.optimizer.learning_rate = check_positive("learning_rate", value)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs; wait ``cooldown`` epochs after a reduction; never
    go below ``min_lr``. Keras' defaults: ``val_loss``, 0.1, 10 epochs, 1e-4."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0) -> None:
        self.factor = check_positive("factor", factor)
        if self.factor >= 1.0:
            raise InputError(f"ReduceLROnPlateau does not support a factor >= 1.0, got factor={factor!r}.")
        self.monitor = monitor
        self.mode = auto_mode(mode, monitor, "ReduceLROnPlateau")
        self.min_delta = check_nonnegative("min_delta", abs(min_delta) if isinstance(min_delta, numbers.Real)
                                           and not isinstance(min_delta, bool) else min_delta)
        self.patience = check_int("patience", patience, minimum=0)
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_nonnegative("min_lr", min_lr)
        self.verbose = verbose
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0

    def _improved(self, current: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _rate(self)
        if self.monitor not in logs:
            raise InputError(f"ReduceLROnPlateau monitors {self.monitor!r}, which this training does not report; it "
                             f"reports {sorted(logs)}. Pass validation data for 'val_' keys.")
        current = float(logs[self.monitor])
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old = _rate(self)
        if old > self.min_lr:
            new = max(old * self.factor, self.min_lr)
            _set_rate(self, new)
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            self.cooldown_counter, self.wait = self.cooldown, 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``, Keras' older form), epochs counted from 0."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        if not callable(schedule):
            raise InputTypeError(f"LearningRateScheduler needs a function of (epoch, lr), got {schedule!r}.")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = _rate(self)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        if isinstance(new, bool) or not isinstance(new, numbers.Real) or not math.isfinite(float(new)):
            raise InputError(f"The schedule must return a finite number, got {new!r} for epoch {epoch}.")
        _set_rate(self, float(new))
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _rate(self)
