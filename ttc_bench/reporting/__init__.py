"""Human-readable output of runs: the terminal table, report.md, report.html with its sample
browser, the plots, and `ttc-bench view`'s local server.

- ``format``: how figures read; ``document``: the report as blocks (a pure function of
  summary.json); ``markdown`` and ``html`` render the blocks; ``terminal``: the table;
- ``browser`` and ``browser_data``: the sample browser inside report.html, ``prompts``:
  items' prompts rebuilt for it; ``view``: serving reports and the samples they leave out;
- ``plots``: the four charts; ``files``: atomic writes; ``build``: write_reports and
  regenerate, which tie the rest together.

Imports flow one way: format <- document, terminal; files <- plots; prompts <-
browser_data <- browser <- view; document, markdown, html, plots, browser <- build. Only
this file and view import build (view to rebuild a report that predates the browser).
"""

from .build import default_overlay_dir, failures, regenerate, report_runs, run_labels, write_reports
from .files import WriteFailure
from .terminal import fitting_table, print_outputs, print_overlay, print_summary, task_table

__all__ = [
    "WriteFailure",
    "default_overlay_dir",
    "failures",
    "fitting_table",
    "print_outputs",
    "print_overlay",
    "print_summary",
    "regenerate",
    "report_runs",
    "run_labels",
    "task_table",
    "write_reports",
]
