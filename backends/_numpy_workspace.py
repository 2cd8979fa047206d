"""Big NumPy scratch arrays kept between batches and handed out again once nothing refers to them.

A training step of a convnet makes the same few arrays of several MB on every batch (the
window copies, the layer outputs, the gradients). Fresh ones cost the kernel's page faults
on every step: a third of the CPU time of a NumPy convnet step when measured. The
workspace keeps them and hands one out again only when its reference count shows that no
array, view or closure anywhere still holds it, so a result a caller keeps is never
overwritten. Contents are never assumed: every user writes all of a buffer it reads.
"""

from __future__ import annotations

import math
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Workspace", "workspace"]


def _refs(bufs: list[np.ndarray], i: int) -> int:
    return sys.getrefcount(bufs[i])


# The count _refs sees for a buffer only the workspace's list holds (views keep their base alive).
_FREE = _refs([np.empty(1)], 0)


class Workspace:
    """Reusable byte buffers, least recently used first, at most ``limit`` bytes in all.

    Arrays under ``smallest`` bytes (cheap to allocate) or over ``limit // 4`` are not kept.
    """

    def __init__(self, limit: int = 256 << 20, smallest: int = 1 << 16) -> None:
        self.limit, self.smallest = limit, smallest
        self._bufs: list[np.ndarray] = []
        self._lock = threading.Lock()

    def empty(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        """Return an uninitialised array of ``shape`` and ``dtype``, reused where one of its size is free."""
        dtype = np.dtype(dtype)
        shape = tuple(int(s) for s in shape)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes < self.smallest or nbytes > self.limit // 4:
            return np.empty(shape, dtype)
        with self._lock:
            bufs = self._bufs
            for i in range(len(bufs) - 1, -1, -1):
                if bufs[i].nbytes == nbytes and _refs(bufs, i) == _FREE:
                    buf = bufs.pop(i)
                    break
            else:
                total = sum(b.nbytes for b in bufs) + nbytes
                while bufs and total > self.limit:  # forget the oldest; a caller may still hold it
                    total -= bufs.pop(0).nbytes
                buf = np.empty(nbytes, np.uint8)
            bufs.append(buf)
            return buf.view(dtype).reshape(shape)

    def zeros(self, shape: Sequence[int], dtype: Any) -> np.ndarray:
        """Return an array of zeros of ``shape`` and ``dtype`` (a reused buffer, cleared)."""
        out = self.empty(shape, dtype)
        out.fill(0)
        return out

    def held(self) -> int:
        """Return the bytes the workspace holds now."""
        with self._lock:
            return sum(b.nbytes for b in self._bufs)

    def clear(self) -> None:
        """Forget every buffer (arrays callers still hold stay valid)."""
        with self._lock:
            self._bufs.clear()


workspace = Workspace()
