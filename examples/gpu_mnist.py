"""Train the MNIST MLP on a GPU with CuPy, and print the time per epoch beside NumPy.

784-256-10 (ReLU, softmax), categorical cross-entropy, Adam, batch 128, inputs scaled to
[0, 1]. The same model code runs on each backend; only ``backend=`` changes. Epoch times
are wall-clock after a device synchronisation, so queued GPU work is counted.

Where CuPy or a GPU is not usable, the script says why and how to get it, and trains on
NumPy alone. ``--backends numpy,torch`` compares other backends instead.

    python examples/gpu_mnist.py --epochs 5
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import load_mnist


class EpochTimer(an.callbacks.Callback):
    """Records wall-clock seconds per epoch, synchronising the device at each end."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        p = self.model.placement
        p.backend.synchronize(p.device)
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        p = self.model.placement
        p.backend.synchronize(p.device)
        self.seconds.append(time.perf_counter() - self._t0)


def train(backend: str, device: Any, data: tuple, args: argparse.Namespace) -> dict[str, Any]:
    """Train on one backend; return epoch times (s), the final loss and the test accuracy."""
    (x_train, y_train), (x_test, y_test) = data
    model = an.Sequential([an.layers.Dense(args.hidden, activation="relu"),
                           an.layers.Dense(10, activation="softmax")], seed=args.seed, backend=backend, device=device)
    model.compile(optimizer=an.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Move the data once; fit then keeps every batch on the device.
    p = model.build((784,)).placement
    X = p.backend.from_numpy(x_train, p.device)
    y = p.backend.from_numpy(y_train, p.device)
    timer = EpochTimer()
    history = model.fit(X, y, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose, callbacks=[timer])
    acc = model.evaluate(x_test, y_test, return_dict=True)["accuracy"]
    return {"placement": str(p), "epoch_seconds": timer.seconds, "loss": history.history["loss"][-1],
            "test_accuracy": acc, "weights": model.get_weights()}


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[bool, float]:
    """Return (bit-identical, largest absolute difference) of two weight lists."""
    identical = all(np.array_equal(x, y) for x, y in zip(a, b))
    return identical, max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="cupy,numpy", help="comma-separated, first is the GPU one (default cupy,numpy)")
    ap.add_argument("--device", default=None, help="device of the first backend (e.g. 0)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--limit", type=int, default=None, help="train on the first N images only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", help="folder with the MNIST files (default: $ANYNET_DATA/mnist)")
    ap.add_argument("--verbose", type=int, default=0)
    ap.add_argument("--check-determinism", action="store_true",
                    help="train the first backend twice with the same seed and compare the weights bit for bit")
    args = ap.parse_args(argv)

    (xtr, ytr), (xte, yte) = load_mnist(args.data)
    n = args.limit or len(ytr)
    data = ((xtr[:n].reshape(n, 784).astype(np.float32) / 255, ytr[:n].astype(np.int64)),
            (xte.reshape(-1, 784).astype(np.float32) / 255, yte.astype(np.int64)))

    results: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(b.strip() for b in args.backends.split(",")):
        reason = an.backends.get(name).unavailable_reason()
        if reason is not None:
            print(f"{name}: not usable here ({reason}); install with: {an.backends.get(name).install_hint}. "
                  f"Skipping it.")
            continue
        r = train(name, args.device if i == 0 else None, data, args)
        results[name] = r
        times = ", ".join(f"{s:.2f}" for s in r["epoch_seconds"])
        print(f"{r['placement']:<24} epoch seconds: {times}  test accuracy {100 * r['test_accuracy']:.2f}%")
    if len(results) > 1:
        (a, ra), (b, rb) = list(results.items())[:2]
        ta, tb = np.median(ra["epoch_seconds"]), np.median(rb["epoch_seconds"])
        print(f"median epoch: {a} {ta:.2f}s, {b} {tb:.2f}s ({tb / ta:.1f}x)")
        for name, r in results.items():
            if name != a:
                gap = 100 * (ra["test_accuracy"] - r["test_accuracy"])
                print(f"test accuracy {a} - {name}: {gap:+.2f} points")
    if args.check_determinism and results:
        first = next(iter(results))
        again = train(first, args.device, data, args)
        identical, diff = same_weights(results[first]["weights"], again["weights"])
        print(f"seeded rerun on {again['placement']}: "
              + ("bit-identical weights" if identical else f"weights differ, largest difference {diff:.3g}"))
        results[first]["rerun_identical"] = identical
    return results


if __name__ == "__main__":
    main()
