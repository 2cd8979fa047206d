"""IMDB movie reviews, positive or negative: the Keras book's binary classification, with anynet.

Deep Learning with Python (Chollet), chapter 3 (1st edition; section 4.1 in the 2nd):
reviews coded by word rank (the 10000 most frequent words) become 10000-dimensional
multi-hot vectors; a Dense(16, relu) - Dense(16, relu) - Dense(1, sigmoid) network is
trained with RMSprop (lr 1e-3) on binary cross-entropy, batches of 512.

1. 20 epochs with the first 10000 training reviews held out for validation: training
   accuracy climbs towards 100% while validation loss is lowest after about 4 epochs,
   the network then overfits.
2. A fresh network trained 4 epochs on all 25000 training reviews, scored on the 25000
   test reviews.

Expected (the book's numbers, Keras): validation accuracy peaks near 88-89% at epochs
3-4 while training accuracy reaches ~99% by epoch 20; the retrained network scores a test
loss of about 0.29 and a test accuracy of about 88% (1st edition: [0.2929, 0.8832]).

Data: Keras' ``imdb.npz`` in ``<data root>/keras/`` (``$ANYNET_DATA``, else the cache
folder), downloaded from Keras' mirror when missing; ``--data FILE`` reads your copy,
which must be Keras' file (its SHA-256 is checked before its pickled arrays are read) or
match ``--sha256``.

Run: ``python examples/imdb_binary.py [--epochs 20] [--final-epochs 4] [--plot curves.png]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import load_imdb, multi_hot, train_val_split


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20, help="epochs of the run with validation (default 20)")
    p.add_argument("--final-epochs", type=int, default=4, help="epochs of the retrained network (default 4)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--num-words", type=int, default=10000, help="vocabulary: the most frequent words (10000)")
    p.add_argument("--val", type=int, default=10000, help="training reviews held out for validation (10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of initial weights and shuffles (default 0)")
    p.add_argument("--backend", default=None, help="anynet backend: numpy, cupy, torch, array_api_strict")
    p.add_argument("--device", default=None, help="device of the backend (cpu, 0, cuda:1, ...)")
    p.add_argument("--data", default=None, help="your imdb.npz or its folder (default: the data root's)")
    p.add_argument("--sha256", default=None, help="SHA-256 of --data when it is not Keras' imdb.npz")
    p.add_argument("--plot", default=None, help="save the training curves of step 1 as this PNG")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace) -> an.Sequential:
    """Dense(16, relu) - Dense(16, relu) - Dense(1, sigmoid), RMSprop, binary cross-entropy."""
    model = an.Sequential([an.layers.Input((args.num_words,)),
                           an.layers.Dense(16, "relu"), an.layers.Dense(16, "relu"),
                           an.layers.Dense(1, "sigmoid")],
                          seed=args.seed, backend=args.backend, device=_device(args.device))
    model.compile(optimizer=an.optimizers.RMSprop(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _device(spec: str | None) -> Any:
    return int(spec) if spec is not None and spec.isdigit() else spec


def load(args: argparse.Namespace) -> tuple[np.ndarray, ...]:
    """Return multi-hot float32 x_train (n, num_words), y_train (n,), x_test, y_test; exit saying what is missing."""
    try:
        (x_train, y_train), (x_test, y_test) = load_imdb(args.data, num_words=args.num_words, sha256=args.sha256)
    except an.errors.InputError as exc:
        raise SystemExit(f"imdb_binary: cannot load the IMDB data: {exc}") from None
    vec = lambda x: multi_hot(x, args.num_words)  # noqa: E731
    return vec(x_train), y_train.astype(np.float32), vec(x_test), y_test.astype(np.float32)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run both steps; return the validation history, best epoch, test loss and accuracy, seconds."""
    args = parse_args(argv)
    x_train, y_train, x_test, y_test = load(args)
    print(f"IMDB: {len(x_train)} training and {len(x_test)} test reviews, multi-hot over {args.num_words} words")
    out: dict[str, Any] = {}

    (x_part, y_part), (x_val, y_val) = train_val_split(x_train, y_train, args.val, seed=None)
    model = build_model(args)
    t0 = time.perf_counter()
    history = model.fit(x_part, y_part, epochs=args.epochs, batch_size=args.batch_size,
                        validation_data=(x_val, y_val), verbose=2)
    h = history.history
    best = int(np.argmin(h["val_loss"]))
    out.update(history=h, best_epoch=best + 1, best_val_accuracy=float(h["val_accuracy"][best]),
               fit_seconds=time.perf_counter() - t0)
    print(f"1. {args.epochs} epochs on {len(x_part)} reviews ({model.placement}): lowest validation loss "
          f"{h['val_loss'][best]:.4f} at epoch {best + 1} (validation accuracy {h['val_accuracy'][best]:.4f}); "
          f"final training accuracy {h['accuracy'][-1]:.4f}, validation {h['val_accuracy'][-1]:.4f} "
          f"(book: best ~0.88-0.89 at epochs 3-4)")
    if args.plot:
        from anynet.plot import training_curves

        print(f"   training curves saved to {training_curves(history, args.plot, title='IMDB, Dense16-16-1')}")

    model = build_model(args)
    t0 = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.final_epochs, batch_size=args.batch_size, verbose=0)
    test = model.evaluate(x_test, y_test, return_dict=True)
    out.update(test_loss=test["loss"], test_accuracy=test["accuracy"], final_seconds=time.perf_counter() - t0)
    print(f"2. retrained {args.final_epochs} epochs on all {len(x_train)} reviews: test loss {test['loss']:.4f}, "
          f"test accuracy {test['accuracy']:.4f} (book: 0.2929, 0.8832) in {out['final_seconds']:.1f} s")
    return out


if __name__ == "__main__":
    main()
