"""anynet.threads: the BLAS thread count of fit is measured and chosen, fixed on request,
and given back afterwards however fit ends."""

from __future__ import annotations

import numpy as np
import pytest

import anynet as an
from anynet import threads
from anynet.errors import InputError

threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")


class FakeClock:
    """A timer the test advances: each step 'takes' what the current thread count costs."""

    def __init__(self, cost: dict[int, float]) -> None:
        self.now, self.cost, self.count, self.applied = 0.0, cost, None, []

    def __call__(self) -> float:
        return self.now

    def apply(self, n: int) -> None:
        self.count = n
        self.applied.append(n)

    def step(self, chooser: threads.Chooser, *, skip: bool = False) -> None:
        chooser.begin()
        self.now += self.cost[self.count]
        chooser.skip() if skip else chooser.end()


def _blas() -> list[int]:
    return [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]


def _model(n=64):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(n, 5)), rng.integers(0, 3, n)
    model = an.Sequential([an.layers.Dense(8, activation="relu"), an.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, X, y


# -- the setting ------------------------------------------------------------------------------

def test_setting_defaults_to_auto_and_is_checked():
    assert threads.get_threads() == "auto"
    try:
        an.set_threads(1)
        assert an.get_threads() == 1
        an.set_threads("system")
        assert an.get_threads() == "system"
    finally:
        an.set_threads("auto")
    for bad in (0, -2, 1.5, True, "fast", None):
        with pytest.raises(InputError, match=repr(bad)):
            an.set_threads(bad)


def test_fit_rejects_a_bad_threads_argument():
    model, X, y = _model()
    with pytest.raises(InputError, match="'many'"):
        model.fit(X, y, threads="many", verbose=0)


def test_candidates_are_powers_of_two_and_the_maximum():
    assert threads.candidates(1) == [1]
    assert threads.candidates(2) == [1, 2]
    assert threads.candidates(6) == [1, 2, 4, 6]
    assert threads.candidates(8) == [1, 2, 4, 8]


# -- choosing by measured time ----------------------------------------------------------------

def test_chooser_keeps_the_fastest_count():
    clock = FakeClock({1: 3.0, 2: 1.0, 4: 2.0})
    c = threads.Chooser([1, 2, 4], clock.apply, timer=clock, probe_steps=3, warmup=1, recheck_after=100.0)
    for _ in range(3 * 4):  # 1 warm-up + 3 timed steps per candidate
        assert c.probing
        clock.step(c)
    assert not c.probing and c.best == 2 and clock.count == 2
    assert c.rounds == [{1: 3.0, 2: 1.0, 4: 2.0}]
    assert clock.applied == [1, 2, 4, 2]


def test_chooser_prefers_fewer_threads_when_they_are_about_as_fast():
    clock = FakeClock({1: 1.03, 2: 1.0})  # within the 5% tie margin: one thread leaves a core free
    c = threads.Chooser([1, 2], clock.apply, timer=clock, probe_steps=2, warmup=0, recheck_after=100.0)
    for _ in range(4):
        clock.step(c)
    assert c.best == 1


def test_chooser_measures_again_after_a_while_and_follows_the_machine():
    clock = FakeClock({1: 1.0, 2: 0.5})
    c = threads.Chooser([1, 2], clock.apply, timer=clock, probe_steps=2, warmup=0, recheck_after=10.0)
    for _ in range(4):
        clock.step(c)
    assert c.best == 2
    clock.cost = {1: 1.0, 2: 4.0}  # another process now takes a core: two threads got slow
    while not c.probing:
        clock.step(c)
    for _ in range(4):
        clock.step(c)
    assert c.best == 1 and clock.count == 1 and len(c.rounds) == 2


def test_chooser_ignores_skipped_and_warmup_steps():
    clock = FakeClock({1: 1.0, 2: 2.0})
    c = threads.Chooser([1, 2], clock.apply, timer=clock, probe_steps=1, warmup=1, recheck_after=100.0)
    clock.cost[1] = 50.0   # a slow first step (warm-up) at 1 thread
    clock.step(c)
    clock.cost[1] = 1.0
    clock.step(c, skip=True)  # e.g. a short last batch
    clock.step(c)             # the one timed step at 1 thread
    clock.step(c)             # warm-up at 2
    clock.step(c)             # timed at 2
    assert c.best == 1 and c.rounds == [{1: 1.0, 2: 2.0}]


def test_measured_fit_threads_reuses_a_recent_choice_for_the_same_work():
    clock = FakeClock({1: 1.0, 2: 0.5})
    pools = _FakePools(clock, maximum=2)
    key = ("test", object())
    first = threads.MeasuredThreads(pools, key, timer=clock, probe_steps=1, warmup=0, recheck_after=10.0)
    first.set_params({"batch_size": 4, "samples": 8})
    with first:
        for j in range(3):
            first.on_train_batch_begin(j)
            clock.now += clock.cost[clock.count]
            first.on_train_batch_end(j, {"batch": j, "size": 4})
    assert first.chooser.best == 2
    second = threads.MeasuredThreads(pools, key, timer=clock, probe_steps=1, warmup=0, recheck_after=10.0)
    with second:
        assert not second.chooser.probing and second.chooser.best == 2
    clock.now += 20.0  # stale: measure again
    third = threads.MeasuredThreads(pools, key, timer=clock, probe_steps=1, warmup=0, recheck_after=10.0)
    with third:
        assert third.chooser.probing


def test_a_fit_too_short_to_finish_measuring_runs_at_the_largest_count():
    """Probing starts at the pools' full size, so a short fit is never left on one thread
    (measured: a 3-step fit at hidden 256, batch 1024 took 13 ms a step on one thread
    against 8 ms on two)."""
    clock = FakeClock({1: 1.0, 2: 0.5})
    pools = _FakePools(clock, maximum=2)
    short = threads.MeasuredThreads(pools, ("short", object()), timer=clock, probe_steps=3, warmup=1)
    short.set_params({"batch_size": 4, "samples": 8})
    with short:
        for j in range(2):
            short.on_train_batch_begin(j)
            clock.now += clock.cost[clock.count]
            short.on_train_batch_end(j, {"batch": j, "size": 4})
        assert short.chooser.probing and clock.applied == [2]


class _FakePools:
    def __init__(self, clock, maximum):
        self.clock, self._max, self.restored = clock, maximum, 0

    def __bool__(self):
        return True

    def maximum(self):
        return self._max

    def set(self, n):
        self.clock.apply(n)

    def restore(self):
        self.restored += 1


# -- fit sets the pools and gives them back ---------------------------------------------------

class _Spy(an.callbacks.Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append(_blas())


def test_fit_with_a_fixed_count_restores_the_pools():
    model, X, y = _model()
    with threadpoolctl.threadpool_limits(3, user_api="blas"):
        before = _blas()
        spy = _Spy()
        model.fit(X, y, epochs=1, batch_size=16, threads=1, callbacks=[spy], verbose=0)
        assert spy.seen and all(set(s) == {1} for s in spy.seen)
        assert _blas() == before


def test_fit_restores_the_pools_when_training_fails():
    model, X, y = _model()

    def boom(batch, logs):
        if batch == 2:
            raise RuntimeError("stopped by the test")

    with threadpoolctl.threadpool_limits(3, user_api="blas"):
        before = _blas()
        with pytest.raises(RuntimeError, match="stopped by the test"):
            model.fit(X, y, epochs=3, batch_size=8, threads=2, verbose=0,
                      callbacks=[an.callbacks.LambdaCallback(on_train_batch_end=boom)])
        assert _blas() == before


def test_fit_auto_tries_the_candidates_and_restores_the_pools():
    model, X, y = _model(n=400)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        before = _blas()
        spy = _Spy()
        model.fit(X, y, epochs=1, batch_size=10, threads="auto", callbacks=[spy], verbose=0)
        assert {1, 2} <= {n for s in spy.seen for n in s}  # both counts were timed
        assert _blas() == before


def test_system_setting_and_backends_without_blas_pools_leave_the_pools_alone():
    model, X, y = _model()
    with threadpoolctl.threadpool_limits(3, user_api="blas"):
        spy = _Spy()
        model.fit(X, y, epochs=1, batch_size=16, threads="system", callbacks=[spy], verbose=0)
        assert all(set(s) == {3} for s in spy.seen)
    no_pool = type("Adapter", (), {"blas_threads": False})()
    assert type(threads.for_fit(no_pool, 1)) is threads.FitThreads
    assert threads.for_fit(no_pool, 1).pools is None


def test_the_numpy_adapter_says_blas_thread_control_applies():
    assert an.backends.get("numpy").blas_threads is True
    assert an.backends.Backend.blas_threads is False
