"""Checks on what users pass in, with messages that quote the bad value and what was expected."""

from __future__ import annotations

import contextlib
import numbers
from typing import Any

import numpy as np

from anynet import backends
from anynet.backend import Placement, to_placement
from anynet.errors import InputError, InputTypeError

__all__ = ["check_int", "check_fraction", "place_like", "host_array", "check_number", "check_positive", "check_unit", "check_nonnegative",
           "as_data_array", "check_finite", "shape_of"]


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an int >= {minimum}, got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        raise InputError(f"{name} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_fraction(name: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1), or raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be a number in [0, 1), got {value!r}.") from None
    if not 0.0 <= v < 1.0:
        raise InputError(f"{name} must be in [0, 1), got {value!r}.")
    return v


def check_number(name: str, value: Any, expected: str) -> float:
    """Return a real number (not a bool, not a str) as a float, or raise InputTypeError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be {expected}, got {value!r} of type {type(value).__name__}.")
    return float(value)


def check_positive(name: str, value: Any) -> float:
    """Return ``value`` as a finite float > 0, or raise."""
    v = check_number(name, value, "a positive number")
    if not 0 < v < float("inf"):
        raise InputError(f"{name} must be a finite positive number, got {value!r}.")
    return v


def check_unit(name: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1), or raise."""
    v = check_number(name, value, "a number in [0, 1)")
    if not 0 <= v < 1:
        raise InputError(f"{name} must be in [0, 1), got {value!r}.")
    return v


def check_nonnegative(name: str, value: Any) -> float:
    """Return ``value`` as a finite float >= 0, or raise."""
    v = check_number(name, value, "a number >= 0")
    if not 0 <= v < float("inf"):
        raise InputError(f"{name} must be a finite number >= 0, got {value!r}.")
    return v


def shape_of(x: Any, name: str = "X") -> tuple[int, ...]:
    """Return the shape of an array or nested list, as a tuple of ints."""
    shape = getattr(x, "shape", None)
    if shape is not None:
        return tuple(int(d) for d in shape)
    try:
        return np.shape(x)
    except (ValueError, TypeError) as exc:
        raise InputTypeError(f"{name} could not be read as an array ({exc}); pass a rectangular array of numbers.") from None


def _kind(x: Any, placement: Placement, name: str) -> str:
    """Return 'bool', 'int' or 'float' for the dtype of x; raise for anything else."""
    adapter = backends.for_array(x)
    if adapter is None or adapter.name == "numpy":
        try:
            dt = np.asarray(x).dtype
        except (ValueError, TypeError) as exc:
            raise InputTypeError(f"{name} could not be read as an array ({exc}); pass a rectangular array of numbers.") from None
        kinds = {"b": "bool", "i": "int", "u": "int", "f": "float"}
        if dt.kind not in kinds:
            what = {"c": "complex", "O": "object", "U": "string", "S": "bytes", "M": "datetime",
                    "m": "timedelta", "V": "structured"}.get(dt.kind, str(dt))
            raise InputTypeError(f"{name} must hold real numbers (float, int, uint8, bool), got {what} data "
                                 f"of dtype {dt}.")
        return kinds[dt.kind]
    xp = adapter.namespace()
    if xp.isdtype(x.dtype, "bool"):
        return "bool"
    if xp.isdtype(x.dtype, "integral"):
        return "int"
    if xp.isdtype(x.dtype, "real floating"):
        return "float"
    raise InputTypeError(f"{name} must hold real numbers (float, int, uint8, bool), got dtype {x.dtype}.")


def as_data_array(x: Any, placement: Placement, *, name: str, dtype: Any = None) -> tuple[Any, str]:
    """Return ``(array on the placement, kind)``; cast to ``dtype`` when one is given.

    Raises InputTypeError for complex, object, string data; DeviceMismatchError for an
    array of another backend or device; InputError for an empty array.
    """
    if x is None:
        raise InputError(f"{name} is None; pass an array.")
    kind = _kind(x, placement, name)
    arr = to_placement(x, placement, name=name)
    if arr.ndim == 0:
        raise InputError(f"{name} must have a samples axis, got a scalar.")
    if arr.shape[0] == 0:
        raise InputError(f"{name} is empty (shape {tuple(arr.shape)}); pass at least one sample.")
    xp = placement.xp
    if dtype is not None and arr.dtype != dtype:
        arr = xp.astype(arr, dtype)
    return arr, kind


def place_like(x: Any, like: Any, xp: Any, name: str) -> Any:
    """Return array-like ``x`` (host data, or an array of ``like``'s backend) on ``like``'s
    device, keeping its dtype family: what a direct call such as ``loss(y_true, y_pred)`` accepts."""
    adapter = backends.for_array(x)
    if adapter is not None and adapter is backends.for_array(like):
        return x
    try:
        host = np.asarray(x if adapter is None else adapter.to_numpy(x))
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} could not be read as an array ({exc}).") from None
    if host.dtype.kind not in "biuf":
        raise InputTypeError(f"{name} must hold real numbers, got dtype {host.dtype}.")
    return xp.asarray(host, device=like.device)


def host_array(x: Any, name: str) -> np.ndarray:
    """Return host data (a list, a pandas object, a NumPy array) as a float64 NumPy array."""
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"{name} could not be read as an array of numbers ({exc}).") from None


def check_finite(x: Any, xp: Any, name: str) -> None:
    """Raise InputError if the floating-point array x holds NaN or infinity (one device sync)."""
    if not xp.isdtype(x.dtype, "real floating"):
        return
    # A sum of finite values is finite unless it overflows, so one pass settles the usual
    # case; the exact count runs only when the sum is not finite.
    adapter = backends.for_array(x)
    with adapter.quiet() if adapter is not None else contextlib.nullcontext():  # the sum may overflow: fine
        total = xp.sum(x)
    if bool(xp.isfinite(total)):
        return
    bad = int(xp.sum(xp.astype(~xp.isfinite(x), xp.int64)))
    if bad:
        raise InputError(f"{name} contains {bad} NaN or infinite value(s); clean or impute them before training.")
