"""The two commands of a fresh clone: `make demo` and `make test` set up what is missing
and run what README.md and CI say; `.ci/run` is `make test` in a fresh environment."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(target: str, venv: Path, **variables: str) -> list[str]:
    args = ["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={venv}", *(f"{k}={v}" for k, v in variables.items())]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return [line.strip() for line in p.stdout.splitlines() if line.strip() and not line.startswith("#")]


def _readme_block(heading: str, lang: str = "bash") -> str:
    section = README[README.index(f"## {heading}\n"):]
    return re.search(rf"```{lang}\n(.*?)```", section, re.S).group(1)


def test_quickstart_begins_with_the_two_commands():
    quick = README[README.index("## Quickstart\n"):]
    first = re.search(r"```(\w+)\n(.*?)```", quick, re.S)
    assert first.group(1) == "bash"
    assert [line.split("#")[0].strip() for line in first.group(2).splitlines()] == ["make demo", "make test"]


def test_make_demo_sets_up_a_missing_venv_as_the_readme_says_then_trains(tmp_path):
    venv = tmp_path / "v"
    lines = _dry_run("demo", venv)
    assert lines[0] == f"python3 -m venv {venv}"
    pip = f"{venv}/bin/python -m pip install -q "
    assert lines[1:3] == [pip + "--upgrade pip", pip + '-e ".[plot]"'] and lines[-1] == f"{venv}/bin/anynet train"
    install = _readme_block("Install")
    for cmd in ("--upgrade pip", '-e ".[plot]"'):
        assert f"python -m pip install {cmd}" in install


def test_make_test_installs_torch_first_then_runs_the_suite_and_the_strictest_pass(tmp_path):
    venv = tmp_path / "v"
    lines = _dry_run("test", venv)
    pip = f"{venv}/bin/python -m pip install -q "
    assert lines[:4] == [f"python3 -m venv {venv}", pip + "--upgrade pip", pip + "torch==2.13.0", pip + '-e ".[dev]"']
    text = "\n".join(lines)
    assert f"MPLBACKEND=Agg {venv}/bin/pytest -p no:cacheprovider ; rc=$?;" in text
    assert "if [ $rc -eq 5 ]; then" in text and "exit 1" in text  # "no tests ran" fails
    assert lines[-1] == (f"MPLBACKEND=Agg {venv}/bin/pytest -p no:cacheprovider -q tests/conformance "
                         f"--backend array_api_strict --strictest")
    install = _readme_block("Install")
    assert install.index("torch==2.13.0") < install.index('-e ".[dev]"')
    assert "make test" in _readme_block("Test")


def test_an_installed_venv_is_not_set_up_again(tmp_path):
    venv = tmp_path / "v"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(shutil.which("python3") or "/usr/bin/python3")
    for stamp in (".anynet-demo", ".anynet-dev"):
        (venv / stamp).touch()  # newer than pyproject.toml
    assert _dry_run("demo", venv) == [f"{venv}/bin/anynet train"]
    assert not [line for line in _dry_run("test", venv) if "pip install" in line or "-m venv" in line]
    assert _dry_run("test", venv, ARGS="tests/test_cli.py")[1].startswith(
        f"MPLBACKEND=Agg {venv}/bin/pytest -p no:cacheprovider tests/test_cli.py;")


def test_ci_runs_make_test_in_a_fresh_venv():
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'rm -rf "$venv"' in ci and ci.index('rm -rf "$venv"') < ci.index("exec make test")
    assert 'exec make test VENV="$venv"' in ci
    assert 'ANYNET_DATA="${ANYNET_DATA:-$root/../shared/data}"' in ci and "MPLBACKEND=Agg" in ci


def test_the_command_section_mentions_the_data_root():
    section = README[README.index("## The anynet command\n"):README.index("## Backends\n")]
    assert "ANYNET_DATA" in section and "divides it by 255" in section
