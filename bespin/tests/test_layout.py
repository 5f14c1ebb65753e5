"""The layout's rules, read from the source: the project package imports no app, the apps
import one way (jobs below the apps built on it), and no module imports itself back through
others, not even from inside a function."""

import ast
from collections import defaultdict

from bespin.testing.processes import ROOT

APPS = ("accounts", "jobs", "schedules", "webhooks", "callbacks", "ops")
# Which apps each may import. jobs knows none of the others (they plug into jobs.extensions),
# nor does accounts (callbacks plugs into accounts.extensions); ops reads every app.
MAY_IMPORT = {
    "bespin": set(),
    "accounts": set(),
    "jobs": set(),
    "schedules": {"jobs"},
    "webhooks": {"jobs"},
    "callbacks": {"jobs", "accounts"},
    "ops": {"jobs", "webhooks", "callbacks", "schedules"},
}


def _modules() -> dict[str, ast.Module]:
    """Every module of the project and its apps that runs in a server or a worker: not tests,
    not the helpers tests share, not migrations."""
    found = {}
    for package in ("bespin", *APPS):
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if {"tests", "testing", "migrations"} & set(parts):
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = ast.parse(path.read_text())
    return found


MODULES = _modules()


def _imports(tree: ast.Module) -> set[str]:
    """The project's modules `tree` imports anywhere in it (functions included): for
    `from a.b import c`, `a.b.c` when that is a module, else `a.b`."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                imported.add(name)
    return imported


GRAPH = {name: _imports(tree) - {name} for name, tree in MODULES.items()}


def test_each_package_imports_only_what_it_may():
    wrong = defaultdict(set)
    for name, imported in GRAPH.items():
        package = name.split(".")[0]
        for other in imported:
            target = other.split(".")[0]
            if target != package and target != "bespin" and target not in MAY_IMPORT[package]:
                wrong[name].add(other)
            if package == "bespin" and target != "bespin":
                wrong[name].add(other)
    assert not wrong, f"imports against the layout: {dict(wrong)}"


def test_no_module_imports_itself_back():
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for other in sorted(GRAPH[name]):
            if state.get(other) == 1:
                cycles.append(path[path.index(other) :] + [other])
            elif other not in state:
                visit(other)
        path.pop()
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def test_the_rules_see_the_whole_tree():
    # A check that read nothing would pass: the graph holds every app and real edges.
    assert {name.split(".")[0] for name in MODULES} == {"bespin", *APPS}
    assert "jobs.services.creation" in GRAPH["jobs.api.views"]
    assert "jobs.extensions" in GRAPH["schedules.services"]
    assert "accounts.extensions" in GRAPH["callbacks.apps"]
