"""No import cycle in ``src/``: every import counts, at module level, inside a function or under
``TYPE_CHECKING`` (a lazy import hides a cycle from Python, not from the reader). The one edge
left out is a package's ``__init__`` importing its own submodules (re-exports)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def _modules(root: Path) -> dict[str, Path]:
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that ``module`` imports anywhere in its source."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:  # `from package import submodule` imports the submodule
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    own = path.name == "__init__.py"
    return {
        target
        for target in targets
        if target in modules and target != module and not (own and target.startswith(module + "."))
    }


def import_graph(root: Path = SRC) -> dict[str, set[str]]:
    modules = _modules(root)
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> Iterator[list[str]]:
    """One shortest cycle through each strongly connected component of more than one module
    (Tarjan's algorithm, then a breadth-first search inside the component)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    for component in components:
        start = min(component)
        paths, seen = [[start]], {start}
        while paths:
            path = paths.pop(0)
            following = sorted(graph[path[-1]] & component)
            if start in following:
                yield [*path, start]
                break
            for target in following:
                if target not in seen:
                    seen.add(target)
                    paths.append([*path, target])


def test_src_has_no_import_cycle() -> None:
    found = [" -> ".join(cycle) for cycle in cycles(import_graph())]
    assert found == [], "import cycles in src/:\n" + "\n".join(found)


def test_the_check_finds_a_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg import a\n")  # a re-export: not a cycle
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def f():\n    from pkg import c\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n"
    )
    assert list(cycles(import_graph(tmp_path))) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]


def test_every_function_has_its_url_variable() -> None:
    """The settings name the functions (so they need not import them): the same, in order."""
    from prompt_ledger.functions import FUNCTIONS
    from prompt_ledger.settings import FUNCTION_NAMES

    assert tuple(FUNCTIONS) == FUNCTION_NAMES
