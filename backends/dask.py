"""Dask adapter: arrays chunked by rows, computed chunk by chunk on a cluster's workers.

Dask is not a library the layers run on. The network's maths runs inside Dask tasks on
each chunk's own array library (NumPy, or CuPy when the chunks are CuPy arrays); this
adapter is the only code in anynet that names Dask, and it offers the portable core
(:mod:`anynet.chunked`) a small chunk-wise interface:

``chunked = True``
    marks an adapter whose arrays the core handles chunk by chunk, never as one array.
``chunk_backend(x)``
    the adapter of the library x's chunks are arrays of.
``align_rows(arrays, names, *, persist, known)``
    the arrays with one chunk across every axis but the rows and the row chunks of the
    first; in-memory arrays are chunked like it; with ``persist`` they are kept on the
    workers (read once), with ``known`` their chunk sizes are made known.
``share(value)``
    sends a value to every worker once (``Client.scatter(broadcast=True)``), or makes it
    one key of the graph under Dask's own schedulers; returns a handle for ``broadcast``.
``tree_sum(fn, arrays, broadcast)``
    ``fn(*broadcast, *row_chunks)`` returns a 1-d float64 NumPy vector per row chunk; the
    vectors are summed in a tree on the workers and one vector comes back.
``map_row_chunks(fn, arrays, broadcast, *, shapes, dtype)``
    lazy Dask arrays, one per shape: ``fn(*broadcast, *row_chunks)`` returns one array per
    shape for each row chunk; the results have the rows of the first array and each
    shape for the other axes.

Without a running ``distributed.Client`` the work goes to Dask's default scheduler
(threads in this process), and anynet says so once.
"""

from __future__ import annotations

import importlib.util
import math
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from anynet.backends import DIST, Backend, for_array
from anynet.errors import BackendError, InputError

#: how many partial sums one task of the tree adds
SPLIT_EVERY = 8

_NOT_A_PLACEMENT = ("Dask arrays are not a place for a model's parameters: pass them to "
                    "anynet.optimize.minimize, model.predict, model.evaluate or model.fit (full batch), which "
                    "run the model on each row chunk with the chunk's own library (NumPy, CuPy) on the workers, "
                    "while the parameters stay with the model.")


class Shared:
    """A value sent to the workers once: a distributed Future or a one-key Delayed."""

    __slots__ = ("handle",)

    def __init__(self, handle: Any) -> None:
        self.handle = handle


def _sum(*parts: np.ndarray) -> np.ndarray:
    out = np.array(parts[0], dtype=np.float64, copy=True)
    for p in parts[1:]:
        out += p
    return out


def _call_one(*args: Any, fn: Callable[..., Any], n: int) -> Any:
    """Map-blocks trampoline: the blocks come first there, ``fn`` takes them last; its one output."""
    return fn(*args[n:], *args[:n])[0]


def _call_flat(*args: Any, fn: Callable[..., Any], n: int) -> Any:
    """Map-blocks trampoline for several outputs: one block of each output's flattened samples, side by side."""
    import array_api_compat

    outs = fn(*args[n:], *args[:n])
    xp = array_api_compat.array_namespace(*outs)
    return xp.concat([xp.reshape(Y, (Y.shape[0], -1)) for Y in outs], axis=1)


def _unflatten(block: Any, shape: tuple[int, ...]) -> Any:
    return block.reshape((block.shape[0], *shape))


