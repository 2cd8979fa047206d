"""One epoch of the Keras book's MNIST convnet at batch 64: anynet on NumPy against PyTorch CPU eager.

Both train the same network (Conv2D(32,3,relu), MaxPooling2D(2), Conv2D(64,3,relu),
MaxPooling2D(2), Conv2D(64,3,relu), Flatten, Dense(64,relu), Dense(10,softmax); RMSprop
1e-3 with Keras' rho 0.9 and epsilon 1e-7) on the same MNIST-shaped data, in the same
process, in alternating runs; the rows hold the medians. Extras:

- ``BLAS share``: the matrix products of an anynet epoch (the im2col products of each
  convolution forward, for dW and for dX, and the dense layers' products), at the shapes
  and in the layouts the NumPy kernels use, timed alone and divided by the epoch's time.
- ``peak RSS MB`` / ``epoch RSS growth MB``: each contender trains one epoch in a fresh
  process (spawned); the peak resident set size of that process (VmHWM), and how much
  the peak grew during the epoch (data, model and imports excluded).
- ``threads``: OpenBLAS' threads for anynet, torch's intra-op threads for torch.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.common import Row
from benchmarks.mlp import torch_loop

N, BATCH = 60000, 64


def data(n: int = N, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return MNIST-shaped data: X (n, 28, 28, 1) float32 in [0, 1), y (n,) int64 in 0..9."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, n)


def anynet_epoch(X: np.ndarray, y: np.ndarray, batch_size: int = BATCH, backend: str = "numpy") -> Callable[[], Any]:
    """Return a function that trains one epoch with anynet (the model persists between calls)."""
    import anynet as an

    L = an.layers
    model = an.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                           L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                           L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")],
                          seed=0, backend=backend)
    model.compile(optimizer=an.optimizers.RMSprop(1e-3), loss="sparse_categorical_crossentropy")
    model.build()
    p = model.placement
    Xd, yd = p.backend.from_numpy(X, p.device), p.backend.from_numpy(y, p.device)
    return lambda: model.fit(Xd, yd, epochs=1, batch_size=batch_size, verbose=0)


def torch_epoch(X: np.ndarray, y: np.ndarray, batch_size: int = BATCH) -> Callable[[], Any]:
    """Return a function that trains one epoch of the same net with PyTorch CPU eager."""
    import torch

    nn = torch.nn
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(64, 64, 3), nn.ReLU(), nn.Flatten(), nn.Linear(576, 64), nn.ReLU(),
                        nn.Linear(64, 10))
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    Xt = torch.as_tensor(X).permute(0, 3, 1, 2).contiguous()  # torch's layout is channels first
    yt = torch.as_tensor(y)
    return torch_loop(net, opt, loss_fn, Xt, yt, batch_size)


def gemm_shapes(batch: int) -> list[tuple[tuple[int, int], tuple[int, int], bool]]:
    """Return the matrix products of one training step as ((m, k), (k, n), left operand transposed)."""
    out = []
    convs = [(26 * 26, 9 * 1, 32, False), (11 * 11, 9 * 32, 64, True), (3 * 3, 9 * 64, 64, True)]
    for positions, k, f, need_dX in convs:
        m = batch * positions
        out += [((m, k), (k, f), False), ((k, m), (m, f), True)]   # forward; dW = cols.T @ dY
        if need_dX:
            out.append(((m, f), (f, k), False))                       # dcols = dY @ W.T
    for n_in, n_out, need_dX in ((576, 64, True), (64, 10, True)):
        out += [((batch, n_in), (n_in, n_out), False), ((n_in, batch), (batch, n_out), True)]
        if need_dX:
            out.append(((batch, n_out), (n_out, n_in), False))
    return out


def blas_seconds(n: int, batch: int = BATCH, repeats: int = 3) -> float:
    """Return the seconds the matrix products of one epoch over n samples take, timed alone (float32)."""
    rng = np.random.default_rng(0)
    steps, last = divmod(n, batch)
    total = 0.0
    for size, count in ((batch, steps), (last, 1 if last else 0)):
        if not count:
            continue
        for (m, k), (k2, f), transposed in gemm_shapes(size):
            a = rng.random((k, m) if transposed else (m, k), dtype=np.float32)
            a = a.T if transposed else a
            b = rng.random((k2, f), dtype=np.float32)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                for _ in range(5):
                    a @ b
                times.append((time.perf_counter() - t0) / 5)
            total += min(times) * count
    return total


def _hwm_mb() -> float:
    """Return this process's peak resident set size in MB (VmHWM; unlike ru_maxrss it restarts at exec)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _epoch_rss(which: str, n: int, queue: Any) -> None:
    """In a fresh process: one epoch of ``which``; put (peak RSS MB, growth during the epoch MB)."""
    X, y = data(n)
    fn = anynet_epoch(X, y) if which == "anynet" else torch_epoch(X, y)
    before = _hwm_mb()
    fn()
    after = _hwm_mb()
    queue.put((after, after - before))


def peak_rss(which: str, n: int) -> tuple[float, float]:
    """Return (peak RSS MB, growth during the epoch MB) of one epoch of ``which`` in a spawned process."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_epoch_rss, args=(which, n, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _blas_threads() -> int | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return max((x["num_threads"] for x in threadpool_info() if x["user_api"] == "blas"), default=None)


def run(repeats: int = 3, n: int = N, memory: bool = True) -> list[Row]:
    """Return one Row per contender: the median seconds of one epoch over n samples, with the extras."""
    X, y = data(n)
    contenders: dict[str, Callable[[], Any]] = {"anynet numpy": anynet_epoch(X, y)}
    try:
        contenders["torch cpu eager"] = torch_epoch(X, y)
    except ImportError:
        print("torch is not installed: the CNN benchmark times anynet alone")
    for fn in contenders.values():  # warm up both on a few batches' worth: allocator, oneDNN plans
        fn()
    times: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(repeats):  # alternate, so a change in machine load hits both alike
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    blas = blas_seconds(n)
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        extra: dict[str, Any] = {}
        if name == "anynet numpy":
            extra["BLAS share %"] = 100 * blas / med
            extra["threads"] = _blas_threads()
        else:
            import torch

            extra["threads"] = torch.get_num_threads()
        if memory:
            which = "anynet" if name.startswith("anynet") else "torch"
            rss, growth = peak_rss(which, n)
            extra["peak RSS MB"], extra["epoch RSS growth MB"] = rss, growth
        rows.append(Row(f"CNN epoch, MNIST convnet, rmsprop, batch {BATCH}, {n} samples", name, med, ts, extra))
    return rows

