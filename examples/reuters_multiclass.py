"""Reuters newswires in 46 topics: the Keras book's multiclass classification, with anynet.

Deep Learning with Python (Chollet), chapter 3 (1st edition; section 4.2 in the 2nd):
newswires become 10000-dimensional multi-hot vectors; a Dense(64, relu) - Dense(64,
relu) - Dense(46, softmax) network is trained with RMSprop (lr 1e-3), batches of 512.

1. Categorical: one-hot labels and categorical cross-entropy, 20 epochs with the first
   1000 training newswires held out for validation; the network overfits after about
   9 epochs.
2. A fresh network trained 9 epochs on all 8982 training newswires, scored on the 2246
   test ones; a random classifier would score about 19%.
3. Sparse: the same network and training on integer labels with sparse categorical
   cross-entropy, which gives the same model (the fused softmax gradient is ``p - y``
   either way).

Expected (the book's numbers, Keras): validation loss lowest near epoch 9, validation
accuracy about 80%; the retrained network scores a test accuracy of about 78-80% (1st
edition: [0.9565, 0.7898]), the sparse variant the same.

Data: Keras' ``reuters.npz`` in ``<data root>/keras/``, downloaded from Keras' mirror
when missing; ``--data FILE`` reads your copy (checked against Keras' SHA-256, or
``--sha256``, before its pickled arrays are read).

Run: ``python examples/reuters_multiclass.py [--epochs 20] [--final-epochs 9]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import load_reuters, multi_hot, one_hot, train_val_split

N_TOPICS = 46


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=20, help="epochs of the run with validation (default 20)")
    p.add_argument("--final-epochs", type=int, default=9, help="epochs of the retrained networks (default 9)")
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--num-words", type=int, default=10000)
    p.add_argument("--val", type=int, default=1000, help="training newswires held out for validation (1000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default=None, help="anynet backend: numpy, cupy, torch, array_api_strict")
    p.add_argument("--device", default=None)
    p.add_argument("--data", default=None, help="your reuters.npz or its folder (default: the data root's)")
    p.add_argument("--sha256", default=None, help="SHA-256 of --data when it is not Keras' reuters.npz")
    p.add_argument("--report", action="store_true", help="print the per-topic report of the categorical model")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace, loss: str) -> an.Sequential:
    """Dense(64, relu) - Dense(64, relu) - Dense(46, softmax), RMSprop, the given loss."""
    model = an.Sequential([an.layers.Input((args.num_words,)),
                           an.layers.Dense(64, "relu"), an.layers.Dense(64, "relu"),
                           an.layers.Dense(N_TOPICS, "softmax")],
                          seed=args.seed, backend=args.backend,
                          device=int(args.device) if args.device and args.device.isdigit() else args.device)
    model.compile(optimizer=an.optimizers.RMSprop(1e-3), loss=loss, metrics=["accuracy"])
    return model


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the three steps; return the best epoch and the test accuracies of both variants."""
    args = parse_args(argv)
    try:
        (x_train, y_train), (x_test, y_test) = load_reuters(args.data, num_words=args.num_words, sha256=args.sha256)
    except an.errors.InputError as exc:
        raise SystemExit(f"reuters_multiclass: cannot load the Reuters data: {exc}") from None
    x_train, x_test = multi_hot(x_train, args.num_words), multi_hot(x_test, args.num_words)
    Y_train, Y_test = one_hot(y_train, N_TOPICS), one_hot(y_test, N_TOPICS)
    print(f"Reuters: {len(x_train)} training and {len(x_test)} test newswires, {N_TOPICS} topics")
    out: dict[str, Any] = {}

    (x_part, Y_part), (x_val, Y_val) = train_val_split(x_train, Y_train, args.val, seed=None)
    model = build_model(args, "categorical_crossentropy")
    h = model.fit(x_part, Y_part, epochs=args.epochs, batch_size=args.batch_size,
                  validation_data=(x_val, Y_val), verbose=2).history
    best = int(np.argmin(h["val_loss"]))
    out.update(history=h, best_epoch=best + 1, best_val_accuracy=float(h["val_accuracy"][best]))
    print(f"1. categorical, {args.epochs} epochs ({model.placement}): lowest validation loss {h['val_loss'][best]:.4f} "
          f"at epoch {best + 1}, validation accuracy {h['val_accuracy'][best]:.4f} (book: about epoch 9, ~0.80)")

    for step, (loss, yt, ye) in enumerate((("categorical_crossentropy", Y_train, Y_test),
                                           ("sparse_categorical_crossentropy", y_train, y_test)), start=2):
        model = build_model(args, loss)
        t0 = time.perf_counter()
        model.fit(x_train, yt, epochs=args.final_epochs, batch_size=args.batch_size, verbose=0)
        test = model.evaluate(x_test, ye, return_dict=True)
        key = "categorical" if step == 2 else "sparse"
        out[f"{key}_test_loss"], out[f"{key}_test_accuracy"] = test["loss"], test["accuracy"]
        print(f"{step}. {key} ({loss}), {args.final_epochs} epochs on all {len(x_train)}: test loss "
              f"{test['loss']:.4f}, test accuracy {test['accuracy']:.4f} in {time.perf_counter() - t0:.1f} s "
              f"(book: ~0.78-0.80)")
        if key == "categorical" and args.report:
            from anynet.reports import classification_report

            print(classification_report(y_test, model.predict(x_test), labels=range(N_TOPICS)))
    rng = np.random.default_rng(args.seed)
    out["random_baseline"] = float(np.mean(rng.permutation(y_test) == y_test))
    print(f"   a random classifier (shuffled test labels) scores {out['random_baseline']:.4f} (book: ~0.19)")
    return out


if __name__ == "__main__":
    main()
