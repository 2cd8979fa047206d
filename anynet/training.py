"""The fit loop: mini-batches by index on the device, no host sync per batch.

Losses and metric sums accumulate on the device and are read back once per epoch. A
non-finite loss stops training with :class:`NonFiniteLossError` naming the epoch and
batch, and the model keeps the weights from before that batch:

- on backends whose arrays live in host memory (NumPy, array-api-strict, torch CPU)
  reading a loss costs nothing, so each loss is checked before its update;
- on GPU backends the losses are read back every ``check_every`` batches (default 32);
  the state at the start of those batches is kept, and when one went bad the model goes
  back to it and replays, exactly, the batches before the bad one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from anynet import threads as threads_mod
from anynet.callbacks import Callback, History, ProgbarLogger
from anynet.errors import InputError, InputTypeError, NonFiniteLossError
from anynet.model import Data, Sequential
from anynet.saving import resume
from anynet.validation import check_fraction, check_int

__all__ = ["fit"]

DEFAULT_CHECK_EVERY = 32


@dataclass
class _Sums:
    """Device-side running sums of one epoch (rebound, never updated in place)."""

    loss: Any = 0.0
    metrics: list[Any] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    seen: int = 0


def fit(model: Sequential, X: Any, y: Any, *, epochs: int = 1, batch_size: int = 32, shuffle: bool = True,
        validation_data: Sequence[Any] | None = None, validation_split: float = 0.0,
        callbacks: Sequence[Callback] | None = None, verbose: int | str = "auto", initial_epoch: int = 0,
        on_nonfinite: str = "raise", check_every: int | None = None,
        resume_from: str | os.PathLike[str] | None = None, threads: int | str | None = None) -> History:
    """Train ``model`` on X, y and return a :class:`History` of per-epoch losses and metrics.

    Arguments follow Keras: ``validation_split`` holds out the last fraction of the samples
    (before shuffling); ``verbose`` is 0 (silent), 1 (progress bar) or 2 (a line per epoch).
    ``on_nonfinite="raise"`` stops at a NaN/inf loss; ``"skip"`` leaves out that batch's
    update, warns, and goes on. ``check_every`` sets how many batches a GPU runs between
    reads of the loss (host backends check every batch, which costs them nothing).
    ``resume_from`` names a file written by ``model.save`` or ``ModelCheckpoint``: its
    parameters, optimizer state, random generators and History are restored, and training
    goes on from the epoch after the saved one (so ``epochs`` counts from the start).
    ``threads`` sets the BLAS threads of this run: "auto" (measure and keep the fastest),
    "system" (leave them) or a number; None follows ``anynet.set_threads`` (see :mod:`anynet.threads`).
    """
    model._require_compiled("fit")
    epochs = check_int("epochs", epochs, minimum=0)
    batch_size = check_int("batch_size", batch_size)
    initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
    validation_split = check_fraction("validation_split", validation_split)
    if on_nonfinite not in ("raise", "skip"):
        raise InputError(f"on_nonfinite must be 'raise' or 'skip', got {on_nonfinite!r}.")
    if verbose == "auto":
        verbose = 1
    if verbose not in (0, 1, 2):
        raise InputError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}.")
    for cb in callbacks or ():
        if not isinstance(cb, Callback):
            raise InputTypeError(f"callbacks must be anynet Callback objects, got {cb!r}.")
    if resume_from is not None and initial_epoch:
        raise InputError(f"Pass initial_epoch or resume_from, not both; the file says which epoch comes next "
                         f"(got initial_epoch={initial_epoch}).")

    data = model.prepare(X, y)
    val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise InputError("validation_data must be a pair (X_val, y_val).")
        val = model.prepare(*validation_data)
    elif validation_split:
        n_val = int(data.n * validation_split)
        if n_val < 1 or n_val >= data.n:
            raise InputError(f"validation_split={validation_split} of {data.n} samples leaves "
                             f"{n_val} for validation and {data.n - n_val} for training; both need at least one.")
        cut = data.n - n_val
        val = Data(data.X[cut:, ...], data.y[cut:, ...], n_val)
        data = Data(data.X[:cut, ...], data.y[:cut, ...], cut)

    backend = model.placement.backend
    if check_every is None:
        check_every = 1 if backend.host_memory else DEFAULT_CHECK_EVERY
    check_every = check_int("check_every", check_every)

    steps = math.ceil(data.n / batch_size)
    history = History()
    if resume_from is not None:  # checks the whole file before it changes the model
        initial_epoch = resume(model, resume_from, history)
    model.history = history  # the live History, so callbacks (ModelCheckpoint) can save it
    cbs: list[Callback] = [history, *(callbacks or [])]
    if verbose:
        cbs.append(ProgbarLogger(verbose))
    pool = threads_mod.for_fit(model.placement.backend, threads, key=(model.layout.size, batch_size, data.n))  # threads hook
    cbs.append(pool)  # threads hook: a callback that times the steps where it measures
    params = {"epochs": epochs, "steps": steps, "batch_size": batch_size, "samples": data.n, "verbose": verbose}
    for cb in cbs:
        cb.set_model(model)
        cb.set_params(params)
    # Only callbacks that override a batch hook are called per batch.
    batch_cbs = [cb for cb in cbs if _overrides(cb, "on_train_batch_begin") or _overrides(cb, "on_train_batch_end")]

    if model.opt_state is None:
        model.opt_state = model.optimizer.init(model.params, model.placement.xp)
    model.stop_training = False
    with pool:  # threads hook: sets the BLAS pools, gives them back however training ends
        for cb in cbs:
            cb.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            for cb in cbs:
                cb.on_epoch_begin(epoch)
            logs = _Epoch(model, data, epoch, batch_size, shuffle, on_nonfinite, check_every, batch_cbs).run()
            if val is not None:
                logs.update({f"val_{k}": v for k, v in model.evaluate_data(val, batch_size).items()})
            for cb in cbs:
                cb.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        for cb in cbs:
            cb.on_train_end()
    model.history = history
    return history


def _overrides(cb: Callback, hook: str) -> bool:
    return getattr(getattr(cb, hook), "__func__", None) is not getattr(Callback, hook)


class _Epoch:
    """One pass over the data in mini-batches."""

    def __init__(self, model: Sequential, data: Data, epoch: int, batch_size: int, shuffle: bool,
                 on_nonfinite: str, check_every: int, batch_cbs: list[Callback]) -> None:
        self.model, self.data, self.epoch, self.bs = model, data, epoch, batch_size
        self.on_nonfinite, self.k, self.batch_cbs = on_nonfinite, check_every, batch_cbs
        p = model.placement
        self.xp, self.backend = p.xp, p.backend
        self.steps = math.ceil(data.n / batch_size)
        # The order is drawn on the host from the model's seed, so every backend sees the
        # same batches; it crosses to the device once per epoch.
        self.order = p.backend.from_numpy(model.shuffle_rng.permutation(data.n), p.device) if shuffle else None
        self.ctx = model.context(training=True)
        self.ctx.scratch = {}  # kernels hook: buffers reused by this epoch's batches
        self.take = self.ctx.kernels.get("take_rows")  # kernels hook
        self.decay_mask = model.layout.decay_mask(self.xp, model.params.dtype, p.device) \
            if model.optimizer.name == "adamw" else None
        self.sums = _Sums(metrics=[0.0] * len(model.metrics), counts=[0] * len(model.metrics))
        self.skipped: list[int] = []

    def _batch(self, j: int) -> tuple[Any, Any, int]:
        a, b = j * self.bs, min((j + 1) * self.bs, self.data.n)
        if self.order is None:
            return self.data.X[a:b, ...], self.data.y[a:b, ...], b - a
        idx = self.order[a:b]
        if self.take is not None:  # kernels hook: gather into buffers kept for the epoch
            return self.take(self.data.X, idx, self.ctx.scratch, "X"), self.take(self.data.y, idx, self.ctx.scratch, "y"), b - a
        return self.xp.take(self.data.X, idx, axis=0), self.xp.take(self.data.y, idx, axis=0), b - a

    def _step(self, j: int, check: bool) -> Any:
        """Run batch j; return its loss (a 0-d device array), or None if it was refused."""
        model, xp = self.model, self.xp
        Xb, yb, nb = self._batch(j)
        for cb in self.batch_cbs:
            cb.on_train_batch_begin(j, {"batch": j, "size": nb})
        loss, g, Y, T = model.value_and_grad(model.params, Xb, yb, self.ctx)
        if check and not math.isfinite(float(loss)):
            self._bad(j, float(loss))
            return None
        model.optimizer.update(model.params, g, model.opt_state, xp, kernels=self.ctx.kernels,
                               decay_mask=self.decay_mask)
        s = self.sums
        s.loss = s.loss + loss * nb
        for i, m in enumerate(model.metrics):
            v, c = m.batch(Y, T, xp)
            s.metrics[i], s.counts[i] = s.metrics[i] + v, s.counts[i] + c
        s.seen += nb
        for cb in self.batch_cbs:
            cb.on_train_batch_end(j, {"batch": j, "size": nb})
        return loss

    def _bad(self, j: int, value: float) -> None:
        where = f"epoch {self.epoch + 1}, batch {j + 1} of {self.steps}"
        if self.on_nonfinite == "raise":
            raise NonFiniteLossError(
                f"The loss became {value} at {where}; training stopped and the model keeps the weights "
                f"from before that batch. Try a lower learning rate or check the data; "
                f"fit(..., on_nonfinite='skip') leaves such batches out instead.", epoch=self.epoch, batch=j)
        import warnings

        warnings.warn(f"The loss became {value} at {where}; that batch's update was skipped.",
                      RuntimeWarning, stacklevel=4)
        self.skipped.append(j)

    def _snapshot(self) -> tuple:
        xp, m = self.xp, self.model
        state = {k: (xp.asarray(v, copy=True) if k != "iterations" else v) for k, v in m.opt_state.items()}
        s = self.sums
        return (xp.asarray(m.params, copy=True), state, m.rng.get_state(),
                _Sums(s.loss, list(s.metrics), list(s.counts), s.seen))

    def _restore(self, snap: tuple) -> None:
        theta, state, rng_state, sums = snap
        self.model._theta = theta
        self.model.opt_state = state
        self.model.rng.set_state(rng_state)
        self.sums = sums

    def run(self) -> dict[str, float]:
        j = 0
        while j < self.steps:
            if self.k == 1:
                self._step(j, check=True)
                j += 1
                continue
            stop = min(j + self.k, self.steps)
            snap = self._snapshot()
            losses = [self._step(i, check=False) for i in range(j, stop)]
            values = self.backend.to_numpy(self.xp.stack(losses))
            bad = next((i for i, v in enumerate(values) if not math.isfinite(float(v))), None)
            if bad is None:
                j = stop
                continue
            self._restore(snap)
            for i in range(j, j + bad):  # replay exactly what came before the bad batch
                self._step(i, check=False)
            self._bad(j + bad, float(values[bad]))
            j = j + bad + 1
        return self._logs()

    def _logs(self) -> dict[str, float]:
        s, model, xp = self.sums, self.model, self.xp
        if s.seen == 0:
            return {"loss": math.nan, **{m.name: math.nan for m in model.metrics}}
        dtype = model.params.dtype
        values = self.backend.to_numpy(xp.stack([xp.asarray(v, dtype=dtype, device=model.placement.device)
                                                 for v in [s.loss, *s.metrics]]))
        logs = {"loss": float(values[0]) / s.seen}
        logs.update({m.name: float(values[i + 1]) / s.counts[i] for i, m in enumerate(model.metrics)})
        return logs