class DaskBackend(Backend):
    name = "dask"
    library = "dask"
    install_hint = f"pip install '{DIST}[dask]'"
    host_memory = False
    chunked = True

    def __init__(self) -> None:
        self.said_scheduler = False

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("dask") is None:
            return "the package dask is not installed"
        return None

    def namespace(self) -> Any:
        import array_api_compat.dask.array

        return array_api_compat.dask.array

    def devices(self) -> list[Any]:
        client = self.client()
        return [f"cluster at {client.scheduler.address}"] if client is not None else ["default scheduler"]

    def default_device(self) -> Any:
        return self.devices()[0]

    def device_of(self, x: Any) -> Any:
        return self.default_device()

    def owns(self, x: Any) -> bool:
        mod = sys.modules.get("dask.array")  # no Dask array exists before dask.array is imported
        return mod is not None and isinstance(x, mod.Array)

    def to_numpy(self, x: Any) -> np.ndarray:
        import dask

        (value,) = dask.compute(x)
        inner = for_array(value)
        return inner.to_numpy(value) if inner is not None else np.asarray(value)

    def from_numpy(self, a: np.ndarray, device: Any = None) -> Any:
        raise BackendError(_NOT_A_PLACEMENT)

    def rng(self, seed: int | None, device: Any = None) -> Any:
        raise BackendError(_NOT_A_PLACEMENT)

    # -- the chunk-wise interface ------------------------------------------------------
    def chunk_backend(self, x: Any) -> Backend:
        """Return the adapter of the library whose arrays x's chunks are (from x's meta)."""
        inner = for_array(getattr(x, "_meta", None))
        if inner is None or getattr(inner, "chunked", False):
            raise BackendError(f"The chunks of this Dask array are {type(x._meta).__name__} objects, which no "
                               f"anynet backend handles; use NumPy or CuPy chunks.")
        return inner

    def client(self) -> Any:
        """Return the distributed Client that ``dask.compute`` would use now, or None."""
        if "distributed" not in sys.modules:  # no Client can exist before distributed is imported
            return None
        import dask.base
        from distributed import Client

        owner = getattr(dask.base.get_scheduler(), "__self__", None)
        return owner if isinstance(owner, Client) else None

    def _note_scheduler(self) -> Any:
        import dask

        client = self.client()
        if client is None and dask.config.get("scheduler", None) is None and not self.said_scheduler:
            self.said_scheduler = True
            warnings.warn("anynet: no Dask distributed Client is running, so the chunks are computed by Dask's "
                          "default scheduler (threads in this process). To use a cluster, start a Client first: "
                          "`from dask.distributed import Client; Client()` or Client('scheduler-host:8786').",
                          UserWarning, stacklevel=_caller_level())
        return client

    def align_rows(self, arrays: Sequence[Any], names: Sequence[str], *, persist: bool = False,
                   known: bool = True) -> list[Any]:
        """Return the arrays chunked alike by rows, one chunk across every other axis.

        The first array must be a Dask array; the others may be in memory. ``persist``
        keeps the results on the workers; ``known`` computes unknown chunk sizes (from
        the persisted chunks, when ``persist``). Raises InputError when the arrays hold
        different numbers of rows.
        """
        import dask.array as da

        out = []
        for a, name in zip(arrays, names):
            if self.owns(a) and any(len(c) > 1 for c in a.chunks[1:]):
                split = {ax: len(c) for ax, c in enumerate(a.chunks) if ax and len(c) > 1}
                warnings.warn(f"{name} is split along axes other than the samples ({name}.chunks has "
                              f"{', '.join(f'{k} chunks on axis {ax}' for ax, k in split.items())}); anynet needs "
                              f"whole samples per chunk and rechunks it. Chunk by rows only to avoid the shuffle: "
                              f"{name}.rechunk({{{', '.join(f'{ax}: -1' for ax in split)}}}).", UserWarning,
                              stacklevel=_caller_level())
                a = a.rechunk({ax: -1 for ax in split})
            out.append(a)
        if not self.owns(out[0]):
            raise BackendError(f"align_rows needs a Dask array first, got {type(out[0]).__name__}.")
        first = out[0]
        if persist:
            first = self._persist(first)
        if known and _unknown(first):
            first = first.compute_chunk_sizes()
        rows = first.chunks[0]
        result = [first]
        for a, name in zip(out[1:], names[1:]):
            if not self.owns(a):
                inner = for_array(a)
                a = inner.to_numpy(a) if inner is not None else np.asarray(a)
                if known and a.shape[0] != first.shape[0]:
                    raise InputError(f"{names[0]} and {name} hold different numbers of samples: {names[0]} has "
                                     f"{first.shape[0]}, {name} has {a.shape[0]} (shape {a.shape}).")
                a = da.from_array(a, chunks=(rows, *a.shape[1:]), meta=_meta_like(first, a))
            else:
                if known and _unknown(a):
                    a = (self._persist(a) if persist else a).compute_chunk_sizes()
                if known and a.shape[0] != first.shape[0]:
                    raise InputError(f"{names[0]} and {name} hold different numbers of samples: {names[0]} has "
                                     f"{first.shape[0]} (shape {first.shape}), {name} has {a.shape[0]} "
                                     f"(shape {a.shape}).")
                if known and a.chunks[0] != rows:
                    a = a.rechunk({0: rows})
            result.append(self._persist(a) if persist else a)
        return result

    def _persist(self, a: Any) -> Any:
        import dask

        self._note_scheduler()
        (a,) = dask.persist(a)
        return a

    def share(self, value: Any) -> Shared:
        """Return a handle to ``value`` sent once to every worker (or one key of the graph)."""
        import dask

        client = self.client()
        if client is not None:
            return Shared(client.scatter([value], broadcast=True, hash=False)[0])
        return Shared(dask.delayed(value, traverse=False))

    def _handles(self, broadcast: Sequence[Any]) -> list[Any]:
        return [(b if isinstance(b, Shared) else self.share(b)).handle for b in broadcast]

    def tree_sum(self, fn: Callable[..., np.ndarray], arrays: Sequence[Any], broadcast: Sequence[Any] = (), *,
                 name: str = "anynet-chunk") -> np.ndarray:
        """Return the sum over row chunks of ``fn(*broadcast, *chunks)`` (float64 vectors), tree-reduced."""
        import dask

        self._note_scheduler()
        handles = self._handles(broadcast)
        blocks = [a.to_delayed(optimize_graph=False).reshape(-1) for a in arrays]
        token = uuid.uuid4().hex[:12]
        call = dask.delayed(fn, pure=False, traverse=False)
        parts = [call(*handles, *chunks, dask_key_name=f"{name}-{token}-{i}") for i, chunks in enumerate(zip(*blocks))]
        add, level = dask.delayed(_sum, pure=False, traverse=False), 0
        while len(parts) > 1:
            parts = [add(*parts[j:j + SPLIT_EVERY], dask_key_name=f"anynet-sum-{token}-{level}-{j}")
                     for j in range(0, len(parts), SPLIT_EVERY)]
            level += 1
        (total,) = dask.compute(parts[0])
        return np.asarray(total, dtype=np.float64)

    def map_row_chunks(self, fn: Callable[..., Sequence[Any]], arrays: Sequence[Any], broadcast: Sequence[Any] = (),
                       *, shapes: Sequence[Sequence[int]], dtype: Any, name: str = "anynet-predict") -> list[Any]:
        """Return lazy Dask arrays, one per entry of ``shapes``: the rows of arrays[0], then that shape.

        ``fn(*broadcast, *chunks)`` returns one array per shape for a row chunk. Several
        outputs are computed once per chunk, as one block of flattened columns that each
        output then slices and reshapes.
        """
        from dask.array.utils import meta_from_array

        X, handles = arrays[0], self._handles(broadcast)
        rows, token = X.chunks[0], uuid.uuid4().hex[:12]

        def blocks(call: Callable[..., Any], width: tuple[int, ...], key: str) -> Any:
            ndim = 1 + len(width)
            axes = dict(drop_axis=list(range(ndim, X.ndim))) if X.ndim > ndim else \
                dict(new_axis=list(range(X.ndim, ndim))) if X.ndim < ndim else {}
            return X.map_blocks(call, *arrays[1:], *handles, fn=fn, n=len(arrays), dtype=dtype,
                                chunks=(rows, *((int(d),) for d in width)),
                                meta=meta_from_array(X._meta, ndim=ndim, dtype=dtype), name=f"{key}-{token}", **axes)

        if len(shapes) == 1:
            return [blocks(_call_one, tuple(shapes[0]), name)]
        widths = [math.prod(s) for s in shapes]
        flat = blocks(_call_flat, (sum(widths),), f"{name}-flat")
        outs, start = [], 0
        for shape, w in zip(shapes, widths):
            part = flat[:, start:start + w]
            start += w
            if len(shape) > 1:
                part = part.map_blocks(_unflatten, shape=tuple(shape), dtype=dtype,
                                       chunks=(rows, *((int(d),) for d in shape)),
                                       new_axis=list(range(2, 1 + len(shape))),
                                       meta=meta_from_array(X._meta, ndim=1 + len(shape), dtype=dtype))
            outs.append(part)
        return outs


def _caller_level() -> int:
    """Return the ``stacklevel`` that points a warning at the first caller outside anynet."""
    import anynet

    inside = (os.path.dirname(os.path.abspath(anynet.__file__)), os.path.dirname(os.path.abspath(__file__)))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(inside):
        frame, level = frame.f_back, level + 1
    return level


def _unknown(a: Any) -> bool:
    return any(c != c for c in a.chunks[0])  # NaN


def _meta_like(first: Any, a: np.ndarray) -> Any:
    from dask.array.utils import meta_from_array

    return meta_from_array(first._meta, ndim=a.ndim, dtype=a.dtype) if isinstance(first._meta, np.ndarray) else None


adapter = DaskBackend()
