"""Boston house prices with K-fold validation: the Keras book's regression example, with anynet.

Deep Learning with Python (Chollet), chapter 3 (1st edition; section 4.3 in the 2nd):
404 training and 102 test suburbs, 13 features each, the target the median home value
in thousands of dollars. Features are standardised with the mean and standard deviation
of the training data only (the test data is scaled with the same numbers). A Dense(64,
relu) - Dense(64, relu) - Dense(1) network is trained with RMSprop on the mean squared
error and watched through the mean absolute error (MAE).

1. 4-fold validation: 4 networks, each trained ``--epochs`` (100) with batches of
   ``--batch-size`` (16, as in the 2nd edition; the 1st used 1) on three folds and scored
   on the fourth; the mean validation MAE per epoch shows where overfitting starts.
2. A fresh network trained ``--final-epochs`` (80) on all training data, scored on the
   test set.
3. The scikit-learn way (needs scikit-learn): ``cross_val_score`` over a pipeline of
   ``StandardScaler`` and anynet's ``MLPRegressor`` (64, 64 relu units, adam, batches of
   ``--batch-size``, ``--final-epochs`` epochs) on the same 4 folds of the training data,
   scored by the mean absolute error; ``--no-sklearn`` leaves it out.

Expected (the book's numbers, Keras): fold MAEs about 2.1-3.1 with a mean of 2.4-2.7
(1st edition: [2.588, 3.105, 2.752, 2.361], mean 2.70); the final network's test MAE
about 2.5-2.7, i.e. predictions off by about $2,500-2,700 (1st edition: 2.675).

Data: Keras' ``boston_housing.npz`` in ``<data root>/keras/``; else the StatLib CSV in
``<data root>/boston/boston_house_prices.csv`` (the same 506 suburbs, split as Keras does);
else Keras' file downloaded from its mirror (SHA-256 verified); ``--data FILE`` reads your
copy (.npz or .csv) as it is.

Run: ``python examples/boston_kfold.py [--epochs 100] [--final-epochs 80] [--k 4]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import kfold, load_boston_housing, normalize


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", type=int, default=4, help="folds (default 4)")
    p.add_argument("--epochs", type=int, default=100, help="epochs per fold (default 100)")
    p.add_argument("--final-epochs", type=int, default=80, help="epochs of the final network (default 80)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", default=None, help="anynet backend: numpy, cupy, torch, array_api_strict")
    p.add_argument("--device", default=None)
    p.add_argument("--data", default=None, help="your boston_housing.npz or its folder (default: the data root's)")
    p.add_argument("--plot", default=None, help="save the mean validation MAE per epoch as this PNG")
    p.add_argument("--no-sklearn", action="store_true", help="skip the scikit-learn cross_val_score version")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace, n_features: int) -> an.Sequential:
    """Dense(64, relu) - Dense(64, relu) - Dense(1), RMSprop, MSE loss, MAE metric."""
    model = an.Sequential([an.layers.Input((n_features,)),
                           an.layers.Dense(64, "relu"), an.layers.Dense(64, "relu"), an.layers.Dense(1)],
                          seed=args.seed, backend=args.backend,
                          device=int(args.device) if args.device and args.device.isdigit() else args.device)
    model.compile(optimizer=an.optimizers.RMSprop(1e-3), loss="mse", metrics=["mae"])
    return model


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run K-fold validation and the final fit; return the fold MAEs, their mean, and the test MAE."""
    args = parse_args(argv)
    try:
        (x_train, y_train), (x_test, y_test) = load_boston_housing(args.data)
    except an.errors.InputError as exc:
        raise SystemExit(f"boston_kfold: cannot load the Boston housing data: {exc}") from None
    x_raw = x_train.copy()  # the scikit-learn version scales inside each fold
    x_train, x_test = normalize(x_train, x_test)  # training statistics only
    x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    y_train, y_test = y_train.astype(np.float32), y_test.astype(np.float32)
    print(f"Boston housing: {len(x_train)} training and {len(x_test)} test suburbs, {x_train.shape[1]} features, "
          f"standardised with the training mean and std")

    t0 = time.perf_counter()
    scores, curves = [], []
    for i, (tr, va) in enumerate(kfold(len(x_train), args.k)):
        model = build_model(args, x_train.shape[1])
        h = model.fit(x_train[tr], y_train[tr], epochs=args.epochs, batch_size=args.batch_size,
                      validation_data=(x_train[va], y_train[va]), verbose=0).history
        scores.append(float(h["val_mae"][-1]))
        curves.append(h["val_mae"])
        print(f"1. fold {i + 1}/{args.k}: {len(tr)} train / {len(va)} validation, validation MAE {scores[-1]:.3f}")
    mean_curve = np.mean(curves, axis=0)
    best = int(np.argmin(mean_curve))
    out: dict[str, Any] = {"fold_mae": scores, "mean_mae": float(np.mean(scores)), "mean_curve": mean_curve,
                           "best_epoch": best + 1, "kfold_seconds": time.perf_counter() - t0}
    print(f"   mean validation MAE {out['mean_mae']:.3f} (book: 2.4-2.7); the mean curve is lowest, "
          f"{mean_curve[best]:.3f}, at epoch {best + 1}; {out['kfold_seconds']:.1f} s on {model.placement}")
    if args.plot:
        from anynet.plot import training_curves

        training_curves({"val_mae": list(mean_curve)}, args.plot, title=f"Boston: mean of {args.k} folds")
        print(f"   mean validation MAE per epoch saved to {args.plot}")

    model = build_model(args, x_train.shape[1])
    model.fit(x_train, y_train, epochs=args.final_epochs, batch_size=args.batch_size, verbose=0)
    test = model.evaluate(x_test, y_test, return_dict=True)
    out.update(test_mse=test["loss"], test_mae=test["mae"])
    print(f"2. final network, {args.final_epochs} epochs on all {len(x_train)}: test MSE {test['loss']:.3f}, "
          f"test MAE {test['mae']:.3f}, i.e. ${1000 * test['mae']:,.0f} off on average (book: ~2.5-2.7)")
    if not args.no_sklearn:
        out.update(sklearn_version(args, x_raw, y_train))
    return out


