"""Backend selection: precedence, isolation between threads and tasks, and clear errors."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

import anynet
from anynet import backends
from anynet.backend import resolve, to_placement
from anynet.errors import BackendError, BackendUnavailableError, DeviceMismatchError

strict = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
DEV1 = strict.Device("device1")


def test_default_is_numpy_on_cpu():
    p = resolve()
    assert p.backend.name == "numpy" and p.device == "cpu"


def test_inferred_from_the_input_arrays():
    x = strict.asarray([1.0, 2.0], device=DEV1)
    p = resolve({"X": x})
    assert p.backend.name == "array_api_strict" and p.device == DEV1


def test_host_lists_do_not_decide():
    assert resolve({"X": [[1.0, 2.0]]}).backend.name == "numpy"


def test_environment_beats_inference_and_moves_host_data(monkeypatch):
    monkeypatch.setenv("ANYNET_BACKEND", "array_api_strict")
    monkeypatch.setenv("ANYNET_DEVICE", "device1")
    p = resolve({"X": np.ones(3)})
    assert p.backend.name == "array_api_strict" and p.device == DEV1
    x = to_placement(np.ones(3), p, name="X")
    assert x.device == DEV1


def test_use_beats_environment(monkeypatch):
    monkeypatch.setenv("ANYNET_BACKEND", "torch")
    anynet.use("array_api_strict")
    assert resolve().backend.name == "array_api_strict"


def test_using_beats_use_and_restores_it():
    anynet.use("numpy")
    with anynet.using("array_api_strict", device="device1") as p:
        assert p.backend.name == "array_api_strict" and p.device == DEV1
        assert resolve().device == DEV1
    assert resolve().backend.name == "numpy"


def test_argument_beats_context():
    with anynet.using("array_api_strict"):
        assert resolve(backend="numpy").backend.name == "numpy"
        assert resolve(device="device1").device == DEV1  # device alone keeps the context's backend


def test_context_does_not_leak_between_threads():
    seen = {}
    ready = threading.Event()
    release = threading.Event()

    def inside():
        with anynet.using("array_api_strict"):
            ready.set()
            release.wait(5)
            seen["inside"] = resolve().backend.name

    def outside():
        ready.wait(5)
        seen["outside"] = resolve().backend.name
        release.set()

    threads = [threading.Thread(target=inside), threading.Thread(target=outside)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"inside": "array_api_strict", "outside": "numpy"}


def test_context_does_not_leak_between_async_tasks():
    async def task(name, ev_in, ev_out):
        if name:
            with anynet.using(name):
                ev_in.set()
                await ev_out.wait()
                return resolve().backend.name
        await ev_in.wait()
        result = resolve().backend.name
        ev_out.set()
        return result

    async def main():
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(task("array_api_strict", a, b), task(None, a, b))

    assert asyncio.run(main()) == ["array_api_strict", "numpy"]


def test_host_data_follows_the_device_array_of_the_same_call():
    """NumPy (or list) data given with a device array goes to that array's device."""
    p = resolve({"X": np.ones(3), "y": strict.asarray([1.0], device=DEV1), "w": [1.0, 2.0]})
    assert p.backend.name == "array_api_strict" and p.device == DEV1
    assert to_placement(np.ones(3), p, name="X").device == DEV1


def test_two_backends_in_one_call_name_both():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with pytest.raises(DeviceMismatchError) as e:
        resolve({"X": torch.ones(3), "y": strict.asarray([1.0])})
    msg = str(e.value)
    assert "X is a torch array on cpu" in msg and "y is a array_api_strict array" in msg


def test_two_devices_in_one_call_name_both():
    with pytest.raises(DeviceMismatchError, match="device1"):
        resolve({"X": strict.asarray([1.0]), "y": strict.asarray([1.0], device=DEV1)})


def test_selected_device_differs_from_the_data():
    with pytest.raises(DeviceMismatchError, match=r"X is on device .*device1.* selected by anynet.using"):
        with anynet.using("array_api_strict", device="CPU_DEVICE"):
            resolve({"X": strict.asarray([1.0], device=DEV1)})


def test_selected_backend_differs_from_device_data():
    with pytest.raises(DeviceMismatchError, match="X is a array_api_strict array .* backend 'numpy' was selected"):
        resolve({"X": strict.asarray([1.0])}, backend="numpy")


def test_unknown_backend_suggests_the_closest():
    with pytest.raises(BackendError, match=r"Unknown backend 'numpi'. Did you mean 'numpy'\?"):
        resolve(backend="numpi")


def test_unknown_device_lists_the_devices():
    with pytest.raises(BackendUnavailableError, match=r"Device 'gpu7' is not available on backend 'numpy'; its devices here are \['cpu'\]"):
        resolve(backend="numpy", device="gpu7")


def test_unavailable_backend_says_why_and_how_to_install():
    class Missing(backends.Backend):
        name = "missing_lib"
        install_hint = "pip install missing-lib"

        def unavailable_reason(self):
            return "the package missing-lib is not installed"

        def namespace(self):
            raise AssertionError("never reached")

    backends.register(Missing, replace=True)
    try:
        with pytest.raises(BackendUnavailableError,
                           match=r"Backend 'missing_lib' is not usable here: the package missing-lib is not "
                                 r"installed. Install it with: pip install missing-lib"):
            anynet.use("missing_lib")
    finally:
        backends._registry.pop("missing_lib", None)


def test_cupy_without_a_gpu_says_so():
    adapter = backends.get("cupy")
    if adapter.is_available():
        pytest.skip("a usable GPU is present, so cupy is available")
    with pytest.raises(BackendUnavailableError, match=r"Backend 'cupy' is not usable here: .*Install it with: pip install"):
        resolve(backend="cupy")


def test_available_lists_every_adapter_with_devices():
    rows = {s.name: s for s in backends.available()}
    assert {"numpy", "array_api_strict", "torch", "cupy"} <= set(rows)
    assert rows["numpy"].usable and rows["numpy"].devices == ["cpu"]
    assert any("device1" in d for d in rows["array_api_strict"].devices)
    for s in rows.values():
        assert s.usable or s.reason, s


def test_model_refuses_data_from_another_device():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    model = anynet.Sequential([anynet.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(strict.asarray(X, device=DEV1), strict.asarray(y, device=DEV1), epochs=1, verbose=0)
    assert model.params.device == DEV1
    with pytest.raises(DeviceMismatchError, match="X is on device .*CPU_DEVICE.* but the computation runs on"):
        model.predict(strict.asarray(X))


def test_model_takes_host_targets_with_device_inputs():
    """fit(device X, NumPy y) trains on X's device, y copied there once; predict on host data
    afterwards goes to the model's device too."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    model = anynet.Sequential([anynet.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(strict.asarray(X, device=DEV1), y, validation_data=(X, y), epochs=1, verbose=0)
    assert model.params.device == DEV1
    assert model.predict(X).shape == (40, 3)
    with pytest.raises(DeviceMismatchError):
        model.fit(strict.asarray(X, device=DEV1), strict.asarray(y), epochs=1, verbose=0)
