"""Full-batch training and inference over chunked arrays (Dask), one row chunk at a time: the driver's side.

A loss in anynet is a mean over samples, so over row chunks ``c`` of ``n_c`` samples::

    loss = sum_c n_c * loss_c / n        gradient = sum_c n_c * grad_c / n

(a loss with ``reduction="sum"`` is the plain sum over chunks), plus the regularization
penalty, which is added once, here on the driver, and not per chunk. Each chunk's share is
ordinary anynet code run on the chunk's own array library where the chunk lives (see
:mod:`anynet.chunk_program`); only the parameters go out (once per evaluation) and one
float64 vector per chunk comes back, summed in a tree on the workers. The model's
parameters stay with the model on the driver, on its own backend.

Models with several inputs or outputs take X and y as lists in order or dicts by name, as
in memory; the arrays are aligned to the row chunks of the first Dask input (in-memory
ones are chunked like it).

Nothing here names Dask. A *chunked* adapter (``adapter.chunked``; see backends/dask.py,
the one built in) supplies the chunk-wise operations: ``align_rows``, ``share``,
``tree_sum``, ``map_row_chunks``. The model calls in through four hooks, each guarded by
:func:`handles`: :class:`anynet.optimize.Objective` (:class:`LossGrad`), ``predict``
(:func:`predict`), ``evaluate`` (:func:`evaluate`) and ``fit`` (:func:`anynet.chunked_fit.fit`).
"""

from __future__ import annotations

import inspect
import math
import sys
import time
from typing import Any

import numpy as np

from anynet import backends
from anynet.backends import Backend
from anynet.callbacks import format_value
from anynet.chunk_program import ChunkProgram, check_chunk, loss_grad_chunk, score_chunk, predict_chunk, train_chunk
from anynet.data import split
from anynet.epoch import log_names
from anynet.errors import InputError, InputTypeError, NonFiniteOutputError

__all__ = ["handles", "adapter_of", "ChunkProgram", "LossGrad", "penalty", "predict", "evaluate", "scores",
           "loss_grad_chunk", "train_chunk"]


def _leaves(value: Any) -> list[Any]:
    """Return the arrays of one argument: itself, or the entries of a list/tuple/dict (several inputs)."""
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def adapter_of(*values: Any) -> Backend | None:
    """Return the chunked adapter (Dask) of the first chunked array among ``values`` (arrays, lists, dicts), or None."""
    leaves = [a for value in values if value is not None for a in _leaves(value)]
    for adapter in backends.adapters():
        if getattr(adapter, "chunked", False) and any(adapter.owns(a) for a in leaves):
            return adapter
    return None


def handles(*values: Any) -> bool:
    """Return whether any of ``values`` is (or holds) a chunked (Dask) array, which this module computes."""
    return adapter_of(*values) is not None


# -- checking and aligning the inputs ---------------------------------------------------

def _labels(names: list[str], what: str) -> list[str]:
    return [what] if len(names) == 1 else [f"{what}[{n!r}]" for n in names]


def _check_dtypes(arrays: list[Any], labels: list[str]) -> None:
    for a, label in zip(arrays, labels):
        if a is None:
            raise InputError(f"{label} is None; pass an array.")
        dt = np.dtype(a.dtype) if hasattr(a, "dtype") else np.asarray(a).dtype
        if dt.kind not in "biuf":
            raise InputTypeError(f"{label} holds {dt} data; anynet trains on real numbers (float, int, uint8, bool). "
                                 f"Convert it first, e.g. {label}.astype('float32'). Refused before any task ran.")


def _check_meta(model: Any, X: Any, y: Any = None) -> tuple[list[Any], list[str], list[Any], list[str]]:
    """Return ``(xs, x labels, ys, y labels)`` after refusing bad dtypes and shapes from metadata alone,
    before any task runs; builds the model (on its own backend) if it is not built yet."""
    names = model.input_names_or_default()
    xs, xl = split(X, names, "X"), _labels(names, "X")
    _check_dtypes(xs, xl)
    ys, yl = [], []
    if y is not None:
        model._require_compiled("passing targets")
        ys, yl = split(y, [h.name for h in model.heads], "y"), _labels([h.name for h in model.heads], "y")
        _check_dtypes(ys, yl)
    shapes = [tuple(x.shape) if hasattr(x, "shape") else np.shape(x) for x in xs]  # rows may be NaN (unknown)
    for shape, label in zip(shapes, xl):
        if len(shape) < 2:
            raise InputError(f"{label} must have shape (samples, features...), got an array of shape {shape}.")
    if not model.built:
        model.build(None if model._maybe_graph() is not None else tuple(int(d) for d in shapes[0][1:]))
    for name, shape, label, want in zip(model.input_names, shapes, xl, model._input_shapes()):
        if tuple(shape[1:]) != tuple(want):
            raise InputError(model._shape_message(name, shape, tuple(want), label))
    return xs, xl, ys, yl


