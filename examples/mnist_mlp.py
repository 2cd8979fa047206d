"""MNIST with a 784-64-10 network: full-batch gradient descent, then mini-batch Adam.

(a) The classic from-scratch tutorial: a 784-64-10 network (sigmoid hidden layer,
    softmax output, categorical cross-entropy on one-hot targets, pixels scaled to
    [0, 1]) trained by plain gradient descent in which every step uses all 60000
    training images (``--steps``, default 300, learning rate ``--lr`` 1.0 on the
    loss averaged over samples).
(b) The same network from fresh weights trained the usual modern way: Adam
    (learning rate 1e-3), mini-batches of 128, ``--epochs`` (default 10).

Both start from Keras' default initial weights (Glorot-uniform kernels, zero biases).
Expected on NumPy, float32, seed 0, 2 CPU cores: (a) about 92-93% train and test
accuracy in roughly a minute (300 steps of ~0.2 s; lr 2.0 reaches ~94%); (b) about
97% train and 96% test accuracy in well under a minute. The script prints the
accuracies and the time each part took. On a machine busy with other work, OpenBLAS'
threads can make the small mini-batch products of (b) ten times slower;
``OPENBLAS_NUM_THREADS=1`` avoids that.

Run: ``python examples/mnist_mlp.py [--steps 300] [--epochs 10] [--limit N] [--data PATH]``;
``--data`` is the data root (or its ``mnist/`` folder), by default ``$ANYNET_DATA``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import load_mnist


def _device(spec: str | None) -> Any:
    return int(spec) if spec is not None and spec.isdigit() else spec


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="full-batch gradient-descent steps (default 300; 0 skips)")
    p.add_argument("--lr", type=float, default=1.0, help="learning rate of full-batch gradient descent (default 1.0)")
    p.add_argument("--epochs", type=int, default=10, help="epochs of mini-batch Adam (default 10; 0 skips)")
    p.add_argument("--batch-size", type=int, default=128, help="Adam mini-batch size (default 128)")
    p.add_argument("--adam-lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N training images only")
    p.add_argument("--seed", type=int, default=0, help="seed of initial weights and shuffling (default 0)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument("--backend", default=None, help="anynet backend: numpy, torch, array_api_strict, cupy")
    p.add_argument("--device", default=None, help="device of the backend (cpu, cuda:0, 0, device1, ...)")
    p.add_argument("--data", default=None, help="data root holding mnist/ (default: $ANYNET_DATA)")
    p.add_argument("--print-every", type=int, default=50, help="print the full-batch loss every N steps")
    return p.parse_args(argv)


def load(data: str | None, limit: int | None, dtype: str) -> tuple[np.ndarray, ...]:
    """Return x_train (n, 784) in [0, 1], one-hot y_train (n, 10), x_test, one-hot y_test."""
    (x_train, y_train), (x_test, y_test) = load_mnist(data)
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    eye = np.eye(10, dtype=dtype)
    scale = lambda x: x.reshape(len(x), 784).astype(dtype) / np.asarray(255, dtype=dtype)  # noqa: E731
    return scale(x_train), eye[y_train], scale(x_test), eye[y_test]


def build_model(args: argparse.Namespace, seed: int) -> an.Sequential:
    """784-64-10: sigmoid hidden layer, softmax output."""
    return an.Sequential([
        an.layers.Input((784,)),
        an.layers.Dense(64, "sigmoid"),
        an.layers.Dense(10, "softmax"),
    ], seed=seed, dtype=args.dtype, backend=args.backend, device=_device(args.device))


class _EverySteps(an.callbacks.Callback):
    """Print the loss and accuracy every ``k`` full-batch steps (one step = one epoch here)."""

    def __init__(self, k: int, total: int) -> None:
        self.k, self.total = k, total

    def on_epoch_end(self, epoch, logs=None):
        step = epoch + 1
        if self.k > 0 and (step % self.k == 0 or step == 1 or step == self.total):
            logs = logs or {}
            print(f"  step {step:4d}/{self.total}: loss {logs['loss']:.4f} - accuracy {logs['accuracy']:.4f}",
                  flush=True)


def _score(model: an.Sequential, x_train, y_train, x_test, y_test) -> dict[str, float]:
    train = model.evaluate(x_train, y_train, batch_size=10000, return_dict=True)
    test = model.evaluate(x_test, y_test, batch_size=10000, return_dict=True)
    return {"train_loss": train["loss"], "train_accuracy": train["accuracy"],
            "test_loss": test["loss"], "test_accuracy": test["accuracy"]}


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run both parts; return ``{"gd": {...}, "adam": {...}}`` with accuracies, losses and seconds."""
    args = parse_args(argv)
    x_train, y_train, x_test, y_test = load(args.data, args.limit, args.dtype)
    n = len(x_train)
    results: dict[str, Any] = {"n_train": n, "n_test": len(x_test)}

    if args.steps > 0:
        model = build_model(args, args.seed)
        model.compile(optimizer=an.optimizers.SGD(args.lr), loss="categorical_crossentropy", metrics=["accuracy"])
        model.build()
        print(f"(a) full-batch gradient descent on {model.placement}: {args.steps} steps of all {n} images, "
              f"lr {args.lr}")
        t0 = time.perf_counter()
        # One epoch with batch_size = n is one gradient step on the whole training set.
        model.fit(x_train, y_train, epochs=args.steps, batch_size=n, shuffle=False, verbose=0,
                  callbacks=[_EverySteps(args.print_every, args.steps)])
        seconds = time.perf_counter() - t0
        r = _score(model, x_train, y_train, x_test, y_test)
        r.update(seconds=seconds, steps=args.steps)
        results["gd"] = r
        print(f"(a) full-batch GD: train accuracy {r['train_accuracy']:.4f}, test accuracy "
              f"{r['test_accuracy']:.4f} (train loss {r['train_loss']:.4f}); {seconds:.1f} s "
              f"({seconds / args.steps * 1e3:.0f} ms/step)", flush=True)

    if args.epochs > 0:
        model = build_model(args, args.seed)
        model.compile(optimizer=an.optimizers.Adam(args.adam_lr), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        model.build()
        print(f"(b) Adam on {model.placement}: {args.epochs} epochs, batch {args.batch_size}, lr {args.adam_lr}")
        t0 = time.perf_counter()
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size, verbose=2)
        seconds = time.perf_counter() - t0
        r = _score(model, x_train, y_train, x_test, y_test)
        r.update(seconds=seconds, epochs=args.epochs)
        results["adam"] = r
        print(f"(b) mini-batch Adam: train accuracy {r['train_accuracy']:.4f}, test accuracy "
              f"{r['test_accuracy']:.4f} (train loss {r['train_loss']:.4f}); {seconds:.1f} s", flush=True)
    return results


if __name__ == "__main__":
    main()
