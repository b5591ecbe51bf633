"""The layout holds: no module imports one that imports it back, and the plain
modules (no Django) stay plain. Read from the source (every import, also those
inside functions), so a cycle hidden in a function body counts too."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("annotations", "workbench")
# Modules that must import no Django, directly or through the project's modules.
PLAIN = (
    "annotations.segmentation",
    "annotations.importing",
    "annotations.agreement",
    "annotations.assignment",
    "annotations.snapshot",
    "annotations.scheme_data",
    "annotations.export.columns",
    "annotations.export.rows",
    "annotations.export.writers",
    "annotations.export.codebook",
    "annotations.suggesting",
    "annotations.suggesting.suggester",
    "annotations.suggesting.train",
    "annotations.suggesting.evaluate",
    "annotations.suggesting.candidates",
    "annotations.suggesting.external",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # "from x import y" names module x.y when there is one, else x.
            candidates = [
                f"{prefix}.{alias.name}"
                if f"{prefix}.{alias.name}" in known
                else prefix
                for alias in node.names
            ]
        else:
            continue
        for candidate in candidates:
            # The deepest project module the import names.
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions_and_relative_ones():
    graph = import_graph()
    assert "annotations.models" in graph["annotations.services"]
    assert "annotations.export.cells" in graph["annotations.services"]
    assert "annotations.export.rows" in graph["annotations.export.writers"]
    assert (
        "annotations.bench.runner"
        in graph["annotations.bench.management.commands.bench"]
    )


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_that_imports_it_back():
    assert cycles(import_graph()) == []


@pytest.mark.parametrize("name", PLAIN)
def test_plain_module_imports_no_django_in_its_source_or_its_imports(name):
    graph = import_graph()
    modules = project_modules()
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        source = modules[current].read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for imported in names:
                assert imported.split(".")[0] not in {"django", "simple_history"}, (
                    f"{current} (reached from {name}) imports {imported}"
                )
        todo += graph[current]


def test_plain_modules_run_without_django_loaded():
    """Imported in a fresh interpreter: not one django module gets loaded."""
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in PLAIN)
        + "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"
