"""anynet's MLPClassifier beside scikit-learn's: digits and MNIST, accuracy and time.

Both estimators get the same parameters: one hidden layer of ``--hidden`` (100) relu
units, adam, batches of 200, ``--epochs`` epochs (digits: ``--digits-epochs``), the same
``random_state`` (so the same initial weights and batches) and the same data. anynet's
runs its passes on ``--backend`` (default NumPy; ``torch``, ``cupy`` where usable) in
``--dtype`` (default: X's float64, as scikit-learn; ``float32`` is faster). Printed per
data set: the test accuracy and the seconds of ``fit`` of each, and their ratio.

Expected: equal accuracies (on NumPy float64 the two follow the same steps to rounding:
digits about 0.97, MNIST about 0.97 after 10 epochs) and times of the same order on
NumPy, anynet ahead with ``--dtype float32``; MNIST needs the data root (``$ANYNET_DATA``).

Run: ``python examples/sklearn_mlp_compare.py [--epochs 10] [--limit N] [--dtype float32]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, default=100, help="hidden relu units (default 100)")
    p.add_argument("--epochs", type=int, default=10, help="MNIST epochs of adam (default 10; 0 skips MNIST)")
    p.add_argument("--digits-epochs", type=int, default=200, help="digits epochs of adam (default 200)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N MNIST images only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default=None, choices=("float32", "float64"), help="anynet's training dtype")
    p.add_argument("--backend", default=None, help="anynet backend: numpy, torch, cupy, array_api_strict")
    p.add_argument("--device", default=None)
    p.add_argument("--data", default=None, help="data root holding mnist/ (default $ANYNET_DATA)")
    return p.parse_args(argv)


def compare(name: str, X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, epochs: int,
            args: argparse.Namespace) -> dict[str, Any]:
    """Fit both estimators on X, y; return and print their test accuracies and fit seconds."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from anynet.sklearn import MLPClassifier

    common = dict(hidden_layer_sizes=(args.hidden,), solver="adam", batch_size=200, max_iter=epochs, tol=0.0,
                  n_iter_no_change=epochs + 1, random_state=args.seed)
    device = int(args.device) if args.device and args.device.isdigit() else args.device
    out: dict[str, Any] = {}
    for who, clf in (("scikit-learn", SkMLPClassifier(**common)),
                     ("anynet", MLPClassifier(**common, backend=args.backend, device=device, dtype=args.dtype))):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        seconds = time.perf_counter() - t0
        out[who] = {"accuracy": float(clf.score(Xt, yt)), "seconds": seconds, "loss": float(clf.loss_)}
    s, a = out["scikit-learn"], out["anynet"]
    print(f"{name}: {len(X)} train / {len(Xt)} test, {X.shape[1]}-{args.hidden}-10, {epochs} epochs adam")
    for who in ("scikit-learn", "anynet"):
        r = out[who]
        print(f"  {who:12s} test accuracy {r['accuracy']:.4f}   final loss {r['loss']:.5f}   fit {r['seconds']:.2f} s")
    print(f"  anynet / scikit-learn time: {a['seconds'] / s['seconds']:.2f}")
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the digits and (with the data) MNIST comparisons; return their results."""
    args = parse_args(argv)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    results: dict[str, Any] = {}
    X, y = load_digits(return_X_y=True)
    X, Xt, y, yt = train_test_split(X / 16.0, y, test_size=0.25, random_state=0)
    results["digits"] = compare("digits", X, y, Xt, yt, args.digits_epochs, args)
    if args.epochs:
        from anynet.datasets import load_mnist
        from anynet.errors import InputError

        try:
            (X, y), (Xt, yt) = load_mnist(args.data)
        except InputError as exc:
            print(f"MNIST skipped: {exc}")
            return results
        X, Xt = X.reshape(len(X), -1) / 255.0, Xt.reshape(len(Xt), -1) / 255.0
        if args.limit:
            X, y = X[:args.limit], y[:args.limit]
        results["mnist"] = compare("MNIST", X, y, Xt, yt, args.epochs, args)
    return results


if __name__ == "__main__":
    main()
