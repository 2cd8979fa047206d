"""L-BFGS-B over a Dask array on a 2-worker LocalCluster against the same run in memory on NumPy.

MNIST's 60000 x 784 training images (random images of that shape without the data), a
784-100-10 network (sigmoid hidden units, softmax outputs, float64). Measured, in one run:

- seconds per L-BFGS-B iteration, in memory (NumPy, both cores to its BLAS) and on the
  cluster (two worker processes of one thread each: the same two cores), for several chunk
  counts: how time grows with the number of chunks;
- the pieces of the cost model for more workers: the compute of one chunk's (loss,
  gradient) in this process, the round trip of an empty task, and the time to broadcast
  the parameter vector; with the bytes each iteration moves (parameters out to every
  worker, one gradient per chunk back up the tree) they predict W workers as
  ``t(W) = compute(n / W) + latency + broadcast(W) + reduce``; see README "Scaling out with Dask".
"""

from __future__ import annotations

import statistics
import time
import warnings
from typing import Any

import numpy as np

from benchmarks.common import Row

BENCH = "Dask L-BFGS-B iteration"


def mnist(n: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Return n training images as float64 rows in [0, 1], their labels, and where they came from."""
    from anynet.datasets import load_mnist
    from anynet.errors import InputError

    try:
        (x, y), _ = load_mnist(download=False)
        source = "MNIST"
    except (InputError, OSError):
        rng = np.random.default_rng(0)
        x, y, source = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n), "random"
    reps = -(-n // len(x))
    x, y = np.concatenate([x] * reps)[:n], np.concatenate([y] * reps)[:n]
    return x.reshape(n, -1) / 255.0, y.astype(np.int64), source


def network(hidden: int) -> Any:
    import anynet as an

    model = an.Sequential([an.layers.Input((784,)), an.layers.Dense(hidden, activation="sigmoid"),
                           an.layers.Dense(10, activation="softmax")], dtype="float64", seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model.build()


def seconds_per_iteration(X: Any, y: Any, hidden: int, iterations: int) -> tuple[float, list[float], int]:
    """Return the median seconds per L-BFGS-B iteration (setup excluded), all of them, and the evaluations."""
    from anynet.optimize import minimize

    stamps: list[float] = []
    res = minimize(network(hidden), X, y, method="L-BFGS-B", options={"maxiter": iterations},
                   callback=lambda info: stamps.append(time.perf_counter()))
    steps = list(np.diff(stamps))
    return (float(statistics.median(steps)) if steps else float("nan")), steps, int(res.nfev)


def cost_model(client: Any, X: np.ndarray, y: np.ndarray, hidden: int, repeats: int) -> dict[str, float]:
    """Return the measured constants of the cost model (seconds and bytes)."""
    from anynet import chunked

    model = network(hidden)
    theta = chunked.host_params(model)
    program = chunked.ChunkProgram(model)
    rows = len(X) // 2  # one worker's share of two
    chunk_x, chunk_y = X[:rows], y[:rows]
    chunked.loss_grad_chunk(program, theta, chunk_x, chunk_y)
    compute = []
    for _ in range(max(3, repeats)):
        t0 = time.perf_counter()
        chunked.loss_grad_chunk(program, theta, chunk_x, chunk_y)
        compute.append(time.perf_counter() - t0)
    trips, casts = [], []
    for _ in range(10):
        t0 = time.perf_counter()
        client.submit(int, 0, pure=False).result()
        trips.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        client.scatter([theta], broadcast=True, hash=False)
        casts.append(time.perf_counter() - t0)
    workers = len(client.scheduler_info()["workers"])
    return {"parameters": int(theta.size), "parameter bytes": int(theta.nbytes),
            f"compute of {rows} rows, 1 thread (s)": float(statistics.median(compute)),
            "empty task round trip (s)": float(statistics.median(trips)),
            f"broadcast of the parameters to {workers} workers (s)": float(statistics.median(casts)),
            "bytes per iteration per worker (parameters out + one gradient back)": int(2 * theta.nbytes)}


def run(repeats: int = 1, *, samples: int = 60000, hidden: int = 100, iterations: int = 20,
        chunk_counts: tuple[int, ...] = (2, 4, 8, 16), workers: int = 2, client: Any = None) -> list[Row]:
    """Return one Row in memory and one per chunk count on the cluster, with the cost model's constants.

    The cluster is a LocalCluster of ``workers`` processes of one thread, unless ``client`` is given.
    """
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    X, y, source = mnist(samples)
    label = f"{BENCH}, {source} {samples}x784, 784-{hidden}-10, float64"
    rows = []
    per, steps, nfev = seconds_per_iteration(X, y, hidden, iterations)
    rows.append(Row(label, "numpy in memory", per, steps, {"evaluations": nfev}))
    own = client is None
    if own:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    workers = len(client.scheduler_info()["workers"])
    try:
        costs = cost_model(client, X, y, hidden, repeats)
        for chunks in chunk_counts:
            if chunks > samples:
                continue
            with warnings.catch_warnings():  # the images travel in the graph once, to be persisted
                warnings.filterwarnings("ignore", message="Sending large graph")
                Xd = da.from_array(X, chunks=(-(-samples // chunks), 784))
                Xd, = dask.persist(Xd)
            yd = da.from_array(y, chunks=Xd.chunks[0])
            per_d, steps_d, nfev_d = seconds_per_iteration(Xd, yd, hidden, iterations)
            rows.append(Row(label, f"dask {workers} workers, {chunks} chunks", per_d, steps_d,
                            {"evaluations": nfev_d, "vs in memory": per_d / per}))
        rows[0].extra.update(costs)
    finally:
        if own:
            client.close()
            cluster.close()
    for r in rows:
        print(f"{r.contender:<28} {r.seconds:.4f} s/iteration  {r.extra.get('vs in memory', 1.0):.2f}x")
    for k, v in costs.items():
        print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    return rows
