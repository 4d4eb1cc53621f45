"""The modules of ltbound import one another without cycles (function-level imports included).

Issue 22 found one: ``train/bridge.py`` imported ``train/theta.py``, whose ``_record_setup``
imported ``bridge.record_data_dir`` back. A cycle makes import order matter and hides which
idea depends on which; this test parses every module and walks the graph.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "ltbound"


def _modules() -> dict[str, Path]:
    mods = {}
    for p in ROOT.rglob("*.py"):
        parts = p.relative_to(ROOT.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return mods


def _targets(mods: dict, name: str, node: ast.ImportFrom) -> list[str]:
    pkg = name if mods[name].name == "__init__.py" else name.rsplit(".", 1)[0]
    base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)] if node.level else []
    mod = ".".join(base + ([node.module] if node.module else []))
    return [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names
            if f"{mod}.{a.name}" in mods or mod in mods]


def import_graph() -> dict[str, set[str]]:
    """Module -> the ltbound modules it imports anywhere in its body (a package's own parents excluded)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                found = _targets(mods, name, node)
            elif isinstance(node, ast.Import):
                found = [a.name for a in node.names if a.name in mods]
            else:
                continue
            graph[name].update(t for t in found if t != name and not name.startswith(t + "."))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules, or None (iterative three-colour DFS)."""
    colour = dict.fromkeys(graph, 0)
    for start in sorted(graph):
        if colour[start]:
            continue
        stack, path = [(start, iter(sorted(graph[start])))], [start]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                path.pop()
            elif colour.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif colour.get(nxt) == 0:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(graph[nxt]))))
                path.append(nxt)
    return None


def test_ltbound_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_cycle():
    """The check can fail: the bridge -> theta -> bridge cycle of issue 22, rebuilt by hand."""
    graph = {"a.bridge": {"a.theta"}, "a.theta": {"a.bridge", "a.data"}, "a.data": set()}
    assert find_cycle(graph) == ["a.bridge", "a.theta", "a.bridge"]
    assert find_cycle({"a.bridge": {"a.theta", "a.data"}, "a.theta": {"a.data"}, "a.data": set()}) is None
