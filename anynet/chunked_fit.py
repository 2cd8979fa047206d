"""``fit`` over chunked (Dask) data: full-batch gradient descent, one tree-reduced step per epoch.

Each epoch is one step of the compiled optimizer (SGD, Adam, ...) on the gradient over
every training sample, summed over row chunks on the workers (:class:`anynet.chunked.LossGrad`);
the update runs on the driver, where the parameters live. ``batch_size`` must therefore
be the number of training samples: Keras' default, and what ``batch_size=None`` means,
is 32, and mini-batches over chunked data are refused rather than silently made full.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from anynet import chunked
from anynet.callbacks import Callback, History, ProgbarLogger
from anynet.data import split
from anynet.epoch import check_fit_options
from anynet.errors import InputError, NonFiniteLossError
from anynet.saving import resume
from anynet.validation import check_fraction, check_int

__all__ = ["fit"]


def _full_batch_only(batch_size: int, n: int, given: Any) -> None:
    if batch_size != n:
        meant = " (None means 32, as in Keras)" if given is None else ""
        raise InputError(f"fit over a Dask array runs full-batch gradient descent: each step is one (loss, gradient) "
                         f"summed over all {n} training samples on the workers, so batch_size must be {n}; got "
                         f"batch_size={given!r}{meant}. Pass batch_size={n}, use anynet.optimize.minimize "
                         f"(L-BFGS-B, CG, ...) for full-batch methods, or load the data into memory for mini-batches.")


def fit(self: Any, x: Any, y: Any, *, epochs: int = 1, batch_size: int | None = 32, shuffle: bool = True,
        validation_data: Sequence[Any] | None = None, validation_split: float = 0.0,
        callbacks: Sequence[Callback] | None = None, verbose: int | str = "auto", initial_epoch: int = 0,
        on_nonfinite: str = "raise", check_every: int | None = None,
        resume_from: str | os.PathLike[str] | None = None, **more: Any) -> History:
    """Train on chunked X, y full-batch and return a :class:`History` (one step per epoch).

    Arguments as ``Model.fit``; X and y are arrays, or lists / dicts of them for several
    inputs and outputs. ``batch_size`` must equal the number of training samples.
    ``shuffle`` changes nothing (a full-batch gradient has no order) and ``check_every``
    is moot (every step's loss is read). Dropout is refused: its masks would be drawn per
    chunk. The data is persisted on the workers once. Other arguments of ``fit`` not at
    their defaults are refused, naming them. ``self`` is the model: the hook in
    ``Trainer.fit`` passes its own arguments.
    """
    model, X = self, x
    model._require_compiled("fit")
    chunked.refuse_others(model, "fit", more)
    epochs = check_int("epochs", epochs, minimum=0)
    given, batch_size = batch_size, 32 if batch_size is None else check_int("batch_size", batch_size)
    initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
    validation_split = check_fraction("validation_split", validation_split)
    if check_every is not None:
        check_int("check_every", check_every)
    verbose = check_fit_options(verbose, callbacks, on_nonfinite, initial_epoch, resume_from)
    dropout = [layer.name or type(layer).__name__ for layer in model.layers if getattr(layer, "rate", 0.0) > 0.0]
    if dropout:
        raise InputError(f"fit over a Dask array does not draw dropout masks (layers {dropout}); remove Dropout, or "
                         f"train in memory.")

    adapter = chunked.adapter_of(X, y)
    val = None
    if validation_split:
        xs, ys = chunked.chunked_inputs(adapter, model, X, y, persist=False)
        n_all = int(xs[0].shape[0])
        n_val = int(n_all * validation_split)
        if n_val < 1 or n_val >= n_all:
            raise InputError(f"validation_split={validation_split} of {n_all} samples leaves {n_val} for validation "
                             f"and {n_all - n_val} for training; both need at least one.")
        cut = n_all - n_val
        val = ([a[cut:] for a in xs], [a[cut:] for a in ys])
        X, y = [a[:cut] for a in xs], [a[:cut] for a in ys]
    elif validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise InputError("validation_data must be a pair (X_val, y_val).")
        val = tuple(validation_data)
    n0 = _rows(model, X)
    if n0 == n0:  # known without computing anything: refuse before the data moves
        _full_batch_only(batch_size, int(n0), given)
    loss_grad = chunked.LossGrad(model, X, y)
    _full_batch_only(batch_size, loss_grad.n, given)
    score_val = None
    if val is not None and chunked.handles(*val):
        vadapter = chunked.adapter_of(*val)
        vx, vy = chunked.chunked_inputs(vadapter, model, *val, persist=True)
        vprog = vadapter.share(chunked.ChunkProgram(model))
        score_val = lambda: chunked.scores(model, vadapter, [*vx, *vy], vprog)  # noqa: E731
    elif val is not None:
        vdata = model.prepare(*val)
        score_val = lambda: model.evaluate_data(vdata)  # noqa: E731
    return _Loop(model, loss_grad, callbacks, verbose, on_nonfinite, score_val, epochs).run(initial_epoch, resume_from)


def _rows(model: Any, X: Any) -> float:
    """Return the rows of the first chunked input (NaN while unknown), from metadata alone."""
    xs = split(X, model.input_names_or_default(), "X")
    first = next((x for x in xs if chunked.handles(x)), xs[0])
    return first.shape[0]


class _Loop:
    """The epochs: one full-batch step each, the callbacks around it."""

    def __init__(self, model: Any, loss_grad: chunked.LossGrad, callbacks: Sequence[Callback] | None,
                 verbose: int, on_nonfinite: str, score_val: Any, epochs: int) -> None:
        self.model, self.loss_grad, self.on_nonfinite, self.score_val = model, loss_grad, on_nonfinite, score_val
        self.epochs = epochs
        self.history = History()
        self.cbs: list[Callback] = [self.history, *(callbacks or [])]
        if verbose:
            self.cbs.append(ProgbarLogger(verbose))
        n = loss_grad.n
        self.params = {"epochs": epochs, "steps": 1, "batch_size": n, "samples": n, "verbose": verbose}

    def run(self, initial_epoch: int, resume_from: str | os.PathLike[str] | None) -> History:
        model, cbs, epochs = self.model, self.cbs, self.epochs
        if resume_from is not None:  # checks the whole file before it changes the model
            initial_epoch = resume(model, resume_from, self.history)
        model.history = self.history
        for cb in cbs:
            cb.set_model(model)
            cb.set_params(self.params)
        p = model.placement
        if model.opt_state is None:
            model.opt_state = model.optimizer.init(model.params, p.xp)
        decay_mask = model.decay_mask() if model.optimizer.name == "adamw" else None
        kernels = model.context().kernels
        model.stop_training = False
        for cb in cbs:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
                cb.on_train_batch_begin(0, {"batch": 0, "size": self.loss_grad.n})
            x = p.backend.to_numpy(model.params).astype(np.float64)
            f, g, logs = self.loss_grad.sums(x, logs=True)
            if math.isfinite(f):
                model.optimizer.update(model.params, p.backend.from_numpy(g.astype(model.dtype), p.device),
                                       model.opt_state, p.xp, kernels=kernels, decay_mask=decay_mask)
            else:
                self._bad(epoch, f)
                logs = {k: math.nan for k in logs}
            for cb in cbs:
                cb.on_train_batch_end(0, {"batch": 0, "size": self.loss_grad.n})
            if self.score_val is not None:
                logs.update({f"val_{k}": v for k, v in self.score_val().items()})
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
        return self.history

    def _bad(self, epoch: int, value: float) -> None:
        where = f"epoch {epoch + 1} (one full-batch step)"
        if self.on_nonfinite == "raise":
            raise NonFiniteLossError(
                f"The loss became {value} at {where}; training stopped and the model keeps the weights from before "
                f"that step. Try a lower learning rate or check the data; fit(..., on_nonfinite='skip') leaves such "
                f"steps out instead.", epoch=epoch, batch=0)
        warnings.warn(f"The loss became {value} at {where}; that step's update was skipped.", RuntimeWarning,
                      stacklevel=4)
