"""MNIST on a Dask cluster: an ex4-style network trained full-batch with L-BFGS-B over a chunked Dask array.

The training images become a Dask array chunked by rows (``--chunks`` chunks), scaled to
[0, 1] and persisted on the workers once. Each L-BFGS-B evaluation sends the parameters to
every worker once; each worker computes the (loss, gradient) of its chunks with NumPy; a
tree reduction sums them and SciPy, here in the driver, gets one float64 vector. The network
is ex4's, wider: 784-25-10 with sigmoid units, the binary cross-entropy summed over the 10
outputs, and lambda / (2 m) on the squared weights (``--hidden 100`` for 784-100-10).

Run::

    python examples/dask_mnist_lbfgs.py                         # a LocalCluster: 2 worker processes here
    python examples/dask_mnist_lbfgs.py --scheduler tcp://host:8786   # a running cluster

The workers must be able to import anynet. The dashboard address is printed at the start;
open it to watch the chunk tasks and the tree of sums.

Expected (measured on the shared 2-core machine, busy, so slower than an idle one; 784-25-10,
lambda 1, 100 iterations, 4 chunks): training accuracy about 0.96 and test accuracy about 0.95.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import load_mnist
from anynet.optimize import minimize

L = an.layers


def ex4_network(lam: float, m: int, hidden: int, seed: int) -> an.Sequential:
    """Return ex4's network for 784 inputs: sigmoid units, summed binary cross-entropy, lambda / (2 m) on weights."""
    init = an.initializers.RandomUniform(-0.12, 0.12)
    reg = an.regularizers.L2(lam / (2 * m)) if lam else None
    model = an.Sequential([L.Input((784,)),
                           L.Dense(hidden, activation="sigmoid", kernel_initializer=init, bias_initializer=init,
                                   kernel_regularizer=reg),
                           L.Dense(10, activation="sigmoid", kernel_initializer=init, bias_initializer=init,
                                   kernel_regularizer=reg)], dtype="float64", seed=seed)
    model.compile(optimizer="sgd", loss=an.losses.BinaryCrossentropy(output_reduction="sum"))
    return model


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scheduler", help="address of a running Dask scheduler (default: start a LocalCluster)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the LocalCluster (default 2)")
    ap.add_argument("--chunks", type=int, default=4, help="row chunks of the training images (default 4)")
    ap.add_argument("--hidden", type=int, default=25, help="hidden units (default 25; 100 for 784-100-10)")
    ap.add_argument("--lam", type=float, default=1.0, help="ex4's lambda (default 1)")
    ap.add_argument("--maxiter", type=int, default=100, help="L-BFGS-B iterations (default 100)")
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    ap.add_argument("--print-every", type=int, default=10, help="print a line every N iterations (default 10)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", help="folder with the MNIST files (default: $ANYNET_DATA/mnist)")
    return ap.parse_args(argv)


def chunked_images(client: Any, images: np.ndarray, chunks: int) -> Any:
    """Return the uint8 images as a Dask array of ``chunks`` row chunks, each sent to a worker once."""
    import dask.array as da

    flat = images.reshape(images.shape[0], -1)
    bounds = np.linspace(0, flat.shape[0], chunks + 1).astype(int)
    parts = client.scatter([flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])])
    return da.concatenate([da.from_delayed(p, shape=(b - a, flat.shape[1]), dtype=flat.dtype)
                           for p, a, b in zip(parts, bounds[:-1], bounds[1:])])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    from dask.distributed import Client, LocalCluster

    (xtr, ytr), (xte, yte) = load_mnist(args.data)
    if args.limit:
        xtr, ytr = xtr[:args.limit], ytr[:args.limit]
    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    try:
        workers = len(client.scheduler_info()["workers"])
        print(f"Dask dashboard: {client.dashboard_link}  ({workers} workers, scheduler {client.scheduler.address})")
        X = chunked_images(client, xtr, args.chunks) / 255.0  # scaled on the workers
        Y = np.eye(10)[ytr]                                    # in memory: anynet chunks it like X
        m = X.shape[0]
        model = ex4_network(args.lam, m, args.hidden, args.seed).build()
        print(f"{m} images in {X.numblocks[0]} chunks of {X.chunks[0][0]} rows; network 784-{args.hidden}-10, "
              f"{model.count_params()} parameters, L-BFGS-B for {args.maxiter} iterations")

        stamps: list[float] = []

        def progress(info: dict[str, Any]) -> None:
            stamps.append(time.perf_counter())
            k = info["iteration"]
            if k % args.print_every == 0:
                step = stamps[-1] - stamps[-1 - args.print_every] if len(stamps) > args.print_every else \
                    stamps[-1] - start
                print(f"iteration {k:4d}  loss {info['loss']:.6f}  evaluations {info['nfev']:4d}  "
                      f"{step / min(args.print_every, k):.3f} s/iteration")

        start = time.perf_counter()
        res = minimize(model, X, Y, method="L-BFGS-B", options={"maxiter": args.maxiter}, callback=progress)
        total = time.perf_counter() - start
        steps = np.diff([start, *stamps])
        per_iteration = float(statistics.median(steps)) if len(steps) else float("nan")

        train_acc = float((model.predict(X).argmax(axis=1).compute() == ytr).mean())
        test_acc = float((model.predict(xte.reshape(len(xte), -1) / 255.0).argmax(axis=1) == yte).mean())
        print(f"L-BFGS-B: {res.message}  loss {res.fun:.6f}  iterations {res.nit}  evaluations {res.nfev}")
        print(f"time: {total:.1f} s in all (persisting and checking the data included), "
              f"median {per_iteration:.3f} s per iteration")
        print(f"training accuracy {train_acc:.4f}   test accuracy {test_acc:.4f}")
        return {"loss": float(res.fun), "nit": int(res.nit), "nfev": int(res.nfev), "seconds": total,
                "seconds_per_iteration": per_iteration, "train_accuracy": train_acc, "test_accuracy": test_acc,
                "dashboard": client.dashboard_link, "workers": workers}
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()