def _align(adapter: Backend, model: Any, xs: list[Any], xl: list[str], ys: list[Any], yl: list[str], *,
           persist: bool, known: bool = True) -> tuple[list[Any], list[Any]]:
    """Return xs and ys as chunked arrays in the row chunks of the first chunked input, X in the model's dtype."""
    first = next((i for i, x in enumerate(xs) if adapter.owns(x)), None)
    if first is None:
        raise InputError(f"{'X is' if len(xs) == 1 else 'every input is'} in memory but y is a Dask array; make X "
                         f"a Dask array chunked by rows too (dask.array.from_array(X, chunks=(rows, -1))) or load y "
                         f"into memory.")
    xp, dtype = adapter.namespace(), np.dtype(model.dtype)
    xs = [xp.astype(x, dtype) if adapter.owns(x) and np.dtype(x.dtype) != dtype else x for x in xs]
    order = [first, *(i for i in range(len(xs) + len(ys)) if i != first)]
    arrays, labels = [*xs, *ys], [*xl, *yl]
    aligned = adapter.align_rows([arrays[i] for i in order], [labels[i] for i in order], persist=persist,
                                 known=known)
    back = [None] * len(order)
    for i, a in zip(order, aligned):
        back[i] = a
    xs, ys = back[:len(xs)], back[len(xs):]
    if known and xs[0].shape[0] == 0:
        raise InputError(f"{xl[0]} is empty (shape {tuple(xs[0].shape)}); pass at least one sample.")
    return xs, ys


def chunked_inputs(adapter: Backend, model: Any, X: Any, y: Any, *, persist: bool) -> tuple[list[Any], list[Any]]:
    """Return ``(xs, ys)``: checked from metadata, aligned by rows with known sizes, X in the model's dtype."""
    xs, xl, ys, yl = _check_meta(model, X, y)
    return _align(adapter, model, xs, xl, ys, yl, persist=persist)


def host_params(model: Any) -> np.ndarray:
    """Return a host NumPy copy of the model's parameters in its dtype."""
    return np.array(model.placement.backend.to_numpy(model.params), dtype=model.dtype, copy=True)


def penalty(model: Any, theta: np.ndarray) -> tuple[float, np.ndarray | None]:
    """Return the regularization penalty at host ``theta`` and its flat float64 gradient (None without any).

    Computed on the host in ``theta``'s dtype over the model's own parameters, as
    ``value_and_grad`` adds them in memory.
    """
    specs = [s for s in model._own_specs() if s.regularizer is not None]
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


def _full_batch_losses(model: Any) -> None:
    """Refuse losses whose full-batch value is not a sum of per-chunk values."""
    for h in model.heads:
        if getattr(h.loss, "ignore_class", None) is not None:
            raise InputError(f"{h.loss.name}(ignore_class={h.loss.ignore_class!r}) averages over the positions it "
                             f"keeps, whose count differs per row chunk, so its full-batch value over Dask arrays is "
                             f"not a sum of the chunks'; train in memory, or drop ignore_class and give those "
                             f"positions a sample weight of 0 in memory.")


