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


def _design_layers() -> dict[str, int]:
    import re
    text = (ROOT.parent / "docs" / "DESIGN.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, flags=re.S).group(1)
    layers = {}
    for line in block.strip().splitlines():
        level, names = line.split(":", 1)
        for n in names.split(","):
            layers[n.strip()] = int(level)
    return layers


def _layer_of(layers: dict[str, int], module: str) -> int:
    name = module.removeprefix("ltbound.") if module != "ltbound" else "ltbound"
    if name in layers:
        return layers[name]
    found = [lvl for pat, lvl in layers.items() if pat.endswith(".*") and name.startswith(pat[:-1])]
    assert len(found) == 1, f"{module} is in {len(found)} layers of docs/DESIGN.md (want exactly one)"
    return found[0]


def test_design_layers_cover_every_module_and_no_arrow_runs_up():
    """docs/DESIGN.md's house, checked against the imports as they are."""
    layers = _design_layers()
    graph = import_graph()
    upward = [(a, b) for a, deps in graph.items() for b in deps
              if _layer_of(layers, b) > _layer_of(layers, a)]
    assert upward == [], f"imports that run up the layers of docs/DESIGN.md: {upward}"


def test_layer_check_sees_an_upward_arrow():
    layers = _design_layers()
    assert _layer_of(layers, "ltbound.bounds.estimate") < _layer_of(layers, "ltbound.comparison.compare_runs")
    assert _layer_of(layers, "ltbound.train.loop.trainer") == _layer_of(layers, "ltbound.train.loop")
    assert _layer_of(layers, "ltbound.train.loop") < _layer_of(layers, "ltbound.train.stochastic.certified_run")


def test_every_module_name_is_said_once():
    """One name, one idea: no two modules of ltbound share a file name, and no package shares one with
    a module (issue 32: two ``evaluate.py``, two ``schedule.py``, a ``certify.py`` beside ``pacbayes.py``)."""
    from collections import Counter
    names = Counter(p.stem for p in ROOT.rglob("*.py") if p.name != "__init__.py")
    names.update(p.name for p in ROOT.rglob("*") if p.is_dir() and (p / "__init__.py").exists())
    assert sorted(n for n, k in names.items() if k > 1) == []


def test_the_top_level_is_a_short_table_of_contents():
    """At most a dozen public entries at the top of ltbound/, and every package says in its docstring what
    lives there and what it may import."""
    public = sorted(p.stem if p.suffix == ".py" else p.name for p in ROOT.iterdir()
                    if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or (p / "__init__.py").exists()))
    assert len(public) <= 12, public
    for init in ROOT.rglob("__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.splitlines()) >= 3, f"{init.parent.name}/__init__.py says too little about its package"
        if init.parent not in (ROOT, ROOT / "records", ROOT / "train"):
            assert "May import" in doc, f"{init.parent.name}/__init__.py does not say what it may import"


def _migration_table() -> dict[str, list[str]]:
    import re
    text = (ROOT.parent / "docs" / "api.md").read_text()
    section = text.split("## Where the modules went", 1)[1]
    rows = re.findall(r"^\| `(ltbound[\w.]*)` \| (.+?) \|$", section, flags=re.M)
    return {old: re.findall(r"`(ltbound[\w.]*)`", new) for old, new in rows}


def test_every_name_of_a_moved_module_is_reachable_where_the_migration_table_says():
    """docs/api.md's table, old module -> new modules, against the public names each old module defined
    (tests/old_module_names.json, read from the code before the move): each is importable from ltbound
    or from a module of its row; the old module is gone (no shim), and every new module exists."""
    import importlib
    import json
    import ltbound
    old_names = json.loads((Path(__file__).with_name("old_module_names.json")).read_text())
    table = _migration_table()
    assert sorted(table) == sorted(old_names), "the migration table and the list of moved modules differ"
    missing = []
    for old, names in old_names.items():
        new = [importlib.import_module(m) for m in table[old]]
        if old not in table[old]:
            assert old not in _modules() or _modules()[old].name == "__init__.py", f"{old} still exists"
        for name in names:
            if not (name in ltbound.__all__ or any(hasattr(m, name) for m in new)):
                missing.append(f"{old}.{name}")
    assert missing == []
