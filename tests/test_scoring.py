import itertools
import random
from fractions import Fraction
from math import comb

import pytest

from ttc_bench.scoring import maj_at_k, mean_se, pass_at_k, score_group, summarize


def brute_maj(samples, correct_answers, k):
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(samples)), k))
    for subset in subsets:
        votes = {}
        for i in subset:
            if samples[i] is not None:
                votes[samples[i]] = votes.get(samples[i], 0) + 1
        if not votes:
            continue
        top = max(votes.values())
        tied = [a for a, v in votes.items() if v == top]
        total += Fraction(sum(a in correct_answers for a in tied), len(tied))
    return float(total / len(subsets))


def test_pass_at_k_published_value():
    assert pass_at_k(200, 10, 10) == pytest.approx(0.408548, abs=1e-6)


@pytest.mark.parametrize("n", range(1, 12))
def test_pass_at_k_matches_exact_binomial_form(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            exact = 1 - comb(n - c, k) / comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_k_rejects_k_above_n():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_maj_at_k_matches_brute_force_on_random_histograms():
    rng = random.Random(0)
    for _ in range(250):
        n = rng.randint(1, 9)
        samples = [rng.choice([None, "a", "b", "c", "d"]) for _ in range(n)]
        correct = {"a"} if rng.random() < 0.8 else {"a", "c"}  # several correct classes allowed
        hist = {}
        for s in samples:
            if s is not None:
                hist[s] = hist.get(s, 0) + 1
        answers = {a: (m, a in correct) for a, m in hist.items()}
        for k in range(1, n + 1):
            assert maj_at_k(answers, samples.count(None), k) == pytest.approx(brute_maj(samples, correct, k), abs=1e-12)


def test_maj_at_k_ties_split_credit():
    # two samples, one right one wrong: a 2-vote is a tie, worth half.
    assert maj_at_k({"a": (1, True), "b": (1, False)}, 0, 2) == pytest.approx(0.5)
    assert maj_at_k({"a": (1, True)}, 1, 2) == pytest.approx(1.0)  # unparsed does not vote
    assert maj_at_k({}, 3, 2) == 0.0


def test_mean_se_hand_computed():
    stats = mean_se([0.0, 0.5, 1.0, 1.0])
    # mean 0.625, sample sd = sqrt(((.625)^2+(.125)^2+2*(.375)^2)/3) = 0.478714, se = 0.239357
    assert stats["mean"] == pytest.approx(0.625)
    assert stats["se"] == pytest.approx(0.2393568, abs=1e-6)
    assert stats["ci95"][0] == pytest.approx(0.625 - 1.959964 * 0.2393568, abs=1e-5)


def _row(item, answer, correct, budget="tokens:10", tokens=10, error=None, level="L"):
    return {
        "key": f"{item}/{budget}/{random.random()}",
        "task": "t",
        "level": level,
        "item": item,
        "budget": budget,
        "answer": answer,
        "correct": correct,
        "partial": float(correct),
        "completion_tokens": tokens,
        "reasoning_tokens": 0,
        "prompt_tokens": 5,
        "latency_s": 0.1,
        "error": error,
        "truncated": False,
        "attempts": 1,
        "turns": 1,
    }


def test_score_group_excludes_errors_and_accounts_tokens():
    rows = [
        _row("i1", "1", True, tokens=10),
        _row("i1", "2", False, tokens=30),
        _row("i2", "3", True, tokens=20),
        _row("i2", "3", True, tokens=20),
        _row("i2", None, False, error="boom"),
    ]
    group = score_group(rows)
    assert group["errors"] == 1
    assert group["samples_scored"] == 4
    assert group["pass@1"]["mean"] == pytest.approx((0.5 + 1.0) / 2)
    assert group["mean_completion_tokens"] == pytest.approx(20)
    assert [p["tokens_per_item"] for p in group["points"]] == [20, 40]
    assert group["points"][1]["maj"]["mean"] == pytest.approx((0.5 + 1.0) / 2)


def test_summarize_orders_budgets_and_groups_levels():
    rows = [_row("i1", "1", True, budget=b, level=lv) for b in ("tokens:99", "tokens:5") for lv in ("x", "y")]
    summary = summarize(rows, ["tokens:99", "tokens:5"])
    overall = [g["budget"] for g in summary["groups"] if g["level"] is None]
    assert overall == ["tokens:99", "tokens:5"]
    assert {g["level"] for g in summary["groups"]} == {None, "x", "y"}
