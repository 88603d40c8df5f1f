"""The layout keeps its promises: no import cycle among the project's modules, and small modules.

The import graph is built from the source (ast), not by importing, so a cycle that only a lazy import
inside a function closes is found too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE_FOLDER = ROOT / "HeartbleedServerCertificate"  # a package root: its modules import as heartbleed.*
SOURCES = [RULE_FOLDER, ROOT / "heartbleed_audit", ROOT / "bench", ROOT / "build_tools", ROOT / "tests"]
MODULE_LINES = 400  # at most, outside tests/


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules(sources: list[Path]) -> dict[str, Path]:
    """Every module by the name it is imported as: the rule folder and tests/ are roots, the rest packages."""
    modules = {}
    for source in sources:
        root = source if source.name in (RULE_FOLDER.name, "tests") else source.parent
        for path in sorted(source.rglob("*.py")):
            modules[module_name(path, root)] = path
    return modules


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules that the module imports anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def known(dotted: str) -> str | None:
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            # `from package import module` imports the module; `from module import name` the module.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found |= {target for target in map(known, targets) if target and target != name}
    return found


def import_graph(sources: list[Path]) -> dict[str, set[str]]:
    modules = project_modules(sources)
    return {name: imported(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of module names (first and last the same), or None."""
    state: dict[str, str] = {}  # "open" while on the current path, then "done"
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = "open"
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[name] = "done"
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)):
            return cycle
    return None


def test_the_project_has_no_import_cycle() -> None:
    graph = import_graph(SOURCES)
    assert graph["heartbleed_audit.cli"] >= {"heartbleed_audit.audit_command", "heartbleed.clients"}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_a_cycle_through_a_lazy_relative_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "runners"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("from . import pacing\n")
    (package / "pacing.py").write_text("def run() -> None:\n    from .main import helper\n")
    (package / "storm.py").write_text("from runners.main import helper\n")
    graph = import_graph([package])
    assert graph["runners.storm"] == {"runners.main"}
    assert find_cycle(graph) == ["runners.main", "runners.pacing", "runners.main"]


def test_no_module_outside_the_tests_passes_the_line_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in project_modules(SOURCES[:-1]).values()
        if (lines := len(path.read_text().splitlines())) > MODULE_LINES
    }
    assert long == {}


MAP_LINE = re.compile(r"^( {0,2})([a-z_]+/?) {2,}\S")  # "name  what", "sub/  what", "  name  what" under sub/


def package_map(docstring: str) -> list[str]:
    """The modules a package map names, one a line, a subpackage's under its "sub/" line, indented by two."""
    names, package = [], ""
    for indent, word in (match.groups() for match in map(MAP_LINE.match, docstring.splitlines()) if match):
        if word.endswith("/"):
            package = word
        else:
            names.append(package + word if indent else word)
    return names


def test_the_core_package_map_names_every_module_once() -> None:
    package = RULE_FOLDER / "heartbleed"
    modules = sorted(
        str(path.relative_to(package).with_suffix("")) for path in package.rglob("*.py") if path.stem != "__init__"
    )
    named = package_map(ast.get_docstring(ast.parse((package / "__init__.py").read_text())) or "")
    assert sorted(named) == modules
    assert len(named) == len(set(named))
    assert package_map("core\n\nverdict   the verdict\nledger/   the ledger:\n  store   a table\n") == [
        "verdict",
        "ledger/store",
    ]
