"""Backend adapters: the only code in anynet that names a concrete array library.

An adapter supplies what the Array API standard leaves out: random numbers, device
listing and synchronisation, host copies, and optional fused kernels. The portable core
(``anynet/``) asks the registry here for an adapter and does its maths through the
adapter's ``namespace()``.

Built-in adapters are ``numpy``, ``array_api_strict``, ``torch``, ``cupy`` and ``dask``. The
``dask`` adapter is *chunked*: the core never does maths on its arrays directly but asks it
to run ordinary anynet code on each row chunk (see ``backends/dask.py`` and
:mod:`anynet.chunked`). Third-party
packages add theirs through the entry-point group ``anynet.backends``; the entry point
names an adapter object (or a class, which is instantiated)::

    [project.entry-points."anynet.backends"]
    mylib = "mylib_anynet:adapter"
"""

from __future__ import annotations

import abc
import contextlib
import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from anynet.errors import BackendError, BackendUnavailableError, did_you_mean

__all__ = [
    "Backend",
    "HostRNG",
    "BackendStatus",
    "register",
    "get",
    "names",
    "available",
    "adapters",
    "for_array",
    "ENTRY_POINT_GROUP",
]

ENTRY_POINT_GROUP = "anynet.backends"

DIST = "anynet-nn"  # the distribution name used in install hints


class Backend(abc.ABC):
    """Base class of an adapter; subclasses fill in the library-specific parts.

    Devices are the library's own device objects (``"cpu"`` for NumPy, ``torch.device``,
    ``cupy.cuda.Device``, ``array_api_strict.Device``); :meth:`device` turns what a user
    writes (``None``, ``0``, ``"cuda:1"``, ``"device1"``) into one of them.
    """

    #: the name users select the backend by
    name: str = ""
    #: import name of the array library, for versions and hints
    library: str = ""
    #: how to install what this backend needs, shown when it is unavailable
    install_hint: str = ""
    #: True where reading a scalar back to the host costs no device synchronisation
    #: (the arrays already live in host memory), so the core may check values per step.
    host_memory: bool = True
    #: optional fused fast paths by name; the core falls back to portable code when absent
    kernels: Mapping[str, Callable[..., Any]] = {}
    #: True for an adapter of chunked arrays (Dask): the core hands its arrays to
    #: :mod:`anynet.chunked`, which runs the model per chunk through the adapter's
    #: chunk-wise methods (see backends/dask.py), and never places parameters on it
    chunked: bool = False
    #: True where this backend's products run in the process's BLAS thread pools, so
    #: anynet.threads may size them (through threadpoolctl) while it trains
    blas_threads: bool = False

    # -- availability ------------------------------------------------------------------
    def is_available(self) -> bool:
        """Return whether this backend can be used here; cheap, cached, never raises."""
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        """Return why the backend cannot be used here, or None when it can."""
        return None

    def version(self) -> str | None:
        """Return the array library's version, or None where it is not importable."""
        try:
            return importlib.metadata.version(self.library)
        except importlib.metadata.PackageNotFoundError:
            try:
                return str(importlib.import_module(self.library).__version__)
            except Exception:
                return None

    # -- namespace and devices -------------------------------------------------------
    @abc.abstractmethod
    def namespace(self) -> Any:
        """Return the Array API namespace ``xp`` of this backend."""

    def devices(self) -> list[Any]:
        """Return the devices this backend can place arrays on, default first."""
        return [self.default_device()]

    def default_device(self) -> Any:
        """Return the device arrays go to when none is asked for."""
        return self.namespace().__array_namespace_info__().default_device()

    def device(self, spec: Any = None) -> Any:
        """Return the device object meant by ``spec`` (None, an index, a name or a device).

        Raises BackendUnavailableError naming the devices there are when ``spec`` names
        none of them.
        """
        if spec is None:
            return self.default_device()
        devices = self.devices()
        for d in devices:
            if spec is d or _same_device(spec, d) or str(spec) == str(d):
                return d
        if isinstance(spec, int) and not isinstance(spec, bool) and 0 <= spec < len(devices):
            return devices[spec]
        raise BackendUnavailableError(
            f"Device {spec!r} is not available on backend {self.name!r}; "
            f"its devices here are {[str(d) for d in devices]}."
        )

    def device_of(self, x: Any) -> Any:
        """Return the device an array of this backend lives on."""
        import array_api_compat

        return array_api_compat.device(x)

    def owns(self, x: Any) -> bool:
        """Return whether ``x`` is an array of this backend (must not import the library)."""
        return False

    # -- data movement ---------------------------------------------------------------
    def to_numpy(self, x: Any) -> np.ndarray:
        """Return a host NumPy copy (or view, where the memory already is on the host) of x."""
        return np.asarray(x)

    def from_numpy(self, a: np.ndarray, device: Any = None) -> Any:
        """Return the host array ``a`` as an array of this backend on ``device``."""
        xp = self.namespace()
        return xp.asarray(a, device=self.device(device))

    def synchronize(self, device: Any = None) -> None:
        """Wait until the work queued on ``device`` has finished (no-op on the host)."""

    def quiet(self) -> contextlib.AbstractContextManager[Any]:
        """Return a context in which the library's floating-point warnings (overflow, invalid
        value, division by zero) stay silent: used around computations whose non-finite
        results anynet checks and reports itself. Libraries that do not warn need nothing."""
        return contextlib.nullcontext()

    # -- randomness ------------------------------------------------------------------
    def rng(self, seed: int | None, device: Any = None) -> HostRNG:
        """Return a seeded generator of arrays on ``device`` (see :class:`HostRNG`)."""
        return HostRNG(self, seed, self.device(device))

    # -- description -----------------------------------------------------------------
    def status(self) -> BackendStatus:
        """Return a record of this backend's availability, devices and version."""
        reason = self.unavailable_reason()
        devices: list[str] = []
        if reason is None:
            try:
                devices = [str(d) for d in self.devices()]
            except Exception as exc:  # a broken driver must not break the listing
                reason = f"listing devices failed: {exc}"
        return BackendStatus(self.name, reason is None, devices, self.version(), reason)

    def require(self) -> Backend:
        """Return self, or raise BackendUnavailableError saying why and how to install."""
        reason = self.unavailable_reason()
        if reason is not None:
            hint = f" Install it with: {self.install_hint}" if self.install_hint else ""
            raise BackendUnavailableError(f"Backend {self.name!r} is not usable here: {reason}.{hint}")
        return self

    def __repr__(self) -> str:
        return f"<anynet backend {self.name!r}>"


