"""verified-maj: the majority vote among the samples the gold-free checker accepts, else of
all k (verified-maj@k, metrics/selection.py). The asymmetry of verification: where checking
an answer is cheap and exact (sudoku, crossword), a vote should not count answers that
break the puzzle's own rules."""

from .registry import Strategy, register

VERIFIED_MAJ = register(
    Strategy("verified-maj", "majority vote among checker-accepted samples of k, else of all k (verified-maj@k)",
             "selection", metric="verified-maj@k", needs_checker=True)
)  # fmt: skip
