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
# scipy's float64 vectors, seeded initial weights drawn on the host; anynet/sklearn/ holds
# scikit-learn's host-side parts (labels, random states, validation splits).
NUMPY_ALLOWED = {
    "anynet/backend.py",       # host data (lists, NumPy arrays) handed to a backend
    "anynet/initializers.py",  # weights drawn on the host from a seeded Generator
    "anynet/params.py",        # the initial flat vector assembled on the host
    "anynet/model.py",         # the host Generator that shuffles, the seeds
    "anynet/weights.py",       # get/set_weights as NumPy, the initial flat vector
    "anynet/validation.py",    # dtype kinds of host data
    "anynet/gradcheck.py",     # the float64 host copy of the gradient it compares
    "anynet/cli.py", "anynet/plot.py", "anynet/reports.py",  # host data sets, figures and reports
    "anynet/saving.py", "anynet/loading.py", "anynet/tensorfile.py",  # model files: host copies of params, raw bytes
    "anynet/chunked.py", "anynet/chunked_fit.py", "anynet/chunk_program.py",  # float64 host sums over chunks
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
            assert rel in NUMPY_ALLOWED or rel.startswith(("anynet/datasets/", "anynet/optimize", "anynet/sklearn/")), \
                f"{rel} imports numpy but is not in the host-side allow-list"


def _wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(folder), str(ROOT)], check=True, capture_output=True, timeout=300)
    (wheel,) = folder.glob("anynet_nn-*.whl")
    return wheel


@pytest.mark.slow
def test_wheel_holds_anynet_backends_and_no_top_level_backends(tmp_path):
    wheel = _wheel(tmp_path)
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


BASE = {"numpy", "scipy", "array-api-compat", "safetensors", "threadpoolctl"}  # what `pip install anynet-nn` brings


@pytest.mark.slow
def test_a_bare_install_runs_the_main_job(tmp_path):
    """The wheel holds the digits and their license; with only the base requirements (no
    scikit-learn, matplotlib or torch), `anynet train` runs from the installed console script."""
    import importlib.util
    import os
    import re

    wheel = _wheel(tmp_path / "wheel")
    z = zipfile.ZipFile(wheel)
    assert {"anynet/datasets/data/digits.csv.gz", "anynet/datasets/data/README.md"} <= set(z.namelist())
    assert "CC BY 4.0" in z.read("anynet/datasets/data/README.md").decode()
    meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    required = {re.split(r"[ <>=!~;\[]", line.split(": ", 1)[1])[0].lower()
                for line in meta.splitlines() if line.startswith("Requires-Dist: ") and "extra ==" not in line}
    assert required == BASE, required

    # a venv that sees the base requirements and nothing else (no network: they come from this one)
    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    deps = tmp_path / "deps"
    deps.mkdir()
    for name in BASE:
        module = name.replace("-", "_")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, f"{module} is needed for this test"
        # a package (its folder) or a single-file module (threadpoolctl.py)
        where = Path(next(iter(spec.submodule_search_locations))) if spec.submodule_search_locations \
            else Path(spec.origin)
        for p in where.parent.iterdir():  # the package or module, its .libs and its .dist-info
            if p.name in (module, f"{module}.py") or p.name.startswith((f"{module}.libs", f"{module}-")):
                (deps / p.name).symlink_to(p)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    Path(site, "base-deps.pth").write_text(str(deps) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ANYNET_DATA")}
    env.update(MPLBACKEND="Agg", ANYNET_OFFLINE="1", OPENBLAS_NUM_THREADS="1")
    probe = subprocess.run([str(python), "-c", "import importlib.util as u; print([m for m in ('sklearn', "
                            "'matplotlib', 'torch', 'pooch', 'tqdm') if u.find_spec(m)])"],
                           capture_output=True, text=True, timeout=60, env=env)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
    p = subprocess.run([str(bin_dir / "anynet"), "train", "--epochs", "1"], capture_output=True, text=True,
                       timeout=300, cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "anynet train: digits (1437 training / 360 test samples" in p.stdout
    assert re.search(r"test accuracy: [\d.]+% \(\d+/360\)", p.stdout), p.stdout
    assert "not plotted: matplotlib is not installed" in p.stdout
