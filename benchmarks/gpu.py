"""GPU: anynet on CuPy against PyTorch CUDA eager for the MLP epoch at batch 128, 1024 and
8192 and hidden widths 256 and 4096; anynet CuPy against anynet NumPy; and the large-batch
throughput against a measured cuBLAS float32 peak. Runs only where CuPy has a usable GPU."""

from __future__ import annotations

import numpy as np

from benchmarks.common import Row, median_time
from benchmarks.mlp import anynet_epoch, data, flops_per_sample, torch_epoch

BATCHES = (128, 1024, 8192)
HIDDEN = (256, 4096)


def cublas_peak_tflops(n: int = 8192) -> float:
    """Return the best float32 TFLOP/s of an n x n x n CuPy matrix product."""
    import cupy

    a = cupy.random.random((n, n), dtype=cupy.float32)
    b = cupy.random.random((n, n), dtype=cupy.float32)
    sync = cupy.cuda.Device().synchronize
    times = median_time(lambda: a @ b, repeats=5, warmup=2, sync=sync)
    return 2 * n**3 / min(times) / 1e12


def run(repeats: int = 3) -> list[Row]:
    """Return one Row per (batch, hidden, contender); [] when no GPU is usable."""
    import anynet as an

    reason = an.backends.get("cupy").unavailable_reason()
    if reason is not None:
        print(f"GPU benchmark skipped: {reason}")
        return []
    import cupy

    sync = cupy.cuda.Device().synchronize
    peak = cublas_peak_tflops()
    X, y = data()
    rows = []
    for hidden in HIDDEN:
        flops = flops_per_sample(hidden) * len(y)
        for batch in BATCHES:
            contenders = {"anynet cupy": anynet_epoch("adam", X, y, batch, hidden, backend="cupy")}
            try:
                contenders["torch cuda eager"] = torch_epoch("adam", X, y, batch, hidden, device="cuda")
            except Exception as exc:  # torch without CUDA
                print(f"torch cuda skipped: {exc}")
            if batch == 1024 and hidden == 256:
                contenders["anynet numpy"] = anynet_epoch("adam", X, y, batch, hidden)
            for name, fn in contenders.items():
                times = median_time(fn, repeats=repeats, sync=sync)
                med = float(np.median(times))
                rows.append(Row(f"GPU MLP epoch, adam, hidden {hidden}, batch {batch}", name, med, times,
                                {"TFLOP/s": flops / med / 1e12, "% of cuBLAS peak": 100 * flops / med / 1e12 / peak}))
    return rows
