"""Full-batch training and inference over chunked arrays (Dask), one row chunk at a time.

A loss in anynet is a mean over samples, so over row chunks ``c`` of ``n_c`` samples::

    loss = sum_c n_c * loss_c / n        gradient = sum_c n_c * grad_c / n

plus the regularization penalty, which is added once, here on the driver, and not per
chunk. Each chunk's share is ordinary anynet code (:meth:`Sequential.value_and_grad`,
:meth:`Sequential.predict`) run on the chunk's own array library, NumPy or CuPy, where the
chunk lives; only the parameters go out (once per evaluation) and one float64 vector per
chunk comes back, summed in a tree on the workers. The model's parameters stay with the
model on the driver, on its own backend.

Nothing here names Dask. A *chunked* adapter (``adapter.chunked``; see backends/dask.py,
the one built in) supplies the chunk-wise operations: ``align_rows``, ``share``,
``tree_sum``, ``map_row_chunks``, ``chunk_backend``. The model calls in through four hooks:
:class:`anynet.optimize.Objective` (:class:`LossGrad`), ``Sequential.predict``
(:func:`predict`), ``Sequential.evaluate`` (:func:`evaluate`) and ``Sequential.fit``
(:func:`anynet.chunked_fit.fit`), each guarded by :func:`handles`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from anynet import backends
from anynet.backend import Placement
from anynet.backends import Backend
from anynet.errors import InputError, InputTypeError, NonFiniteOutputError
from anynet.params import Layout

if TYPE_CHECKING:
    from anynet.model import Sequential

__all__ = ["handles", "adapter_of", "ChunkProgram", "LossGrad", "penalty", "predict", "evaluate"]


def adapter_of(*arrays: Any) -> Backend | None:
    """Return the chunked adapter (Dask) of the first chunked array among ``arrays``, or None."""
    for a in arrays:
        if a is None:
            continue
        adapter = backends.for_array(a)
        if adapter is not None and getattr(adapter, "chunked", False):
            return adapter
    return None


def handles(*arrays: Any) -> bool:
    """Return whether any of ``arrays`` is a chunked (Dask) array, which this module computes."""
    return adapter_of(*arrays) is not None


# -- what runs on the workers ------------------------------------------------------------

class ChunkProgram:
    """The model without its parameters and penalties: what a worker runs on one row chunk.

    It is sent to the workers once per use (training run, evaluate, predict); the
    parameters come with each call as a host NumPy vector in the model's dtype.
    """

    def __init__(self, model: Sequential) -> None:
        m = copy.copy(model)
        layout = Layout()  # the penalties are added once, on the driver: none per chunk
        layout.specs = [dataclasses.replace(s, regularizer=None) for s in model.layout]
        layout.size = model.layout.size
        m.layout = layout
        m._theta = m.rng = m.shuffle_rng = m.history = m.opt_state = None
        self.model = m

    def on(self, chunk: Any, theta: np.ndarray) -> Sequential:
        """Return a copy of the model on ``chunk``'s library and device, holding ``theta``."""
        adapter = backends.for_array(chunk) or backends.get("numpy")
        device = adapter.device_of(chunk)
        m = copy.copy(self.model)
        m.placement = Placement(adapter, device, adapter.namespace())
        m._theta = adapter.from_numpy(theta, device)
        return m


def _sums(m: Sequential, X: Any, y: Any, *, grad: bool, metrics: bool) -> np.ndarray:
    """Return ``[n, n * loss, (n * gradient), (metric sum, metric count)...]`` of one chunk as float64."""
    backend, xp = m.placement.backend, m.placement.xp
    n = float(X.shape[0])
    loss, g, Y, T = m.value_and_grad(m.params, X, y, m.context(), grad=grad)
    parts = [np.array([n, n * float(loss)])]
    if grad:
        parts.append(n * backend.to_numpy(g).astype(np.float64))
    if metrics:
        for metric in m.metrics:
            s, c = metric.batch(Y, T, xp)
            parts.append(np.array([float(s), float(c)]))
    return np.concatenate(parts)


