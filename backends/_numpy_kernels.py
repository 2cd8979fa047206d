"""NumPy fast paths: in-place, buffer-reusing versions of the core's hot spots.

Each function here does what a piece of anynet's portable code does, with NumPy's own
tools (``out=``, in-place ufuncs, buffers kept between batches) so a training step makes
few fresh arrays: on a CPU, a fresh array of a few hundred KB costs page faults on every
step, and each temporary costs a pass over memory. The conformance suite checks every
kernel against the portable code (tests/conformance/test_kernels.py).

Lifetimes: a kernel writes into a buffer it keeps only where nothing outside the step
holds the result. The optimizer updates use private scratch vectors (per thread); the
batch gathers and the flat gradient use ``scratch``, a dict the training loop hands in
through its Context and drops at the end of the epoch. Without ``scratch`` they allocate.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["KERNELS", "sgd_update", "rmsprop_update", "adam_update", "bias_activation", "relu_backward",
           "softmax_crossentropy", "flat_concat", "take_rows"]

_local = threading.local()


def _tmp(like: np.ndarray, k: int = 0) -> np.ndarray:
    """Return private scratch vector ``k`` shaped like ``like`` (kept per thread, one size at a time)."""
    bufs = getattr(_local, "bufs", None)
    key = (like.shape, like.dtype)
    if bufs is None or bufs[0] != key:
        bufs = _local.bufs = (key, {})
    out = bufs[1].get(k)
    if out is None:
        out = bufs[1][k] = np.empty_like(like)
    return out


def _buffer(scratch: dict[Any, np.ndarray] | None, name: str, shape: tuple[int, ...], dtype: Any) -> np.ndarray | None:
    if scratch is None:
        return None
    key = (name, shape, np.dtype(dtype))
    out = scratch.get(key)
    if out is None:
        out = scratch[key] = np.empty(shape, dtype=dtype)
    return out


# -- optimizer updates: (theta, g, state, **hyper), everything in place --------------------------

def sgd_update(theta: np.ndarray, g: np.ndarray, state: dict[str, Any], *, lr: float, momentum: float,
               nesterov: bool) -> None:
    """Update theta (and the velocity) in place: Keras' SGD, plain, momentum or Nesterov.

    ``v = momentum * v - lr * g``; ``theta += v`` (Nesterov: ``theta += momentum * v - lr * g``);
    without momentum ``theta -= lr * g``.
    """
    step = np.multiply(g, lr, out=_tmp(theta))  # lr * g, no fresh vector
    if not momentum:
        theta -= step
        return
    v = state["velocity"]
    v *= momentum
    v -= step
    if nesterov:
        theta -= step
        theta += np.multiply(v, momentum, out=step)
    else:
        theta += v


def rmsprop_update(theta: np.ndarray, g: np.ndarray, state: dict[str, Any], *, lr: float, rho: float,
                   epsilon: float) -> None:
    """Update theta and s in place: Keras' RMSprop, ``s = rho s + (1 - rho) g^2``,
    ``theta -= lr g / sqrt(s + epsilon)``."""
    s, a, b = state["s"], _tmp(theta, 0), _tmp(theta, 1)
    np.multiply(g, g, out=a)
    a *= 1.0 - rho
    s *= rho
    s += a
    np.add(s, epsilon, out=a)
    np.sqrt(a, out=a)
    np.multiply(g, lr, out=b)
    theta -= np.divide(b, a, out=a)


def adam_update(theta: np.ndarray, g: np.ndarray, state: dict[str, Any], *, lr: float, lr_t: float,
                beta_1: float, beta_2: float, epsilon: float) -> None:
    """Update theta, m and v in place: Adam with Keras' epsilon placement,
    ``theta -= lr_t m / (sqrt(v) + epsilon)``."""
    m, v, a, b = state["m"], state["v"], _tmp(theta, 0), _tmp(theta, 1)
    m *= beta_1
    m += np.multiply(g, 1.0 - beta_1, out=a)
    np.multiply(g, g, out=a)
    a *= 1.0 - beta_2
    v *= beta_2
    v += a
    np.sqrt(v, out=a)
    a += epsilon
    np.multiply(m, lr_t, out=b)
    theta -= np.divide(b, a, out=a)


# -- layers, activations, losses ------------------------------------------------------------

def _expit(Z: np.ndarray, out: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(Z, out=out)


# Activations whose backprop reads only Y, or reads Z only through (Z > 0) == (Y > 0), so
# the activation may overwrite Z: by name, with the only arguments (get_config) they may have.
_PLAIN_RELU = {"negative_slope": 0.0, "max_value": None, "threshold": 0.0}
_IN_PLACE = {
    "linear": ({}, lambda Z: Z),
    "relu": (_PLAIN_RELU, lambda Z: np.maximum(Z, 0.0, out=Z)),
    "sigmoid": ({}, lambda Z: _expit(Z, Z)),
    "tanh": ({}, lambda Z: np.tanh(Z, out=Z)),
}


def bias_activation(Z: np.ndarray, b: np.ndarray | None, activation: Any) -> np.ndarray | None:
    """Return activation(Z + b) computed in Z's own memory, or None where the activation has no such path.

    The caller (Dense) owns Z, a fresh product, and its backprop then sees Y for Z.
    """
    known = _IN_PLACE.get(getattr(activation, "name", None))
    if known is None or activation.get_config() != known[0] or not Z.flags.writeable:
        return None  # e.g. relu(max_value=6): the portable code runs
    f = known[1]
    if b is not None:
        Z += b
    return f(Z)


def relu_backward(dY: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Return dY * (Z > 0) in one pass over a boolean mask (no float mask array)."""
    return np.multiply(dY, Z > 0)


