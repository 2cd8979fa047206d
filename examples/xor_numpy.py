"""The classic "neural network from scratch in NumPy" example, trained with anynet.

Reproduces the small network of the well-known from-scratch tutorial: inputs
``X = [[1,0,1,0], [1,0,1,1], [0,1,0,1]]``, targets ``y = [1, 1, 0]``, 4 inputs, 3 hidden
sigmoid units, 1 sigmoid output, weights and biases drawn uniformly from [0, 1), then
5000 epochs of full-batch gradient descent (all 3 samples per step) at learning rate 0.1
on the squared error. The tutorial prints outputs close to ``[0.98, 0.97, 0.04]``.

How anynet is set up to do the same arithmetic (and what differs from the tutorial):

- the tutorial's update is ``W += lr * X.T @ ((y - out) * out * (1 - out))``: gradient
  descent on ``0.5 * sum over samples of (y - out)**2``, a *sum* over the 3 samples;
- anynet's ``"quadratic"`` loss is Nielsen's ``0.5 * ||a - y||**2`` per sample, *averaged*
  over the samples, so its gradient is the tutorial's divided by 3. The example therefore
  passes ``SGD(learning_rate = 0.1 * 3)``: with the same initial weights the updates are
  the tutorial's to rounding (``--tutorial-init`` shows it: the outputs agree with a
  plain-NumPy run of the tutorial to ~1e-15). With ``loss="mse"`` (mean of ``(a - y)**2``)
  the equivalent rate would be ``0.1 * 3 / 2``. Keeping rate 0.1 with the mean losses
  trains more slowly: with seed 0 ``"quadratic"`` ends near [0.95, 0.94, 0.09] and
  ``"mse"`` near [0.975, 0.965, 0.05];
- the initial weights: the tutorial draws them with NumPy's global, unseeded
  ``np.random.uniform``; here they come from anynet's seeded
  ``RandomUniform(0, 1)`` initializer, so the digits differ from run to run of the
  tutorial but are fixed by ``--seed``. ``--tutorial-init`` draws them exactly as the
  tutorial does after ``np.random.seed(seed)`` (wh, bh, wout, bout in that order);
- anynet's sigmoid is the numerically stable one (scipy's expit on NumPy); same values.

Expected output (NumPy, float64, default seed 0): predictions about
``[0.981, 0.974, 0.036]``; other seeds give 0.97-0.99, 0.96-0.98 and 0.03-0.06.

Run: ``python examples/xor_numpy.py [--seed 0] [--epochs 5000] [--backend torch]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an

X = np.array([[1, 0, 1, 0], [1, 0, 1, 1], [0, 1, 0, 1]], dtype=np.float64)
Y = np.array([1, 1, 0], dtype=np.float64)
#: What the tutorial prints (approximately; its initial weights are unseeded).
EXPECTED = (0.98, 0.97, 0.04)


def _device(spec: str | None) -> Any:
    return int(spec) if spec is not None and spec.isdigit() else spec


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=5000, help="full-batch gradient steps (default 5000)")
    p.add_argument("--lr", type=float, default=0.1,
                   help="the tutorial's learning rate on the summed error (default 0.1); anynet gets lr * 3")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default 0)")
    p.add_argument("--tutorial-init", action="store_true",
                   help="draw the initial weights as the tutorial does: np.random.seed(seed); np.random.uniform")
    p.add_argument("--backend", default=None, help="anynet backend: numpy, torch, array_api_strict, cupy")
    p.add_argument("--device", default=None, help="device of the backend (cpu, cuda:0, 0, device1, ...)")
    p.add_argument("--data", default=None, help="unused (this example needs no data set); accepted for symmetry")
    return p.parse_args(argv)


def tutorial_initial_weights(seed: int) -> list[np.ndarray]:
    """The tutorial's initial weights after ``np.random.seed(seed)``, in Keras order (W1, b1, W2, b2)."""
    rs = np.random.RandomState(seed)  # the same stream as np.random.seed(seed); np.random.uniform(...)
    wh = rs.uniform(size=(4, 3))
    bh = rs.uniform(size=(1, 3))
    wout = rs.uniform(size=(3, 1))
    bout = rs.uniform(size=(1, 1))
    return [wh, bh.reshape(3), wout, bout.reshape(1)]


def build_model(seed: int, backend: str | None = None, device: Any = None) -> an.Sequential:
    """4-3-1 sigmoid network with U[0, 1) weights and biases, as in the tutorial."""
    init = an.initializers.RandomUniform(0.0, 1.0)
    return an.Sequential([
        an.layers.Input((4,)),
        an.layers.Dense(3, "sigmoid", kernel_initializer=init, bias_initializer=init),
        an.layers.Dense(1, "sigmoid", kernel_initializer=init, bias_initializer=init),
    ], seed=seed, dtype="float64", backend=backend, device=device)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Train and print the predictions; return ``{"predictions": [3 floats], "loss", "seconds"}``."""
    args = parse_args(argv)
    model = build_model(args.seed, args.backend, _device(args.device))
    n = X.shape[0]
    # The tutorial's rate applies to the error summed over the 3 samples; anynet's losses
    # average over samples, so the same step needs a rate n times larger.
    model.compile(optimizer=an.optimizers.SGD(learning_rate=args.lr * n), loss="quadratic")
    model.build((4,))
    if args.tutorial_init:
        model.set_weights(tutorial_initial_weights(args.seed))
    print(f"anynet {an.__version__} on {model.placement}; quadratic loss, SGD lr {args.lr} x {n} samples, "
          f"{args.epochs} full-batch epochs")
    t0 = time.perf_counter()
    history = model.fit(X, Y, epochs=args.epochs, batch_size=n, shuffle=False, verbose=0)
    seconds = time.perf_counter() - t0
    pred = np.asarray(model.predict(X), dtype=np.float64).reshape(-1)
    loss = float(model.evaluate(X, Y))
    print("Predictions after training:")
    print(np.array2string(pred.reshape(-1, 1), precision=8))
    print(f"rounded: {[round(float(v), 2) for v in pred]} (the tutorial prints about {list(EXPECTED)})")
    print(f"final loss {loss:.6f}; {seconds:.2f} s")
    return {"predictions": [float(v) for v in pred], "loss": loss, "seconds": seconds,
            "history_loss": history.history.get("loss", [])}


if __name__ == "__main__":
    main()
