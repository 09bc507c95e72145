"""Imports flow one way (docs/architecture.md): pure leaves (errors, sample, budgets) <-
adapters, models <- store, metrics <- runner, gate, reporting <- sweep <- cli. Checked in
fresh interpreters: a package never loads what sits above it; no import cycle inside a
package; the gate's flags build without numpy; nothing imports the CLI."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "ttc_bench"
# (ttc_bench.api is left out: the root package's __init__ loads it, and it imports nothing
# heavy at module level; the static cycle test covers it.)
ABOVE_LEAVES = ("cli", "runner", "plan", "sweep", "connect", "probe", "batch_runner", "offline", "merge", "rounds",
                "strategy_requests")
FORBIDDEN = {
    "adapters": ("models", "store", "metrics", "gate", "reporting", "spec", *ABOVE_LEAVES),
    "models": ("adapters", "store", "metrics", "gate", "reporting", "spec", *ABOVE_LEAVES),
    "metrics": ("models", "store", "gate", "reporting", "spec", "adapters", *ABOVE_LEAVES),
    "gate": ("models", "reporting", "spec", "adapters", *ABOVE_LEAVES),
    "reporting": ("models", "gate", *ABOVE_LEAVES),
    # Strategies are names and rules over leaves: spec, the summary glue and the runner read them.
    "strategies": ("models", "store", "metrics", "gate", "reporting", "spec", "adapters", *ABOVE_LEAVES),
}


def _modules(package: str) -> list[str]:
    return sorted(f"ttc_bench.{package}.{p.stem}" if p.stem != "__init__" else f"ttc_bench.{package}"
                  for p in (PACKAGE / package).glob("*.py"))


def _loaded_after_import(module: str) -> list[str]:
    """ttc_bench modules (and numpy) in sys.modules after importing ``module`` in a fresh interpreter."""
    code = f"import sys, {module}; print(__import__('json').dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return [m for m in json.loads(out.stdout) if m.startswith("ttc_bench") or m == "numpy"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_loads_what_sits_above_it(package):
    for module in _modules(package):
        loaded = _loaded_after_import(module)
        bad = [m for m in loaded if m.split(".")[1:2] and m.split(".")[1] in FORBIDDEN[package]]
        assert not bad, f"importing {module} loads {bad}"


def test_the_compare_flags_build_without_numpy():
    assert "numpy" not in _loaded_after_import("ttc_bench.gate.options")


def _imports(path: Path, module: str) -> set[str]:
    """ttc_bench modules a file imports anywhere in it (function bodies included)."""
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("ttc_bench")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if not base.startswith("ttc_bench"):
                continue
            for alias in node.names:  # `from . import registry` imports the module registry
                child = f"{base}.{alias.name}"
                found.add(child if (PACKAGE.parent / (child.replace(".", "/") + ".py")).exists() else base)
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[module] = _imports(path, module)
    return graph


def test_nothing_imports_the_cli():
    importers = [module for module, deps in _graph().items()
                 if not module.startswith("ttc_bench.cli") and any(d == "ttc_bench.cli" or d.startswith("ttc_bench.cli.") for d in deps)]
    assert importers == []


def test_no_import_cycles():
    graph = _graph()
    assert "ttc_bench.metrics.registry" in graph["ttc_bench.metrics.definitions"]  # the walk sees imports
    # A package's __init__ re-exports its modules; a module importing its own package's
    # __init__ would close a cycle through it, so it counts like any other edge.
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph.get(module, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                raise AssertionError(" -> ".join(path + [module, dep]))
            if dep not in state:
                visit(dep, path + [module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])


def test_the_wheel_ships_every_package():
    """pyproject lists the packages by hand; an editable install hides a missing one (a
    fresh `pip install .` once lacked ttc_bench.strategies and could not start)."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"ttc_bench." + ".".join(p.parent.relative_to(root / "ttc_bench").parts)
             for p in (root / "ttc_bench").rglob("__init__.py") if p.parent != root / "ttc_bench"}
    assert found | {"ttc_bench"} <= listed, sorted(found - listed)
