"""Metrics over sample rows: pass@1, pass@k, maj@k, error bars and compute. Pure functions.

Definitions (checkable by hand; see docs/metrics.md):
- pass@k = mean over items of 1 - C(n-c, k) / C(n, k)   (unbiased estimator, k <= n)
- maj@k  = mean over items of the expected majority-vote correctness over all size-k
           subsets of the item's n samples; unparsed samples do not vote; a tie splits
           credit evenly among the tied answers; a subset with no votes scores 0.
- tokens per item at (budget, k) = k x mean completion tokens per sample at that budget.
- SE = standard deviation of item-level values / sqrt(items); 95% CI = mean +- 1.96 SE
  (maj@k: percentile bootstrap over items).
Errored samples are excluded from accuracy and reported as errors.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from math import comb, sqrt
from typing import Iterable

import numpy as np

SCHEMA_VERSION = 1
Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 1000


def pass_at_k(n: int, c: int, k: int) -> float:
    if not 0 < k <= n:
        raise ValueError(f"pass@k needs 0 < k <= n (k={k}, n={n})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


@lru_cache(maxsize=65536)
def _maj_at_k(classes: tuple[tuple[int, bool], ...], unparsed: int, k: int) -> float:
    """classes: (count, correct) per distinct parsed answer."""
    n = sum(m for m, _ in classes) + unparsed
    if not 0 < k <= n:
        raise ValueError(f"maj@k needs 0 < k <= n (k={k}, n={n})")
    total = 0.0
    for a, (m_a, correct_a) in enumerate(classes):
        if not correct_a:
            continue
        others = [m for b, (m, _) in enumerate(classes) if b != a]
        for x in range(1, min(m_a, k) + 1):
            # dp[t][s]: ways to draw s samples from the unparsed and the other classes,
            # every other class drawn at most x times, t of them exactly x (tied with a).
            dp = [[0] * (k - x + 1) for _ in range(len(others) + 1)]
            for s in range(min(unparsed, k - x) + 1):
                dp[0][s] = comb(unparsed, s)
            for m_b in others:
                nxt = [[0] * (k - x + 1) for _ in range(len(others) + 1)]
                for t, row in enumerate(dp):
                    for s, ways in enumerate(row):
                        if not ways:
                            continue
                        for x_b in range(min(m_b, x, k - x - s) + 1):
                            nxt[t + (x_b == x)][s + x_b] += ways * comb(m_b, x_b)
                dp = nxt
            tied_share = sum(dp[t][k - x] / (t + 1) for t in range(len(dp)))
            total += comb(m_a, x) * tied_share
    return total / comb(n, k)


def maj_at_k(answers: dict[str, tuple[int, bool]], unparsed: int, k: int) -> float:
    """Expected majority-vote correctness of a random size-k subset of one item's samples.

    ``answers`` maps each distinct normalized answer to (count, correct).
    """
    key = tuple(sorted(answers.values(), key=lambda mc: (-mc[0], not mc[1])))
    return _maj_at_k(key, unparsed, k)


def mean_se(values: Iterable[float]) -> dict:
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return {"mean": None, "se": None, "ci95": [None, None], "n": 0}
    mean = float(arr.mean())
    se = float(arr.std(ddof=1) / sqrt(arr.size)) if arr.size > 1 else 0.0
    return {"mean": mean, "se": se, "ci95": [max(0.0, mean - Z95 * se), min(1.0, mean + Z95 * se)], "n": int(arr.size)}


def bootstrap_ci(values: Iterable[float], seed: int = 0, resamples: int = BOOTSTRAP_RESAMPLES) -> list:
    arr = np.asarray(list(values), dtype=float)
    if arr.size < 2:
        return [float(arr.mean()) if arr.size else None] * 2
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    means = arr[idx].mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


class _ItemTally:
    __slots__ = ("n", "correct", "unparsed", "answers", "partial")

    def __init__(self):
        self.n = 0
        self.correct = 0
        self.unparsed = 0
        self.answers: dict[str, list] = {}
        self.partial = 0.0

    def add(self, row: dict) -> None:
        self.n += 1
        self.correct += bool(row["correct"])
        self.partial += float(row.get("partial") or 0.0)
        answer = row.get("answer")
        if answer is None:
            self.unparsed += 1
            return
        entry = self.answers.setdefault(answer, [0, bool(row["correct"])])
        entry[0] += 1

    def votes(self) -> dict[str, tuple[int, bool]]:
        return {a: (m, c) for a, (m, c) in self.answers.items()}


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def score_group(rows: list[dict]) -> dict:
    """Every figure for one (task, level or all levels, budget) group of sample rows."""
    items: dict[str, _ItemTally] = defaultdict(_ItemTally)
    errors = parse_failures = truncated = 0
    scored_rows = []
    for row in rows:
        if row.get("error") is not None:
            errors += 1
            items.setdefault(row["item"], _ItemTally())
            continue
        scored_rows.append(row)
        items[row["item"]].add(row)
        parse_failures += row.get("answer") is None
        truncated += bool(row.get("truncated"))
    tallies = [t for t in items.values() if t.n > 0]
    n_scored = len(scored_rows)
    completion = [r["completion_tokens"] for r in scored_rows]
    mean_completion = _mean(completion) or 0.0
    max_k = min((t.n for t in tallies), default=0)
    points = []
    for k in range(1, max_k + 1):
        maj = [maj_at_k(t.votes(), t.unparsed, k) for t in tallies]
        pas = [pass_at_k(t.n, t.correct, k) for t in tallies]
        maj_stats = mean_se(maj)
        maj_stats["ci95"] = bootstrap_ci(maj, seed=k)
        points.append(
            {"k": k, "tokens_per_item": k * mean_completion, "maj": maj_stats, "pass": mean_se(pas)}
        )
    return {
        "items": len(items),
        "items_scored": len(tallies),
        "samples": len(rows),
        "samples_scored": n_scored,
        "samples_per_item": max_k,
        "errors": errors,
        "error_rate": errors / len(rows) if rows else 0.0,
        "parse_failure_rate": parse_failures / n_scored if n_scored else None,
        "truncation_rate": truncated / n_scored if n_scored else None,
        "pass@1": mean_se(t.correct / t.n for t in tallies),
        "partial": mean_se(t.partial / t.n for t in tallies),
        "mean_completion_tokens": mean_completion,
        "mean_reasoning_tokens": _mean([r.get("reasoning_tokens") or 0 for r in scored_rows]),
        "mean_prompt_tokens": _mean([r.get("prompt_tokens") or 0 for r in scored_rows]),
        "mean_latency_s": _mean([r.get("latency_s") or 0.0 for r in scored_rows]),
        "points": points,
    }


def summarize(rows: list[dict], budget_order: list[str] | None = None) -> dict:
    """summary.json content: per task x budget (all levels) and per task x level x budget."""
    by_task: dict[tuple, list] = defaultdict(list)
    by_level: dict[tuple, list] = defaultdict(list)
    requested: dict[str, int | None] = {}
    for row in rows:
        by_task[(row["task"], row["budget"])].append(row)
        by_level[(row["task"], row["level"], row["budget"])].append(row)
        requested.setdefault(row["budget"], row.get("requested_tokens"))
    order = {b: i for i, b in enumerate(budget_order or [])}

    def sort_key(key):
        return (*key[:-1], order.get(key[-1], len(order)), key[-1])

    groups = []
    for key in sorted(by_task, key=sort_key):
        task, budget = key
        groups.append({"task": task, "level": None, "budget": budget, "requested_tokens": requested[budget], **score_group(by_task[key])})
    for key in sorted(by_level, key=sort_key):
        task, level, budget = key
        groups.append({"task": task, "level": level, "budget": budget, "requested_tokens": requested[budget], **score_group(by_level[key])})
    return {
        "schema_version": SCHEMA_VERSION,
        "samples": len(rows),
        "errors": sum(1 for r in rows if r.get("error") is not None),
        "retries": sum(max(0, (r.get("attempts") or 1) - (r.get("turns") or 1)) for r in rows),
        "groups": groups,
    }
