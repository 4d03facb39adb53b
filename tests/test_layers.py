"""The import graph keeps the layers: resource kinds import neither the engine, the graph,
the CLI, the renderer nor the diagnosis, and no module imports itself round a circle."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import vpcctl

PACKAGE = Path(vpcctl.__file__).parent
ABOVE_RESOURCES = {"vpcctl.engine", "vpcctl.graph", "vpcctl.cli", "vpcctl.render", "vpcctl.diagnose", "vpcctl.deploy"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> the vpcctl modules it imports, anywhere in its body (function-local too)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    out: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:  # `from vpcctl.resources import kit` imports the submodule
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in modules else node.module)
        out[name] = {m for m in found if m in modules and m != name}
    return out


def test_resource_kinds_import_nothing_above_them() -> None:
    graph = imports()
    offending = {
        (module, target)
        for module, targets in graph.items()
        if module.startswith("vpcctl.resources")
        for target in targets & ABOVE_RESOURCES
    }
    assert offending == set()


def test_the_import_graph_has_no_circle() -> None:
    # Edges between the emulator's own modules (sandbox/, which hook moto among themselves)
    # are left out; every other import counts.
    graph = {
        m: {t for t in ts if not (m.startswith("vpcctl.sandbox.") and t.startswith("vpcctl.sandbox."))}
        for m, ts in imports().items()
    }
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from None
