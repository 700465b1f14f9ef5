"""The house's layer rule, checked over every import statement of the
installed code, including imports inside functions (docs/architecture.md).

Bottom to top: core (records, vocabulary, config) -> readers (bytes to
records) and spiders (Scrapy) and state (gate, diff, store, journal) ->
alerts (route, render, deliver) -> watch287g (the application: check,
replay, CLI, service, Slack app, web, report). A layer imports only itself
and what its row below allows; and no two modules import each other, however
indirectly. Nothing installed imports the test suite (``tests``, which
pip does not install): what tests, the demo and the benchmarks share lives in
watch287g.testing.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"core": "core", "readers": "readers", "spiders": "spiders", "state": "state",
           "alerts": "alerts", "watch287g": "app"}
ALLOWED = {
    "core": {"core"},
    "readers": {"core", "readers"},
    "spiders": {"core", "readers", "spiders"},
    "state": {"core", "state"},
    "alerts": {"core", "state", "alerts"},
    "app": {"core", "readers", "spiders", "state", "alerts", "app"},
}
BARE_NAMES = {"core", "readers", "spiders", "state", "alerts"}


def module_name(path: Path, root: Path = ROOT) -> str:
    folder = path.relative_to(root).parts[0]
    parts = [] if folder == "watch287g" else [folder]
    parts += list(path.relative_to(root / folder).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(["watch287g", *parts])


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "watch287g":
        return None
    if len(parts) > 1 and parts[1] in FOLDERS and parts[1] != "watch287g":
        return FOLDERS[parts[1]]
    return "app"


def project_files(root: Path = ROOT) -> dict[str, Path]:
    """{module name: file} for every module of the house under ``root``."""
    return {module_name(p, root): p for folder in FOLDERS for p in sorted((root / folder).rglob("*.py"))}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement in the file names (at any depth)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def resolve(name: str, known: set[str]) -> str | None:
    """The project module an imported name refers to (a name imported from
    a module resolves to that module)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph(files: dict[str, Path]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for _, name in imports_of(path):
            target = resolve(name, set(files))
            if target and target != module and target != "watch287g":
                edges[module].add(target)
    return edges


def upward_imports(root: Path) -> list[str]:
    """Every import under ``root`` that breaks the layer rule, one line each."""
    files = project_files(root)
    wrong = []
    for module, path in files.items():
        mine = layer_of(module)
        for line, name in imports_of(path):
            if name.split(".")[0] == "tests":
                wrong.append(f"{path.relative_to(root)}:{line} imports the test suite, which is not installed")
                continue
            if name.split(".")[0] in BARE_NAMES:
                wrong.append(f"{path.relative_to(root)}:{line} imports the bare name {name!r}")
                continue
            target = resolve(name, set(files))
            if target is None or target == "watch287g":
                continue
            if layer_of(target) not in ALLOWED[mine]:
                wrong.append(f"{path.relative_to(root)}:{line}: {mine} imports {target} ({layer_of(target)})")
    return list(dict.fromkeys(wrong))     # `from m import a` names m and m.a: one line for both


def import_loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import one another (Tarjan's strongly
    connected components of more than one module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return loops


def test_no_import_runs_up_a_layer():
    # The scan sees the whole house (an empty scan would pass anything).
    assert {"watch287g.core.records", "watch287g.state.ingest", "watch287g.cli"} <= set(project_files())
    wrong = upward_imports(ROOT)
    assert not wrong, "\n".join(wrong)


def test_no_import_loop():
    edges = graph(project_files())
    assert "watch287g.core.records" in edges["watch287g.state.ingest"]
    loops = import_loops(edges)
    assert not loops, "\n".join(" <-> ".join(loop) for loop in loops)


def test_the_rule_catches_an_upward_import_even_inside_a_function(tmp_path):
    for folder, text in {"core": "from watch287g.core import records\n",
                         "state": "def f():\n    from watch287g.alerts.outbox import enqueue\n",
                         "alerts": "from watch287g.state import ingest\n",
                         "readers": "import spiders.ice\n",
                         "watch287g": "from tests.support.service import serve_ice\n"}.items():
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "probe.py").write_text(text)
    for name in ("core/records.py", "state/ingest.py", "alerts/outbox.py", "spiders/ice.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).touch()
    assert upward_imports(tmp_path) == [
        "readers/probe.py:1 imports the bare name 'spiders.ice'",
        "state/probe.py:2: state imports watch287g.alerts.outbox (alerts)",
        "watch287g/probe.py:1 imports the test suite, which is not installed",
    ]


def test_the_rule_catches_a_loop_through_three_modules():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_loops(edges) == [["a", "b", "c"]]
