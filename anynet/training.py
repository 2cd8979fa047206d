"""fit, evaluate and predict: the Trainer mixin every Model inherits (Keras: ``Model(Trainer, ...)``).

This module knows models only through the methods a Model has (``prepare``,
``value_and_grad``, ``outputs_of``, ...), so the model module imports it, never the
other way round. The mini-batch loop itself is :mod:`anynet.epoch`.

``predict`` and ``evaluate`` run in batches of ``batch_size`` samples; with
``batch_size=None`` they run in chunks of :data:`INFERENCE_CHUNK` samples, so no
intermediate array is ever larger than one chunk's (only the outputs are full size).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from anynet import backends
from anynet import chunked, chunked_fit  # hook: Dask arrays (see the three "hook: chunked" lines)
from anynet import threads as threads_mod
from anynet.callbacks import Callback, History, ProgbarLogger, format_value
from anynet.data import Data
from anynet.epoch import (DEFAULT_CHECK_EVERY, Epoch, batch_values, check_fit_options, check_verbose, log_names,
                          overrides, read_logs)
from anynet.errors import InputError, InputTypeError, NonFiniteOutputError
from anynet.saving import resume
from anynet.validation import check_fraction, check_int

__all__ = ["Trainer", "INFERENCE_CHUNK", "DEFAULT_CHECK_EVERY"]

#: samples per pass of predict / evaluate when batch_size is None
INFERENCE_CHUNK = 1024


def _chunks(n: int, batch_size: int | None, default: int = INFERENCE_CHUNK) -> list[tuple[int, int]]:
    bs = default if batch_size is None else check_int("batch_size", batch_size)
    return [(i, min(i + bs, n)) for i in range(0, n, bs)]


def _targets_needed(y: Any, what: str) -> None:
    if y is None:
        raise InputError(f"{what} needs targets y to compare the outputs with, got y=None; pass "
                         f"{what}(X, y, ...). For outputs alone use predict(X).")


def _check_shuffle(shuffle: Any) -> bool:
    if not isinstance(shuffle, bool) and type(shuffle).__name__ != "bool_":  # Python or NumPy bool
        raise InputTypeError(f"shuffle must be True or False, got {shuffle!r} of type {type(shuffle).__name__}.")
    return bool(shuffle)


class Trainer:
    """``fit``, ``evaluate`` and ``predict`` (Keras' arguments and defaults), for any Model."""

    def fit(self, x: Any = None, y: Any = None, batch_size: int = 32, epochs: int = 1, verbose: int | str = "auto",
            callbacks: Sequence[Callback] | None = None, validation_split: float = 0.0,
            validation_data: Sequence[Any] | None = None, shuffle: bool = True,
            class_weight: dict[int, float] | None = None, sample_weight: Any = None, initial_epoch: int = 0, *,
            on_nonfinite: str = "raise", check_every: int | None = None,
            resume_from: str | os.PathLike[str] | None = None, threads: int | str | None = None) -> History:
        """Train on x, y and return a :class:`History` of per-epoch losses and metrics.

        ``x`` and ``y`` are arrays, or for several inputs/outputs lists in order or dicts by
        name. As in Keras: ``validation_split`` holds out the last fraction of the samples
        (before shuffling); ``verbose`` is 0 (silent), 1 (progress bar) or 2 (a line per
        epoch); History keys are ``loss``, the metrics, per output ``<output>_loss`` and
        ``<output>_<metric>`` (several outputs), and ``val_`` of each. ``sample_weight`` (one
        weight per sample; per output as a list or dict) and ``class_weight`` (``{class: weight}``)
        weight each sample's loss and the metrics as in Keras (see :mod:`anynet.weighting`);
        ``validation_data`` is ``(X_val, y_val)`` or ``(X_val, y_val, sample_weight_val)``.
        ``on_nonfinite="raise"`` stops at a NaN/inf loss, keeping the weights from before that
        batch; ``"skip"`` leaves that batch's update out and warns, and stops with
        NonFiniteLossError when a whole epoch was skipped. ``check_every`` sets how many batches a GPU
        runs between reads of the loss (host backends check each batch, which costs them
        nothing). ``resume_from`` names a file written by ``model.save`` or
        ``ModelCheckpoint``: its parameters, optimizer state, random generators and History
        are restored, and training goes on from the epoch after the saved one. ``threads`` sets
        the BLAS threads of this run: "auto" (measure and keep the fastest), "system" (leave
        them) or a number; None follows ``anynet.set_threads`` (see :mod:`anynet.threads`).
        """
        if chunked.handles(x, y):  # hook: chunked (Dask) data -> full-batch steps summed over row chunks
            return chunked_fit.fit(**locals())  # every argument: one it does not take is refused, never dropped
        self._require_compiled("fit")
        _targets_needed(y, "fit")
        self._check_reductions("fit")
        shuffle = _check_shuffle(shuffle)
        epochs = check_int("epochs", epochs, minimum=0)
        batch_size = check_int("batch_size", batch_size)
        initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
        validation_split = check_fraction("validation_split", validation_split)
        verbose = check_fit_options(verbose, callbacks, on_nonfinite, initial_epoch, resume_from)
        data = self.prepare(x, y, sample_weight=sample_weight, class_weight=class_weight)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise InputError(f"validation_data must be a pair (X_val, y_val) or a triple (X_val, y_val, "
                                 f"sample_weight_val), got {_describe(validation_data)}.")
            if validation_data[1] is None:
                raise InputError("validation_data needs targets: pass (X_val, y_val) or (X_val, y_val, "
                                 "sample_weight_val), got y_val=None.")
            val = self.prepare(validation_data[0], validation_data[1],
                               sample_weight=validation_data[2] if len(validation_data) == 3 else None,
                               where="validation_data")
        elif validation_split:
            n_val = int(data.n * validation_split)
            if n_val < 1 or n_val >= data.n:
                raise InputError(f"validation_split={validation_split} of {data.n} samples leaves "
                                 f"{n_val} for validation and {data.n - n_val} for training; both need at least one.")
            cut = data.n - n_val
            data, val = data.rows(0, cut), data.rows(cut, data.n)
        if check_every is None:
            check_every = 1 if self.placement.backend.host_memory else DEFAULT_CHECK_EVERY
        check_every = check_int("check_every", check_every)

        steps = math.ceil(data.n / batch_size)
        history = History()
        if resume_from is not None:  # checks the whole file before it changes the model
            initial_epoch = resume(self, resume_from, history)
        self.history = history  # the live History, so callbacks (ModelCheckpoint) can save it
        # Keras' order: the user's callbacks, then History (so what they add to the logs, such
        # as ReduceLROnPlateau's learning_rate, is recorded), then the progress bar.
        cbs: list[Callback] = [*(callbacks or []), history]
        if verbose:
            cbs.append(ProgbarLogger(verbose))
        pool = threads_mod.for_fit(self.placement.backend, threads,  # threads hook
                                   key=(int(self.params.shape[0]), batch_size, data.n))
        cbs.append(pool)  # threads hook: a callback that times the steps where it measures
        params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "samples": data.n, "verbose": verbose}
        for cb in cbs:
            cb.set_model(self)
            cb.set_params(params)
        # Only callbacks that override a batch hook are called per batch.
        batch_cbs = [cb for cb in cbs if overrides(cb, "on_train_batch_begin") or overrides(cb, "on_train_batch_end")]
        if self.opt_state is None:
            self.opt_state = self.optimizer.init(self.params, self.placement.xp)
        self.stop_training = False
        with pool:  # threads hook: sets the BLAS pools, gives them back however training ends
            for cb in cbs:
                cb.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                for cb in cbs:
                    cb.on_epoch_begin(epoch)
                logs = Epoch(self, data, epoch, batch_size, shuffle, on_nonfinite, check_every, batch_cbs).run()
                if val is not None:
                    logs.update({f"val_{k}": v for k, v in self.evaluate_data(val, batch_size).items()})
                for cb in cbs:
                    cb.on_epoch_end(epoch, logs)
                if self.stop_training:
                    break
            for cb in cbs:
                cb.on_train_end()
        self.history = history
        return history

    def evaluate_data(self, data: Data, batch_size: int | None = None) -> dict[str, float]:
        """Return the loss and metrics over prepared data as Python floats (one device sync)."""
        xp, ctx = self.placement.xp, self.context()
        names = log_names(self)
        sums: list[Any] = [0.0] * len(names)
        counts: list[Any] = [0] * len(names)
        with self.placement.backend.quiet():  # a non-finite result is reported below, in words
            for a, b in _chunks(data.n, batch_size, self._evaluation_batch()):
                part = data.rows(a, b)
                r = self.value_and_grad(self.params, part.X, part.y, ctx, grad=False, sample_weight=part.w)
                for j, (v, c) in enumerate(batch_values(self, r, b - a, xp, part.w)):
                    sums[j], counts[j] = sums[j] + v, counts[j] + c
            out = read_logs(self, names, sums, counts)
        bad = {k: v for k, v in out.items() if not math.isfinite(v)}
        if bad:
            raise NonFiniteOutputError(f"evaluate: {bad} on {data.n} samples; {self._overflow_hint()}")
        return out

    def _evaluation_batch(self) -> int:
        """Return the batch size of evaluate(batch_size=None): INFERENCE_CHUNK where the result does
        not depend on it, else Keras' default 32 (the reported loss is then Keras' exactly)."""
        for h in self.heads:
            loss = h.loss
            if loss.reduction not in ("sum_over_batch_size", "mean") or getattr(loss, "ignore_class", None) is not None:
                return 32
        return INFERENCE_CHUNK

    def _check_reductions(self, what: str) -> None:
        for h in self.heads:
            if h.loss.reduction in (None, "none"):
                raise InputError(f"{what}: the loss of output {h.name!r}, {h.loss!r}, has reduction="
                                 f"{h.loss.reduction!r}, which gives one value per sample; {what} needs one number "
                                 f"per batch. Use reduction='sum_over_batch_size' (the default) or 'sum'.")

    def _overflow_hint(self) -> str:
        return (f"the computation overflowed {self.dtype} (the inputs are finite, so they or the weights are too "
                f"large for it). Scale the inputs" + (", or use dtype='float64'." if self.dtype == "float32" else "."))

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: int | str = "auto",
                 sample_weight: Any = None, return_dict: bool = False) -> float | list[float] | dict[str, float]:
        """Return the loss (and metrics) on x, y: a float, a list [loss, ...], or a dict by name.

        ``verbose="auto"`` (1) prints Keras' line ``8/8 [====] - 0s 2ms/step - loss: ...``;
        0 prints nothing. ``sample_weight`` weights the samples as in :meth:`fit`.
        ``batch_size=None`` runs chunks of INFERENCE_CHUNK samples, or of Keras' default 32
        where the loss's reduction makes the result depend on the batch size (``"sum"``,
        ``"mean_with_sample_weight"``, ``ignore_class``), so the number is Keras'.
        """
        self._require_compiled("evaluate")
        if chunked.handles(x, y):  # hook: chunked (Dask) data -> loss and metrics summed over row chunks
            return chunked.evaluate(**locals())  # every argument: one it does not take is refused, never dropped
        _targets_needed(y, "evaluate")
        self._check_reductions("evaluate")
        verbose = check_verbose(verbose, 1)
        start = time.perf_counter()
        data = self.prepare(x, y, sample_weight=sample_weight)
        result = self.evaluate_data(data, batch_size)
        if verbose:
            steps = len(_chunks(data.n, batch_size, self._evaluation_batch()))
            t = (time.perf_counter() - start) / steps
            per_step = f"{t * 1e3:.0f}ms/step" if t >= 1e-3 else f"{t * 1e6:.0f}us/step"
            bar = f" [{'=' * ProgbarLogger.width}]" if verbose == 1 else ""
            values = "".join(f" - {k}: {format_value(v)}" for k, v in result.items())
            sys.stdout.write(f"{steps}/{steps}{bar} - {time.perf_counter() - start:.0f}s {per_step}{values}\n")
            sys.stdout.flush()
        if return_dict:
            return result
        return result["loss"] if len(result) == 1 else list(result.values())

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0) -> Any:
        """Return the outputs for x, shape (samples, *output_shape); a list (or dict) for several outputs.

        Host input (NumPy, lists) gives NumPy arrays; device input gives arrays of the same
        backend and device. ``batch_size=None`` runs chunks of INFERENCE_CHUNK samples.
        """
        check_verbose(verbose, 0)
        if chunked.handles(x):  # hook: chunked (Dask) data -> a lazy Dask array, one batch per row chunk
            return chunked.predict(self, x)
        data = self.prepare(x)
        xp, ctx = self.placement.xp, self.context()
        with self.placement.backend.quiet():  # non-finite outputs are reported below, in words
            parts = [self.outputs_of(self.params, data.rows(a, b).X, ctx) for a, b in _chunks(data.n, batch_size)]
            Ys = [ps[0] if len(ps) == 1 else xp.concat(list(ps), axis=0) for ps in zip(*parts)]
        for k, Y in enumerate(Ys):
            if not bool(xp.all(xp.isfinite(Y))):  # one pass and one sync: never hand back a silent NaN
                bad = int(xp.sum(xp.astype(~xp.isfinite(Y), xp.int64)))
                where = "" if len(Ys) == 1 else f" of output {self.output_names[k]!r}"
                raise NonFiniteOutputError(f"predict: {bad} of the {math.prod(Y.shape)} outputs{where} are NaN or "
                                           f"infinite; {self._overflow_hint()}")
        first = next(iter(x.values())) if isinstance(x, dict) else x[0] if (
            isinstance(x, (list, tuple)) and len(self._graph.inputs) > 1) else x
        src = backends.for_array(first)
        if src is None or src.name == "numpy":
            Ys = [self.placement.backend.to_numpy(Y) for Y in Ys]
        if len(Ys) == 1:
            return Ys[0]
        keys = self._graph.output_keys
        return dict(zip(keys, Ys)) if keys is not None else Ys


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"{type(value).__name__}"