def _check_chunk(program: ChunkProgram, theta: np.ndarray, X: Any, y: Any) -> np.ndarray:
    """Check one chunk as ``model.prepare`` checks in-memory data; return ``[n]``."""
    m = program.on(X, theta)
    return np.array([float(m.prepare(X, y).n)])


def _loss_grad_chunk(program: ChunkProgram, theta: np.ndarray, X: Any, y: Any) -> np.ndarray:
    """Return ``[n, n * loss, n * gradient]`` of one checked chunk (X already in the model's dtype)."""
    m = program.on(X, theta)
    return _sums(m, X, _like(y, m), grad=True, metrics=False)


def _train_chunk(program: ChunkProgram, theta: np.ndarray, X: Any, y: Any) -> np.ndarray:
    """Return the loss, gradient and metric sums of one checked chunk (see :func:`_sums`)."""
    m = program.on(X, theta)
    return _sums(m, X, _like(y, m), grad=True, metrics=True)


def _score_chunk(program: ChunkProgram, theta: np.ndarray, X: Any, y: Any) -> np.ndarray:
    """Return the loss and metric sums of one unchecked chunk, checked here first."""
    m = program.on(X, theta)
    data = m.prepare(X, y)
    return _sums(m, data.X, data.y, grad=False, metrics=True)


def _predict_chunk(program: ChunkProgram, theta: np.ndarray, X: Any) -> Any:
    """Return the model's outputs for one chunk, an array of the chunk's library."""
    return program.on(X, theta).predict(X)


def _like(y: Any, m: Sequential) -> Any:
    """Return targets on the model copy's library (in-memory targets beside CuPy chunks)."""
    from anynet.backend import to_placement

    return to_placement(y, m.placement, name="y")


# -- the driver ------------------------------------------------------------------------

def _check_meta(model: Sequential, arrays: dict[str, Any]) -> None:
    """Refuse bad dtypes and shapes from metadata alone, before any task runs; build the model."""
    for name, a in arrays.items():
        if a is None:
            raise InputError(f"{name} is None; pass an array.")
        dt = np.dtype(a.dtype) if hasattr(a, "dtype") else np.asarray(a).dtype
        if dt.kind not in "biuf":
            raise InputTypeError(f"{name} holds {dt} data; anynet trains on real numbers (float, int, uint8, bool). "
                                 f"Convert it first, e.g. {name}.astype('float32'). Refused before any task ran.")
    X = arrays["X"]
    if X.ndim < 2:
        raise InputError(f"X must have shape (samples, features...), got an array of shape {tuple(X.shape)}.")
    if not model.built:
        model.build(tuple(int(d) for d in X.shape[1:]))
    if tuple(X.shape[1:]) != model.input_shape:
        raise InputError(model._shape_message(tuple(X.shape)))


def _chunked_inputs(adapter: Backend, model: Sequential, X: Any, y: Any, *, persist: bool) -> tuple[Any, Any, Any]:
    """Return ``(X, y, program)``: checked, aligned by rows, X cast to the model's dtype."""
    _check_meta(model, {"X": X, "y": y})
    if not adapter.owns(X):
        raise InputError("X is in memory but y is a Dask array; make X a Dask array chunked by rows too "
                         "(dask.array.from_array(X, chunks=(rows, -1))) or load y into memory.")
    X = adapter.namespace().astype(X, np.dtype(model.dtype)) if np.dtype(X.dtype) != np.dtype(model.dtype) else X
    X, y = adapter.align_rows([X, y], ["X", "y"], persist=persist, known=True)
    if X.shape[0] == 0:
        raise InputError(f"X is empty (shape {tuple(X.shape)}); pass at least one sample.")
    return X, y, ChunkProgram(model)


def host_params(model: Sequential) -> np.ndarray:
    """Return a host NumPy copy of the model's parameters in its dtype."""
    return np.array(model.placement.backend.to_numpy(model.params), dtype=model.dtype, copy=True)


