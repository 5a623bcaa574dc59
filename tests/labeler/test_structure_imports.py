"""The dependency direction, checked on the source: ``views/api -> services/queue/selectors ->
engine -> learning``; tasks call services; nothing below calls back up. Every import counts,
those inside functions too (a function-level import hides a cycle, it does not remove it).

The graph is read with :mod:`ast`, without importing anything: a node per module of
``labeler`` (a package's ``__init__`` is its own node, as it re-exports), an edge per import
statement naming another ``labeler`` module. ``from labeler import engine`` is an edge to
``labeler.engine``; ``from labeler.engine import store`` is one to ``labeler.engine.store`` when
that is a module, else to the package; relative imports are resolved. Migrations are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "labeler"
# What the engine must never reach, directly or through the modules it imports.
ABOVE_THE_ENGINE = (
    "labeler.services",
    "labeler.queue",
    "labeler.tasks",
    "labeler.views",
    "labeler.api",
)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def labeler_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by dotted name, migrations excluded."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        if "migrations" in path.relative_to(root).parts:
            continue
        modules[_module_name(path, root)] = path
    return modules


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name a (possibly relative) ``from`` import refers to."""
    if not level:
        return name or ""
    base = module.split(".")
    # In a package's __init__, "." is the package itself; in a module, its parent.
    base = base[: len(base) - level + (1 if is_package else 0)]
    return ".".join(base + ([name] if name else []))


def _owner(name: str, known: Iterable[str]) -> str | None:
    """The longest known module that ``name`` is or lies inside."""
    known = set(known)
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def imports_of(module: str, source: str, known: Iterable[str], is_package: bool) -> set[str]:
    """The ``labeler`` modules that ``source`` (the text of ``module``) imports, anywhere."""
    known = set(known)
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            # ``from labeler import engine`` names a module; ``from x import func`` does not.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            owner = _owner(target, known)
            if owner is not None and owner != module:
                found.add(owner)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = labeler_modules(root)
    return {
        name: imports_of(name, path.read_text(), modules, path.name == "__init__.py")
        for name, path in modules.items()
    }


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (or a module importing
    itself), each as one cycle through it, by Tarjan's algorithm (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in set(graph.get(node, ())):
                    components.append(_cycle_through(sorted(component), graph))
    return components


def _cycle_through(component: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """One cycle inside a strongly connected component, as a readable path a -> ... -> a."""
    members = set(component)
    start = component[0]
    # Breadth-first from the start back to itself, staying inside the component.
    paths = {
        successor: [start, successor] for successor in sorted(graph[start]) if successor in members
    }
    frontier = list(paths)
    while start not in paths:
        following = []
        for node in frontier:
            for successor in sorted(graph.get(node, ())):
                if successor in members and successor not in paths:
                    paths[successor] = paths[node] + [successor]
                    following.append(successor)
        frontier = following
    return paths[start]


def reachable(graph: Mapping[str, Iterable[str]], start: str) -> dict[str, list[str]]:
    """Every module ``start`` reaches, with the import path that reaches it."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph.get(node, ())):
                if successor not in paths:
                    paths[successor] = paths[node] + [successor]
                    following.append(successor)
        frontier = following
    return paths


def strongly_connected(graph: Mapping[str, Iterable[str]], module: str) -> set[str]:
    """The modules that import ``module`` (directly or not) and that it imports."""
    ahead = set(reachable(graph, module))
    return {other for other in ahead if module in reachable(graph, other)}


def _above_the_engine(name: str) -> bool:
    return any(name == top or name.startswith(f"{top}.") for top in ABOVE_THE_ENGINE)


def engine_reaches_upward(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Import paths from a module of ``labeler.engine`` to services, the queue, tasks, views or
    the API (directly, or through anything it imports)."""
    found: list[list[str]] = []
    for module in sorted(graph):
        if module != "labeler.engine" and not module.startswith("labeler.engine."):
            continue
        for path in reachable(graph, module).values():
            # Up to the first module above the engine: the edge that breaks the rule.
            cut = next((n for n, name in enumerate(path) if _above_the_engine(name)), None)
            if cut is not None and path[: cut + 1] not in found:
                found.append(path[: cut + 1])
    return sorted(found)


def _render(paths: list[list[str]]) -> str:
    return "\n".join(" -> ".join(path) for path in paths)


def test_no_import_cycle_among_labeler_modules():
    graph = import_graph()
    found = cycles(graph)
    report = []
    for cycle in found:
        tied = sorted(strongly_connected(graph, cycle[0]))
        report.append(
            f"{len(tied)} modules import each other: {', '.join(tied)}\n"
            f"  for example {' -> '.join(cycle)}"
        )
    assert not found, "import cycles among labeler modules:\n" + "\n".join(report)


def test_the_engine_imports_no_service_queue_task_view_or_api():
    found = engine_reaches_upward(import_graph())
    assert not found, f"labeler.engine reaches above itself:\n{_render(found)}"


def test_the_cycle_checker_finds_a_cycle_hidden_in_a_larger_graph():
    graph = {
        "views": {"services"},
        "services": {"engine", "models"},
        "engine": {"tasks", "models"},
        "tasks": {"services"},
        "models": set(),
        "alone": {"alone"},
    }
    found = cycles(graph)
    assert sorted(found) == [["alone", "alone"], ["engine", "tasks", "services", "engine"]]
    del graph["tasks"]
    graph["engine"] = {"models"}
    assert cycles(graph) == [["alone", "alone"]]


def test_the_engine_check_follows_imports_through_other_modules():
    graph = {
        "labeler.engine.store": {"labeler.models", "labeler.importing"},
        "labeler.importing": {"labeler.views.items"},
        "labeler.views.items": set(),
        "labeler.models": set(),
    }
    assert engine_reaches_upward(graph) == [
        ["labeler.engine.store", "labeler.importing", "labeler.views.items"]
    ]


def test_imports_inside_functions_and_relative_imports_are_edges(tmp_path):
    package = tmp_path / PACKAGE
    (package / "engine").mkdir(parents=True)
    (package / "services").mkdir()
    (package / "migrations").mkdir()
    (package / "__init__.py").write_text("")
    (package / "engine" / "__init__.py").write_text("from .store import request\n")
    (package / "engine" / "store.py").write_text(
        "def request():\n    from ..services import training\n    from labeler import tasks\n"
    )
    (package / "services" / "__init__.py").write_text("")
    (package / "services" / "training.py").write_text("import labeler.engine.store\n")
    (package / "tasks.py").write_text("from labeler.services.training import run\n")
    (package / "migrations" / "0001_initial.py").write_text("from labeler import tasks\n")
    graph = import_graph(tmp_path)
    assert "labeler.migrations.0001_initial" not in graph
    assert graph["labeler.engine"] == {"labeler.engine.store"}
    assert graph["labeler.engine.store"] == {"labeler.services.training", "labeler.tasks"}
    assert graph["labeler.tasks"] == {"labeler.services.training"}
    assert cycles(graph) == [
        ["labeler.engine.store", "labeler.services.training", "labeler.engine.store"]
    ]
