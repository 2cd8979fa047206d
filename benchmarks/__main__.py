"""python -m benchmarks: run the benchmarks, print the tables, write JSON and Markdown."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from types import SimpleNamespace

from benchmarks import cnn, dask_cluster, full_batch, gpu, mlp, overhead, sklearn_mlp, speed
from benchmarks.common import Row, fmt_table, machine, matmul_peak_gflops

SECTIONS = {"mlp": mlp, "full_batch": full_batch, "overhead": overhead, "gpu": gpu, "sklearn": sklearn_mlp,
            "cnn": cnn, "dask": dask_cluster,
            "steps": SimpleNamespace(run=speed.run_steps), "scaling": SimpleNamespace(run=speed.run_scaling),
            "memory": SimpleNamespace(run=speed.run_memory), "busy": SimpleNamespace(run=speed.run_busy)}
BASELINES = {"MLP epoch": "numpy direct", "step time": "numpy direct", "ex4 full batch": "sklearn lbfgs",
             "GPU MLP epoch": "torch cuda eager", "MLPClassifier fit": "sklearn MLPClassifier",
             "CNN epoch": "torch cpu eager", dask_cluster.BENCH: "numpy in memory", "epoch,": "numpy direct",
             "scaling,": "matmul floor", "busy machine": "idle"}
SECTION_BASELINE = {"mlp": "numpy direct", "overhead": "numpy direct", "full_batch": "sklearn lbfgs",
                    "gpu": "torch cuda eager", "sklearn": "sklearn MLPClassifier", "cnn": "torch cpu eager",
                    "dask": "numpy in memory", "steps": "numpy direct", "scaling": "matmul floor", "memory": None,
                    "busy": "idle"}


def markdown(info: dict, rows: list[Row]) -> str:
    """Return the results as Markdown: the machine, then one table per benchmark."""
    lines = ["# anynet benchmarks", "", "Written by `python -m benchmarks`; medians over repeats, "
             "seconds per epoch (MLP), per step (step time) or per run (full batch).", "",
             "| machine | |", "| --- | --- |", *[f"| {k} | {v} |" for k, v in info.items()], ""]
    groups: dict[str, list[Row]] = {}
    for r in rows:
        key = next((b for b in BASELINES if r.benchmark.startswith(b)), r.benchmark)
        groups.setdefault(key, []).append(r)
    for key, rs in groups.items():
        lines += fmt_table(rs, BASELINES.get(key))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description="anynet against its peers")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated of {', '.join(SECTIONS)}")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cnn-samples", type=int, default=60000, help="samples in the CNN epoch (default 60000, MNIST)")
    ap.add_argument("--out", default=None, help="write OUT.json and OUT.md (e.g. docs/benchmarks)")
    ap.add_argument("--dask-samples", type=int, default=60000, help="rows of the Dask benchmark (default 60000)")
    ap.add_argument("--dask-iterations", type=int, default=20, help="L-BFGS-B iterations it times (default 20)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes, to check that the code runs (steps, scaling, memory, busy); the numbers mean nothing")
    args = ap.parse_args(argv)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown sections {unknown}; choose from {list(SECTIONS)}")

    info = machine()
    info["matmul peak GFLOP/s (float32, 2048^3)"] = round(matmul_peak_gflops(256 if args.quick else 2048), 1)
    if args.quick:
        info["quick"] = "tiny sizes: these numbers mean nothing"
    print("machine:", json.dumps(info))
    rows = []
    for name in wanted:
        module = SECTIONS[name]
        kwargs = {"repeats": args.repeats} if name != "mlp" else {"repeats": args.repeats,
                                                                   "peak": info["matmul peak GFLOP/s (float32, 2048^3)"]}
        if name == "cnn":
            kwargs["n"] = args.cnn_samples
        if name == "dask":
            kwargs.update(samples=args.dask_samples, iterations=args.dask_iterations)
        accepts = inspect.signature(module.run).parameters
        if "quick" in accepts:
            kwargs["quick"] = args.quick
        if "plot" in accepts:
            kwargs["plot"] = f"{args.out}-scaling.png" if args.out else "benchmarks-scaling.png"
        new = module.run(**kwargs)
        rows += new
        print("\n".join(fmt_table(new, SECTION_BASELINE[name])))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps({"machine": info, "rows": [r.as_dict() for r in rows]}, indent=1))
        out.with_suffix(".md").write_text(markdown(info, rows))
        print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