def _same_device(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


class HostRNG:
    """Seeded random arrays drawn on the host with NumPy's PCG64, then moved to a device.

    The same seed gives the same numbers on every backend that uses it. Adapters with a
    native device generator provide their own class with the same methods.
    """

    def __init__(self, backend: Backend, seed: int | None, device: Any) -> None:
        self.backend = backend
        self.device = device
        self._gen = np.random.Generator(np.random.PCG64(seed))

    def _out(self, a: np.ndarray) -> Any:
        return self.backend.from_numpy(a, self.device)

    def uniform(self, shape: Sequence[int], *, low: float = 0.0, high: float = 1.0, dtype: str = "float64") -> Any:
        """Return an array of ``shape`` drawn uniformly from [low, high)."""
        a = self._gen.random(tuple(shape), dtype=np.dtype(dtype))
        if low != 0.0 or high != 1.0:
            a = (a * (high - low) + low).astype(dtype, copy=False)
        return self._out(a)

    def normal(self, shape: Sequence[int], *, mean: float = 0.0, std: float = 1.0, dtype: str = "float64") -> Any:
        """Return an array of ``shape`` drawn from N(mean, std**2)."""
        a = self._gen.standard_normal(tuple(shape), dtype=np.dtype(dtype))
        if mean != 0.0 or std != 1.0:
            a = (a * std + mean).astype(dtype, copy=False)
        return self._out(a)

    def bernoulli(self, shape: Sequence[int], p: float, *, dtype: str = "float64") -> Any:
        """Return an array of ``shape`` holding 1 with probability ``p`` and 0 otherwise."""
        a = (self._gen.random(tuple(shape), dtype=np.float32) < p).astype(dtype)
        return self._out(a)

    def permutation(self, n: int) -> Any:
        """Return a random permutation of ``0..n-1`` as an int64 array."""
        return self._out(self._gen.permutation(n).astype(np.int64))

    def get_state(self) -> dict[str, Any]:
        """Return the generator state (plain Python data) for :meth:`set_state`."""
        return self._gen.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state returned by :meth:`get_state`."""
        self._gen.bit_generator.state = state


@dataclass(frozen=True)
class BackendStatus:
    """One row of :func:`available`: whether a backend is usable here, and its devices."""

    name: str
    usable: bool
    devices: list[str] = field(default_factory=list)
    version: str | None = None
    reason: str | None = None

    def __str__(self) -> str:
        if self.usable:
            return f"{self.name:<17} usable   {self.version or '?':<12} devices: {', '.join(self.devices)}"
        return f"{self.name:<17} missing  {self.version or '-':<12} {self.reason}"


# -- the registry ----------------------------------------------------------------------

_BUILTIN = {
    "numpy": "anynet.backends.numpy",
    "array_api_strict": "anynet.backends.array_api_strict",
    "torch": "anynet.backends.torch",
    "cupy": "anynet.backends.cupy",
    "dask": "anynet.backends.dask",
}
_ALIASES = {"np": "numpy", "strict": "array_api_strict", "array-api-strict": "array_api_strict",
            "pytorch": "torch", "cp": "cupy"}

_registry: dict[str, Backend] = {}
_lock = threading.Lock()
_entry_points_loaded = False


def register(adapter: Backend | type[Backend], *, replace: bool = False) -> Backend:
    """Add an adapter (instance or class) to the registry and return it."""
    if isinstance(adapter, type):
        adapter = adapter()
    name = getattr(adapter, "name", None)
    if not isinstance(name, str) or not name:
        raise BackendError(f"An adapter needs a non-empty string `name`, got {name!r} on {adapter!r}.")
    with _lock:
        if name in _registry and not replace and _registry[name] is not adapter:
            raise BackendError(f"A backend named {name!r} is already registered; pass replace=True.")
        _registry[name] = adapter
    return adapter


def _load_builtin(name: str) -> Backend:
    module = importlib.import_module(_BUILTIN[name])
    return register(module.adapter, replace=True)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN:
            continue
        try:
            register(ep.load(), replace=True)
        except Exception as exc:  # a broken plug-in must not break anynet
            import warnings

            warnings.warn(f"anynet backend entry point {ep.name!r} ({ep.value}) failed to load: {exc}",
                          RuntimeWarning, stacklevel=2)


def names() -> list[str]:
    """Return the names of every registered backend, built-in ones first."""
    _load_entry_points()
    return list(_BUILTIN) + sorted(n for n in _registry if n not in _BUILTIN)


def get(name: str | Backend) -> Backend:
    """Return the adapter called ``name`` (aliases like "np" and "strict" are accepted).

    Raises BackendError for an unknown name, suggesting the closest one. Does not check
    that the backend is usable; call ``.require()`` for that.
    """
    if isinstance(name, Backend):
        return name
    if not isinstance(name, str):
        raise BackendError(f"A backend is named by a string such as 'numpy', got {name!r}.")
    key = _ALIASES.get(name.lower(), name.lower())
    if key in _registry:
        return _registry[key]
    if key in _BUILTIN:
        return _load_builtin(key)
    _load_entry_points()
    if key in _registry:
        return _registry[key]
    known = names()
    raise BackendError(f"Unknown backend {name!r}.{did_you_mean(name, known + list(_ALIASES))} "
                       f"Known backends: {', '.join(known)}.")


def adapters() -> list[Backend]:
    """Return every registered adapter, usable or not."""
    return [get(n) for n in names()]


def available() -> list[BackendStatus]:
    """Return one :class:`BackendStatus` per registered backend: usable here, devices, version."""
    return [a.status() for a in adapters()]


def for_array(x: Any) -> Backend | None:
    """Return the adapter whose arrays ``x`` is, or None for host data (lists, scalars)."""
    for a in adapters():
        if a.owns(x):
            return a
    return None
