"""The conformance runner (python -m anynet.conformance) and the per-backend xfail files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_xfails

ROOT = Path(__file__).resolve().parents[1]


def _run(args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "anynet.conformance", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_xfail_entries_need_a_reason(tmp_path):
    f = tmp_path / "numpy.txt"
    f.write_text("# comment\n\ntest_forward.*float32   # known rounding defect\n")
    [(pattern, reason)] = read_xfails(f)
    assert pattern.search("tests/conformance/test_model.py::test_forward[float32-numpy-cpu]")
    assert reason == "known rounding defect"
    f.write_text("test_forward\n")
    with pytest.raises(pytest.UsageError, match=r"numpy.txt:1: an xfail entry needs a reason"):
        read_xfails(f)


def test_shipped_xfail_files_parse():
    files = sorted((ROOT / "tests" / "conformance" / "xfails").glob("*.txt"))
    assert {f.stem for f in files} >= {"numpy", "array_api_strict", "torch", "cupy"}
    for f in files:
        read_xfails(f)


def test_report_matrix(tmp_path):
    report = tmp_path / "report.md"
    out = _run(["--backend", "numpy,cupy", "--report", str(report), "--", "-k", "rng_state_round_trip or namespace"])
    assert out.returncode == 0, out.stdout + out.stderr
    text = report.read_text()
    assert "| feature | cupy-unavailable | numpy-cpu |" in text
    assert "| adapter: rng_state_round_trip | skip | pass 1 |" in text
    assert "- cupy-unavailable: cupy: " in text  # the reason for the skip


def test_a_listed_test_that_passes_fails_the_run(tmp_path):
    """xfail entries are strict: a fixed defect (XPASS) must be removed from the file."""
    (tmp_path / "numpy.txt").write_text("test_rng_state_round_trip  # pretend defect\n")
    report = tmp_path / "report.md"
    out = _run(["--backend", "numpy", "--report", str(report), "--", "-k", "rng_state_round_trip"],
               env={"ANYNET_XFAIL_DIR": str(tmp_path)})
    assert out.returncode == 1
    assert "| adapter: rng_state_round_trip | FAIL 1/1 |" in report.read_text()
