"""Training callbacks: History, EarlyStopping, ModelCheckpoint, the Keras-style progress
bar, CSVLogger, TerminateOnNaN, ReduceLROnPlateau and LearningRateScheduler (from
:mod:`anynet.lr_callbacks`), and the base class users subclass.

Epoch-level hooks receive ``logs`` with the epoch's Python floats (``loss``, metrics,
``val_...``). Batch-level hooks receive only ``{"batch": i, "size": n}``: reading a loss
back every batch would stall a GPU, so values arrive once per epoch.
"""

from __future__ import annotations

import math
import os
import sys
import time
from typing import IO, Any

from anynet.callback_base import Callback, LambdaCallback, auto_mode
from anynet.errors import InputError, InputTypeError, NonFiniteLossError
from anynet.lr_callbacks import LearningRateScheduler, ReduceLROnPlateau
from anynet.saving import save
from anynet.validation import check_int

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "ProgbarLogger", "LambdaCallback",
           "ReduceLROnPlateau", "LearningRateScheduler", "CSVLogger", "TerminateOnNaN", "format_value"]


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]`` is the list of epoch losses."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the model gets back the weights of its best epoch
    when training stops early or ends.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", restore_best_weights: bool = False, baseline: float | None = None,
                 start_from_epoch: int = 0) -> None:
        if patience < 0:
            raise InputError(f"EarlyStopping patience must be >= 0, got {patience!r}.")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = baseline
        self.start_from_epoch = int(start_from_epoch)
        self.mode = auto_mode(mode, monitor, "EarlyStopping")
        self.stopped_epoch: int | None = None
        self.best_epoch: int | None = None

    def _better(self, current: float, best: float) -> bool:
        if self.mode == "min":
            return current < best - self.min_delta
        return current > best + self.min_delta

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.best = self.baseline if self.baseline is not None else (math.inf if self.mode == "min" else -math.inf)
        self.best_weights = None
        self.stopped_epoch = None
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor not in logs:
            raise InputError(f"EarlyStopping monitors {self.monitor!r}, which this training does not "
                             f"report; it reports {sorted(logs)}. Pass validation data for 'val_' keys.")
        if epoch < self.start_from_epoch:
            return
        current = float(logs[self.monitor])
        if self._better(current, self.best):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_params_copy()
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.params = self.best_weights


class ModelCheckpoint(Callback):
    """Save the model (everything ``fit(..., resume_from=path)`` needs) at the end of epochs.

    Saves every ``save_freq_epochs`` epochs; with ``save_best_only=True``, only on those
    epochs where ``monitor`` beat its best value so far (the best of a resumed History
    counts). ``filepath`` may hold ``{epoch}`` (1-based, as Keras) and any logged value,
    such as ``"ckpt-{epoch:03d}-{val_loss:.4f}.anynet"``. Every write is atomic: a crash
    mid-save leaves the previous file whole. ``last_saved`` is the path last written.
    """

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss", save_best_only: bool = False,
                 save_freq_epochs: int = 1, mode: str = "auto", verbose: int = 0) -> None:
        if isinstance(filepath, bool) or not isinstance(filepath, (str, os.PathLike)):
            raise InputTypeError(f"ModelCheckpoint filepath must be a str or os.PathLike, got {filepath!r}.")
        if not isinstance(monitor, str):
            raise InputTypeError(f"ModelCheckpoint monitor must be a log key such as 'val_loss', got {monitor!r}.")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.save_freq_epochs = check_int("save_freq_epochs", save_freq_epochs)
        self.mode = auto_mode(mode, monitor, "ModelCheckpoint")
        self.verbose = verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.last_saved: str | None = None

    def on_train_begin(self, logs=None):
        past = getattr(getattr(self.model, "history", None), "history", {}).get(self.monitor, [])
        for v in past:  # a resumed run: the best so far includes the epochs before it
            if math.isfinite(v) and self._better(v):
                self.best = v

    def _better(self, v: float) -> bool:
        return v < self.best if self.mode == "min" else v > self.best

    def _path(self, epoch: int, logs: dict[str, Any]) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise InputError(f"ModelCheckpoint filepath {self.filepath!r} could not be formatted ({exc!r}); it may "
                             f"use {{epoch}} and the logged values {sorted(logs)}.") from None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if (epoch + 1) % self.save_freq_epochs:
            return
        if self.save_best_only:
            if self.monitor not in logs:
                raise InputError(f"ModelCheckpoint monitors {self.monitor!r}, which this training does not "
                                 f"report; it reports {sorted(logs)}. Pass validation data for 'val_' keys.")
            current = float(logs[self.monitor])
            if not (math.isfinite(current) and self._better(current)):
                return
            self.best = current
        path = self._path(epoch, logs)
        save(self.model, path, epoch=epoch + 1, history=_with_epoch(self.model.history, epoch, logs))
        self.last_saved = path
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved the model to {path}")


