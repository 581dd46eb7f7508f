"""The package's shape: folders are layers, lower layers never import higher ones, no cycles.

Read from the source (``ast``), not by importing it, so every import counts:
module level, inside functions (deferred imports), and under
``TYPE_CHECKING`` (a type-only cycle is still two modules that need each
other). Imports by name in a string (the command table in ``cli``, the lazy
names of the package's ``__init__``) are not seen; both point down.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import attrs

PACKAGE = "orkestra_trio"
SOURCE = Path(__file__).resolve().parent.parent / "src" / PACKAGE

#: Lowest first. A module may import its own folder and any folder of a lower
#: layer; folders of one layer stay independent of each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    # Leaf helpers: import nothing of ours.
    ("_version", "_httpbody", "_h1serve"),
    # The Katalog language (pure); who a request comes from.
    ("katalog", "auth"),
    # Speaking HTTP: the Kubernetes client, ONCOP, the embedded API server, the
    # admission webhook server a real cluster calls.
    ("kube", "oncop", "apiserver", "webhook"),
    # What runs: the runtime; what deploys it (RBAC and manifests from Katalogs).
    ("runtime", "deploy"),
    # Around a runtime: its HTTP surface and Control Center; the test kit.
    ("web", "testing"),
    # One module per sub-command.
    ("commands",),
    # The command line.
    ("cli",),
    # Entry points: ``python -m orkestra_trio``; the public façade (the package's __init__).
    ("__main__", "__init__"),
)


@attrs.frozen
class Import:
    importer: str  # dotted module name
    imported: str
    path: Path
    line: int


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package under ``root``."""
    names = {}
    for path in root.rglob("*.py"):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def imports(root: Path, package: str) -> list[Import]:
    """Every import of one of the package's modules by another, wherever it is written."""
    modules = module_names(root, package)
    found = []
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - node.level + 1]
                    source = ".".join([*base, node.module] if node.module else base)
                else:
                    source = node.module or ""
                # ``from pkg import sub`` imports the module ``pkg.sub``; a name
                # defined in ``pkg/__init__.py`` is an import of ``pkg``.
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in modules else source)
            for target in dict.fromkeys(targets):
                if target in modules and target != name:
                    found.append(Import(name, target, path, node.lineno))
    return found


def cycles(edges: Iterable[Import]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.importer, set()).add(edge.imported)
        graph.setdefault(edge.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
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
    return groups


def folder(module: str) -> str:
    """The layer unit of a module: its folder under the package, or its own name at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(edges: Iterable[Import], layers: tuple[tuple[str, ...], ...]) -> list[Import]:
    """Imports of a higher layer, or of another folder of the same layer."""
    rank: Mapping[str, int] = {name: i for i, names in enumerate(layers) for name in names}
    wrong = []
    for edge in edges:
        mine, theirs = folder(edge.importer), folder(edge.imported)
        if mine != theirs and rank[theirs] >= rank[mine]:
            wrong.append(edge)
    return wrong


def _where(edge: Import) -> str:
    return f"{edge.path.relative_to(SOURCE.parent)}:{edge.line}: imports {edge.imported}"


def test_every_folder_has_a_layer() -> None:
    placed = {name for names in LAYERS for name in names}
    present = {folder(name) for name in module_names(SOURCE, PACKAGE)}
    assert present - placed == set(), "new folders: add them to LAYERS in tests/test_layers.py"
    assert placed - present == set(), "LAYERS names folders that no longer exist"


def test_no_import_cycles() -> None:
    edges = imports(SOURCE, PACKAGE)
    found = cycles(edges)
    details = [
        _where(edge)
        for group in found
        for edge in edges
        if edge.importer in group and edge.imported in group
    ]
    assert found == [], "import cycles:\n" + "\n".join(details)


def test_lower_layers_never_import_higher_ones() -> None:
    wrong = upward_imports(imports(SOURCE, PACKAGE), LAYERS)
    assert wrong == [], "imports against the layer order:\n" + "\n".join(map(_where, wrong))


def test_the_checks_see_cycles_and_upward_imports(tmp_path: Path) -> None:
    """The checks above on a small package with one of each fault: a deferred-import
    cycle, a type-only cycle, and a low layer importing a high one."""
    files = {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from pkg.low import b\n",
        "low/b.py": "from . import a\n",
        "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import D\n",
        "low/d.py": "from pkg.low.c import C\n",
        "low/e.py": "import pkg.high.x\n",
        "high/__init__.py": "",
        "high/x.py": "from pkg.low import a\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    edges = imports(tmp_path, "pkg")
    assert cycles(edges) == [["pkg.low.a", "pkg.low.b"], ["pkg.low.c", "pkg.low.d"]]
    wrong = upward_imports(edges, (("low",), ("high",), ("__init__",)))
    assert [(edge.importer, edge.imported, edge.line) for edge in wrong] == [
        ("pkg.low.e", "pkg.high.x", 1)
    ]
