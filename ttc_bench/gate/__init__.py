"""Paired comparison of two runs and the CI regression gate (``ttc-bench compare``).

- runs: load two run folders (store.RunFolder) and pair their samples
- gate: one cell per task x budget x registered metric, paired tests, Holm, verdicts
- results: Settings, Outputs, MetricResult, Comparison, exit_code and number formats
- render: terminal table, markdown, JSON, JUnit XML; command: the whole command
- options: the CLI flags, and the Settings and Outputs they make (no numpy)

Names are loaded on first use, so that cli.py can import ``compare.options`` to build its
parser without loading numpy and the statistics.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "Comparison": "results", "MetricResult": "results", "Outputs": "results", "Settings": "results",
    "exit_code": "results", "RunData": "runs", "load_run": "runs", "pair_runs": "runs",
    "cell_statistics": "gate", "compare_paths": "gate", "compare_runs": "gate",
    "print_comparison": "render", "render_table": "render", "to_json": "render", "to_junit": "render",
    "to_markdown": "render", "write_outputs": "render", "run_compare": "command",
}  # fmt: skip
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
