"""The exceptions anynet raises on purpose.

Every error a user can cause with bad input is an :class:`AnynetError` that is also a
``ValueError`` or ``TypeError``, so code that already catches those keeps working, and
its message quotes the bad value and what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "AnynetError",
    "InputError",
    "InputTypeError",
    "BackendError",
    "BackendUnavailableError",
    "DeviceMismatchError",
    "UnknownNameError",
    "NotCompiledError",
    "NonFiniteLossError",
    "SaveFileError",
    "NonFiniteOutputError",
    "did_you_mean",
    "lookup",
]


class AnynetError(Exception):
    """Base class of every error anynet raises on purpose."""


class InputError(AnynetError, ValueError):
    """An argument has the right type but a wrong value, shape or range."""


class InputTypeError(AnynetError, TypeError):
    """An argument has a type or dtype anynet cannot use (complex, object, str...)."""


class BackendError(AnynetError, ValueError):
    """A backend or device was named that does not exist, or cannot be used here."""


class BackendUnavailableError(BackendError):
    """The backend exists but is not usable on this machine (not installed, no GPU)."""


class DeviceMismatchError(BackendError):
    """Arrays of two backends or two devices met in one call; nothing is copied silently."""


class UnknownNameError(InputError):
    """A string name (loss, optimizer, activation...) that anynet does not know."""


class SaveFileError(InputError):
    """A model file could not be written, or read back: missing, truncated, damaged, of a
    newer format, or not fitting the model. Nothing was loaded into any model."""


class NonFiniteOutputError(InputError):
    """A pass over finite inputs overflowed: ``predict`` or ``evaluate`` would have returned
    NaN or infinity, so it raises this instead."""


class NotCompiledError(AnynetError, RuntimeError):
    """A model was trained or evaluated before ``compile``."""


class NonFiniteLossError(AnynetError, FloatingPointError):
    """Training produced a NaN or infinite loss; the weights from before that step are kept.

    Attributes ``epoch`` and ``batch`` (both 0-based) say where it happened.
    """

    def __init__(self, message: str, *, epoch: int, batch: int) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch


def did_you_mean(name: object, choices: Iterable[str]) -> str:
    """Return a ' Did you mean ...?' hint for ``name`` among ``choices`` ('' if none is close)."""
    close = difflib.get_close_matches(str(name).lower(), sorted(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> UnknownNameError:
    """Return the error for an unknown ``kind`` name, listing the choices and the closest one."""
    choices = sorted(choices)
    plural = kind + ("es" if kind.endswith("s") else "s")
    return UnknownNameError(
        f"Unknown {kind} {name!r}.{did_you_mean(name, choices)} "
        f"Known {plural}: {', '.join(choices)}."
    )


def lookup(kind: str, spec: Any, cls: type[T], names: Mapping[str, Callable[[], T]], example: str) -> T:
    """Return ``spec`` if it is a ``cls``, else a new ``names[spec.lower()]()``.

    Raises InputTypeError for anything but a ``cls`` or a string, and UnknownNameError
    (suggesting the closest name) for a string that is not in ``names``.
    """
    if isinstance(spec, cls):
        return spec
    if not isinstance(spec, str):
        article = "An" if kind[0] in "aeiou" else "A"
        raise InputTypeError(f"{article} {kind} is a name such as {example!r} or an anynet {cls.__name__}, got {spec!r}.")
    key = spec.lower()
    if key not in names:
        raise unknown_name(kind, spec, names)
    return names[key]()
