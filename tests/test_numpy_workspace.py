"""The NumPy adapter's workspace: a buffer is handed out again only when nothing refers to it."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from anynet.backends._numpy_conv import conv2d, max_pool2d
from anynet.backends._numpy_workspace import Workspace

BIG = (64, 32, 32)  # 256 KiB of float32: above the smallest size kept


def test_a_buffer_still_held_is_never_handed_out_again():
    ws = Workspace()
    a = ws.empty(BIG, np.float32)
    a.fill(1.0)
    b = ws.empty(BIG, np.float32)
    assert not np.shares_memory(a, b)
    b.fill(2.0)
    assert (a == 1.0).all()


def test_a_view_keeps_its_buffer_busy():
    ws = Workspace()
    a = ws.empty(BIG, np.float32)
    view = a[3:5].T
    del a
    gc.collect()
    b = ws.empty(BIG, np.float32)
    assert not np.shares_memory(view, b)


def test_a_released_buffer_is_reused_under_another_shape_and_dtype():
    ws = Workspace()
    a = ws.empty(BIG, np.float32)
    address = a.__array_interface__["data"][0]
    del a
    b = ws.empty((BIG[0] * BIG[1] * BIG[2] // 2,), np.float64)  # the same bytes
    assert b.__array_interface__["data"][0] == address
    assert b.dtype == np.float64 and b.flags.c_contiguous and b.flags.writeable


def test_small_and_huge_arrays_are_not_kept_and_the_limit_holds():
    ws = Workspace(limit=4 << 20, smallest=1 << 16)
    ws.empty((100,), np.float32)
    ws.empty((2 << 20,), np.float32)  # 8 MiB: over limit // 4
    assert ws.held() == 0
    kept = [ws.empty((1 << 18,), np.float32) for _ in range(6)]  # 1 MiB each, all held by us
    assert ws.held() <= 4 << 20
    assert len({k.__array_interface__["data"][0] for k in kept}) == 6
    ws.clear()
    assert ws.held() == 0 and all(k.shape == (1 << 18,) for k in kept)


def test_zeros_are_zero_even_in_a_reused_buffer():
    ws = Workspace()
    a = ws.empty(BIG, np.float32)
    a.fill(np.nan)
    del a
    assert not ws.zeros(BIG, np.float32).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_results_kept_across_batches_stay_intact(dtype):
    """A caller that keeps Y and dX of one batch sees them unchanged after more batches ran."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 20, 20, 8)).astype(dtype)
    W = rng.standard_normal((3, 3, 8, 16)).astype(dtype)
    args = (W, (1, 1), ((1, 1), (1, 1)), (1, 1))
    Y, back = conv2d(X, *args)
    dX, dW = back(np.ones_like(Y))
    P, pback = max_pool2d(Y, (2, 2), (2, 2), ((0, 0), (0, 0)))
    dP = pback(np.ones_like(P))
    kept = [a.copy() for a in (Y, dX, dW, P, dP)]
    for _ in range(3):
        X2 = rng.standard_normal(X.shape).astype(dtype)
        Y2, back2 = conv2d(X2, *args)
        back2(Y2)
        max_pool2d(Y2, (2, 2), (2, 2), ((0, 0), (0, 0)))[1](np.ones_like(P))
    for a, b in zip((Y, dX, dW, P, dP), kept):
        np.testing.assert_array_equal(a, b)


def test_kernels_are_deterministic_run_to_run():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((64, 13, 13, 32)).astype(np.float32)
    W = rng.standard_normal((3, 3, 32, 64)).astype(np.float32)
    dY = rng.standard_normal((64, 11, 11, 64)).astype(np.float32)
    runs = []
    for _ in range(2):
        Y, back = conv2d(X, W, (1, 1), ((0, 0), (0, 0)), (1, 1))
        dX, dW = back(dY)
        runs.append([a.copy() for a in (Y, dX, dW)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
