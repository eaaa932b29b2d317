"""Dependencies point down: every import in the package, read with ast (nothing is executed).

A module may import from its own layer or any layer below it, never from one above; and no two
modules import each other, directly or round a longer loop (imports under `if TYPE_CHECKING:` are
for annotations only and do not count towards a loop). Lazy imports inside functions count too: a
loop that only closes at run time is still a loop a reader has to hold in their head.
"""
from __future__ import annotations

import ast
import os
from typing import Dict, List, Set, Tuple

import openusage

PACKAGE_DIR = os.path.dirname(openusage.__file__)

# Bottom first. A unit is a module or package directly under openusage/, except that the provider
# registry (openusage/providers/__init__.py, built from the agents' rows) sits above the agents it
# lists while the providers' machinery (providers.base, the quota readers, ...) sits below them.
LAYERS: List[Tuple[str, ...]] = [
    ("openusage", "errors", "paths"),                    # the version, the error types, where files live
    ("core",),                                           # snapshots, events, pricing, windows, masking
    ("store", "cookies", "console", "snapshot_cells", "httpserver"),  # SQLite; output; HTTP handling
    ("providers.*",),                                    # the Provider base class and the API providers
    ("agents",),                                         # the local agent collectors
    ("providers",),                                      # the registry of every provider
    ("config", "settings_check"),                        # settings.json, and its checks
    ("accounts", "inprocess", "alerts", "hub"),          # accounts, one-shot reads, alert rules, the hub
    ("daemon",),                                         # the daemon (its /metrics and export use hub/)
    ("tui", "reports", "integrations", "client"),        # what reads the daemon or the store
    ("cli", "__main__"),                                 # the commands: imported by nothing
]
LAYER_OF = {unit: n for n, units in enumerate(LAYERS) for unit in units}


def _modules() -> Dict[str, str]:
    found = {}
    for folder, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(folder, os.path.dirname(PACKAGE_DIR)).replace(os.sep, ".")
        for name in files:
            if name.endswith(".py"):
                found[rel if name == "__init__.py" else f"{rel}.{name[:-3]}"] = os.path.join(folder, name)
    return found


MODULES = _modules()


def unit_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "openusage"
    if parts[1] == "providers" and len(parts) > 2:
        return "providers.*"
    return parts[1]


def _type_checking_nodes(tree: ast.AST) -> Set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skip |= {id(inner) for stmt in node.body for inner in ast.walk(stmt)}
    return skip


def imports_of(module: str) -> List[Tuple[str, int, bool]]:
    """(imported openusage module, line, only for type checking) for every import in `module`."""
    path = MODULES[module]
    with open(path, encoding="utf-8") as fh:
        tree = ast.parse(fh.read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    typing_only = _type_checking_nodes(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        out += [(t, node.lineno, id(node) in typing_only) for t in targets if t.split(".")[0] == "openusage"]
    return out


def test_every_unit_has_a_layer():
    assert {unit_of(m) for m in MODULES} <= set(LAYER_OF), "add the new module or package to LAYERS"


def test_no_import_points_up():
    upward = [f"{module}:{line} imports {target} ({unit_of(module)} is below {unit_of(target)})"
              for module in sorted(MODULES) for target, line, _ in imports_of(module)
              if LAYER_OF[unit_of(target)] > LAYER_OF[unit_of(module)]]
    assert upward == []


def test_cli_is_imported_by_nothing_and_daemon_and_hub_stay_apart():
    into_cli = [(m, t) for m in MODULES if unit_of(m) not in ("cli", "__main__")
                for t, _, _ in imports_of(m) if unit_of(t) == "cli"]
    hub_to_daemon = [(m, t) for m in MODULES if unit_of(m) == "hub"
                     for t, _, _ in imports_of(m) if unit_of(t) == "daemon"]
    assert into_cli == [] and hub_to_daemon == []


def _loops(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    loops = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        loops.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return loops


def test_no_import_loop():
    graph = {m: {t for t, _, typing_only in imports_of(m) if not typing_only and t in MODULES and t != m}
             for m in MODULES}
    assert _loops(graph) == []


def test_the_walk_sees_lazy_relative_and_type_checking_imports():
    found = {target: typing_only for target, _, typing_only in imports_of("openusage.daemon.api")}
    assert found.get("openusage.daemon.app") is True  # under `if TYPE_CHECKING:`
    assert found.get("openusage.hub.metrics") is False  # inside a function
    assert _loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
