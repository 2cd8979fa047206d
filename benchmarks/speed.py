"""CPU speed (issue 15): anynet on NumPy against the hand-written NumPy loop, PyTorch CPU
eager and the matrix-product floor; a scaling grid with a plot; peak memory of an epoch;
and the slowdown beside a busy process.

- ``steps``: SGD and Adam epochs of the 784-256-10 MLP at batch 10, 128 and 1024.
- ``scaling``: seconds per step against hidden width (64..4096) and batch (10..4096).
- ``memory``: peak RSS of a 60000-sample epoch, and of predict and evaluate over the same
  60000 x 784 (in 1024-sample chunks), against data + params.
- ``busy``: the README's MNIST run (784-128-10, Adam, batch 128) idle and beside one
  CPU-bound process that the benchmark starts and stops itself.

The floor is the step's five matrix products alone, timed at the same sizes: no NumPy
step can be faster. ``quick=True`` shrinks every size so the code can be checked in seconds;
its numbers mean nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Row, median_time
from benchmarks.mlp import D, K, N, NumpyMLP, anynet_epoch, data, torch_epoch
from benchmarks.overhead import blas_seconds

BATCHES = (10, 128, 1024)
WIDTHS = (64, 256, 1024, 4096)
SCALING_BATCHES = (10, 128, 1024, 4096)


def floor_seconds(batch: int, steps: int, hidden: int) -> float:
    """Return the median seconds of ``steps`` repetitions of the step's five matrix products."""
    return blas_seconds(batch, steps, hidden)


def _contenders(optimizer: str, X: np.ndarray, y: np.ndarray, batch: int, hidden: int) -> dict[str, Callable[[], Any]]:
    net = NumpyMLP(optimizer, hidden)
    out: dict[str, Callable[[], Any]] = {
        "anynet numpy": anynet_epoch(optimizer, X, y, batch, hidden),
        "numpy direct": lambda: net.epoch(X, y, batch),
    }
    try:
        out["torch cpu eager"] = torch_epoch(optimizer, X, y, batch, hidden)
    except ImportError:
        pass
    return out


def run_steps(repeats: int = 3, quick: bool = False) -> list[Row]:
    """Return epoch rows per optimizer and batch: anynet, hand-written NumPy, torch, the floor."""
    rows = []
    for optimizer in ("sgd", "adam"):
        for batch in BATCHES:
            n = batch * 8 if quick else N
            X, y = data(n)
            steps = -(-n // batch)
            bench = f"epoch, {optimizer}, batch {batch}, {n} samples"
            for name, fn in _contenders(optimizer, X, y, batch, 256).items():
                times = median_time(fn, repeats=repeats)
                rows.append(Row(bench, name, float(np.median(times)), times, {"s/step": float(np.median(times)) / steps}))
            floor = floor_seconds(batch, steps, 256)
            rows.append(Row(bench, "matmul floor", floor, [floor], {"s/step": floor / steps}))
    return rows


def run_scaling(repeats: int = 3, quick: bool = False, plot: str | None = "docs/benchmarks-scaling.png") -> list[Row]:
    """Return seconds per SGD step over widths x batches, and draw them (``plot``: a PNG path or None)."""
    widths, batches = ((64, 256), (10, 128)) if quick else (WIDTHS, SCALING_BATCHES)
    rows = []
    for hidden in widths:
        for batch in batches:
            # about the same work per cell: fewer steps where each is big
            steps = 3 if quick else max(3, min(200, int(2e9 / (6 * batch * hidden * D))))
            X, y = data(batch * steps)
            bench = f"scaling, hidden {hidden}, batch {batch}"
            for name, fn in _contenders("sgd", X, y, batch, hidden).items():
                times = median_time(fn, repeats=repeats)
                rows.append(Row(bench, name, float(np.median(times)) / steps, [t / steps for t in times],
                                {"hidden": hidden, "batch": batch}))
            floor = floor_seconds(batch, steps, hidden) / steps
            rows.append(Row(bench, "matmul floor", floor, [floor], {"hidden": hidden, "batch": batch}))
    if plot:
        draw_scaling(rows, plot)
    return rows


def draw_scaling(rows: list[Row], path: str) -> None:
    """Write a PNG: step time against hidden width (at the middle batch) and against batch."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("scaling plot skipped: matplotlib is not installed")
        return
    widths = sorted({r.extra["hidden"] for r in rows})
    batches = sorted({r.extra["batch"] for r in rows})
    fix_batch = 128 if 128 in batches else batches[len(batches) // 2]
    fix_width = 256 if 256 in widths else widths[len(widths) // 2]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (axis, fixed, xs) in zip(axes, (("hidden", ("batch", fix_batch), widths),
                                            ("batch", ("hidden", fix_width), batches))):
        for name in dict.fromkeys(r.contender for r in rows):
            pts = sorted((r.extra[axis], r.seconds) for r in rows
                         if r.contender == name and r.extra[fixed[0]] == fixed[1])
            style = {"color": "black", "linestyle": "--"} if name == "matmul floor" else {"marker": "o"}
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name, **style)
        ax.set(xscale="log", yscale="log", xlabel=f"{axis} ({fixed[0]} {fixed[1]})", ylabel="seconds per SGD step",
               xticks=xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("784-hidden-10 MLP, float32, one SGD step")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


# -- memory: each measurement in a fresh process, so peaks do not carry over ---------------------

_MEMORY_CHILD = r"""
import json, sys
import numpy as np
from benchmarks.mlp import data, D, K
import anynet as an


def peak_kb(reset=False):
    # VmHWM is the peak resident set; writing 5 to clear_refs resets it to the current RSS (Linux).
    if reset:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))