def sklearn_version(args: argparse.Namespace, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Return the fold MAEs of cross_val_score over StandardScaler + anynet's MLPRegressor."""
    try:
        from sklearn.model_selection import KFold, cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from anynet.sklearn import MLPRegressor
    except ImportError:
        print("3. scikit-learn version: skipped (pip install 'anynet-nn[sklearn]')")
        return {}
    t0 = time.perf_counter()
    reg = MLPRegressor(hidden_layer_sizes=(64, 64), solver="adam", batch_size=args.batch_size,
                       max_iter=args.final_epochs, n_iter_no_change=args.final_epochs, tol=0.0, alpha=0.0,
                       random_state=args.seed, backend=args.backend, device=args.device, dtype="float32")
    # The scaler is fitted inside each fold, on that fold's training part only.
    pipe = make_pipeline(StandardScaler(), reg)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is the epoch count here
        scores = -cross_val_score(pipe, x, y, cv=KFold(args.k), scoring="neg_mean_absolute_error")
    seconds = time.perf_counter() - t0
    print(f"3. scikit-learn: cross_val_score(StandardScaler + anynet MLPRegressor(64, 64), cv={args.k}): "
          f"validation MAE per fold {', '.join(f'{v:.3f}' for v in scores)}, mean {scores.mean():.3f}; {seconds:.1f} s")
    return {"sklearn_fold_mae": [float(v) for v in scores], "sklearn_mean_mae": float(scores.mean()),
            "sklearn_seconds": seconds}


if __name__ == "__main__":
    main()
