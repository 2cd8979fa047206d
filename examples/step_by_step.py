"""Looking inside a network, step by step: every intermediate of a 4-3-1 sigmoid network.

The "step by step" walk-through trains a network with 4 inputs, 3 sigmoid hidden units and
1 sigmoid output on ``X = [[1,0,1,0], [1,0,1,1], [0,1,0,1]]``, ``y = [1, 1, 0]``, and shows
each quantity of the forward pass. With Keras' names for the functional API:

    model = an.Sequential([an.Input((4,)), Dense(3, "sigmoid"), Dense(1, "sigmoid")])
    inside = an.Model(model.inputs, [layer.output for layer in model.layers])
    a1, a2, h = inside.predict(X)

``inside`` shares ``model``'s weights, so after training it shows the trained network. The
pre-activations ``z2 = a1 @ W1 + b1`` and ``z3 = a2 @ W2 + b2`` come from a second look:
the same Dense layers' kernels and biases (``model.get_weights()``), and the script checks
that ``sigmoid(z2)`` is the ``a2`` the model computed. ``--plot PATH`` draws the hidden
units' input weights with :func:`anynet.plot.hidden_units`.

Run: ``python examples/step_by_step.py [--epochs 5000] [--seed 0] [--plot hidden.png]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an

L = an.layers
X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]], dtype=np.float64)
Y = np.array([1, 1, 0], dtype=np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def intermediates(model: an.Model, X: np.ndarray) -> dict[str, np.ndarray]:
    """Return a1, z2, a2, z3, h of the forward pass: the activations from the model, the
    pre-activations from its weights."""
    inside = an.Model(model.inputs, [layer.output for layer in model.layers])
    a1, a2, h = inside.predict(X)
    W1, b1, W2, b2 = model.get_weights()
    z2 = a1 @ W1 + b1
    z3 = a2 @ W2 + b2
    np.testing.assert_allclose(sigmoid(z2), a2, rtol=1e-12)  # the model's a2 is sigmoid(z2)
    np.testing.assert_allclose(sigmoid(z3), h, rtol=1e-12)
    return {"a1": a1, "z2": z2, "a2": a2, "z3": z3, "h": h}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5000, help="full-batch gradient steps (default 5000)")
    p.add_argument("--lr", type=float, default=0.3, help="SGD learning rate on the mean quadratic loss (default 0.3)")
    p.add_argument("--seed", type=int, default=0, help="initial weights (default 0)")
    p.add_argument("--plot", default=None, help="write the hidden units' weights to this PNG")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    model = an.Sequential([L.Input((4,)), L.Dense(3, activation="sigmoid", kernel_initializer="random_uniform"),
                           L.Dense(1, activation="sigmoid", kernel_initializer="random_uniform")],
                          dtype="float64", seed=args.seed)
    model.compile(optimizer=an.optimizers.SGD(args.lr), loss="quadratic")
    model.summary()
    before = intermediates(model, X)
    model.fit(X, Y, epochs=args.epochs, batch_size=len(X), shuffle=False, verbose=0)
    after = intermediates(model, X)
    np.set_printoptions(precision=4, suppress=True)
    for title, values in (("before training", before), (f"after {args.epochs} epochs", after)):
        print(f"\n-- {title} --")
        for name, value in values.items():
            print(f"{name} {value.shape}:\n{value}")
    if args.plot:
        from anynet.plot import hidden_units

        print(f"hidden units' weights plotted to {hidden_units(model.get_weights()[0], args.plot, shape=(2, 2))}")
    return {"model": model, "before": before, "after": after}


if __name__ == "__main__":
    main()
