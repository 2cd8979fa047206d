"""Choosing the backend and device a computation runs on.

Precedence, first match wins:

1. an explicit ``backend=`` / ``device=`` argument;
2. ``with anynet.using("cupy", device=0):`` (a context variable: threads and asyncio
   tasks each see their own);
3. ``anynet.use("torch")`` for the whole process;
4. the environment variables ``ANYNET_BACKEND`` (and ``ANYNET_DEVICE``);
5. the backend and device of the input arrays;
6. NumPy on the CPU.

Host data (NumPy arrays, lists, pandas, scalars) never decides when a device array comes
with it: host data given together with arrays of one backend and device in the same call
(``fit(torch_X, numpy_y)``) follows them to that device, copied once when the call checks
its inputs. It also goes where a backend chosen by 1-4 points. Arrays of two backends or
two devices in one call raise :class:`DeviceMismatchError` naming both: nothing is copied
between devices behind the user's back.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from anynet import backends
from anynet.backends import Backend
from anynet.errors import DeviceMismatchError

__all__ = ["Placement", "Selection", "use", "using", "current", "resolve", "describe"]


@dataclass(frozen=True)
class Selection:
    """A backend chosen by the user, the device spec that came with it, and where from."""

    backend: Backend
    device: Any
    source: str


@dataclass(frozen=True)
class Placement:
    """Where a computation runs: the adapter, the device object, and the namespace ``xp``."""

    backend: Backend
    device: Any
    xp: Any

    def __str__(self) -> str:
        return f"{self.backend.name} on {self.device}"


_context: contextvars.ContextVar[Selection | None] = contextvars.ContextVar("anynet_backend", default=None)
_process: Selection | None = None


def _select(backend: str | Backend | None, device: Any, source: str) -> Selection | None:
    if backend is None and device is None:
        return None
    base = current() if backend is None else None
    adapter = backends.get(backend) if backend is not None else (base.backend if base else backends.get("numpy"))
    adapter.require()
    if device is not None:
        adapter.device(device)  # fail now, at the line that asked for it
    return Selection(adapter, device, source)


def use(backend: str | Backend | None, device: Any = None) -> None:
    """Make ``backend`` (and ``device``) the process-wide default; ``use(None)`` clears it."""
    global _process
    _process = _select(backend, device, f"anynet.use({_spec(backend, device)})")


@contextlib.contextmanager
def using(backend: str | Backend | None, device: Any = None) -> Iterator[Placement]:
    """Run the ``with`` block on ``backend`` / ``device``; yields the resulting Placement."""
    sel = _select(backend, device, f"anynet.using({_spec(backend, device)})")
    token = _context.set(sel)
    try:
        yield resolve()
    finally:
        _context.reset(token)


def _spec(backend: Any, device: Any) -> str:
    name = backend.name if isinstance(backend, Backend) else backend
    return f"{name!r}" + (f", device={device!r}" if device is not None else "")


def current() -> Selection | None:
    """Return the user's selection from context, process or environment, or None."""
    sel = _context.get()
    if sel is not None:
        return sel
    if _process is not None:
        return _process
    env_backend = os.environ.get("ANYNET_BACKEND") or None
    env_device = os.environ.get("ANYNET_DEVICE") or None
    if env_backend is None and env_device is None:
        return None
    device: Any = int(env_device) if env_device and env_device.isdigit() else env_device
    source = "the environment (ANYNET_BACKEND" + ("/ANYNET_DEVICE)" if env_device else ")")
    adapter = backends.get(env_backend or "numpy")
    adapter.require()
    return Selection(adapter, device, source)


def describe(x: Any) -> str:
    """Return 'a torch array on cuda:0' style words for an array, for error messages."""
    adapter = backends.for_array(x)
    if adapter is None:
        return f"host data of type {type(x).__name__}"
    return f"a {adapter.name} array on {adapter.device_of(x)}"


def resolve(arrays: Mapping[str, Any] | None = None, *, backend: str | Backend | None = None,
            device: Any = None) -> Placement:
    """Return the Placement for a call with the named input ``arrays``, by the precedence above.

    NumPy arrays among ``arrays`` count only when no other backend's array is there (host
    data follows device data). Raises DeviceMismatchError when the device arrays live on
    two backends or devices, or on a backend or device other than the one selected;
    BackendError / BackendUnavailableError for a name that does not exist or cannot be used here.
    """
    found: dict[tuple[str, str], tuple[str, Backend, Any]] = {}
    host: dict[tuple[str, str], tuple[str, Backend, Any]] = {}
    for name, x in (arrays or {}).items():
        if x is None:
            continue
        adapter = backends.for_array(x)
        if adapter is not None:
            dev = adapter.device_of(x)
            # NumPy arrays are host data: they decide only when no device array is given.
            (host if adapter.name == "numpy" else found).setdefault((adapter.name, str(dev)), (name, adapter, dev))
    found = found or host
    if len(found) > 1:
        (n1, a1, d1), (n2, a2, d2) = list(found.values())[:2]
        raise DeviceMismatchError(
            f"Arrays from two places met in one call: {n1} is a {a1.name} array on {d1}, "
            f"{n2} is a {a2.name} array on {d2}. anynet copies nothing silently; move one "
            f"explicitly (for example backend.from_numpy(backend.to_numpy(x), device)).")
    data = next(iter(found.values()), None)

    sel = _select(backend, device, "the argument " + _spec(backend, device)) if (
        backend is not None or device is not None) else current()
    if sel is None:
        if data is None:
            adapter = backends.get("numpy")
            return Placement(adapter, adapter.default_device(), adapter.namespace())
        _, adapter, dev = data
        return Placement(adapter, dev, adapter.namespace())

    adapter = sel.backend
    if data is None:
        return Placement(adapter, adapter.device(sel.device), adapter.namespace())
    name, data_adapter, data_dev = data
    if data_adapter is adapter:
        if sel.device is None:
            return Placement(adapter, data_dev, adapter.namespace())
        dev = adapter.device(sel.device)
        if str(dev) != str(data_dev):
            raise DeviceMismatchError(
                f"{name} is on device {data_dev} but device {dev} was selected by {sel.source}; "
                f"move {name} there explicitly or select its device.")
        return Placement(adapter, dev, adapter.namespace())
    if data_adapter.name == "numpy":  # host data goes where the user pointed
        return Placement(adapter, adapter.device(sel.device), adapter.namespace())
    raise DeviceMismatchError(
        f"{name} is a {data_adapter.name} array on {data_dev}, but backend {adapter.name!r} was "
        f"selected by {sel.source}; anynet copies nothing silently. Select {data_adapter.name!r} "
        f"or move {name} explicitly.")


def to_placement(x: Any, placement: Placement, *, name: str = "x") -> Any:
    """Return ``x`` as an array of ``placement`` (host data is copied in; others must match)."""
    adapter = backends.for_array(x)
    if adapter is placement.backend:
        dev = adapter.device_of(x)
        if str(dev) != str(placement.device):
            raise DeviceMismatchError(f"{name} is on device {dev} but the computation runs on "
                                      f"{placement}; move {name} there explicitly.")
        return x
    if adapter is None or adapter.name == "numpy":
        return placement.backend.from_numpy(np.asarray(x), placement.device)
    raise DeviceMismatchError(f"{name} is a {adapter.name} array on {adapter.device_of(x)}, but the "
                              f"computation runs on {placement}; anynet copies nothing silently.")
