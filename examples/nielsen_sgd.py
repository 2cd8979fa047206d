"""Nielsen's ``network.py`` (Neural Networks and Deep Learning, chapter 1) in anynet.

Reproduces ``net = Network([784, 30, 10]); net.SGD(training_data, 30, 10, 3.0,
test_data=test_data)``: sigmoid hidden and output layers, the quadratic cost
``0.5 * ||a - y||**2`` on one-hot targets, mini-batch stochastic gradient descent with
mini-batches of 10 reshuffled every epoch and learning rate eta = 3.0, and weights and
biases drawn from N(0, 1). Nielsen's update ``w -= (eta / m) * sum of the m per-sample
gradients`` is exactly anynet's ``SGD(3.0)`` on the ``"quadratic"`` loss, which averages
over the mini-batch. As in the book, training uses the first 50000 of MNIST's 60000
training images (the last 10000 are his validation set) and after every epoch prints
``Epoch j: correct / 10000`` for the 10000 test images. Pixels are scaled to [0, 1] and
the arithmetic is float64, as NumPy's defaults are in his code.

Expected: about 90-92% after the first epoch and about 95% after 30 (the book reports
"Epoch 0: 9129 / 10000" and a peak of 95.42% at epoch 28); the exact counts depend on the
seed. On NumPy with 2 CPU cores an epoch takes about 1 s (30 epochs in under a minute).

Differences from ``network.py``: the random numbers (anynet's seeded generator instead of
``np.random.randn`` and ``random.shuffle``), and Nielsen's MNIST comes from his
``mnist.pkl.gz`` (pixels as float32 in [0, 1)) whereas this reads the original IDX files.

Run: ``python examples/nielsen_sgd.py [--epochs 30] [--limit N] [--data PATH] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import load_mnist

N_TRAIN = 50000  # Nielsen's training set: the first 50000 images; the last 10000 are validation.


def _device(spec: str | None) -> Any:
    return int(spec) if spec is not None and spec.isdigit() else spec


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=30, help="epochs (default 30)")
    p.add_argument("--batch-size", type=int, default=10, help="mini-batch size (default 10)")
    p.add_argument("--eta", type=float, default=3.0, help="learning rate (default 3.0)")
    p.add_argument("--hidden", type=int, default=30, help="hidden sigmoid units (default 30)")
    p.add_argument("--limit", type=int, default=None, help=f"train on the first N of the {N_TRAIN} training images")
    p.add_argument("--seed", type=int, default=0, help="seed of initial weights and shuffling (default 0)")
    p.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    p.add_argument("--backend", default=None, help="anynet backend: numpy, torch, array_api_strict, cupy")
    p.add_argument("--device", default=None, help="device of the backend (cpu, cuda:0, 0, device1, ...)")
    p.add_argument("--data", default=None, help="data root holding mnist/ (default: $ANYNET_DATA)")
    return p.parse_args(argv)


class EpochTestCount(an.callbacks.Callback):
    """After each epoch, count the correctly classified test images and print Nielsen's line."""

    def __init__(self, x_test: np.ndarray, y_test: np.ndarray) -> None:
        self.x_test, self.y_test = x_test, y_test
        self.counts: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        out = np.asarray(self.model.predict(self.x_test, batch_size=10000))
        correct = int(np.sum(np.argmax(out, axis=1) == self.y_test))
        self.counts.append(correct)
        print(f"Epoch {epoch}: {correct} / {len(self.y_test)}", flush=True)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train; return ``{"test_correct": [count per epoch], "test_total", "test_accuracy", "seconds", ...}``."""
    args = parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_mnist(args.data)
    n = N_TRAIN if args.limit is None else min(args.limit, N_TRAIN)
    x_train = x_train[:n].reshape(n, 784).astype(args.dtype) / 255.0
    targets = np.eye(10, dtype=args.dtype)[y_train[:n]]  # Nielsen's vectorized_result
    x_test = x_test.reshape(len(x_test), 784).astype(args.dtype) / 255.0

    init = "standard_normal"  # np.random.randn for weights and biases alike
    model = an.Sequential([
        an.layers.Input((784,)),
        an.layers.Dense(args.hidden, "sigmoid", kernel_initializer=init, bias_initializer=init),
        an.layers.Dense(10, "sigmoid", kernel_initializer=init, bias_initializer=init),
    ], seed=args.seed, dtype=args.dtype, backend=args.backend, device=_device(args.device))
    model.compile(optimizer=an.optimizers.SGD(args.eta), loss="quadratic")
    model.build()
    print(f"Network([784, {args.hidden}, 10]) on {model.placement}: SGD on {n} images, "
          f"{args.epochs} epochs, mini-batch {args.batch_size}, eta {args.eta}")
    counter = EpochTestCount(x_test, y_test)
    t0 = time.perf_counter()
    model.fit(x_train, targets, epochs=args.epochs, batch_size=args.batch_size, shuffle=True, verbose=0,
              callbacks=[counter])
    seconds = time.perf_counter() - t0
    counts = counter.counts
    final = counts[-1] if counts else int(np.sum(np.argmax(model.predict(x_test), axis=1) == y_test))
    print(f"{len(counts)} epochs in {seconds:.1f} s; final test accuracy {final / len(y_test):.4f}"
          + (f", best {max(counts)} / {len(y_test)} at epoch {int(np.argmax(counts))}" if counts else ""))
    return {"test_correct": counts, "test_total": int(len(y_test)), "test_accuracy": final / len(y_test),
            "best_correct": max(counts) if counts else final, "n_train": n, "seconds": seconds}


if __name__ == "__main__":
    main()
