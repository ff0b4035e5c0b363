"""The layout, read from the source: which module may import which.

The role is the unit of the code (docs/design.md, "Layout"). These tests read
every module with :mod:`ast` — imports at the top and the lazy ones inside
functions alike — and check the three rules that keep it so:

- nothing under ``edge/`` imports a role package (``edge/roles.py`` names the
  roles only as strings, so a camera board never loads pygame);
- a role imports no other role's modules: only its own, the shared modules at
  its package's top (the hall's rules, the ЦНАП protocol), ``edge`` and
  third-party code;
- the modules of one role import each other without a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROLE_PACKAGES = ("voting", "kiosk", "cameras", "power")
# The roles: a subpackage each, or the whole package when it is one role.
ROLES = ("voting.hall", "voting.console", "voting.display",
         "kiosk.queue", "kiosk.terminal", "kiosk.calling",
         "cameras", "power")
# Demos compose several roles of their package on one machine, by design.
COMPOSERS = ("voting.demo", "kiosk.demo")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for top in ("edge", "provisioning", *ROLE_PACKAGES):
        for path in sorted((ROOT / top).rglob("*.py")):
            out[module_name(path)] = path
    return out


MODULES = all_modules()


def imports_of(name: str) -> set[str]:
    """Every project module ``name`` imports, at the top or lazily, resolved to a module of the tree."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            resolved = _resolve(target)
            if resolved and resolved != name:
                found.add(resolved)
    return found


def _resolve(target: str) -> str | None:
    """The longest prefix of a dotted name that is a module of the tree."""
    parts = target.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def role_of(name: str) -> str | None:
    for role in ROLES:
        if name == role or name.startswith(role + "."):
            return role
    return None


def in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_the_graph_reader_sees_top_level_lazy_and_relative_imports(tmp_path: Path) -> None:
    # The rules below are only as good as this reader: prove it on known imports.
    assert "edge.roles" in imports_of("edge.node")
    lazy = {n for n in MODULES if n.startswith("edge.") and "edge.hub.registry" in imports_of(n)}
    assert "edge.cli" in lazy  # imported inside a function
    assert "voting.rules" in imports_of("voting.hall.model")


def test_edge_imports_no_role_package() -> None:
    wrong = {name: sorted(i for i in imports_of(name) if i.split(".")[0] in ROLE_PACKAGES)
             for name in MODULES if in_package(name, "edge")}
    assert {k: v for k, v in wrong.items() if v} == {}


def test_a_role_imports_no_other_roles_modules() -> None:
    wrong: dict[str, list[str]] = {}
    for name in MODULES:
        role = role_of(name)
        top = name.split(".")[0]
        if top not in ROLE_PACKAGES:
            continue
        for target in imports_of(name):
            if target.split(".")[0] not in ROLE_PACKAGES:
                continue  # edge, provisioning: shared by every role
            other = role_of(target)
            if role is None:
                # a shared module at a package's top: only its own package's shared modules
                allowed = name in COMPOSERS and in_package(target, top) or (
                    other is None and in_package(target, top))
            else:
                allowed = other == role or (other is None and in_package(target, top))
            if not allowed:
                wrong.setdefault(name, []).append(target)
    assert wrong == {}


@pytest.mark.parametrize("role", ROLES)
def test_the_modules_of_a_role_import_each_other_without_a_cycle(role: str) -> None:
    graph = {n: {i for i in imports_of(n) if role_of(i) == role and i != role}
             for n in MODULES if role_of(n) == role and n != role}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


@pytest.mark.parametrize("role", ROLES)
def test_every_role_has_its_composition_root_and_settings(role: str) -> None:
    assert f"{role}.role" in MODULES
    assert f"{role}.settings" in MODULES
