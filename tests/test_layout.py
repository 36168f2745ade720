"""The tree shows the pipeline: imports point from the loop down to sources, model and sinks, never back up."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

UTILS = REPO / "utils"
# What each part of the app may import from the others (besides the small shared modules at the top).
ALLOWED = {
    "sources": {"sources"},
    "model": {"model"},
    "sinks": {"sinks", "sources", "events"},  # a sink shows frames; the DRM preview needs the Pi camera source
    "events": {"events"},  # events, their outputs and the recorder: fed by utils/sinks/events.py
    "pipeline": {"sources", "model", "sinks", "events", "pipeline"},
    "teach": {"sources", "model", "pipeline"},  # the taught-actions commands run beside the pipeline, not in it
}
SHARED_MODULES = {"config", "config_file", "errors", "paths", "results", "sampler", "rate", "system_info",
                  "native_stderr", "broker_url", "utils", "stop", "resize", "regular_file", "areas",
                  "run_summary", "heap"}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every utils module imported anywhere in the file (also inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("utils"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("utils"))
    return found


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports_of(path) for path in UTILS.rglob("*.py")}


def part(module: str) -> str:
    """utils.sources.opencv -> sources; utils.pipeline -> pipeline; utils.config -> config."""
    return module.split(".")[1] if module.count(".") else "utils"


def test_imports_point_down_the_pipeline():
    wrong = []
    for module, imported in graph().items():
        for target in imported:
            source_part, target_part = part(module), part(target)
            if target_part in SHARED_MODULES or source_part not in ALLOWED:
                continue
            if target_part not in ALLOWED[source_part]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, wrong


def test_the_small_shared_modules_import_no_stage():
    stages = set(ALLOWED)
    wrong = [f"{module} imports {target}" for module, imported in graph().items() if part(module) in SHARED_MODULES
             for target in imported if part(target) in stages]
    assert not wrong, wrong


def test_no_import_cycles():
    imports = graph()
    edges = {module: {target for target in targets if target in imports} for module, targets in imports.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                return [*path, module, target]
            if target not in state and (cycle := visit(target, [*path, module])):
                return cycle
        state[module] = 2
        return None

    for module in sorted(edges):
        if module not in state:
            cycle = visit(module, [])
            assert cycle is None, " -> ".join(cycle)


def test_the_app_package_never_names_the_test_data():
    assert not [path for path in UTILS.rglob("*.py") if "../shared" in path.read_text()
                or '"shared"' in path.read_text()]
