"""The package's layout holds: one floor per pipeline stage, imports only downwards, no cycles.

Every import in attncc/ (module-level and inside functions alike) is read with `ast`, resolved to
the module it names, and checked against FLOORS (docs/architecture.md states the rule): an
import may go to its own floor or a lower one, never up, and the module graph has no cycle.
The checkers are also tried on graphs with a known violation, so a green run means something.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "attncc"

# The floors, lowest first: commands -> inspect -> bench -> checks -> driver -> codegen -> symbolic ->
# language -> ir, with runtime (copied into generated modules: standard library only) and the
# package's small top-level modules at the bottom. The package root (attncc/__init__.py, the
# public API) and __main__ stand above everything.
FLOORS = {
    "_version": 0, "resources": 0, "runtime": 0,
    "ir": 1,
    "language": 2,
    "symbolic": 3,
    "codegen": 4,
    "driver": 5,
    "checks": 6,
    "bench": 7,
    "inspect": 8,
    "commands": 9,
    "__init__": 10, "__main__": 11,
}
TOP_LEVEL_MODULES = {"__init__", "__main__", "_version", "resources"}
MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "_data" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The attncc modules `path` (module `name`) imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "attncc"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "attncc":
                continue
            # `from pkg import sub` imports the module pkg.sub when there is one.
            subs = {f"{target}.{alias.name}" for alias in node.names} & known
            found |= subs or {target}
            if subs and len(subs) < len(node.names):
                found.add(target)
    return found - {name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def floor_of(module: str) -> tuple[str, int]:
    parts = module.split(".")
    unit = parts[1] if len(parts) > 1 else "__init__"
    return unit, FLOORS.get(unit, -1)


def violations(edges: dict[str, set[str]]) -> list[str]:
    """Imports that go up a floor, and modules on no floor."""
    found = []
    for src, targets in sorted(edges.items()):
        src_unit, src_floor = floor_of(src)
        if src_floor < 0:
            found.append(f"{src}: '{src_unit}' is on no floor; add it to FLOORS and docs/architecture.md")
        for dst in sorted(targets):
            dst_unit, dst_floor = floor_of(dst)
            if dst_floor > src_floor:
                found.append(f"{src} imports {dst}: {src_unit} (floor {src_floor}) may not import "
                             f"{dst_unit} (floor {dst_floor})")
    return found


def find_cycle(edges: dict[str, set[str]]):
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def test_every_import_goes_down_the_floors():
    assert violations(graph()) == []


def test_there_is_no_import_cycle():
    assert find_cycle(graph()) is None


def test_the_checkers_catch_an_upward_import_a_cycle_and_an_unplaced_folder():
    assert violations({"attncc.ir.nodes": {"attncc.codegen.render"}}) == [
        "attncc.ir.nodes imports attncc.codegen.render: ir (floor 1) may not import codegen (floor 4)"]
    assert "is on no floor" in violations({"attncc.extras.x": set()})[0]
    assert violations({"attncc.codegen.render": {"attncc.ir.nodes", "attncc.runtime.schedule"}}) == []
    cyclic = {"attncc.codegen.a": {"attncc.codegen.b"}, "attncc.codegen.b": {"attncc.codegen.c"},
              "attncc.codegen.c": {"attncc.codegen.a"}}
    assert find_cycle(cyclic) == ["attncc.codegen.a", "attncc.codegen.b", "attncc.codegen.c", "attncc.codegen.a"]
    assert find_cycle({"attncc.codegen.a": {"attncc.codegen.b"}, "attncc.codegen.b": set()}) is None


def test_the_resolver_sees_relative_lazy_and_submodule_imports(tmp_path):
    source = ("from .. import ir\nfrom ..symbolic.derive import derive\n"
              "def f():\n    from . import triton_printer as p\n    from ..runtime import schedule\n")
    path = tmp_path / "render.py"
    path.write_text(source)
    known = {"attncc.ir", "attncc.symbolic.derive", "attncc.codegen.triton_printer", "attncc.runtime.schedule"}
    assert imports_of("attncc.codegen.render", path, known) == known


def test_runtime_uses_the_standard_library_only():
    """Generated modules carry runtime/ verbatim: it can import nothing of attncc, torch or triton."""
    for path in sorted((PACKAGE / "runtime").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path.name}: a relative import"
            for name in names:
                assert name.split(".")[0] in sys.stdlib_module_names, f"{path.name} imports {name}"


def test_the_layout_is_a_few_top_level_modules_and_one_folder_per_floor():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top == TOP_LEVEL_MODULES
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name not in ("__pycache__", "_data")}
    assert folders == {unit for unit in FLOORS if unit not in TOP_LEVEL_MODULES}
    for folder in sorted(folders):
        doc = ast.get_docstring(ast.parse((PACKAGE / folder / "__init__.py").read_text()))
        assert doc and "Imports:" in doc, f"attncc/{folder}/__init__.py: say what it holds and what it may import"


def test_no_module_is_over_the_line_budget():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
