"""A two-input, two-output MNIST model with the functional API.

The inputs are the image (784 pixels in [0, 1]) and a small feature derived from it: the
ink in each of the 28 rows and 28 columns (56 sums, scaled). Each goes through its own
Dense layer; the two branches are concatenated, and two heads read the result: ``digit``
(10-way softmax, sparse categorical cross-entropy) and ``odd`` (sigmoid, whether the digit
is odd, binary cross-entropy at loss weight 0.5). This is the issue's example as written:

    image = an.Input(shape=(784,), name="image")
    extra = an.Input(shape=(56,), name="extra")
    h = L.Dense(64, activation="relu")(image)
    h = L.Concatenate()([h, L.Dense(16, activation="relu")(extra)])
    digit = L.Dense(10, activation="softmax", name="digit")(h)
    odd = L.Dense(1, activation="sigmoid", name="odd")(h)

The script prints the summary, trains with Adam (batches of 128), and reports both heads'
test accuracy. Measured (NumPy, float32, seed 0, 5 epochs on all 60000 images, on a busy
2-core machine): 96.6% digit and 97.8% odd/even accuracy on the test set, in 93 s.

Run: ``python examples/functional_two_branch.py [--epochs 5] [--limit N] [--backend torch] [--data PATH]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import load_mnist

L = an.layers


def ink_sums(images: np.ndarray) -> np.ndarray:
    """Return the 28 row sums and 28 column sums of each 28x28 image, divided by 28: (n, 56)."""
    x = images.reshape(-1, 28, 28)
    return np.concatenate([x.sum(axis=2), x.sum(axis=1)], axis=1) / 28.0


def build(seed: int = 0, backend: str | None = None) -> an.Model:
    """Return the compiled two-input, two-output model."""
    image = an.Input(shape=(784,), name="image")
    extra = an.Input(shape=(56,), name="extra")
    h = L.Dense(64, activation="relu")(image)
    h = L.Concatenate()([h, L.Dense(16, activation="relu")(extra)])
    digit = L.Dense(10, activation="softmax", name="digit")(h)
    odd = L.Dense(1, activation="sigmoid", name="odd")(h)
    model = an.Model(inputs=[image, extra], outputs=[digit, odd], seed=seed, backend=backend)
    model.compile(optimizer="adam", loss={"digit": "sparse_categorical_crossentropy",
                                          "odd": "binary_crossentropy"},
                  loss_weights={"digit": 1.0, "odd": 0.5}, metrics={"digit": ["accuracy"], "odd": ["accuracy"]})
    return model


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5, help="epochs of Adam (default 5)")
    p.add_argument("--batch-size", type=int, default=128, help="mini-batch size (default 128)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N training and test images")
    p.add_argument("--seed", type=int, default=0, help="initial weights and shuffling (default 0)")
    p.add_argument("--backend", default=None, help="numpy (default), torch, cupy, array_api_strict")
    p.add_argument("--data", default=None, help="the data root or its mnist/ folder (default $ANYNET_DATA)")
    p.add_argument("--verbose", type=int, default=2, help="0, 1 or 2, as in Keras (default 2)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    (x_train, y_train), (x_test, y_test) = load_mnist(args.data)
    if args.limit:
        x_train, y_train, x_test, y_test = (x_train[:args.limit], y_train[:args.limit], x_test[:args.limit],
                                            y_test[:args.limit])
    x_train = x_train.reshape(-1, 784).astype(np.float32) / 255.0
    x_test = x_test.reshape(-1, 784).astype(np.float32) / 255.0
    train_x = {"image": x_train, "extra": ink_sums(x_train)}
    test_x = {"image": x_test, "extra": ink_sums(x_test)}
    train_y = {"digit": y_train, "odd": (y_train % 2).astype(np.float32)}
    test_y = {"digit": y_test, "odd": (y_test % 2).astype(np.float32)}

    model = build(args.seed, args.backend)
    model.summary()
    start = time.perf_counter()
    history = model.fit(train_x, train_y, epochs=args.epochs, batch_size=args.batch_size, verbose=args.verbose)
    seconds = time.perf_counter() - start
    test = model.evaluate(test_x, test_y, return_dict=True, verbose=0)
    print(f"trained {args.epochs} epochs on {len(x_train)} images in {seconds:.1f}s ({model.placement})")
    print(f"test: digit accuracy {test['digit_accuracy']:.4f}, odd/even accuracy {test['odd_accuracy']:.4f}, "
          f"loss {test['loss']:.4f} (digit {test['digit_loss']:.4f} + 0.5 x odd {test['odd_loss']:.4f})")
    return {"model": model, "history": history, "test": test, "seconds": seconds}


if __name__ == "__main__":
    main()
