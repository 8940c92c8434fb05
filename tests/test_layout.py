"""The package layout: no import cycles (not even behind function-level imports), every module imports in a fresh
interpreter in dependency order, and `import rag` loads nothing heavy."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "ui")
HEAVY = ("torch", "sentence_transformers", "faiss", "bm25s", "xllamacpp", "gradio", "numpy", "transformers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: path for name, path in found.items() if not name.endswith("__main__")}


def imported(path: Path, known: set[str], name: str) -> set[str]:
    """Every module of `known` that `path` imports anywhere (functions included), except for type checking."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking = {
        id(node)
        for stmt in ast.walk(tree)
        if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)
        for inner in stmt.body
        for node in ast.walk(inner)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in checking:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imported(path, set(found), name) for name, path in found.items()}


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None
    assert set(order) == set(graph)


def test_every_module_imports_in_a_fresh_interpreter_in_dependency_order():
    order = [m for m in graphlib.TopologicalSorter(import_graph()).static_order()]
    code = (
        "import importlib, sys\n"
        f"for name in {order!r}:\n"
        "    importlib.import_module(name)\n"
        "print(len(sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_import_rag_loads_nothing_heavy():
    code = f"import sys, rag; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_the_engine_never_imports_the_ui():
    graph = import_graph()
    assert not {(m, d) for m, deps in graph.items() if m.startswith("rag") for d in deps if d.startswith("ui")}
