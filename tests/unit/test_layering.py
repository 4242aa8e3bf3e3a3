"""The layers point one way (README "Architecture"): sync composes scoring and connectors;
scoring reads only connectors' records; connectors know neither; the sandbox is a test and demo
tool that no deployed module imports. Every import counts: top-level, inside functions and under
TYPE_CHECKING."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("connectors", "scoring", "sync")

# package → the packages (or exact modules) it may import from leadq's own code
ALLOWED: dict[str, tuple[str, ...]] = {
    "connectors": ("connectors",),
    "scoring": ("scoring", "connectors.records"),
    "sync": ("sync", "scoring", "connectors"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every absolute module `path` imports (`from a.b import c` gives a.b and a.b.c)."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def own_modules(package: str) -> dict[str, Path]:
    return {module_name(path): path for path in sorted((ROOT / package).rglob("*.py"))}


def production_modules() -> dict[str, Path]:
    return {name: path for package in PRODUCTION for name, path in own_modules(package).items()}


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def wrong_way_imports(modules: dict[str, Path]) -> list[str]:
    first_party = (*PRODUCTION, "sandbox", "benchmarks", "tests")
    problems = []
    for name, path in modules.items():
        allowed = ALLOWED[name.split(".")[0]]
        for imported in imported_modules(path):
            if not any(within(imported, package) for package in first_party):
                continue
            if not any(within(imported, prefix) for prefix in allowed):
                problems.append(f"{name} imports {imported}")
    return sorted(set(problems))


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """Cycles among leadq's own modules (Tarjan's strongly connected components)."""
    graph = {
        name: sorted({m for m in imported_modules(path) if m in modules and m != name})
        for name, path in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for neighbour in graph[node]:
            if neighbour not in index:
                visit(neighbour)
                low[node] = min(low[node], low[neighbour])
            elif neighbour in on_stack:
                low[node] = min(low[node], index[neighbour])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for name in graph:
        if name not in index:
            visit(name)
    return cycles


def test_imports_point_only_down_the_layers() -> None:
    assert wrong_way_imports(production_modules()) == []


def test_no_deployed_module_imports_the_sandbox() -> None:
    sandbox_imports = [
        f"{name} imports {imported}"
        for name, path in production_modules().items()
        for imported in imported_modules(path)
        if within(imported, "sandbox")
    ]
    assert sandbox_imports == []


def test_leadq_modules_import_each_other_without_a_cycle() -> None:
    assert import_cycles(production_modules()) == []


def test_the_check_sees_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden.py"
    hidden.write_text("def later():\n    from sync.settings import Settings\n    return Settings\n")
    assert "sync.settings" in set(imported_modules(hidden))
