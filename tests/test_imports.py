"""The run path flows one way: no module imports one above it in the house's order, and no imports go round in a
circle. Function-local imports count as much as top-level ones: they hide an edge, not remove it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flowsim"

#: The house's layers, bottom first: a module may import its own layer and those before it, never a later one.
#: A module is placed by its longest prefix here (the root package, ``flowsim``, by its own name only).
LAYERS: tuple[tuple[str, ...], ...] = (
    (
        "flowsim",
        "flowsim.errors",
        "flowsim.timeline",
        "flowsim.statistics",
        "flowsim.results",
        "flowsim.files",
        "flowsim.survey",
    ),
    ("flowsim.scenario", "flowsim.plan"),
    ("flowsim.engine",),
    ("flowsim.measures", "flowsim.tables", "flowsim.finance", "flowsim.programme_2012", "flowsim.text"),
    ("flowsim.workers", "flowsim.rundir", "flowsim.ensemble", "flowsim.structures", "flowsim.progress"),
    ("flowsim.replications", "flowsim.summary"),
    ("flowsim.charts",),
    ("flowsim.report",),
    ("flowsim.run", "flowsim.compare", "flowsim.solve", "flowsim.calibrate", "flowsim.sweep"),
    ("flowsim.console", "flowsim.cli", "flowsim.__main__"),
)


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules that module ``name`` imports, anywhere in it (``from a import b`` imports ``a.b`` if
    that is a module, else ``a``)."""
    root = name.split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                base = ".".join(up[: len(up) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] == root and target != name:
                out.add(target)
    return out


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = modules(package)
    return {name: imports(name, path, known) for name, path in known.items()}


def layer(name: str, layers=LAYERS) -> int:
    """Index of the layer whose longest matching prefix names ``name``."""
    best, where = -1, None
    for i, members in enumerate(layers):
        for prefix in members:
            inside = "." in prefix and name.startswith(prefix + ".")  # the root package holds only itself
            if (name == prefix or inside) and len(prefix) > best:
                best, where = len(prefix), i
    if where is None:
        raise AssertionError(f"{name} is in no layer of tests/test_imports.LAYERS: place it")
    return where


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of modules larger than one (Tarjan), each as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def upward(edges: dict[str, set[str]], layers=LAYERS) -> list[str]:
    """Every import of a module in a later layer than the importer's."""
    return [
        f"{a} (layer {layer(a, layers)}) imports {b} (layer {layer(b, layers)})"
        for a in sorted(edges)
        for b in sorted(edges[a])
        if layer(b, layers) > layer(a, layers)
    ]


def test_no_module_imports_a_later_layer():
    assert upward(graph()) == []


def test_no_imports_go_round_in_a_circle():
    assert cycles(graph()) == []


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "flowsim"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("local", [False, True])
def test_a_planted_cycle_is_found(tmp_path, local):
    """A cycle through a function-local import is still a cycle."""
    indent = "def f():\n    " if local else ""
    root = _package(
        tmp_path,
        {
            "__init__.py": "",
            "rundir.py": f"{indent}from flowsim.report import draw\n",
            "report/__init__.py": "from flowsim.report.html import draw\n",
            "report/html.py": "from flowsim import rundir\n",
        },
    )
    found = cycles(graph(root))
    assert found == [["flowsim.report", "flowsim.report.html", "flowsim.rundir"]]
    assert upward(graph(root)) == ["flowsim.rundir (layer 4) imports flowsim.report (layer 7)"]


def test_a_new_module_must_be_placed(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "helpers.py": "import flowsim\n"})
    with pytest.raises(AssertionError, match="flowsim.helpers is in no layer"):
        upward(graph(root))
