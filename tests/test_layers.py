"""The integration's modules import one way: no module reaches itself again through what it imports.

Imports for the type checker count: a circle of them is still a circle a reader has to hold in mind.
"""

from __future__ import annotations

import ast
from pathlib import Path

from .module_imports import PACKAGE, imports


def _graph() -> dict[Path, set[Path]]:
    """Each module of the integration, and the modules of ours it imports."""
    return {
        path: {found for found in imports(path) if isinstance(found, Path) and found != path}
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _reached(graph: dict[Path, set[Path]], start: Path) -> set[Path]:
    """Every module `start` imports, directly or through others."""
    seen: set[Path] = set()
    todo = list(graph.get(start, ()))
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph.get(node, ()))
    return seen


def circles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Every group of modules that import each other (directly or through others), each sorted."""
    reached = {node: _reached(graph, node) for node in graph}
    groups = {
        tuple(sorted(other for other in reached[node] if node in reached[other]))
        for node in graph
        if node in reached[node]
    }
    return sorted(list(group) for group in groups)


def test_a_circle_is_found() -> None:
    """The search itself: a circle through three modules is found, a chain is not."""
    a, b, c, d = (Path(name) for name in "abcd")
    assert circles({a: {b}, b: {c}, c: {a}, d: {a}}) == [[a, b, c]]
    assert circles({a: {b}, b: {c}, c: set()}) == []


def test_the_graph_is_read() -> None:
    """The reading sees the imports it must: a platform reaches the runtime data, the outbox its parts."""
    graph = _graph()
    assert PACKAGE / "data.py" in graph[PACKAGE / "sensor.py"]
    assert PACKAGE / "outbox" / "models.py" in graph[PACKAGE / "outbox" / "core.py"]
    # An import for the type checker only counts too
    assert PACKAGE / "alert_sources.py" in graph[PACKAGE / "data.py"]


def test_no_module_imports_itself_through_others() -> None:
    """Dependencies point one way: platforms, runtime data, alert sources, outbox, provider clients."""
    found = circles(_graph())
    described = [", ".join(str(path.relative_to(PACKAGE)) for path in circle) for circle in found]
    assert not found, f"these modules import each other: {described}"


def test_no_class_is_over_400_lines() -> None:
    """Small parts: a class that grows past 400 lines has more than one job (the simulators' too)."""
    simulators = PACKAGE.parents[1] / "simulators"
    long = {
        f"{path.name}:{node.name}": node.end_lineno - node.lineno + 1
        for path in sorted([*PACKAGE.rglob("*.py"), *simulators.rglob("*.py")])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef) and node.end_lineno is not None and node.end_lineno - node.lineno >= 400
    }
    assert long == {}
