"""How many BLAS threads anynet's own work uses: measured, chosen, and given back afterwards.

The best count depends on the sizes (one thread at batch 10, more for large products) and
on what else the machine is doing (beside one busy process on two cores, two threads run
several times slower than one). So ``fit`` does not guess: where the backend's work runs in
a BLAS thread pool (``Backend.blas_threads``), it times a few steps at each candidate
count, keeps the fastest, and measures again every few seconds. The pools go back to
their previous sizes when ``fit`` ends, however it ends.

The setting, for every ``fit`` that does not pass ``threads=``::

    anynet.set_threads("auto")     # the default: measure and choose
    anynet.set_threads(1)          # always this many threads during fit
    anynet.set_threads("system")   # leave the BLAS pools as they are

Thread pools are reached through ``threadpoolctl``; nothing here names an array library.

One trade-off: OpenBLAS splits some float32 products differently on one and on several
threads, so their last bits differ. With ``"auto"`` a rerun on a machine whose load has
changed may choose another count and so drift in the last bits; a fixed count (``1``)
gives bit-identical reruns whatever the machine is doing.
"""

from __future__ import annotations

import contextvars
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from anynet.callback_base import Callback
from anynet.errors import InputError

__all__ = ["set_threads", "get_threads", "Chooser", "BlasPools", "FitThreads", "for_fit", "candidates"]

Setting = Any  # "auto" | "system" | int >= 1

_setting: contextvars.ContextVar[Setting] = contextvars.ContextVar("anynet_threads", default="auto")

#: A candidate whose median step is within this factor of the fastest counts as as fast;
#: the fewest threads among those wins (it leaves cores to the rest of the machine).
TIE = 1.05


def check_setting(value: Any, name: str = "threads") -> Setting:
    """Return ``value`` if it is "auto", "system" or an int >= 1; raise InputError otherwise."""
    if value in ("auto", "system"):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return int(value)
    raise InputError(f"{name} must be 'auto' (measure and choose), 'system' (leave the BLAS pools alone) "
                     f"or a number of threads >= 1, got {value!r}.")


def set_threads(value: Setting) -> None:
    """Set how many BLAS threads ``fit`` uses when it is not told: "auto", "system" or an int."""
    _setting.set(check_setting(value))


def get_threads() -> Setting:
    """Return the current setting: "auto", "system" or an int."""
    return _setting.get()


def candidates(maximum: int) -> list[int]:
    """Return the thread counts worth trying up to ``maximum``: 1, 2, 4, ... and ``maximum``."""
    out, n = [], 1
    while n < maximum:
        out.append(n)
        n *= 2
    return out + [max(1, maximum)]


class Chooser:
    """Times steps at each candidate count in turn and settles on the fastest.

    Call :meth:`begin` before a step and :meth:`end` after it (or :meth:`skip` for a step
    that should not count, such as a short last batch). Each candidate gets ``warmup``
    untimed steps and then ``probe_steps`` timed ones; the median decides. After
    ``recheck_after`` seconds (by ``timer``) at the chosen count, it measures again.
    ``apply(n)`` sets the pools to n threads; ``timer`` is injectable for tests.
    """

    def __init__(self, counts: Sequence[int], apply: Callable[[int], None], *,
                 timer: Callable[[], float] = time.perf_counter, probe_steps: int = 3, warmup: int = 1,
                 recheck_after: float = 5.0, start_with: int | None = None) -> None:
        if not counts:
            raise InputError("Chooser needs at least one candidate thread count.")
        self.counts = list(counts)
        self.apply, self.timer = apply, timer
        self.probe_steps, self.warmup, self.recheck_after = probe_steps, warmup, recheck_after
        self.best: int | None = None
        #: one dict {count: median seconds} per completed measurement, oldest first
        self.rounds: list[dict[int, float]] = []
        self._t0 = 0.0
        if start_with is None:
            self._start_round()
        else:  # a recent measurement of the same work: go on from its choice
            self._i = None
            self.best, self.decided_at = start_with, timer()
            apply(start_with)

    @property
    def probing(self) -> bool:
        return self._i is not None

    def _start_round(self) -> None:
        self._times: dict[int, list[float]] = {c: [] for c in self.counts}
        self._i: int | None = 0
        self._skip = self.warmup
        self.apply(self.counts[0])

    def begin(self) -> None:
        self._t0 = self.timer()

    def skip(self) -> None:
        """Let the step just run go unrecorded."""

    def end(self) -> None:
        now = self.timer()
        if self._i is None:
            if now - self.decided_at >= self.recheck_after:
                self._start_round()
            return
        if self._skip:
            self._skip -= 1
            return
        c = self.counts[self._i]
        self._times[c].append(now - self._t0)
        if len(self._times[c]) < self.probe_steps:
            return
        self._i += 1
        if self._i < len(self.counts):
            self._skip = self.warmup
            self.apply(self.counts[self._i])
            return
        medians = {k: statistics.median(v) for k, v in self._times.items()}
        fastest = min(medians.values())
        self.best = min(k for k, v in medians.items() if v <= TIE * fastest)
        self.rounds.append(medians)
        self._i = None
        self.decided_at = now
        self.apply(self.best)


