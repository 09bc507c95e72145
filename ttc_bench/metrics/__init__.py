"""Metrics: what the samples of a run are worth, with error bars. Pure: no I/O, and no
imports from models, runner, store, compare or report.

- registry: a metric is one function of an item's tally plus one registration (the
  contract for readers of summary.json is in registry.py); definitions: the built-in ones
- tally: one item at one budget reduced to what the metrics read
- estimators: pass@k and maj@k of one item, exact, every k at once
- distributions, intervals: t and normal quantiles, bounded intervals, the item bootstrap
- summary (with group): summary.json from sample rows; frontier, fits, fidelity beside it
- paired, power: the paired tests of the CI gate, and their power and MDE
"""

from . import definitions, registry  # definitions registers the built-in metrics
from .estimators import maj_at_k, pass_at_k
from .intervals import mean_se
from .registry import Metric, metric, metrics, register
from .summary import SCHEMA_VERSION, summarize
from .tally import ItemTally, as_rows, latest_scored, scored_row

__all__ = [
    "ItemTally", "Metric", "SCHEMA_VERSION", "as_rows", "definitions", "latest_scored", "maj_at_k", "mean_se",
    "metric", "metrics", "pass_at_k", "register", "registry", "scored_row", "summarize",
]  # fmt: skip