class LossGrad:
    """The model's full-batch loss and gradient over chunked X, y, for scipy or a descent loop.

    The data is cast to the model's dtype, aligned by rows, persisted on the workers and
    checked (finite, targets valid) once, here; ``n`` is the number of samples. Each call
    sends the parameters to every worker once and sums one vector per row chunk in a tree.
    """

    def __init__(self, model: Any, X: Any, y: Any) -> None:
        self.adapter = adapter_of(X, y)
        self.model = model
        xs, ys = chunked_inputs(self.adapter, model, X, y, persist=True)
        _full_batch_losses(model)
        self.arrays, self.n_inputs = [*xs, *ys], len(xs)
        self.n = int(xs[0].shape[0])
        self.program = self.adapter.share(ChunkProgram(model, rows=self.n))
        self.dtype = np.dtype(model.dtype)
        self.names = log_names(model)
        (n,) = self.adapter.tree_sum(check_chunk, self.arrays, [self.program, host_params(model)],
                                     name="anynet-check")
        if int(n) != self.n:
            raise InputError(f"The row chunks hold {int(n)} samples, but the array says {self.n}.")

    @property
    def X(self) -> Any:
        """The aligned, persisted inputs: one chunked array, or a tuple for several inputs."""
        xs = self.arrays[:self.n_inputs]
        return xs[0] if len(xs) == 1 else tuple(xs)

    @property
    def y(self) -> Any:
        """The aligned, persisted targets: one chunked array, or a tuple for several outputs."""
        ys = self.arrays[self.n_inputs:]
        return ys[0] if len(ys) == 1 else tuple(ys)

    def sums(self, x: np.ndarray, *, logs: bool = False) -> tuple[float, np.ndarray, dict[str, float]]:
        """Return ``(loss, gradient, History entries)`` at the float64 vector x, penalty included."""
        theta = np.asarray(x, dtype=np.float64).astype(self.dtype)
        fn = train_chunk if logs else loss_grad_chunk
        s = self.adapter.tree_sum(fn, self.arrays, [self.program, theta], name="anynet-loss-grad")
        size = theta.shape[0]
        f, g = s[1] / self.n, s[2:2 + size] / self.n
        p, pg = penalty(self.model, theta)
        if pg is not None:
            f, g = f + p, g + pg
        entries = {self.names[0]: float(f)}
        if logs:
            entries.update(_ratios(self.names[1:], s[2 + size:]))
        return float(f), g, entries

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Return the loss (a float) and its gradient (a float64 vector) at x."""
        f, g, _ = self.sums(x)
        return f, g


def _ratios(names: list[str], rest: np.ndarray) -> dict[str, float]:
    """Return ``{name: value / count}`` from ``[*values, *counts]``."""
    k = len(names)
    return {name: float(rest[j] / rest[k + j]) for j, name in enumerate(names)}


def predict(model: Any, X: Any) -> Any:
    """Return the outputs for chunked X as lazy arrays of the same kind: X's row chunks, then each output's shape.

    One array for one output; a list in order (or a dict by name, as the model's outputs
    were given) for several. It uses the parameters as they are now; each row chunk is one
    batch, checked as ``predict`` checks in-memory data when it is computed.
    """
    adapter = adapter_of(X)
    xs, xl, _, _ = _check_meta(model, X)
    xs, _ = _align(adapter, model, xs, xl, [], [], persist=False, known=not all(adapter.owns(x) for x in xs))
    outs = adapter.map_row_chunks(predict_chunk, xs, [ChunkProgram(model), host_params(model)],
                                  shapes=[t.sample_shape for t in model.outputs], dtype=np.dtype(model.dtype))
    if len(outs) == 1:
        return outs[0]
    keys = model._graph.output_keys
    return dict(zip(keys, outs)) if keys is not None else outs


def scores(model: Any, adapter: Backend, arrays: list[Any], program: Any) -> dict[str, float]:
    """Return the loss (penalty included) and metrics over aligned chunked arrays as Python floats, each row
    chunk one batch."""
    theta = host_params(model)
    s = adapter.tree_sum(score_chunk, arrays, [program, theta], name="anynet-evaluate")
    n, names = s[0], log_names(model)
    out = {names[0]: float(s[1] / n + penalty(model, theta)[0])}
    out.update(_ratios(names[1:], s[2:]))
    bad = {k: v for k, v in out.items() if not math.isfinite(v)}
    if bad:
        raise NonFiniteOutputError(f"evaluate: {bad} on {int(n)} samples; {model._overflow_hint()}")
    return out


def refuse_others(model: Any, method: str, given: dict[str, Any]) -> None:
    """Raise InputError naming the arguments of ``model.<method>`` in ``given`` that are not at their defaults.

    The hooks pass every argument of ``fit`` / ``evaluate``, so one this module does not
    take (``sample_weight``, say) is refused here rather than silently dropped.
    """
    params = inspect.signature(getattr(type(model), method)).parameters
    bad = sorted(k for k, v in given.items() if k not in params or not _same(v, params[k].default))
    if bad:
        raise InputError(f"{method} over Dask arrays does not take {bad} yet; leave them out, or {method} in memory.")


def _same(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and isinstance(default, (bool, int, float, str))
                                and value == default)


def evaluate(self: Any, x: Any, y: Any, *, verbose: int | str = "auto", return_dict: bool = False,
             batch_size: int | None = None, **more: Any) -> float | list[float] | dict[str, float]:
    """Return the loss and metrics over chunked x, y (a float, a list, or a dict, as ``evaluate``), reduced over
    row chunks; each row chunk is one batch, whatever ``batch_size`` says.

    ``self`` is the model: the hook in ``Trainer.evaluate`` passes its own arguments.
    """
    model, X = self, x
    refuse_others(model, "evaluate", more)
    if verbose not in (0, 1, 2, "auto"):
        raise InputError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}.")
    start = time.perf_counter()
    adapter = adapter_of(X, y)
    xs, ys = chunked_inputs(adapter, model, X, y, persist=False)
    result = scores(model, adapter, [*xs, *ys], ChunkProgram(model))
    if verbose:
        values = "".join(f" - {k}: {format_value(v)}" for k, v in result.items())
        sys.stdout.write(f"{len(xs[0].chunks[0])} row chunks - {time.perf_counter() - start:.0f}s{values}\n")
        sys.stdout.flush()
    if return_dict:
        return result
    return result["loss"] if len(result) == 1 else list(result.values())