def _with_epoch(history: History | None, epoch: int, logs: dict[str, Any]) -> History | None:
    """Return ``history`` with this epoch's logs: History runs after the user's callbacks (Keras'
    order), so when a checkpoint saves, the live History does not hold this epoch yet."""
    if history is None or (history.epoch and history.epoch[-1] == epoch):
        return history
    h = History()
    h.epoch, h.history = list(history.epoch), {k: list(v) for k, v in history.history.items()}
    h.on_epoch_end(epoch, logs)
    return h


def format_value(v: float) -> str:
    """Return a logged value as Keras prints it: four decimals, or scientific when tiny or huge."""
    return f"{v:.4f}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.4e}"


class ProgbarLogger(Callback):
    """Keras' progress line: ``30/30 [======] - 1s 46ms/step - loss: 0.0237 - accuracy: 0.9958``.

    ``verbose=1`` redraws a bar (at most 10 times a second, on a terminal only) and ends
    each epoch with the values; ``verbose=2`` prints one line per epoch.
    """

    width = 30

    def __init__(self, verbose: int = 1, stream: IO[str] | None = None) -> None:
        self.verbose = verbose
        self.stream = stream if stream is not None else sys.stdout
        self._live = verbose == 1 and getattr(self.stream, "isatty", lambda: False)()

    def on_epoch_begin(self, epoch, logs=None):
        self.stream.write(f"Epoch {epoch + 1}/{self.params.get('epochs', '?')}\n")
        self.stream.flush()
        self._start = self._last = time.perf_counter()
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self._seen = batch + 1
        now = time.perf_counter()
        if self._live and now - self._last >= 0.1:
            self._last = now
            self.stream.write("\r" + self._bar(self._seen) + f" - {now - self._start:.0f}s")
            self.stream.flush()

    def _bar(self, done: int) -> str:
        total = self.params.get("steps", done) or 1
        filled = int(self.width * done / total)
        arrow = ">" if filled < self.width else ""
        body = ("=" * max(filled - len(arrow), 0) + arrow).ljust(self.width, ".")
        return f"{done}/{total} [{body}]"

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self._start
        steps = self.params.get("steps") or max(self._seen, 1)
        values = "".join(f" - {k}: {format_value(v)}" for k, v in (logs or {}).items())
        t = elapsed / steps
        per_step = f"{t * 1e3:.0f}ms/step" if t >= 1e-3 else f"{t * 1e6:.0f}us/step"
        if self.verbose == 1:
            line = f"{self._bar(steps)} - {elapsed:.0f}s {per_step}{values}"
        else:
            line = f"{steps}/{steps} - {elapsed:.0f}s - {per_step}{values}"
        self.stream.write(("\r" if self._live else "") + line + "\n")
        self.stream.flush()


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (0-based, as Keras) and every logged value,
    columns sorted as Keras sorts them (``val_`` columns added when there are none yet).
    ``append=True`` adds to an existing file without a second header."""

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False) -> None:
        if isinstance(filename, bool) or not isinstance(filename, (str, os.PathLike)):
            raise InputTypeError(f"CSVLogger filename must be a str or os.PathLike, got {filename!r}.")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys: list[str] | None = None
        self._file: IO[str] | None = None

    def on_train_begin(self, logs=None):
        header = not (self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0)
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._header = header
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        import csv

        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys], delimiter=self.sep)
            if self._header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None and not self._file.closed:
            self._file.close()


class TerminateOnNaN(Callback):
    """Stop training when a logged ``loss`` is NaN or infinite (or raise NonFiniteLossError
    with ``raise_error=True``). anynet's fit already stops at a non-finite batch loss unless
    ``on_nonfinite="skip"``; this callback reads the epoch's loss (and a batch's, where the
    batch logs carry one)."""

    def __init__(self, raise_error: bool = False) -> None:
        self.raise_error = bool(raise_error)

    def _check(self, where: str, logs: dict[str, Any] | None, epoch: int | None, batch: int | None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        if self.raise_error:
            raise NonFiniteLossError(f"The loss became {loss} at {where}; TerminateOnNaN stops training.",
                                     epoch=epoch, batch=batch)  # type: ignore[arg-type]
        print(f"{where[0].upper()}{where[1:]}: invalid loss {loss}, terminating training")
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        self._check(f"batch {batch}", logs, None, batch)

    def on_epoch_end(self, epoch, logs=None):
        self._check(f"epoch {epoch + 1}", logs, epoch, None)