def softmax_crossentropy(Z: np.ndarray, T: np.ndarray, norm: float) -> tuple[Any, np.ndarray, np.ndarray]:
    """Return ``(loss, dZ, P)`` of categorical cross-entropy on logits Z (n, k) with targets T.

    One shift, one exp, and dZ written over the shifted logits:
    loss = (sum_i t_i log sum_j e^{s_ij} - sum T * S) / norm, dZ = (P * sum(T) - T) / norm.
    """
    S = np.subtract(Z, Z.max(axis=-1, keepdims=True))
    P = np.exp(S)
    total = P.sum(axis=-1, keepdims=True)
    P /= total
    mass = T.sum(axis=-1, keepdims=True)
    loss = (np.vdot(mass, np.log(total)) - np.einsum("ij,ij->", T, S)) / norm
    dZ = np.multiply(P, mass, out=S)
    dZ -= T
    dZ *= 1.0 / norm
    return Z.dtype.type(loss), dZ, P


# -- data movement -------------------------------------------------------------------------------

def flat_concat(parts: Sequence[np.ndarray], scratch: dict[Any, np.ndarray] | None = None) -> np.ndarray:
    """Return the 1-D concatenation of ``parts`` (already flat), into a kept buffer where given one."""
    n = sum(int(p.shape[0]) for p in parts)
    out = _buffer(scratch, "flat_concat", (n,), parts[0].dtype)
    return np.concatenate(parts, out=out)


def grad_buffer(n: int, dtype: Any, scratch: dict[Any, np.ndarray] | None) -> np.ndarray | None:
    """Return the buffer :func:`flat_concat` gathers a gradient of ``n`` entries into (None without
    ``scratch``), so a layer can write its gradients there in the first place."""
    return _buffer(scratch, "flat_concat", (int(n),), dtype)


def matmul_into(A: np.ndarray, B: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Return ``A @ B`` written into ``out`` (a view of the gradient buffer)."""
    return np.matmul(A, B, out=out)


def sum_rows_into(A: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Return ``A.sum(axis=0)`` written into ``out`` (a view of the gradient buffer)."""
    return np.sum(A, axis=0, out=out)


def take_rows(A: np.ndarray, idx: np.ndarray, scratch: dict[Any, np.ndarray] | None = None,
              name: str = "rows") -> np.ndarray:
    """Return ``A[idx]`` along axis 0, gathered into a kept buffer where given one.

    ``idx`` must hold valid row numbers (the training loop's permutation does).
    """
    out = _buffer(scratch, name, (int(idx.shape[0]), *A.shape[1:]), A.dtype)
    if out is None:
        return np.take(A, idx, axis=0)
    return np.take(A, idx, axis=0, out=out, mode="clip")  # "raise" would gather into a hidden copy first


def kernels() -> dict[str, Any]:
    """Return the NumPy adapter's kernels by the names the core looks up."""
    return {"sgd_update": sgd_update, "rmsprop_update": rmsprop_update, "adam_update": adam_update,
            "bias_activation": bias_activation, "relu_backward": relu_backward,
            "softmax_crossentropy": softmax_crossentropy, "flat_concat": flat_concat, "take_rows": take_rows,
            "grad_buffer": grad_buffer, "matmul_into": matmul_into, "sum_rows_into": sum_rows_into}


KERNELS = kernels()
