"""The checker's selection strategies (metrics/selection.py), exact over all size-k subsets:
verified-maj@k and best-of-k against brute force over every subset of small random
histograms, and what an informative checker guarantees."""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations
from math import comb

import numpy as np
import pytest

from ttc_bench.metrics.definitions import best_of_k, maj_at_k, verified_maj_at_k
from ttc_bench.metrics.selection import best_of_curve, split_histogram, verified_curve
from ttc_bench.metrics.tally import ItemTally


def _vote(subset) -> float:
    """A majority vote over (answer, correct) samples: ties split the credit, no vote 0."""
    counts = Counter(answer for answer, _ in subset)
    if not counts:
        return 0.0
    top = max(counts.values())
    tied = [answer for answer, m in counts.items() if m == top]
    right = {answer for answer, correct in subset if correct}
    return sum(answer in right for answer in tied) / len(tied)


def brute(samples: list[tuple], k: int) -> tuple[float, float, float]:
    """(maj@k, verified-maj@k, best-of-k) as means over every size-k subset of the samples,
    each (answer or None, correct, accepted)."""
    maj = verified = best = 0.0
    for subset in combinations(samples, k):
        parsed = [(a, c) for a, c, _ in subset if a is not None]
        accepted = [(a, c) for a, c, ok in subset if a is not None and ok]
        maj += _vote(parsed)
        verified += _vote(accepted) if accepted else _vote(parsed)
        # The first accepted sample in a random order is a uniform pick among the accepted.
        pool = accepted or parsed
        best += sum(c for _, c in pool) / len(pool) if pool else 0.0
    total = comb(len(samples), k)
    return maj / total, verified / total, best / total


def random_item(rng: random.Random) -> tuple[ItemTally, list[tuple]]:
    """A tally of 1..9 samples over up to 4 answers (any may be correct, any accepted) and
    some unparsed samples, with the samples it was built from."""
    answers = {f"a{i}": (rng.random() < 0.4, rng.random() < 0.5) for i in range(rng.randint(1, 4))}
    samples = []
    for _ in range(rng.randint(1, 9)):
        if rng.random() < 0.15:
            samples.append((None, False, False))
        else:
            answer = rng.choice(sorted(answers))
            samples.append((answer, *answers[answer]))
    tally = ItemTally("t", "L", "t/L/0", "tokens:8")
    for answer, correct, ok in samples:
        tally.add({"answer": answer, "correct": correct, "checked": ok if answer is not None else None,
                   "completion_tokens": 1, "response": f"{answer}"})
    return tally, samples


def test_exact_curves_match_brute_force_over_every_subset():
    rng = random.Random(15)
    for _ in range(400):
        tally, samples = random_item(rng)
        maj, verified, best = maj_at_k(tally), verified_maj_at_k(tally), best_of_k(tally)
        assert len(verified) == len(best) == len(samples)
        for k in range(1, len(samples) + 1):
            want = brute(samples, k)
            assert maj[k - 1] == pytest.approx(want[0], abs=1e-12)
            assert verified[k - 1] == pytest.approx(want[1], abs=1e-12), (samples, k)
            assert best[k - 1] == pytest.approx(want[2], abs=1e-12), (samples, k)


def test_without_accepted_answers_verified_majority_is_the_plain_vote():
    yes, no, unparsed = split_histogram({"a": [3, True], "b": [4, False]}, set(), 2)
    assert yes == ()
    plain = maj_at_k(_tally([("a", True)] * 3 + [("b", False)] * 4 + [(None, False)] * 2, accepted=set()))
    assert np.allclose(verified_curve(yes, no, unparsed), plain, atol=1e-12)


def _tally(samples, accepted) -> ItemTally:
    tally = ItemTally("t", "L", "t/L/0", "tokens:8")
    for answer, correct in samples:
        tally.add({"answer": answer, "correct": correct, "checked": None if answer is None else answer in accepted,
                   "completion_tokens": 1})
    return tally


def test_an_informative_checker_lifts_the_vote_to_pass_at_k():
    """A checker accepting exactly the correct answer: verified-maj@k and best-of-k are the
    chance that k samples hold a correct one (pass@k), never below maj@k."""
    rng = random.Random(3)
    for _ in range(100):
        n_right, n_wrong = rng.randint(0, 5), rng.randint(1, 6)
        samples = [("right", True)] * n_right + [("wrong", False)] * n_wrong + [("other", False)] * rng.randint(0, 2)
        tally = _tally(samples, accepted={"right"})
        n = len(samples)
        pass_k = np.array([1 - comb(n - n_right, k) / comb(n, k) for k in range(1, n + 1)])
        assert np.allclose(verified_maj_at_k(tally), pass_k, atol=1e-12)
        assert np.allclose(best_of_k(tally), pass_k, atol=1e-12)
        assert np.all(verified_maj_at_k(tally) >= maj_at_k(tally) - 1e-12)


def test_an_empty_item_and_an_item_of_unparsed_samples():
    assert best_of_curve((), (), 0).size == 0
    assert np.array_equal(best_of_curve((), (), 3), np.zeros(3))
    assert np.array_equal(verified_curve((), (), 3), np.zeros(3))
