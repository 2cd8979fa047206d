"""Timing helpers shared by the benchmarks: medians over repeats, device sync, peaks."""

from __future__ import annotations

import gc
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class Row:
    """One measured line of a benchmark table."""

    benchmark: str
    contender: str
    seconds: float                      # median over repeats
    repeats: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median_time(fn: Callable[[], Any], *, repeats: int = 3, warmup: int = 1,
                sync: Callable[[], None] | None = None) -> list[float]:
    """Return the wall-clock seconds of ``repeats`` calls of fn after ``warmup`` calls.

    ``sync`` (a device synchronisation) runs before starting and before stopping the clock.
    """
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    out = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        out.append(time.perf_counter() - t0)
    return out


def matmul_peak_gflops(n: int = 2048, dtype: str = "float32", repeats: int = 5) -> float:
    """Return the best GFLOP/s of an n x n x n NumPy matrix product on this machine."""
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float64).astype(dtype)
    b = rng.random((n, n), dtype=np.float64).astype(dtype)
    times = median_time(lambda: a @ b, repeats=repeats, warmup=2)
    return 2 * n**3 / min(times) / 1e9


def machine() -> dict[str, Any]:
    """Return what the numbers were measured on: CPU, cores, library versions."""
    import os

    info: dict[str, Any] = {"date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
                            "machine": platform.machine(), "cores": os.cpu_count(), "numpy": np.__version__}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor() or "unknown"
    for lib in ("scipy", "torch", "sklearn", "cupy", "array_api_compat"):
        try:
            info[lib] = __import__(lib).__version__
        except Exception:
            info[lib] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [f"{x['internal_api']} {x.get('version')} ({x['num_threads']} threads, {x['filepath'].split('/')[-2]})"
                        for x in threadpool_info() if x["user_api"] == "blas"]
    except ImportError:
        pass
    return info


def fmt_table(rows: list[Row], baseline: str | None = None) -> list[str]:
    """Return Markdown lines: contender, median, ratio to ``baseline``, and extras."""
    by_bench: dict[str, list[Row]] = {}
    for r in rows:
        by_bench.setdefault(r.benchmark, []).append(r)
    out = []
    for bench, rs in by_bench.items():
        base = next((r for r in rs if r.contender == baseline), rs[0])
        keys = sorted({k for r in rs for k in r.extra})
        out += [f"**{bench}**", "", "| contender | median s | vs " + base.contender + " | " + " | ".join(keys) + " |",
                "| --- | ---: | ---: |" + " ---: |" * len(keys)]
        for r in rs:
            ratio = r.seconds / base.seconds if base.seconds else float("nan")
            vals = " | ".join(_fmt(r.extra.get(k)) for k in keys)
            out.append(f"| {r.contender} | {r.seconds:.4g} | {ratio:.2f}x | {vals} |")
        out.append("")
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def spread(times: list[float]) -> str:
    return f"{statistics.median(times):.4g} (min {min(times):.4g}, max {max(times):.4g})"
