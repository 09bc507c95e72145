"""adaptive: sample an item until its majority answer is settled, at most the run's n samples.

Before each sample j of an item at a budget (samples are drawn one at a time, in order),
the votes drawn so far decide whether to draw it. With a the leader's votes, b the
runner-up's (0 when there is none) and r = n - drawn the samples still allowed, sampling
stops when either rule fires:

1. **the leader cannot lose**: a > b + r. Even if every remaining sample voted for the
   runner-up, the majority of all n samples would be the same answer, so the answer equals
   fixed-n maj@n's exactly, for fewer samples.
2. **the Beta rule** (Aggarwal et al. 2023, "Let's Sample Step by Step: Adaptive-
   Consistency for Efficient Reasoning and Coding with LLMs", arXiv 2305.11860, their
   Beta stopping criterion): with a uniform prior on the leader's share p among the
   leader's and the runner-up's votes, p | a, b ~ Beta(a + 1, b + 1), and sampling stops
   when P(p > 1/2) >= :data:`CONFIDENCE` (0.95, the paper's threshold). For whole counts
   P(p > 1/2) = P(Binomial(a + b + 1, 1/2) <= a), so the rule is exact arithmetic: 4
   agreeing votes and no dissent stop it (0.969), 3 do not (0.938). Like the window of
   early-stopping self-consistency (Li et al. 2024, ESC, arXiv 2401.10480), it stops an
   item whose samples agree; unlike rule 1 it may, rarely, stop before a lead that a
   fixed-n vote would have overturned.

Unparsed samples and failed requests use up a sample and vote for nothing. The strategy's
point is the majority vote over the samples drawn, at the tokens actually spent; the
summary sets beside it what fixed-n maj@n costs (n x mean tokens per sample).
"""

from __future__ import annotations

from collections import Counter
from math import comb
from typing import Iterable

from .registry import Strategy, register

ADAPTIVE = register(
    Strategy("adaptive", "majority vote of samples drawn until the answer is settled (at most n)", "sampling")
)
CONFIDENCE = 0.95


def leader_share_above_half(a: int, b: int) -> float:
    """P(p > 1/2) for p ~ Beta(a + 1, b + 1): the chance, under a uniform prior, that the
    leader holds more than half of the two answers' votes."""
    trials = a + b + 1
    return sum(comb(trials, i) for i in range(a + 1)) / 2**trials


def settled(votes: Iterable[str | None], remaining: int) -> bool:
    """Whether an item's votes so far (vote keys of its scored samples; None for an
    unparsed one) settle its majority answer, with ``remaining`` of its n samples not yet
    drawn (the module's two rules)."""
    if remaining <= 0:
        return True
    counts = sorted(Counter(v for v in votes if v is not None).values(), reverse=True)
    if not counts:
        return False
    a, b = counts[0], counts[1] if len(counts) > 1 else 0
    return a > b + remaining or leader_share_above_half(a, b) >= CONFIDENCE
