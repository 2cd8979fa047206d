"""Fixtures shared by every test: which backends and devices to run on.

``--backend NAME[,NAME...]`` (default ``all``) picks the adapters. Each test that asks for
the ``backend`` fixture (a :class:`anynet.Placement`) or ``xp`` runs once per backend and
device; an adapter that is not usable here appears as a skipped case whose reason says
why (no GPU, not installed), so a run never silently tests less than it claims.
array-api-strict always runs on its default device and on its simulated ``device1``.
``--strictest`` also disables boolean indexing and data-dependent shapes there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import anynet
from anynet import backends
from anynet.backend import Placement

DATA_DIR = Path(os.environ.get("ANYNET_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

# The simulated devices of array-api-strict that the suite runs on: the default one and a
# second one, so device mismatches are exercised without a GPU.
STRICT_DEVICES = ("CPU_DEVICE", "device1")

# Known defects per backend: tests/conformance/xfails/<backend>.txt, one entry a line,
# "<regex on the test id>  # <reason>". A listed test is marked xfail(strict=True): it must
# fail, so a fixed defect shows up as XPASS and its entry has to go.
SUITE_DIR = Path(__file__).resolve().parent / "conformance"
XFAIL_DIR = Path(os.environ.get("ANYNET_XFAIL_DIR", SUITE_DIR / "xfails"))


def read_xfails(path: Path) -> list[tuple[re.Pattern[str], str]]:
    """Return (pattern, reason) pairs from an xfail file; every entry needs a reason."""
    entries = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        pattern, sep, reason = body.partition("#")
        if not sep or not reason.strip():
            raise pytest.UsageError(f"{path}:{n}: an xfail entry needs a reason after '#': {line!r}")
        entries.append((re.compile(pattern.strip()), reason.strip()))
    return entries


def device_label(adapter, device) -> str:
    """Return the short device name used in test ids and reports ('cpu', 'device1', 'cuda:0')."""
    text = str(device)
    m = re.search(r"Device\('([^']*)'\)", text)
    if m:  # array_api_strict.Device('device1') -> device1
        return m.group(1)
    if type(device).__module__.startswith("cupy"):  # <CUDA Device 0> -> cuda:0
        return f"cuda:{device.id}"
    return text


class Unavailable:
    """The parameter of a backend that is not usable here; its tests are skipped."""

    def __init__(self, name: str, reason: str) -> None:
        self.name, self.reason = name, reason


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", action="store", default="all",
                     help="backends to test: 'all' (default) or a comma-separated list of names")
    parser.addoption("--strictest", action="store_true", default=False,
                     help="array-api-strict with boolean indexing and data-dependent shapes disabled")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a test that takes more than a few seconds")
    opt = config.getoption("--backend")
    for name in [] if opt in ("all", "", None) else opt.split(","):
        if name.strip() and name.strip().lower() in backends.names() and getattr(backends.get(name.strip()), "chunked", False):
            raise pytest.UsageError(f"--backend {name.strip()}: a chunked backend holds no parameters and runs no "
                                    f"layer maths of its own; its tests are tests/test_dask_local.py and "
                                    f"tests/test_dask_cluster.py.")
    if config.getoption("--strictest"):
        import array_api_strict

        array_api_strict.set_array_api_strict_flags(boolean_indexing=False, data_dependent_shapes=False)


def _selected_names(config: pytest.Config) -> list[str]:
    opt = config.getoption("--backend")
    if opt in ("all", "", None):  # chunked adapters (Dask) hold no parameters: tests/test_dask*.py test them
        return [n for n in backends.names() if not getattr(backends.get(n), "chunked", False)]
    return [backends.get(n.strip()).name for n in opt.split(",") if n.strip()]


def _placement_params(config: pytest.Config) -> list:
    params = []
    for name in _selected_names(config):
        adapter = backends.get(name)
        reason = adapter.unavailable_reason()
        if reason is not None:
            params.append(pytest.param(Unavailable(name, reason), id=f"{name}-unavailable",
                                       marks=pytest.mark.skip(reason=f"{name}: {reason}")))
            continue
        devices = adapter.devices()
        if name == "array_api_strict":
            devices = [d for d in devices if device_label(adapter, d) in STRICT_DEVICES]
        for dev in devices:
            params.append(pytest.param(Placement(adapter, dev, adapter.namespace()),
                                       id=f"{name}-{device_label(adapter, dev)}"))
    return params


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Label each test with its backend/device (for reports) and apply the xfail files."""
    xfails = {p.stem: read_xfails(p) for p in XFAIL_DIR.glob("*.txt")} if XFAIL_DIR.is_dir() else {}
    for item in items:
        in_suite = Path(str(item.fspath)).parent == SUITE_DIR
        if in_suite and "backend" not in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(f"{item.nodeid} is in the conformance suite but does not take the `backend` "
                                    f"fixture; every conformance test runs on every backend (or lives elsewhere).")
        param = getattr(item, "callspec", None) and item.callspec.params.get("backend")
        if param is None:
            continue
        if isinstance(param, Unavailable):
            name, label = param.name, f"{param.name}-unavailable"
        else:
            name, label = param.backend.name, f"{param.backend.name}-{device_label(param.backend, param.device)}"
        item.user_properties.append(("backend", label))
        for pattern, reason in xfails.get(name, ()):
            if pattern.search(item.nodeid):
                item.add_marker(pytest.mark.xfail(reason=f"{name}: {reason}", strict=True))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", _placement_params(metafunc.config), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> Placement:
    """One backend and device of the run, as an anynet Placement (backend, device, xp)."""
    return request.param


@pytest.fixture
def xp(backend: Placement):
    """The Array API namespace of the backend under test."""
    return backend.xp


@pytest.fixture(autouse=True)
def _no_leaked_selection(monkeypatch: pytest.MonkeyPatch):
    """Each test starts with no process-wide selection and no ANYNET_BACKEND/DEVICE."""
    monkeypatch.delenv("ANYNET_BACKEND", raising=False)
    monkeypatch.delenv("ANYNET_DEVICE", raising=False)
    anynet.use(None)
    yield
    anynet.use(None)


@pytest.fixture(params=["float32", "float64"])
def dtype(request: pytest.FixtureRequest) -> str:
    """Each floating dtype anynet models support."""
    return request.param


@pytest.fixture
def data_dir() -> Path:
    """The shared data folder (ANYNET_DATA); tests that need it skip with a reason if absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"data folder {DATA_DIR} not found; set ANYNET_DATA to ../shared/data")
    return DATA_DIR
