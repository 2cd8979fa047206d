"""Run the shared conformance suite and write a feature x backend/device matrix.

    python -m anynet.conformance --backend cupy --report report.md
    python -m anynet.conformance --backend all --strictest -- -x   # extra pytest arguments after --

The suite is ``tests/conformance`` of the source tree (a checkout, or an editable install);
``--suite PATH`` points elsewhere. Needs pytest. Exits with pytest's status.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Results", "run", "main", "find_suite"]


def find_suite(path: str | None = None) -> Path:
    """Return the folder of the conformance suite, or raise SystemExit saying where to get it."""
    candidates = [Path(path)] if path else [Path(__file__).resolve().parents[1] / "tests" / "conformance",
                                            Path.cwd() / "tests" / "conformance"]
    for c in candidates:
        if (c / "test_adapter.py").is_file():
            return c
    raise SystemExit(f"The conformance suite was not found (looked in {', '.join(map(str, candidates))}). "
                     f"It ships with the source tree: run from a checkout, or pass --suite PATH.")


@dataclass
class Results:
    """Outcomes per (feature, backend/device): counts, and the reasons of skips and failures."""

    counts: dict[tuple[str, str], dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    reasons: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    columns: list[str] = field(default_factory=list)

    # pytest plugin hook
    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            column = dict(report.user_properties).get("backend", "any")
            module, _, func = report.nodeid.partition("::")
            feature = f"{Path(module).stem.removeprefix('test_')}: {func.split('[')[0].removeprefix('test_')}"
            outcome = "xfail" if hasattr(report, "wasxfail") and report.skipped else report.outcome
            if hasattr(report, "wasxfail") and report.passed:
                outcome = "xpass"
            self.counts[(feature, column)][outcome] += 1
            if column not in self.columns:
                self.columns.append(column)
            if outcome in ("skipped", "failed", "xfail", "xpass"):
                self.reasons[(feature, column)].add(_reason(report))

    def features(self) -> list[str]:
        return sorted({f for f, _ in self.counts})

    def cell(self, feature: str, column: str) -> str:
        c = self.counts.get((feature, column))
        if not c:
            return ""
        total = sum(c.values())
        if c.get("failed") or c.get("xpass"):
            return f"FAIL {c.get('failed', 0) + c.get('xpass', 0)}/{total}"
        if c.get("skipped") == total:
            return "skip"
        parts = [f"pass {c.get('passed', 0)}"]
        if c.get("xfail"):
            parts.append(f"xfail {c['xfail']}")
        if c.get("skipped"):
            parts.append(f"skip {c['skipped']}")
        return ", ".join(parts)

    def markdown(self, title: str, *, by_module: bool = False) -> str:
        """Return the matrix as Markdown: one row per feature (or per test module)."""
        cols = sorted(self.columns)
        rows = self._by_module() if by_module else self
        lines = [f"# {title}", "", _environment(), "",
                 "| feature | " + " | ".join(cols) + " |", "| --- |" + " --- |" * len(cols)]
        for f in rows.features():
            lines.append(f"| {f} | " + " | ".join(rows.cell(f, c) for c in cols) + " |")
        notes = sorted({f"- {c}: {r}" for (f, c), rs in self.reasons.items() for r in rs})
        if notes:
            lines += ["", "Reasons for skips, expected failures and failures:", "", *notes]
        return "\n".join(lines) + "\n"

    def _by_module(self) -> Results:
        out = Results(columns=list(self.columns))
        for (feature, column), c in self.counts.items():
            for k, v in c.items():
                out.counts[(feature.split(":")[0], column)][k] += v
        return out

    @property
    def failed(self) -> int:
        return sum(c.get("failed", 0) + c.get("xpass", 0) for c in self.counts.values())


def _reason(report: Any) -> str:
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail or "expected failure")
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple):
        return str(longrepr[2]).removeprefix("Skipped: ")
    text = str(getattr(longrepr, "reprcrash", None) and longrepr.reprcrash.message or longrepr)
    return text.splitlines()[0][:200] if text else "failed"


def _environment() -> str:
    from anynet import backends

    rows = [f"{s.name} {s.version or '-'} ({', '.join(s.devices) if s.usable else 'not usable: ' + str(s.reason)})"
            for s in backends.available()]
    today = datetime.date.today().isoformat()
    return (f"Run on {today}, Python {platform.python_version()} on {platform.machine()}. "
            f"Backends: {'; '.join(rows)}.")


def run(backend: str = "all", *, suite: str | None = None, strictest: bool = False,
        pytest_args: list[str] | None = None) -> tuple[int, Results]:
    """Run the suite on ``backend`` ("all" or a comma-separated list); return (exit status, results)."""
    import pytest

    results = Results()
    args = [str(find_suite(suite)), f"--backend={backend}", "-q", "-p", "no:cacheprovider",
            *(["--strictest"] if strictest else []), *(pytest_args or [])]
    status = pytest.main(args, plugins=[results])
    return int(status), results


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(prog="python -m anynet.conformance", description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="all", help="'all' (default) or names, comma-separated")
    ap.add_argument("--report", help="write the matrix as Markdown to this file")
    ap.add_argument("--by-module", action="store_true", help="one row per test module instead of per test")
    ap.add_argument("--strictest", action="store_true", help="array-api-strict without boolean indexing and "
                                                             "data-dependent shapes")
    ap.add_argument("--suite", help="folder of the suite (default: tests/conformance of the source tree)")
    args = ap.parse_args(argv)
    status, results = run(args.backend, suite=args.suite, strictest=args.strictest, pytest_args=extra)
    if args.report:
        title = "anynet conformance" + (" (strictest)" if args.strictest else "")
        Path(args.report).write_text(results.markdown(title, by_module=args.by_module))
        print(f"wrote {args.report}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
