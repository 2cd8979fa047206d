"""The adapter contract, checked on every backend and device."""

from __future__ import annotations

import numpy as np
import pytest

from anynet.backend import Placement

DTYPES = ["float32", "float64", "int64", "int32", "uint8", "bool"]


def _dtype(xp, name: str):
    return getattr(xp, name)


def test_namespace_is_array_api(backend: Placement):
    xp = backend.xp
    assert hasattr(xp, "__array_api_version__")
    for fn in ("matmul", "exp", "where", "take", "reshape", "concat", "astype", "isfinite"):
        assert callable(getattr(xp, fn)), fn


def test_default_device_is_listed(backend: Placement):
    adapter = backend.backend
    assert str(adapter.default_device()) in {str(d) for d in adapter.devices()}
    assert str(adapter.device(None)) == str(adapter.default_device())


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_round_trip_keeps_values_dtype_and_device(backend: Placement, dtype: str):
    adapter, dev = backend.backend, backend.device
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    x = adapter.from_numpy(a, dev)
    assert x.dtype == _dtype(backend.xp, dtype)
    assert str(adapter.device_of(x)) == str(dev)
    b = adapter.to_numpy(x)
    assert isinstance(b, np.ndarray)
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_round_trip_of_a_scalar_and_an_empty_array(backend: Placement):
    adapter, dev = backend.backend, backend.device
    s = adapter.to_numpy(adapter.from_numpy(np.float64(2.5), dev))
    assert s.shape == () and float(s) == 2.5
    e = adapter.to_numpy(adapter.from_numpy(np.zeros((0, 3), np.float32), dev))
    assert e.shape == (0, 3)


def test_owns_its_arrays_only(backend: Placement):
    adapter = backend.backend
    x = adapter.from_numpy(np.ones(3), backend.device)
    assert adapter.owns(x)
    assert not adapter.owns([1.0, 2.0])
    assert not adapter.owns(3.0)
    if adapter.name != "numpy":
        assert not adapter.owns(np.ones(3))


def test_synchronize_returns(backend: Placement):
    backend.backend.from_numpy(np.ones(3), backend.device)
    assert backend.backend.synchronize(backend.device) is None


def _draws(rng, dtype="float64"):
    return [rng.uniform((4, 5), dtype=dtype), rng.normal((7,), dtype=dtype),
            rng.bernoulli((50,), 0.3, dtype=dtype), rng.permutation(20)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rng_is_reproducible_per_seed(backend: Placement, dtype: str):
    adapter, dev = backend.backend, backend.device
    a = [adapter.to_numpy(x) for x in _draws(adapter.rng(123, dev), dtype)]
    b = [adapter.to_numpy(x) for x in _draws(adapter.rng(123, dev), dtype)]
    c = [adapter.to_numpy(x) for x in _draws(adapter.rng(124, dev), dtype)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, v) for u, v in zip(a, c))


def test_rng_arrays_are_on_the_device_with_the_dtype(backend: Placement):
    adapter, dev, xp = backend.backend, backend.device, backend.xp
    rng = adapter.rng(0, dev)
    for x in _draws(rng, "float32")[:3]:
        assert x.dtype == xp.float32
        assert str(adapter.device_of(x)) == str(dev)
    p = rng.permutation(9)
    assert p.dtype == xp.int64 and str(adapter.device_of(p)) == str(dev)


def test_rng_distributions(backend: Placement):
    adapter, dev = backend.backend, backend.device
    rng = adapter.rng(7, dev)
    u = adapter.to_numpy(rng.uniform((20000,), low=-0.12, high=0.12))
    assert u.min() >= -0.12 and u.max() < 0.12 and abs(u.mean()) < 0.005
    n = adapter.to_numpy(rng.normal((20000,), mean=1.0, std=2.0))
    assert abs(n.mean() - 1.0) < 0.1 and abs(n.std() - 2.0) < 0.1
    m = adapter.to_numpy(rng.bernoulli((20000,), 0.8))
    assert set(np.unique(m)) <= {0.0, 1.0} and abs(m.mean() - 0.8) < 0.02
    p = adapter.to_numpy(rng.permutation(1000))
    np.testing.assert_array_equal(np.sort(p), np.arange(1000))


def test_rng_state_round_trip(backend: Placement):
    adapter, dev = backend.backend, backend.device
    rng = adapter.rng(5, dev)
    rng.uniform((3,))
    state = rng.get_state()
    first = [adapter.to_numpy(x) for x in _draws(rng)]
    rng.set_state(state)
    again = [adapter.to_numpy(x) for x in _draws(rng)]
    for u, v in zip(first, again):
        np.testing.assert_array_equal(u, v)


def test_kernels_match_the_portable_code(backend: Placement):
    """Every elementwise activation kernel an adapter offers agrees with anynet's portable version
    (the other kernels are checked one by one in test_kernels.py)."""
    from anynet import activations

    adapter, xp = backend.backend, backend.xp
    z = adapter.from_numpy(np.linspace(-40, 40, 101), backend.device)
    for name, fn in adapter.kernels.items():
        portable = getattr(activations, f"_{name}_portable", None)
        if portable is None:
            continue
        np.testing.assert_allclose(adapter.to_numpy(fn(z)), adapter.to_numpy(portable(z, xp)),
                                   rtol=1e-12, atol=0, err_msg=name)