def penalty(model: Sequential, theta: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Return the regularization penalty at host ``theta`` and its flat float64 gradient (None without any).

    Computed on the host in ``theta``'s dtype, in the order ``value_and_grad`` adds them.
    """
    specs = [s for s in model.layout if s.regularizer is not None]
    if not specs:
        return 0.0, None
    xp = backends.get("numpy").namespace()
    slots = model.layout.slots(theta, xp)
    total, grad = 0.0, np.zeros(theta.shape[0], dtype=np.float64)
    for s in specs:
        W = slots[s.layer][s.name]
        total += float(s.regularizer.penalty(W, xp))
        grad[s.offset:s.stop] = np.asarray(s.regularizer.gradient(W, xp), dtype=np.float64).reshape(-1)
    return total, grad


class LossGrad:
    """The model's full-batch loss and gradient over chunked X, y, for scipy or a descent loop.

    The data is cast to the model's dtype, aligned by rows, persisted on the workers and
    checked (finite, targets valid) once, here; ``n`` is the number of samples. Each call
    sends the parameters to every worker once and sums one vector per row chunk in a tree.
    """

    def __init__(self, model: Sequential, X: Any, y: Any) -> None:
        self.adapter = adapter_of(X, y)
        self.model = model
        self.X, self.y, program = _chunked_inputs(self.adapter, model, X, y, persist=True)
        self.program = self.adapter.share(program)
        self.dtype = np.dtype(model.dtype)
        (n,) = self.adapter.tree_sum(_check_chunk, [self.X, self.y], [self.program, host_params(model)],
                                     name="anynet-check")
        self.n = int(n)

    def sums(self, x: np.ndarray, *, metrics: bool = False) -> tuple[float, np.ndarray, np.ndarray]:
        """Return ``(loss, gradient, [metric sum, count, ...])`` at the float64 vector x, penalty included."""
        theta = np.asarray(x, dtype=np.float64).astype(self.dtype)
        fn = _train_chunk if metrics else _loss_grad_chunk
        s = self.adapter.tree_sum(fn, [self.X, self.y], [self.program, theta], name="anynet-loss-grad")
        size = theta.shape[0]
        f, g = s[1] / self.n, s[2:2 + size] / self.n
        p, pg = penalty(self.model, theta)
        if pg is not None:
            f, g = f + p, g + pg
        return float(f), g, s[2 + size:]

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Return the loss (a float) and its gradient (a float64 vector) at x."""
        f, g, _ = self.sums(x)
        return f, g


def predict(model: Sequential, X: Any) -> Any:
    """Return the outputs for chunked X as a lazy array of the same kind: X's row chunks, then the output shape.

    It uses the parameters as they are now; each row chunk is one batch, checked as
    ``predict`` checks in-memory data when it is computed.
    """
    adapter = adapter_of(X)
    _check_meta(model, {"X": X})
    (X,) = adapter.align_rows([X], ["X"], persist=False, known=False)
    return adapter.map_row_chunks(_predict_chunk, [X], [ChunkProgram(model), host_params(model)],
                                  shape=model.output_shape, dtype=np.dtype(model.dtype))


def scores(model: Sequential, adapter: Backend, X: Any, y: Any, program: Any) -> dict[str, float]:
    """Return the loss (penalty included) and metrics over aligned chunked X, y as Python floats."""
    theta = host_params(model)
    s = adapter.tree_sum(_score_chunk, [X, y], [program, theta], name="anynet-evaluate")
    n = s[0]
    out = {"loss": float(s[1] / n + penalty(model, theta)[0])}
    out.update({m.name: float(s[2 + 2 * j] / s[3 + 2 * j]) for j, m in enumerate(model.metrics)})
    bad = {k: v for k, v in out.items() if not math.isfinite(v)}
    if bad:
        raise NonFiniteOutputError(f"evaluate: {bad} on {int(n)} samples; {model._overflow_hint()}")
    return out


def evaluate(model: Sequential, X: Any, y: Any) -> dict[str, float]:
    """Return the loss and metrics over chunked X, y as Python floats, reduced over row chunks."""
    adapter = adapter_of(X, y)
    X, y, program = _chunked_inputs(adapter, model, X, y, persist=False)
    return scores(model, adapter, X, y, program)