n, batch, hidden = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
X, y = data(n)
model = an.Sequential([an.layers.Dense(hidden, activation="relu"), an.layers.Dense(K, activation="softmax")], seed=0)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.build((D,))
model.fit(X[:batch], y[:batch], epochs=1, batch_size=batch, verbose=0)  # imports and first allocations
before = peak_kb(reset=True)
model.fit(X, y, epochs=1, batch_size=batch, verbose=0)
after_fit = peak_kb()
model.predict(X[:batch])  # the same for inference
before_inference = peak_kb(reset=True)
Y = model.predict(X)  # batch_size=None: chunks of anynet.training.INFERENCE_CHUNK samples
after_predict = peak_kb()
del Y
before_evaluate = peak_kb(reset=True)
model.evaluate(X, y, verbose=0)
after_evaluate = peak_kb()
print(json.dumps({"before": before, "fit": after_fit, "before_predict": before_inference,
                  "before_evaluate": before_evaluate,
                  "predict": after_predict, "evaluate": after_evaluate, "data": X.nbytes + y.nbytes,
                  "params": model.count_params() * 4, "outputs": n * K * 4}))
"""


def run_memory(repeats: int = 1, quick: bool = False) -> list[Row]:
    """Return peak-RSS rows (MB) of one epoch (batch 128) and of predict and evaluate (their
    default 1024-sample chunks) on 60000 x 784, against data + parameter bytes.

    Growth is the peak minus the resident size just before (after a small warm-up run);
    for predict it includes its (n, 10) float32 outputs ("outputs MB").
    """
    n, batch, hidden = (2000, 128, 256) if quick else (N, 128, 256)
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(n), str(batch), str(hidden)], cwd=root,
                         capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(root)})
    if out.returncode:
        print(f"memory benchmark failed: {out.stderr[-2000:]}")
        return []
    m = json.loads(out.stdout.strip().splitlines()[-1])
    mb = 1 / 1024  # /proc reports KB
    base = (m["data"] + m["params"]) / 2**20
    rows = []
    for what in ("fit", "predict", "evaluate"):
        start = m["before"] if what == "fit" else m[f"before_{what}"]
        extra = {"peak RSS MB": m[what] * mb, "RSS before MB": start * mb, "growth MB": (m[what] - start) * mb,
                 "data+params MB": base, "growth / (data+params)": (m[what] - start) * mb / base}
        if what == "predict":
            extra["outputs MB"] = m["outputs"] / 2**20
        rows.append(Row(f"peak memory (the time column holds peak RSS in MB), {n} samples x {D}, fit batch {batch}",
                        f"anynet {what}", m[what] * mb, [], extra))
    return rows


# -- a busy machine ---------------------------------------------------------------------------------

_SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"


def _readme_run(X: np.ndarray, y: np.ndarray, epochs: int, threads: Any) -> float:
    """Return the seconds of the README's MNIST training (784-128-10 relu/softmax, Adam, batch 128)."""
    import anynet as an

    model = an.Sequential([an.layers.Dense(128, activation="relu"), an.layers.Dense(K, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.build((D,))
    t0 = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=128, verbose=0, threads=threads)
    return time.perf_counter() - t0


def run_busy(repeats: int = 1, quick: bool = False) -> list[Row]:
    """Return the README run's seconds idle and beside one CPU-bound process, per thread setting.

    The competing process is a Python busy loop started here and killed when the timing is
    done (it also stops by itself after at most 15 minutes).
    """
    n, epochs = (3000, 1) if quick else (N, 5)
    X, y = data(n)
    rows = []
    for setting in ("auto", "system"):
        idle = min(_readme_run(X, y, epochs, setting) for _ in range(max(1, repeats)))
        spin = subprocess.Popen([sys.executable, "-c", _SPIN.format(seconds=900)])
        try:
            time.sleep(0.5)  # let it get going
            busy = min(_readme_run(X, y, epochs, setting) for _ in range(max(1, repeats)))
        finally:
            spin.kill()
            spin.wait()
        bench = f"busy machine, README MNIST run ({n} samples, {epochs} epochs), threads={setting!r}"
        rows.append(Row(bench, "idle", idle, [idle]))
        rows.append(Row(bench, "beside one busy process", busy, [busy], {"slowdown": busy / idle}))
    return rows
