"""Packaging and the portable-core rule."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Modules of the core that may import numpy, because they handle host-side data: files,
# scipy's float64 vectors, seeded initial weights drawn on the host.
NUMPY_ALLOWED = {
    "anynet/backend.py",       # host data (lists, NumPy arrays) handed to a backend
    "anynet/initializers.py",  # weights drawn on the host from a seeded Generator
    "anynet/params.py",        # the initial flat vector assembled on the host
    "anynet/model.py",         # the host Generator that shuffles, get/set_weights as NumPy
    "anynet/validation.py",    # dtype kinds of host data
    "anynet/gradcheck.py",     # the float64 host copy of the gradient it compares
    "anynet/cli.py", "anynet/plot.py", "anynet/reports.py",  # host data sets, figures and reports
    "anynet/saving.py", "anynet/tensorfile.py",  # model files: host copies of params, raw bytes
    "anynet/chunked.py", "anynet/chunked_fit.py",  # float64 host vectors summed over chunks, for scipy
}
FORBIDDEN = {"cupy", "torch", "jax", "dask", "distributed"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_core_imports_no_concrete_array_library():
    files = sorted((ROOT / "anynet").rglob("*.py"))
    assert files
    for f in files:
        rel = f.relative_to(ROOT).as_posix()
        mods = _imports(f)
        assert not mods & FORBIDDEN, f"{rel} imports {sorted(mods & FORBIDDEN)}"
        if "numpy" in mods:
            assert rel in NUMPY_ALLOWED or rel.startswith(("anynet/datasets/", "anynet/optimize")), \
                f"{rel} imports numpy but is not in the host-side allow-list"


@pytest.mark.slow
def test_wheel_holds_anynet_backends_and_no_top_level_backends(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("anynet_nn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    expected = {f"anynet/backends/{p.name}" for p in (ROOT / "backends").glob("*.py")}
    expected |= {f"anynet/{p.relative_to(ROOT / 'anynet').as_posix()}" for p in (ROOT / "anynet").rglob("*.py")}
    assert expected <= set(names), sorted(expected - set(names))
    assert "anynet/__init__.py" in names
    assert not [n for n in names if n.startswith("backends/")]


def test_entry_point_adapter_is_found_and_selected(tmp_path):
    """A third-party adapter installed through the 'anynet.backends' entry point is usable."""
    (tmp_path / "fake_anynet_backend.py").write_text(textwrap.dedent('''
        import array_api_compat.numpy
        import numpy as np
        from anynet.backends import Backend

        class Fake(Backend):
            name = "fake"
            library = "numpy"
            def namespace(self):
                return array_api_compat.numpy
            def devices(self):
                return ["cpu"]
            def default_device(self):
                return "cpu"
            def owns(self, x):
                return False

        adapter = Fake()
    '''))
    info = tmp_path / "fake_anynet_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-anynet-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[anynet.backends]\nfake = fake_anynet_backend:adapter\n")
    code = textwrap.dedent('''
        import anynet
        assert "fake" in anynet.backends.names(), anynet.backends.names()
        with anynet.using("fake") as p:
            print(p.backend.name, p.device)
        print([s.name for s in anynet.backends.available()])
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "fake cpu"
    assert "'fake'" in out.stdout.splitlines()[1]
