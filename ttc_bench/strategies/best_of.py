"""best-of: the first of k samples the gold-free checker accepts, else the first parsed one
(best-of-k, metrics/selection.py): best-of-N with the checker as the scoring function."""

from .registry import Strategy, register

BEST_OF = register(
    Strategy("best-of", "first checker-accepted sample of k, else the first parsed (best-of-k)", "selection",
             metric="best-of-k", needs_checker=True)
)  # fmt: skip
