"""The house's layer rule, checked over every import statement of the
installed code, including imports inside functions (docs/architecture.md).

Bottom to top: core (records, vocabulary, config) -> readers (bytes to
records) and spiders (Scrapy) and state (gate, diff, store, journal) ->
alerts (route, render, deliver) -> watch287g (the application: check,
replay, CLI, service, Slack app, web, report). A layer imports only itself
and what its row below allows; and no two modules import each other, however
indirectly.
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


def module_name(path: Path) -> str:
    folder = path.relative_to(ROOT).parts[0]
    parts = [] if folder == "watch287g" else [folder]
    parts += list(path.relative_to(ROOT / folder).with_suffix("").parts)
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


def project_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


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


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in project_files()}
    edges: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for _, name in imports_of(path):
            target = resolve(name, set(files))
            if target and target != module and target != "watch287g":
                edges[module].add(target)
    return edges


def test_no_import_runs_up_a_layer():
    files = {module_name(p): p for p in project_files()}
    wrong = []
    for module, path in files.items():
        mine = layer_of(module)
        for line, name in imports_of(path):
            if name.split(".")[0] in BARE_NAMES:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports the bare name {name!r}")
                continue
            target = resolve(name, set(files))
            if target is None or target == "watch287g":
                continue
            if layer_of(target) not in ALLOWED[mine]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {target} ({layer_of(target)})")
    assert not wrong, "\n".join(wrong)


def test_no_import_loop():
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    loops: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
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
    assert not loops, "\n".join(" <-> ".join(loop) for loop in loops)


def test_the_rule_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from watch287g.alerts.outbox import enqueue\n")
    assert (2, "watch287g.alerts.outbox") in imports_of(source)


def test_the_rule_catches_an_upward_import():
    assert layer_of("watch287g.state.ingest") == "state"
    assert layer_of("watch287g.alerts.outbox") == "alerts"
    assert "alerts" not in ALLOWED["state"] and "app" not in ALLOWED["alerts"]
