"""`ttc-bench compare` (and `ttc-bench run --baseline`) as one function: compare two runs,
print the table and the verdict, write the requested reports, return the exit code."""

from __future__ import annotations

from pathlib import Path

from .gate import compare_runs
from .render import print_comparison, write_requested
from .results import Outputs, Settings, exit_code
from .runs import load_run


def run_compare(baseline: Path, current: Path, settings: Settings | None = None, outputs: Outputs | None = None) -> int:
    """Everything `ttc-bench compare` does; returns the exit code (1: the gate fails).
    Unusable input raises UserError (the CLI prints it, exit 2)."""
    from rich.console import Console

    comparison = compare_runs(load_run(Path(baseline)), load_run(Path(current)), settings)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # CI logs: keep table rows on one line
    print_comparison(comparison, console)
    for path in write_requested(comparison, outputs or Outputs()):
        console.print(f"wrote {path}", style="dim", soft_wrap=True)
    return exit_code(comparison)
