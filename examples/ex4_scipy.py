"""Andrew Ng's Machine Learning exercise 4 (neural network learning), with anynet.

A 400-25-10 sigmoid network with sigmoid outputs and ex4's cost: the binary
cross-entropy summed over the 10 output units and averaged over the m samples, plus
lambda / (2 m) times the squared weights (biases excluded). Steps, as in the exercise:

1. data: the course's ``ex4data1.mat`` if you pass ``--data`` (or it lies in
   ``$ANYNET_DATA/ex4``); otherwise the same task built from MNIST (5000 images, 500 per
   digit, shrunk to 20 x 20, labels 1..10 with 10 for the digit 0) with held-out MNIST
   test images;
2. the cost with the course's weights (``ex4weights.mat``) at lambda 0 and 1: 0.287629 and
   0.383770 on the course data; the regularization term alone is 0.096141 at m = 5000;
3. the sigmoid gradient at [-1, -0.5, 0, 0.5, 1];
4. random initialisation in [-0.12, 0.12];
5. gradient checking (relative difference below 1e-9 with epsilon 1e-4) on the course's
   small 3-5-3 network and on sampled coordinates of the full one;
6. training with TNC at lambda 1 through ``anynet.optimize.minimize``;
7. training accuracy (the course reports about 95% after 50 fmincg iterations), test
   accuracy where there is a test set, and a per-class report;
8. the 25 hidden units shown as 20 x 20 images (``--plot hidden.png``).

Run: ``python examples/ex4_scipy.py [--backend numpy|cupy|torch|array_api_strict]``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import anynet as an
from anynet.datasets import data_dir, fetch
from anynet.datasets.ex4 import ex4_from_mnist, load_ex4
from anynet.optimize import minimize
from anynet.params import from_thetas
from anynet.plot import hidden_units
from anynet.reports import classification_report

L = an.layers


def ex4_network(lam: float, m: int, *, backend: str | None = None, device: Any = None,
                hidden: int = 25, n_in: int = 400, n_out: int = 10, seed: int = 0) -> an.Sequential:
    """Return ex4's network, compiled with its cost (lambda / (2 m) on the weights, not biases)."""
    init = an.initializers.RandomUniform(-0.12, 0.12)
    reg = an.regularizers.L2(lam / (2 * m)) if lam else None
    model = an.Sequential([L.Input((n_in,)),
                           L.Dense(hidden, activation="sigmoid", kernel_initializer=init, bias_initializer=init,
                                   kernel_regularizer=reg),
                           L.Dense(n_out, activation="sigmoid", kernel_initializer=init, bias_initializer=init,
                                   kernel_regularizer=reg)],
                          dtype="float64", seed=seed, backend=backend, device=device)
    model.compile(optimizer="sgd", loss=an.losses.BinaryCrossentropy(output_reduction="sum"), metrics=["accuracy"])
    return model


def one_hot_1_to_10(y: np.ndarray, k: int = 10) -> np.ndarray:
    """Return ex4's target matrix: row i has a 1 in column y[i] - 1 (label 10, the digit 0, is column 9)."""
    return np.eye(k)[np.asarray(y) - 1]


def predict_labels(model: an.Sequential, X: np.ndarray) -> np.ndarray:
    """Return ex4's predictions: 1 + the index of the largest output (10 for the digit 0)."""
    return np.argmax(model.predict(X), axis=1) + 1


