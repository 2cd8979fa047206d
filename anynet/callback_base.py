"""The base class of training callbacks, and what several callbacks share."""

from __future__ import annotations

from typing import Any

from anynet.errors import InputError

__all__ = ["Callback", "LambdaCallback", "auto_mode"]


class Callback:
    """Base class; override the hooks you need. ``self.model`` is set before training."""

    model: Any = None
    params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_end(self, logs: dict[str, Any] | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None: ...


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda e, logs: ...)``."""

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise InputError(f"LambdaCallback got unknown hook {name!r}.")
            setattr(self, name, fn)


def auto_mode(mode: str, monitor: str, who: str) -> str:
    """Return 'min' or 'max' for a monitored log key: 'auto' reads 'max' for accuracies, AUC,
    precision and recall, 'min' otherwise (losses)."""
    if mode not in ("auto", "min", "max"):
        raise InputError(f"{who} mode must be 'auto', 'min' or 'max', got {mode!r}.")
    if mode == "auto":
        return "max" if any(w in monitor for w in ("acc", "auc", "precision", "recall")) else "min"
    return mode
