"""ttc-bench: measure how reasoning accuracy scales with test-time compute.

The Python API (docs/api.md): ``run`` a sweep, ``load_run`` a run folder (summary,
manifest, samples as a DataFrame), ``compare`` two runs with the paired gate, ``report``
a run again. ``Sample`` is one row of samples.jsonl; ``Budget`` one reasoning budget.
"""

from .version import __version__
from .api import Run, compare, load_run, report, run
from .budgets import Budget, parse_budget
from .errors import UserError
from .sample import Sample

__all__ = ["Budget", "Run", "Sample", "UserError", "compare", "load_run", "parse_budget", "report", "run"]