class BlasPools:
    """The BLAS thread pools loaded in this process, through threadpoolctl."""

    def __init__(self) -> None:
        from threadpoolctl import ThreadpoolController

        self._libs = ThreadpoolController().select(user_api="blas").lib_controllers
        self._original = [lib.num_threads for lib in self._libs]

    def __bool__(self) -> bool:
        return bool(self._libs)

    def current(self) -> list[int]:
        """Return each pool's thread count now."""
        return [lib.num_threads for lib in self._libs]

    def maximum(self) -> int:
        """Return the largest pool size found when this object was made."""
        return max(self._original, default=1)

    def set(self, n: int) -> None:
        """Set every pool to ``n`` threads."""
        for lib in self._libs:
            lib.set_num_threads(n)

    def restore(self) -> None:
        """Give every pool back the size it had when this object was made."""
        for lib, n in zip(self._libs, self._original):
            lib.set_num_threads(n)


class FitThreads(Callback):
    """A context for one ``fit``: sets the pools on entry, restores them on exit.

    The measuring subclass also times each step through the batch hooks; this base class
    has none, so the training loop does not call it per batch.
    """

    def __init__(self, pools: BlasPools | None = None, fixed: int | None = None) -> None:
        self.pools, self.fixed = pools, fixed

    def __enter__(self) -> FitThreads:
        if self.pools and self.fixed is not None:
            self.pools.set(self.fixed)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.pools:
            self.pools.restore()


# The latest choice per kind of work (key -> (count, timer value)), so that a loop of short
# fits (one epoch each, say) does not measure from scratch every time.
_recent: dict[Any, tuple[int, float]] = {}


class MeasuredThreads(FitThreads):
    """Chooses the thread count by timing full-size training steps (see :class:`Chooser`).

    ``key`` names the work (sizes, batch size); a choice made for the same key less than
    ``recheck_after`` seconds ago is taken up again instead of measuring anew.
    """

    def __init__(self, pools: BlasPools, key: Any = None, *, timer: Callable[[], float] = time.perf_counter,
                 **chooser: Any) -> None:
        super().__init__(pools)
        self.key, self.timer = key, timer
        self._chooser_args = chooser
        self.chooser: Chooser | None = None

    def __enter__(self) -> MeasuredThreads:
        recent = _recent.get(self.key) if self.key is not None else None
        recheck = self._chooser_args.get("recheck_after", 5.0)
        start = recent[0] if recent is not None and self.timer() - recent[1] < recheck else None
        # The largest count first: a fit too short to finish measuring then runs as the
        # system would have run it, rather than on one thread.
        self.chooser = Chooser(candidates(self.pools.maximum())[::-1], self.pools.set, timer=self.timer,
                               start_with=start, **self._chooser_args)
        return self

    def __exit__(self, *exc: Any) -> None:
        c = self.chooser
        if self.key is not None and c is not None and c.best is not None and c.rounds:
            _recent[self.key] = (c.best, c.decided_at)
        super().__exit__(*exc)

    def on_train_batch_begin(self, batch, logs=None):
        self.chooser.begin()

    def on_train_batch_end(self, batch, logs=None):
        full = min(self.params.get("batch_size") or 0, self.params.get("samples") or 0)
        if logs is not None and logs.get("size") != full:
            self.chooser.skip()
        else:
            self.chooser.end()


def for_fit(backend: Any, threads: Setting | None = None, key: Any = None, **chooser: Any) -> FitThreads:
    """Return the thread context (a Callback) for one ``fit`` on ``backend``.

    ``threads`` is the fit argument: None follows :func:`get_threads`. ``key`` names the
    work for reusing a recent choice (see :class:`MeasuredThreads`). It is a no-op where
    the backend's work does not run in a BLAS pool or no pool is loaded.
    """
    setting = get_threads() if threads is None else check_setting(threads)
    if setting == "system" or not getattr(backend, "blas_threads", False):
        return FitThreads()
    pools = BlasPools()
    if not pools:
        return FitThreads()
    if setting == "auto":
        return MeasuredThreads(pools, key, **chooser) if pools.maximum() > 1 else FitThreads()
    return FitThreads(pools, fixed=setting)
