"""The layout's rules: no import circles inside anynet/, and training/saving never import the model."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_files() -> dict[str, Path]:
    files = {}
    for path in (ROOT / "anynet").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        files[".".join(parts)] = path
    for path in (ROOT / "backends").glob("*.py"):
        files["anynet.backends" + ("" if path.stem == "__init__" else f".{path.stem}")] = path
    return files


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def import_graph() -> dict[str, set[str]]:
    """Return, per anynet module, the anynet modules it imports anywhere (functions too), but not
    under ``if TYPE_CHECKING:``."""
    files = _module_files()
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_lines(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in files and t != name}
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        state[n] = 2
        path.pop()
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for m in graph[todo.pop()]:
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def test_the_guard_sees_imports_inside_functions(tmp_path):
    graph = import_graph()
    assert "anynet.model" in graph["anynet.sequential"]
    assert "anynet.layers.core" in graph["anynet.layers"]
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_no_import_circles_inside_anynet():
    graph = import_graph()
    # The package's __init__ imports everything; a submodule importing the package itself
    # (``from anynet import __version__``) would close a circle, so it is checked as well.
    assert _cycle(graph) is None, f"import circle: {' -> '.join(_cycle(graph))}"


def test_training_and_saving_do_not_import_the_model():
    graph = import_graph()
    for module in ("anynet.training", "anynet.epoch", "anynet.saving", "anynet.callbacks", "anynet.graph",
                   "anynet.layers", "anynet.optimize", "anynet.gradcheck"):
        reached = _reach(graph, module)
        assert not reached & {"anynet.model", "anynet.sequential", "anynet"}, (module, sorted(reached))
    assert {"anynet.training", "anynet.saving", "anynet.graph"} <= graph["anynet.model"]
