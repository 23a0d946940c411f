"""The tree keeps its shape: no import cycles (imports inside functions and under TYPE_CHECKING
count: they only hide one), no module over 300 lines, each package imports only what its layer
may, and only ``worker.protocol`` is shared between the supervisor and the worker."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from worker import protocol

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("supervisor", "worker")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of ours that ``name`` imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                targets.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in GRAPH[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_300_lines(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= 300, f"{name} has {lines} lines"


def _reaches(name: str, prefix: str) -> set[str]:
    return {t for t in GRAPH[name] if t == prefix or t.startswith(prefix + ".")}


#: Layer rules: modules under the key may not import modules under any of the values.
FORBIDDEN = {
    "supervisor.procs": ("supervisor.sessions", "supervisor.events", "supervisor.api",
                         "supervisor.cli", "supervisor.hub", "supervisor.metrics",
                         "supervisor.daemon"),
    "supervisor.events": ("supervisor.sessions", "supervisor.procs", "supervisor.api",
                          "supervisor.cli", "supervisor.hub", "supervisor.metrics",
                          "supervisor.daemon"),
    "supervisor.sessions": ("supervisor.api", "supervisor.cli", "supervisor.hub",
                            "supervisor.metrics", "supervisor.daemon"),
    "supervisor.api": ("supervisor.cli", "supervisor.daemon"),
    "supervisor.cli": ("supervisor.api", "supervisor.sessions", "supervisor.events",
                       "supervisor.procs", "supervisor.hub"),
    "worker.browser": ("worker.drivers",),
}


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_below_it(layer: str) -> None:
    wrong = {(name, target) for name in GRAPH if name == layer or name.startswith(layer + ".")
             for banned in FORBIDDEN[layer] for target in _reaches(name, banned)}
    assert wrong == set()


def test_only_the_protocol_crosses_between_supervisor_and_worker() -> None:
    crossing = {(name, target) for name, targets in GRAPH.items() if name.startswith("supervisor")
                for target in targets if target.startswith("worker")}
    assert {target for _, target in crossing} <= {"worker.protocol"}, crossing
    assert not any(t.startswith("supervisor") for n, ts in GRAPH.items()
                   if n.startswith("worker") for t in ts)


def test_the_worker_never_imports_aiohttp() -> None:
    users = [name for name, path in MODULES.items() if name.startswith("worker")
             and any(isinstance(node, (ast.Import, ast.ImportFrom))
                     and any((getattr(node, "module", None) or a.name).split(".")[0] == "aiohttp"
                             for a in node.names)
                     for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert users == []


def test_only_the_cluster_package_imports_redis() -> None:
    """A single-host daemon never needs Redis: only supervisor/cluster/ may import it."""
    users = [name for name, path in MODULES.items()
             if any(isinstance(node, (ast.Import, ast.ImportFrom))
                    and any((getattr(node, "module", None) or a.name).split(".")[0] == "redis"
                            for a in node.names)
                    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))]
    assert users and all(name.startswith("supervisor.cluster.") for name in users), users


def test_only_the_send_queue_asks_a_worker_to_send() -> None:
    """Every send goes through its session's queue (limits, pacing, exactly once): no module
    of the supervisor but the queue's names the worker operations that send a message, by
    their constants or by their values."""
    sending = {"OP_SEND_TEXT", "OP_SEND_MEDIA"}
    values = {protocol.OP_SEND_TEXT, protocol.OP_SEND_MEDIA}
    users = sorted(name for name, path in MODULES.items() if name.startswith("supervisor")
                   and any(isinstance(node, ast.Attribute) and node.attr in sending
                           or isinstance(node, ast.Name) and node.id in sending
                           or isinstance(node, ast.alias) and node.name in sending
                           or isinstance(node, ast.Constant) and node.value in values
                           for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))))
    assert users == ["supervisor.sending.queues"], users
