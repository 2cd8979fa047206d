"""What every conformance test shares: tolerances (written once, here), and moving arrays
between the backend under test and the NumPy float64 reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from anynet.backend import Placement

# Agreement with the NumPy float64 reference for the same computation (PyTorch/JAX
# practice). Looser tolerances in a test need a comment saying why.
TOL = {
    "float64": {"rtol": 1e-12, "atol": 1e-14},
    "float32": {"rtol": 1e-5, "atol": 1e-6},
}

# Gradient checks run in float64 with central differences.
GRADCHECK_MAX = 1e-7


def put(backend: Placement, a: Any, dtype: str | None = None) -> Any:
    """Return host data ``a`` as an array of the backend under test, on its device."""
    a = np.asarray(a)
    if dtype is not None:
        a = a.astype(dtype)
    return backend.backend.from_numpy(a, backend.device)


def get(backend: Placement, x: Any) -> np.ndarray:
    """Return an array of the backend under test as a host NumPy array."""
    return backend.backend.to_numpy(x)


def assert_close(backend: Placement, actual: Any, expected: Any, dtype: str, *, scale: float = 1.0,
                 err_msg: str = "") -> None:
    """Assert ``actual`` (a backend array) matches the float64 reference within TOL[dtype].

    ``scale`` widens both tolerances; a caller that passes it says why in a comment.
    """
    tol = TOL[dtype]
    np.testing.assert_allclose(get(backend, actual).astype(np.float64), np.asarray(expected, dtype=np.float64),
                               rtol=tol["rtol"] * scale, atol=tol["atol"] * scale, err_msg=err_msg)


def same_place(backend: Placement, x: Any, dtype: str | None = None) -> None:
    """Assert x is an array of the backend under test, on its device, with ``dtype``."""
    assert backend.backend.owns(x), f"expected a {backend.backend.name} array, got {type(x)}"
    assert str(backend.backend.device_of(x)) == str(backend.device)
    if dtype is not None:
        assert x.dtype == getattr(backend.xp, dtype), (x.dtype, dtype)


def same_place_0d(backend: Placement, x: Any, dtype: str) -> None:
    """Assert x is a 0-d result of ``dtype`` on the backend's device.

    NumPy reductions give NumPy scalars (np.float64), not 0-d ndarrays; array-api-compat
    leaves that NumPy behaviour in place, so for numpy a np.generic of the dtype passes too.
    """
    if backend.backend.name == "numpy" and isinstance(x, np.generic):
        assert x.dtype == np.dtype(dtype), (x.dtype, dtype)
    else:
        same_place(backend, x, dtype)
    assert x.shape == ()
