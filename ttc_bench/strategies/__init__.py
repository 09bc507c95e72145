"""Strategies: how samples become one answer per item, and what that costs in tokens.

- registry: a strategy is one module here plus one registration (docs/strategies.md)
- maj, verified_maj, best_of: selection over the samples a run holds (no request)
- adaptive: sampling that stops an item once its majority answer is settled
- selfverify: the model judges each distinct answer (requests after sampling)
- revise: up to R rounds of revision with the checker's violations as feedback

This package imports only leaves (errors): spec validates names with it, the summary glue
maps selection strategies to their metrics, the runner reads the sampling ones.
"""

# Each module registers its strategy; the import order is the listing order (--help, reports).
from . import maj, verified_maj, best_of, adaptive, selfverify, revise  # isort: skip
from .registry import (
    DEFAULT, STORE_FOLDER, Strategy, counts, get, parse_strategies, without_checker, selection_metrics, strategies,
)  # fmt: skip

__all__ = [
    "DEFAULT", "STORE_FOLDER", "Strategy", "adaptive", "best_of", "counts", "get", "maj", "parse_strategies",
    "without_checker", "revise", "selection_metrics", "selfverify", "strategies", "verified_maj",
]  # fmt: skip
