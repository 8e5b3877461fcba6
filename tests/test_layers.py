"""The package's architecture, checked: subpackages import only downward and no module cycles.

Every ``import`` in every module is read from the source (module level and inside functions), so a
lazy import cannot hide an upward dependency. Run with ``-s`` to see the layers printed.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "musicgate"

LAYERS = [
    ("base", ["errors", "files", "config", "figures", "progress"]),
    ("music", ["music"]),
    ("analysis", ["analysis"]),
    ("tokens", ["tokens"]),
    ("data", ["data"]),
    ("nn", ["nn"]),
    ("train", ["train"]),
    ("generation", ["generation"]),
    ("viz", ["viz"]),
    ("experiments", ["experiments"]),
    ("speech", ["speech"]),
    ("teach", ["teach"]),
    ("cli", ["cli", "__main__"]),
    ("api", ["__init__"]),
]
"""Lowest first. A module may import its own subpackage and any layer below it."""

RANK = {part: i for i, (_, parts) in enumerate(LAYERS) for part in parts}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The musicgate modules that ``name`` imports anywhere in its source."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # ``from pkg import module`` depends on the module; ``from mod import name`` on mod.
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in known else mod for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t.startswith("musicgate") and t != name:
                found.add(t)
    return found


def layer_of(name: str) -> int:
    parts = name.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in RANK:
        raise AssertionError(f"{name}: its subpackage {top!r} has no layer in tests/test_layers.py LAYERS")
    return RANK[top]


GRAPH = None


def graph() -> dict[str, set[str]]:
    global GRAPH
    if GRAPH is None:
        mods = modules()
        GRAPH = {n: imports_of(n, p, set(mods)) for n, p in mods.items()}
    return GRAPH


def test_every_module_has_a_layer():
    for name in graph():
        if name != "musicgate":
            layer_of(name)


def test_imports_point_only_downward():
    bad = []
    for name, deps in graph().items():
        if name == "musicgate":
            continue
        for dep in deps:
            if dep == "musicgate":
                bad.append(f"{name} imports the top-level package (import from the module instead)")
            elif layer_of(dep) > layer_of(name):
                bad.append(f"{name} ({LAYERS[layer_of(name)][0]}) imports {dep} ({LAYERS[layer_of(dep)][0]})")
    assert not bad, "upward imports:\n" + "\n".join(sorted(bad))


def test_no_import_cycles():
    g = graph()
    # Package __init__ files re-export their modules; an edge into a package means its __init__.
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for d in sorted(g.get(n, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(g):
        if n not in state:
            visit(n)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_print_layers(capsys):
    by_layer: dict[int, list[str]] = {}
    for name in graph():
        if name != "musicgate":
            by_layer.setdefault(layer_of(name), []).append(name)
    with capsys.disabled():
        print("\nmusicgate layers (lowest first; each imports only itself and below):")
        for i, (label, _) in enumerate(LAYERS):
            names = sorted(n.removeprefix("musicgate.") for n in by_layer.get(i, []))
            print(f"  {i:2d} {label:12s} {' '.join(names)}")
    assert sum(len(v) for v in by_layer.values()) == len(graph()) - 1


def test_the_walker_sees_function_level_imports(tmp_path):
    src = tmp_path / "musicgate" / "music" / "x.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f():\n    from musicgate.teach import gallery\n    from ..cli import main\n")
    got = imports_of("musicgate.music.x", src, {"musicgate.teach.gallery", "musicgate.cli", "musicgate.teach"})
    assert got == {"musicgate.teach.gallery", "musicgate.cli"}
    with pytest.raises(AssertionError):
        layer_of("musicgate.nowhere.x")