def course_small_check(backend: str | None, device: Any) -> float:
    """ex4's checkNNGradients: 3 inputs, 5 hidden, 3 labels, m = 5, lambda = 3, 'debug' weights."""
    def debug_weights(n_out: int, n_in: int) -> np.ndarray:
        return np.sin(np.arange(1, n_out * (1 + n_in) + 1)).reshape(1 + n_in, n_out).T / 10

    m, lam = 5, 3.0
    X = debug_weights(m, 2)  # m x 3, as the course builds X with debugInitializeWeights(m, 3 - 1)
    y = 1 + np.arange(1, m + 1) % 3
    model = ex4_network(lam, m, backend=backend, device=device, hidden=5, n_in=3, n_out=3)
    model.set_weights(from_thetas([debug_weights(5, 3), debug_weights(3, 5)]))
    return an.gradcheck(model, X, one_hot_1_to_10(y, 3), epsilon=1e-4).rel_diff


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="ex4data1.mat (default: $ANYNET_DATA/ex4/ex4data1.mat if present, else MNIST)")
    ap.add_argument("--weights", help="ex4weights.mat (default: <data root>/ex4/ex4weights.mat, downloaded if missing)")
    ap.add_argument("--mnist", help="folder with the MNIST files (default: $ANYNET_DATA/mnist)")
    ap.add_argument("--backend")
    ap.add_argument("--device")
    ap.add_argument("--method", default="TNC")
    ap.add_argument("--maxiter", type=int, default=400)
    ap.add_argument("--lambda", dest="lam", type=float, default=1.0)
    ap.add_argument("--per-digit", type=int, default=500, help="MNIST images per digit (default 500: m = 5000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the hidden units as a PNG here")
    args = ap.parse_args(argv)
    out: dict[str, Any] = {}
    course_file = data_dir() / "ex4" / "ex4data1.mat"

    # 1. data
    course = args.data or (course_file if course_file.is_file() else None)
    if course:
        d = load_ex4(course)
        X, y, X_test, y_test = d["X"], d["y"], None, None
        print(f"1. data: {course}: X {X.shape}, labels 1..10")
    else:
        d = ex4_from_mnist(args.mnist, per_digit=args.per_digit, seed=args.seed)
        X, y, X_test, y_test = d["X"], d["y"], d["X_test"], d["y_test"]
        print(f"1. data: ex4data1.mat not found; built the task from MNIST: X {X.shape} "
              f"({args.per_digit} per digit), test {X_test.shape}")
    m = X.shape[0]
    Y = one_hot_1_to_10(y)

    # 2. the cost with the course's weights
    thetas = load_ex4(args.weights or fetch("ex4/ex4weights.mat"))  # verified; downloaded if missing
    weights = from_thetas([thetas["Theta1"], thetas["Theta2"]])
    for lam in (0.0, 1.0):
        model = ex4_network(lam, m, backend=args.backend, device=args.device)
        model.set_weights(weights)
        out[f"cost_lambda{lam:g}"] = float(model.loss_and_grad(X, Y)[0])
    reg = 1.0 / (2 * 5000) * sum(float(np.sum(T[:, 1:] ** 2)) for T in (thetas["Theta1"], thetas["Theta2"]))
    out["reg_term_m5000"] = reg
    expect = " (course: 0.287629 / 0.383770)" if course else " (MNIST data: the course's numbers need ex4data1.mat)"
    print(f"2. cost with ex4weights.mat: lambda 0: {out['cost_lambda0']:.6f}, lambda 1: {out['cost_lambda1']:.6f}{expect}")
    print(f"   regularization term of those weights at lambda 1, m = 5000: {reg:.6f} (course: 0.096141)")

    # 3. sigmoid gradient
    z = np.array([-1, -0.5, 0, 0.5, 1])
    out["sigmoid_gradient"] = np.asarray(an.activations.sigmoid_gradient(z))
    print(f"3. sigmoid gradient at {z.tolist()}: {np.round(out['sigmoid_gradient'], 6).tolist()}")

    # 4. random initialisation
    model = ex4_network(args.lam, m, backend=args.backend, device=args.device, seed=args.seed)
    model.build((400,))
    w0 = model.get_weights()
    print(f"4. random initialisation in [-0.12, 0.12]: min {min(w.min() for w in w0):.4f}, "
          f"max {max(w.max() for w in w0):.4f}, {model.count_params()} parameters")

    # 5. gradient checking
    out["gradcheck_small"] = course_small_check(args.backend, args.device)
    out["gradcheck_full"] = an.gradcheck(model, X[:500], Y[:500], epsilon=1e-4, n_coords=60, seed=args.seed).rel_diff
    print(f"5. gradient check (epsilon 1e-4): 3-5-3 network, lambda 3: {out['gradcheck_small']:.3e}; "
          f"400-25-10 network, 60 sampled coordinates: {out['gradcheck_full']:.3e} (course: below 1e-9)")

    # 6. training with TNC
    t0 = time.perf_counter()
    res = minimize(model, X, Y, method=args.method, options={"maxiter": args.maxiter})
    out["train_seconds"] = time.perf_counter() - t0
    out["final_cost"], out["nfev"], out["nit"] = float(res.fun), int(res.nfev), int(res.get("nit", 0))
    print(f"6. {args.method} at lambda {args.lam:g}: cost {res.fun:.6f} after {res.get('nit')} iterations, "
          f"{res.nfev} evaluations, {out['train_seconds']:.1f}s on {model.placement} ({res.message})")

    # 7. accuracy
    pred = predict_labels(model, X)
    out["train_accuracy"] = float(np.mean(pred == y))
    print(f"7. training accuracy: {100 * out['train_accuracy']:.2f}%")
    if X_test is not None:
        out["test_accuracy"] = float(np.mean(predict_labels(model, X_test) == y_test))
        print(f"   test accuracy on {len(y_test)} held-out MNIST images: {100 * out['test_accuracy']:.2f}%")
    digits = list(range(1, 11))
    print(classification_report(y, pred, labels=digits, target_names=[str(d % 10) for d in digits], digits=3))

    # 8. hidden units
    if args.plot:
        hidden_units(model.get_weights()[0], args.plot, shape=(20, 20), order="F",  # MATLAB unrolls column-major
                     title="ex4: the 25 hidden units")
        print(f"8. hidden units saved to {args.plot}")
    return out


if __name__ == "__main__":
    main()
