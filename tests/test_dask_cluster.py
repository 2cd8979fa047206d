"""Dask arrays on a LocalCluster of two worker processes (one thread each): results equal
in-memory NumPy to 1e-8, parameters go out once per evaluation, the data is read once, and a
worker killed in the middle of an evaluation changes nothing.
"""

from __future__ import annotations

import collections
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import anynet as an
from anynet.errors import InputError
from anynet.layers import Dense, Layer
from anynet.optimize import Objective, minimize

da = pytest.importorskip("dask.array", reason="the dask extra is not installed")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
cloudpickle = pytest.importorskip("cloudpickle")

N, D, K = 400, 8, 3


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, D))
    return X, (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 1)


def model(*middle: Layer) -> an.Sequential:
    m = an.Sequential([Dense(6, activation="sigmoid", kernel_regularizer=an.regularizers.L2(1e-3)), *middle,
                       Dense(K, activation="softmax")], dtype="float64", seed=4)
    m.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def test_minimize_on_the_cluster_equals_in_memory(client):
    X, y = data()
    mem, dsk = model(), model()
    r1 = minimize(mem, X, y, method="L-BFGS-B", options={"maxiter": 25})
    r2 = minimize(dsk, da.from_array(X, chunks=(110, D)), da.from_array(y, chunks=(150,)), method="L-BFGS-B",
                  options={"maxiter": 25})
    assert r1.nit == r2.nit == 25
    np.testing.assert_allclose(r2.x, r1.x, rtol=0, atol=1e-8)
    assert abs(r2.fun - r1.fun) < 1e-10
    P = dsk.predict(da.from_array(X, chunks=(110, D)))
    assert P.chunks == ((110, 110, 110, 70), (K,))
    np.testing.assert_allclose(P.compute(), mem.predict(X), rtol=0, atol=1e-8)
    got = dsk.evaluate(da.from_array(X, chunks=(110, D)), y, return_dict=True)
    want = mem.evaluate(X, y, return_dict=True)
    assert abs(got["loss"] - want["loss"]) < 1e-10 and got["accuracy"] == want["accuracy"]


def test_parameters_go_out_once_per_evaluation_and_the_data_is_read_once(client, monkeypatch):
    X, y = data()
    scattered = []
    scatter = client.scatter

    def counting(value, **kw):
        scattered.append(kw.get("broadcast"))
        return scatter(value, **kw)

    monkeypatch.setattr(client, "scatter", counting)
    with distributed.get_task_stream(client) as stream:
        obj = Objective(model(), da.from_array(X, chunks=(100, D), name="source-x"),
                        da.from_array(y, chunks=(100,), name="source-y"))
        for i in range(5):
            obj.fun_and_jac(obj.x0 + 0.01 * i)
    # once the program, then the parameters of the check and of each evaluation, to every worker
    assert scattered == [True] * (1 + 1 + 5)
    runs = collections.Counter(d["key"][0] if isinstance(d["key"], tuple) else d["key"] for d in stream.data)
    # each chunk of the source was read once, not once per evaluation
    assert runs["source-x"] == 4 and runs["source-y"] == 4
    per_eval = [k for k in runs if k.startswith("anynet-loss-grad")]
    assert len(per_eval) == 5 * 4 and all(runs[k] == 1 for k in per_eval)


def test_fit_full_batch_on_the_cluster_equals_in_memory(client):
    X, y = data()
    mem, dsk = model(), model()
    h1 = mem.fit(X, y, batch_size=N, epochs=3, shuffle=False, verbose=0)
    h2 = dsk.fit(da.from_array(X, chunks=(100, D)), da.from_array(y, chunks=(100,)), batch_size=N, epochs=3,
                 verbose=0)
    np.testing.assert_allclose(h2.history["loss"], h1.history["loss"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(dsk.get_weights()[0], mem.get_weights()[0], rtol=0, atol=1e-12)


def test_bad_values_found_on_a_worker_raise_the_anynet_error(client):
    X, y = data()
    X[123, 4] = np.inf
    with pytest.raises(InputError, match=r"X contains 1 NaN or infinite value\(s\); clean or impute them"):
        Objective(model(), da.from_array(X, chunks=(100, D)), y)


def test_the_benchmark_runs_on_the_cluster(client, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    from benchmarks import dask_cluster

    rows = dask_cluster.run(samples=300, hidden=8, iterations=3, chunk_counts=(2, 3), client=client)
    assert [r.contender for r in rows] == ["numpy in memory", "dask 2 workers, 2 chunks", "dask 2 workers, 3 chunks"]
    assert all(r.seconds > 0 for r in rows) and rows[0].extra["parameters"] == 784 * 8 + 8 + 8 * 10 + 10


def test_the_example_runs_on_the_cluster(client, data_dir, capsys):
    from test_examples import load_example

    example = load_example("dask_mnist_lbfgs")
    out = example.main(["--scheduler", client.scheduler.address, "--limit", "1000", "--maxiter", "4",
                        "--print-every", "2", "--data", str(data_dir / "mnist")])
    printed = capsys.readouterr().out
    assert out["nit"] == 4 and out["workers"] == 2 and 0.1 < out["train_accuracy"] <= 1
    assert f"Dask dashboard: {out['dashboard']}" in printed and "s/iteration" in printed


class Gate(Layer):
    """The identity, except on the worker named by the Variable "anynet-victim": there it says so and waits
    to be killed."""

    kind = "gate"

    def forward(self, P, X, ctx, *, activate=True):
        try:
            here = distributed.get_worker().address
        except ValueError:  # in the test's own process
            here = None
        if here is not None and here == distributed.Variable("anynet-victim").get(timeout=30):
            distributed.Event("anynet-gate").set()
            time.sleep(60)
        return super().forward(P, X, ctx)


def test_a_worker_killed_in_the_middle_of_an_evaluation_changes_nothing(client):
    """Last in this file: the killed worker's nanny starts a new one, which the tests before need not wait for."""
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Gate, for the workers
    try:
        X, y = data()
        m = model(Gate())
        expected = Objective(m, X, y).fun_and_jac(m.get_params_copy())
        obj = Objective(m, da.from_array(X, chunks=(50, D)), da.from_array(y, chunks=(50,)))  # persisted
        holders = {w for ws in client.who_has(obj._chunked.X).values() for w in ws}
        victim = sorted(holders)[0]  # a worker holding chunks, so it gets (loss, gradient) tasks
        distributed.Variable("anynet-victim", client=client).set(victim)
        pid = client.run(os.getpid, workers=[victim])[victim]
        got = {}
        worker = threading.Thread(target=lambda: got.setdefault("value", obj.fun_and_jac(obj.x0)))
        worker.start()
        assert distributed.Event("anynet-gate", client=client).wait(timeout=60), "no task reached the victim"
        os.kill(pid, signal.SIGKILL)  # in the middle of its chunk's (loss, gradient)
        assert worker.is_alive()
        worker.join(timeout=60)
        assert not worker.is_alive()
        f, g = got["value"]
        assert victim not in client.scheduler_info()["workers"]
        assert abs(f - expected[0]) < 1e-13
        np.testing.assert_allclose(g, expected[1], rtol=0, atol=1e-13)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
