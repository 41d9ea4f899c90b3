"""No two parts of driftloop import each other: the import graph between them has no cycle.

A *part* is a direct child of the ``driftloop`` package: a subpackage (``driftloop.drift``,
``driftloop.compare``, ``driftloop.promote``, ``driftloop.train``, ``driftloop.stages``,
``driftloop.demo``, ...) or a top-level module (``driftloop.errors``, ``driftloop.schema``,
``driftloop.champion``, ``driftloop.cli``, ...), each its own node. Imports inside a part do not
count; every other runtime import does, also one inside a function (a lazy import is still a
dependency; only ``if TYPE_CHECKING:`` imports are left out, they never run). The package root
``driftloop/__init__.py`` is not a node. The graph must be acyclic, which is stronger than "no two
parts import each other": ``a -> b -> c -> a`` fails too. So every part can be read, tested and
changed with only the parts below it in mind, and ``dvc.yaml``'s per-subpackage deps stay meaningful.

The static analysis is tests/test_dvc_deps.py's.
"""

from __future__ import annotations

from collections import defaultdict

from tests.test_dvc_deps import PACKAGE, _with_parents, all_modules, imports_of

# Module-level import edges that close a cycle today, each to be removed with its fix.
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {}


def part(module: str) -> str | None:
    """``driftloop.compare.metrics`` -> ``compare``; ``driftloop.errors`` -> ``errors``; the root -> None."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def module_edges() -> dict[tuple[str, str], set[tuple[str, str]]]:
    """(part, part) -> the module imports that make it, between different parts (without the known
    edges, and the imports of their targets' packages that they imply)."""
    known = {(module, target) for module, dep in KNOWN_CYCLE_EDGES for target in _with_parents(dep)}
    edges: dict[tuple[str, str], set[tuple[str, str]]] = defaultdict(set)
    for module in all_modules():
        for dep in imports_of(module):
            a, b = part(module), part(dep)
            if a and b and a != b and (module, dep) not in known:
                edges[(a, b)].add((module, dep))
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_two_parts_of_driftloop_import_each_other():
    edges = module_edges()
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    problems = []
    for component in cycles(graph):
        inside = sorted((a, b) for (a, b) in edges if a in component and b in component)
        lines = [
            f"    {a} -> {b}: " + ", ".join(f"{m} imports {d}" for m, d in sorted(edges[(a, b)])) for a, b in inside
        ]
        problems.append(f"  cycle between {', '.join(component)}:\n" + "\n".join(lines))
    assert not problems, (
        f"parts of {PACKAGE} import each other (a cycle); move the shared code below both:\n" + "\n".join(problems)
    )


def test_known_cycle_edges_are_still_real():
    """Strict: when a known edge is gone (the cycle fixed), its allow-list entry must go too."""
    stale = [edge for edge in KNOWN_CYCLE_EDGES if edge[1] not in imports_of(edge[0])]
    assert not stale, f"remove these from KNOWN_CYCLE_EDGES, the import is gone: {stale}"


def test_cycle_finder():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
