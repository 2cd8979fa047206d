"""Learning-rate schedules: the learning rate as a function of the optimizer step.

An optimizer given a Schedule as its ``learning_rate`` asks it for the rate of every step
(0-based); callbacks that set the rate (ReduceLROnPlateau, LearningRateScheduler) need a
plain number instead.
"""

from __future__ import annotations

import math
from typing import Any

from anynet.validation import check_int, check_positive

__all__ = ["Schedule", "ExponentialDecay", "StepDecay"]


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
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.decay_steps = check_int("decay_steps", decay_steps)
        self.decay_rate = check_positive("decay_rate", decay_rate)
        self.staircase = bool(staircase)

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class StepDecay(Schedule):
    """``lr0 * factor ** (step // step_size)``: drop by ``factor`` every ``step_size`` steps."""

    def __init__(self, initial_learning_rate: float, factor: float = 0.5, step_size: int = 1000) -> None:
        self.initial_learning_rate = check_positive("initial_learning_rate", initial_learning_rate)
        self.factor = check_positive("factor", factor)
        self.step_size = check_int("step_size", step_size)

    def __call__(self, step):
        return self.initial_learning_rate * self.factor ** (step // self.step_size)
