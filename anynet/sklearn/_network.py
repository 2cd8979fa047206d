"""The anynet network behind MLPClassifier / MLPRegressor: layers, losses, weights.

scikit-learn's MLP is ``Dense`` layers with one hidden activation and an output
activation fixed by the task (softmax, logistic, identity or exp). Its losses are written
here as anynet :class:`~anynet.losses.Loss` objects with scikit-learn's own scaling:

- log-loss: ``-sum(t log p) / n`` (softmax) or ``-sum(t log p + (1-t) log(1-p)) / n``
  (logistic: summed over labels, as scikit-learn's ``binary_log_loss``); the model feeds
  them logits, so the gradient is the stable ``(p - t) / n``;
- squared error: the value is ``0.5 * mean((y - t)**2)`` over samples *and* outputs, the
  gradient ``(y - t) / n`` (scikit-learn's backpropagation drops the 1/n_outputs of the
  value, so with several outputs its value and gradient are not a matching pair; we keep
  that, so both solvers take scikit-learn's steps);
- Poisson: ``sum(xlogy(t, t/exp(z)) - t + exp(z)) / n`` on the linear output z, with the
  gradient ``(exp(z) - t) / n``; ``predict`` applies the exp.

The L2 term ``0.5 * alpha * sum(W**2) / n_batch`` is one shared
:class:`~anynet.regularizers.L2` on every kernel whose coefficient the training loop sets
to ``0.5 * alpha / n_batch`` before each batch (the last batch may be smaller).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import anynet as an
from anynet import losses, regularizers
from anynet.backend import Placement

__all__ = ["HIDDEN", "build_network", "loss_for", "pack", "unpack", "glorot_init"]

#: scikit-learn's hidden activation names -> anynet's
HIDDEN = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
#: scikit-learn's output activations -> (anynet activation of the last layer, what predict applies after it)
_OUTPUT = {"softmax": "softmax", "logistic": "sigmoid", "identity": "linear", "exp": "linear"}


class HalfSquaredError(losses.Loss):
    """scikit-learn's ``squared_error``: value ``0.5 * mean((y - t)**2)``, gradient ``(y - t) / n``."""

    name = "sklearn_squared_error"

    def value_and_grad(self, Y, T, xp):
        D = Y - T
        n = float(Y.shape[0])
        return 0.5 * xp.sum(D * D) / (n * float(Y.shape[1])), D * (1.0 / n)

    def get_config(self):
        return {}


class HalfPoissonDeviance(losses.Loss):
    """scikit-learn's ``poisson`` loss on the log of the prediction (the linear output z)."""

    name = "sklearn_poisson"

    def value_and_grad(self, Z, T, xp):
        n = float(Z.shape[0])
        P = xp.exp(Z)
        positive = T > 0
        t_log_t = xp.where(positive, T * xp.log(xp.where(positive, T, xp.ones_like(T))), xp.zeros_like(T))
        return xp.sum(t_log_t - T * Z - T + P) / n, (P - T) * (1.0 / n)

    def get_config(self):
        return {}


def loss_for(out_activation: str) -> losses.Loss:
    """Return the anynet Loss that matches scikit-learn's loss for an output activation."""
    if out_activation == "softmax":
        return losses.CategoricalCrossentropy()
    if out_activation == "logistic":
        return losses.BinaryCrossentropy(output_reduction="sum")
    if out_activation == "exp":
        return HalfPoissonDeviance()
    return HalfSquaredError()


def build_network(layer_units: Sequence[int], activation: str, out_activation: str, dtype: str,
                  placement: Placement, l2: regularizers.L2 | None) -> an.Sequential:
    """Return a compiled, built Sequential ``layer_units[0] -> ... -> layer_units[-1]`` on ``placement``.

    Its weights are anynet's own until the caller sets them (scikit-learn's draws come
    from :func:`glorot_init`). The optimizer given to compile is never stepped by fit;
    the estimators step their own.
    """
    hidden = HIDDEN[activation]
    layers: list[an.layers.Layer] = [an.layers.Input((int(layer_units[0]),))]
    for units in layer_units[1:-1]:
        layers.append(an.layers.Dense(int(units), hidden, kernel_regularizer=l2))
    layers.append(an.layers.Dense(int(layer_units[-1]), _OUTPUT[out_activation], kernel_regularizer=l2))
    net = an.Sequential(layers, dtype=dtype, seed=0, backend=placement.backend.name, device=placement.device)
    net.compile(optimizer="sgd", loss=loss_for(out_activation))
    net.build((int(layer_units[0]),))
    return net


def glorot_init(layer_units: Sequence[int], activation: str, rng: np.random.RandomState,
                dtype: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return scikit-learn's initial ``(coefs, intercepts)``: host arrays drawn from ``rng`` in its order.

    Per layer, W (fan_in, fan_out) then b (fan_out,), both uniform on ``[-l, l]`` with
    ``l = sqrt(factor / (fan_in + fan_out))``, factor 2 for logistic units and 6 otherwise.
    """
    factor = 2.0 if activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype, copy=False))
        intercepts.append(rng.uniform(-bound, bound, fan_out).astype(dtype, copy=False))
    return coefs, intercepts


def pack(coefs: Sequence[Any], intercepts: Sequence[Any], xp: Any) -> Any:
    """Return anynet's flat parameter vector ``[W1, b1, W2, b2, ...]`` (row-major) from the two lists."""
    parts = []
    for W, b in zip(coefs, intercepts):
        parts += [xp.reshape(W, (-1,)), xp.reshape(b, (-1,))]
    return xp.concat(parts)


def unpack(theta: Any, layer_units: Sequence[int], xp: Any) -> tuple[list[Any], list[Any]]:
    """Return ``(coefs, intercepts)`` as views of the flat vector ``theta`` (the inverse of :func:`pack`)."""
    coefs, intercepts, o = [], [], 0
    for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
        coefs.append(xp.reshape(theta[o:o + fan_in * fan_out], (fan_in, fan_out)))
        o += fan_in * fan_out
        intercepts.append(theta[o:o + fan_out])
        o += fan_out
    return coefs, intercepts
