"""revise:R: sequential revision. Starting from an item's first sample, up to R rounds in
which the model sees its previous reply and is asked to fix it.

Each round continues the conversation: the problem, the model's previous reply, and a
request (:func:`feedback`):

- on a family with a gold-free checker (sudoku, crossword), the checker's concrete
  violations of the previous answer ("row 3 holds two 5s", "column 2 'XQZ' is not a word");
  an answer the checker accepts ends the revision (there is nothing left to report);
- without a checker (arithmetic, mcq), a plain request to re-check the answer, for all R
  rounds (nothing tells it when to stop);
- an answer that could not be read at all is asked for again in the required format.

The strategy's answer after R rounds is the last one given; its cost is the first
sample's tokens plus every round's. One point per budget and R (docs/strategies.md). This
is the sequential-revision arm of Snell et al. 2024 (arXiv 2408.03314), with the family's
checker as the source of feedback instead of a trained revision model.
"""

from __future__ import annotations

from .registry import Strategy, register

MAX_ROUNDS = 10
REVISE = register(
    Strategy("revise", "up to R rounds in which the model revises its answer, told the checker's violations",
             "requests", max_count=MAX_ROUNDS)
)  # fmt: skip


def feedback(violations: list[str] | None, parsed: bool) -> str | None:
    """The next round's request, or None when the checker accepts the answer (stop).
    ``violations``: the checker's (empty: accepted), or None for a family without one."""
    if not parsed:
        return ("I could not find your final answer in the required format. Solve the problem again and give "
                "the final answer exactly as the problem asks, inside <answer></answer> tags.")
    if violations is None:
        return ("Re-check your answer carefully against the problem. If it is wrong, correct it. Give your final "
                "answer again, exactly as the problem asks, inside <answer></answer> tags.")
    if not violations:
        return None
    listed = "\n".join(f"- {v}" for v in violations)
    return ("Your answer breaks the puzzle's rules:\n"
            f"{listed}\n"
            "Fix every one of these and give the corrected complete answer, exactly as the problem asks, inside "
            "<answer></answer> tags.")
