"""Full-batch training of ex4's 400-25-10 sigmoid network through the scipy adapter
(L-BFGS-B and TNC, 400 iterations), against scikit-learn's MLPClassifier(solver="lbfgs")
on the same data: time and final training accuracy."""

from __future__ import annotations

import time
import warnings

import numpy as np

from benchmarks.common import Row


def task():
    """Return ex4's task built from MNIST (5000 x 400, labels 1..10), or None without the data."""
    from anynet.datasets.ex4 import ex4_from_mnist
    from anynet.errors import InputError

    try:
        return ex4_from_mnist()
    except InputError as exc:
        print(f"full-batch benchmark skipped: {exc}")
        return None


def run(repeats: int = 1) -> list[Row]:
    """Return one Row per solver: seconds for 400 iterations and the training accuracy."""
    import anynet as an
    from anynet.optimize import minimize

    d = task()
    if d is None:
        return []
    X, y = d["X"], d["y"]
    Y = np.eye(10)[y - 1]
    rows = []
    for method in ("L-BFGS-B", "TNC"):
        times, accs = [], []
        for _ in range(repeats):
            init = an.initializers.RandomUniform(-0.12, 0.12)
            reg = an.regularizers.L2(1.0 / (2 * len(y)))
            model = an.Sequential([an.layers.Dense(25, activation="sigmoid", kernel_initializer=init,
                                                   bias_initializer=init, kernel_regularizer=reg),
                                   an.layers.Dense(10, activation="sigmoid", kernel_initializer=init,
                                                   bias_initializer=init, kernel_regularizer=reg)],
                                  dtype="float64", seed=0)
            model.compile(optimizer="sgd", loss=an.losses.BinaryCrossentropy(output_reduction="sum"))
            t0 = time.perf_counter()
            res = minimize(model, X, Y, method=method, options={"maxiter": 400})
            times.append(time.perf_counter() - t0)
            accs.append(float(np.mean(np.argmax(model.predict(X), axis=1) + 1 == y)))
        rows.append(Row("ex4 full batch, 400 iterations", f"anynet {method}", float(np.median(times)), times,
                        {"train accuracy": accs[-1], "evaluations": int(res.nfev), "iterations": int(res.get("nit", 0))}))
    try:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier
    except ImportError:
        return rows
    times = []
    for _ in range(repeats):
        clf = MLPClassifier(hidden_layer_sizes=(25,), activation="logistic", solver="lbfgs", alpha=1.0,
                            max_iter=400, random_state=0)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        times.append(time.perf_counter() - t0)
    rows.append(Row("ex4 full batch, 400 iterations", "sklearn lbfgs", float(np.median(times)), times,
                    {"train accuracy": float(clf.score(X, y)), "iterations": int(clf.n_iter_)}))
    return rows
