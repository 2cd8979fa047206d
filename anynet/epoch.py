"""One epoch of mini-batches by index on the device, with no host sync per batch.

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
import warnings
from typing import Any

from anynet.callbacks import Callback
from anynet.data import Data
from anynet.errors import InputError, InputTypeError, NonFiniteLossError

__all__ = ["Epoch", "log_names", "read_logs", "batch_values", "overrides", "DEFAULT_CHECK_EVERY"]

DEFAULT_CHECK_EVERY = 32


def log_names(model: Any) -> list[str]:
    """Return the History keys of a model, Keras' way: ``loss`` and metric names for one output;
    ``loss``, ``<output>_loss`` per output and ``<output>_<metric>`` for several."""
    heads = model.heads
    if len(heads) == 1:
        return ["loss", *(m.name for m in heads[0].metrics)]
    return ["loss", *(f"{h.name}_loss" for h in heads), *(f"{h.name}_{m.name}" for h in heads for m in h.metrics)]


def read_logs(model: Any, names: list[str], sums: list[Any], counts: list[Any]) -> dict[str, float]:
    """Return ``{name: sum / count}`` as Python floats, reading the device values back at once.

    A count is a Python int, or a 0-d device array (the summed sample weights of a weighted
    metric); a zero count gives 0, as Keras' ``divide_no_nan``.
    """
    xp, p = model.placement.xp, model.placement
    dtype = model.params.dtype
    on_device = [j for j, c in enumerate(counts) if not isinstance(c, int)]  # NumPy scalars count as arrays
    items = [*sums, *(counts[j] for j in on_device)]
    values = p.backend.to_numpy(xp.stack([xp.asarray(v, dtype=dtype, device=p.device) for v in items]))
    host = list(counts)
    for i, j in enumerate(on_device):
        host[j] = float(values[len(sums) + i])
    return {k: float(values[j]) / host[j] if host[j] else 0.0 for j, k in enumerate(names)}


def check_verbose(verbose: int | str, auto: int) -> int:
    """Return ``verbose`` as 0, 1 or 2 (``"auto"`` is ``auto``); raise InputError otherwise."""
    verbose = auto if verbose == "auto" else verbose
    if verbose not in (0, 1, 2):
        raise InputError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}.")
    return verbose


def check_fit_options(verbose: int | str, callbacks: Any, on_nonfinite: str, initial_epoch: int,
                      resume_from: Any) -> int:
    """Return ``verbose`` as 0, 1 or 2 after checking the options every fit loop shares
    (in memory and over chunks); raise InputError or InputTypeError naming the bad one."""
    if on_nonfinite not in ("raise", "skip"):
        raise InputError(f"on_nonfinite must be 'raise' or 'skip', got {on_nonfinite!r}.")
    verbose = check_verbose(verbose, 1)
    for cb in callbacks or ():
        if not isinstance(cb, Callback):
            raise InputTypeError(f"callbacks must be anynet Callback objects, got {cb!r}.")
    if resume_from is not None and initial_epoch:
        raise InputError(f"Pass initial_epoch or resume_from, not both; the file says which epoch comes next "
                         f"(got initial_epoch={initial_epoch}).")
    return verbose


def batch_values(model: Any, r: Any, nb: int, xp: Any, w: tuple[Any, ...] | None = None) -> list[tuple[Any, Any]]:
    """Return ``(sum, count)`` per log name (see :func:`log_names`) for one batch's Result.

    Losses count each batch by its size, as Keras' loss trackers do (``Mean`` with the batch
    size as weight: the epoch loss is the size-weighted mean of the batch losses, whatever
    the reduction); metrics weigh by the sample weights ``w`` (one array or None per output).
    """
    out = [(r.loss * nb, nb)]
    if len(model.heads) > 1:
        out += [(loss * nb, nb) for loss in r.losses]
    weights = w if w is not None else (None,) * len(model.heads)
    for head, Y, T, wk in zip(model.heads, r.Y, r.T, weights):
        out += [m.batch(Y, T, xp) if wk is None else m.batch(Y, T, xp, sample_weight=wk) for m in head.metrics]
    return out


def overrides(cb: Callback, hook: str) -> bool:
    return getattr(getattr(cb, hook), "__func__", None) is not getattr(Callback, hook)


class Epoch:
    """One pass over the data in mini-batches."""

    def __init__(self, model: Any, data: Data, epoch: int, batch_size: int, shuffle: bool,
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
        self.ctx.scratch = {}  # kernels hook: buffers this epoch's batches reuse
        self.take = self.ctx.kernels.get("take_rows")  # kernels hook: batches gathered into those buffers
        opt = model.optimizer
        self.decay_mask = model.decay_mask() if opt.needs_decay_mask else None
        self.segments = model.layout.segments() if opt.needs_segments else None
        self.names = log_names(model)
        self.loss_only = len(self.names) == 1 and len(model.heads) == 1
        self.sums: list[Any] = [0.0] * len(self.names)
        self.counts = [0] * len(self.names)
        self.skipped: list[int] = []

    def _batch(self, j: int) -> Data:
        a, b = j * self.bs, min((j + 1) * self.bs, self.data.n)
        if self.order is None:
            return self.data.rows(a, b)
        return self.data.take(self.order[a:b], self.xp, self.take, self.ctx.scratch)

    def _step(self, j: int, check: bool) -> Any:
        """Run batch j; return its loss (a 0-d device array), or None if it was refused."""
        batch = self._batch(j)
        nb = batch.n
        cbs = self.batch_cbs
        if not cbs:  # run() silenced the library's warnings once, around all the steps
            return self._core(j, batch, nb, check)
        for cb in cbs:
            cb.on_train_batch_begin(j, {"batch": j, "size": nb})
        with self.backend.quiet():  # a non-finite loss is checked and reported below, in words
            loss = self._core(j, batch, nb, check)
        if loss is None:
            return None
        for cb in cbs:
            cb.on_train_batch_end(j, {"batch": j, "size": nb})
        return loss

    def _core(self, j: int, batch: Data, nb: int, check: bool) -> Any:
        """Run batch j's pass and update; add its logs; return its loss, or None if it was refused."""
        model, xp = self.model, self.xp
        r = model.value_and_grad(model.params, batch.X, batch.y, self.ctx, sample_weight=batch.w)
        if check and not math.isfinite(float(r.loss)):
            self._bad(j, float(r.loss))
            return None
        model.optimizer.update(model.params, r.grad, model.opt_state, xp, kernels=self.ctx.kernels,
                               decay_mask=self.decay_mask, segments=self.segments)
        sums, counts = self.sums, self.counts
        if self.loss_only:  # one output, no metrics: the loss is the only log
            sums[0], counts[0] = sums[0] + r.loss * nb, counts[0] + nb
            return r.loss
        for i, (v, c) in enumerate(batch_values(model, r, nb, xp, batch.w)):
            sums[i], counts[i] = sums[i] + v, counts[i] + c
        return r.loss

    def _bad(self, j: int, value: float, stacklevel: int = 7) -> None:
        # stacklevel: the warning points at the line that called fit (_bad, _core, _step, _steps, run, fit)
        where = f"epoch {self.epoch + 1}, batch {j + 1} of {self.steps}"
        if self.on_nonfinite == "raise":
            raise NonFiniteLossError(
                f"The loss became {value} at {where}; training stopped and the model keeps the weights "
                f"from before that batch. Try a lower learning rate or check the data; "
                f"fit(..., on_nonfinite='skip') leaves such batches out instead.", epoch=self.epoch, batch=j)
        warnings.warn(f"The loss became {value} at {where}; that batch's update was skipped.",
                      RuntimeWarning, stacklevel=stacklevel)
        self.skipped.append(j)

    def _snapshot(self) -> tuple:
        xp, m = self.xp, self.model
        state = {k: (xp.asarray(v, copy=True) if k != "iterations" else v) for k, v in m.opt_state.items()}
        return xp.asarray(m.params, copy=True), state, m.rng.get_state(), list(self.sums), list(self.counts)

    def _restore(self, snap: tuple) -> None:
        theta, state, rng_state, sums, counts = snap
        self.model._theta = theta
        self.model.opt_state = state
        self.model.rng.set_state(rng_state)
        self.sums, self.counts = sums, counts

    def run(self) -> dict[str, float]:
        if self.batch_cbs:  # each step silences the warnings itself, leaving the callbacks outside
            self._steps()
        else:
            with self.backend.quiet():  # a non-finite loss is checked and reported, in words
                self._steps()
        with self.backend.quiet():
            return read_logs(self.model, self.names, self.sums, self.counts)

    def _steps(self) -> None:
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
            self._bad(j + bad, float(values[bad]), stacklevel=5)
            j = j + bad + 1
        if len(self.skipped) == self.steps:
            raise NonFiniteLossError(
                f"Every batch of epoch {self.epoch + 1} ({self.steps} of {self.steps}) gave a non-finite loss and was "
                f"skipped, so the epoch learned nothing; training stopped. The model keeps its (finite) weights. "
                f"Try a lower learning rate, scale the inputs, or check the data.", epoch=self.epoch,
                batch=self.steps - 1)
