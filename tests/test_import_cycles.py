"""No import cycle inside any package: every module's imports, read from the source with `ast`.

Imports inside functions count (a lazy import only hides a cycle until the function runs);
those under ``if TYPE_CHECKING:`` do not (they never run). An edge goes to the module a
statement imports: ``from . import elements`` to ``elements``, ``from .frames import
Frame`` to ``frames``, ``from mvl.dicom import survey`` to the package's ``__init__``.
Needs nothing installed: it reads ``packages/*/src``.
"""

from __future__ import annotations

import ast
import pathlib
from collections.abc import Iterator

import pytest
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {
    path.parent.name: tomllib.loads(path.read_text())["tool"]["mvl"]["import-name"]
    for path in sorted(ROOT.glob("packages/*/pyproject.toml"))
}


def package_modules(package: str) -> dict[str, tuple[pathlib.Path, bool]]:
    """Every module of `package` by dotted name: (file, whether it is a package's ``__init__``)."""
    source = ROOT / "packages" / package / "src"
    base = source.joinpath(*PACKAGES[package].split("."))
    modules = {}
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(source).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(module: str, path: pathlib.Path, is_package: bool, known: set[str]) -> set[str]:
    """The modules among `known` that `module` imports."""
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name:
                    found.add(name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{node.module}" if node.module else anchor
            else:
                base = node.module or ""
            for alias in node.names:
                if f"{base}.{alias.name}" in known:
                    found.add(f"{base}.{alias.name}")
                elif base in known:
                    found.add(base)
    found.discard(module)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def import_graph(package: str) -> dict[str, set[str]]:
    modules = package_modules(package)
    known = set(modules)
    return {name: imported_modules(name, path, is_package, known) for name, (path, is_package) in modules.items()}


def test_the_check_finds_cycles_and_reads_imports_as_python_does(tmp_path):
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "from .other import name\n"
        "from .. import parent_thing\n"
        "if TYPE_CHECKING:\n"
        "    from .typed import Only\n"
        "def lazy():\n"
        "    import p.q.lazy\n"
    )
    known = {"p", "p.q", "p.q.m", "p.q.sibling", "p.q.other", "p.q.typed", "p.q.lazy"}
    assert imported_modules("p.q.m", source, False, known) == {"p", "p.q.sibling", "p.q.other", "p.q.lazy"}


@pytest.mark.parametrize("package", list(PACKAGES))
def test_no_import_cycle_inside_the_package(package):
    found = cycles(import_graph(package))
    assert not found, f"{package}: modules that import each other: " + "; ".join(" <-> ".join(c) for c in found)
