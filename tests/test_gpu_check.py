"""The prepared GPU script (benchmarks/gpu_check.sh) rehearsed on the CPU: it must run to the
end, skip the GPU parts with the reason, keep each part under its own limit, and write its
results under $OUT."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                                reason="needs bash and coreutils' timeout")


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "OUT": str(tmp_path), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **env}
    return subprocess.run(["bash", str(SCRIPT), "run"], cwd=ROOT, env=full, capture_output=True, text=True,
                          timeout=300)


def test_script_parses():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


def test_rehearsal_without_a_gpu_writes_report_and_skips_gpu_parts(tmp_path):
    import anynet as an

    if an.backends.get("cupy").unavailable_reason() is None:
        pytest.skip("a GPU is usable here: the rehearsal is for machines without one")
    r = _run(tmp_path, GPU_CHECK_BACKENDS="cupy")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "no usable GPU here: the GPU parts are skipped" in r.stdout
    report = (tmp_path / "conformance-gpu.md").read_text()
    assert "| feature |" in report and "## Machine" in report and "numpy" in report
    log = (tmp_path / "log.txt").read_text()
    assert "=== summary" in log and "conformance: ok" in log


def test_a_part_that_hangs_is_stopped_at_its_limit_and_reported(tmp_path):
    # A conformance limit of 1 s cannot be met: the part times out, the script goes on to the
    # summary and exits non-zero.
    r = _run(tmp_path, GPU_CHECK_BACKENDS="numpy", GPU_CHECK_LIMITS="30 1 1 1 1")
    assert r.returncode != 0
    assert "conformance: TIMED OUT after 1s" in r.stdout
    assert "=== summary" in r.stdout


def test_usage_is_refused_without_a_verb():
    r = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
