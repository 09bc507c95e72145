"""Metrics over sample rows: accuracy against compute, with error bars. Pure functions.

Definitions (checkable by hand; field by field in docs/metrics.md, as in DESIGN.md):
- pass@k = mean over items of 1 - C(n-c, k) / C(n, k)   (unbiased estimator, k <= n)
- maj@k  = mean over items of the expected majority-vote correctness over all size-k
           subsets of the item's n samples; unparsed samples do not vote; a tie splits
           credit evenly among the tied answers; a subset with no votes scores 0.
- tokens per item at (budget, k) = k x mean completion tokens per sample at that budget.
- SE = standard deviation of item-level values / sqrt(items); 95% CI = mean +- 1.96 SE
  (maj@k: percentile bootstrap over items).
Errored samples are excluded from accuracy and reported as errors and coverage.

One pass over the rows tallies each (task, level, item, budget); everything else is
computed from the tallies, so memory grows with items x budgets, not with samples.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import defaultdict
from typing import Iterable

import numpy as np

from .estimators import (  # noqa: F401  (re-exported: the public metric functions live here)
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Z95,
    _maj_at_k,
    bootstrap_ci,
    bootstrap_means,
    bootstrap_weights,
    column_stats,
    histogram_key,
    maj_at_k,
    maj_curve,
    mean_se,
    pass_at_k,
    pass_curve,
    percentile_interval,
    stat_dict,
)
from .fidelity import budget_fidelity, s1_metrics, used_field
from .fits import loglinear_fit
from .frontier import ORACLE, candidates, describe, pareto_frontier

SCHEMA_VERSION = 2
EFFORT_ORDER = ("none", "minimal", "low", "medium", "high", "xhigh")
SIGNIFICANT_DIGITS = 12


class _Tally:
    """The samples of one item at one budget, reduced to what the metrics need."""

    __slots__ = (
        "task", "level", "item", "budget", "requested", "field", "reasoning_used", "rows", "errors",
        "retries", "n", "correct",
        "unparsed", "truncated", "estimated", "partial", "has_partial", "scores", "answers",
        "completion", "used", "reasoning", "prompt", "latency", "_maj", "_pass", "first_text", "all_same",
    )  # fmt: skip

    def __init__(self, task, level, item, budget, requested):
        self.task, self.level, self.item, self.budget = task, level, item, budget
        self.requested = requested
        self.field = used_field(budget)
        self.reasoning_used = self.field == "reasoning_tokens"
        self.rows = self.errors = self.retries = self.n = self.correct = self.unparsed = 0
        self.truncated = self.estimated = 0
        self.partial = 0.0
        self.has_partial = False
        self.scores: dict[str, list] = {}
        self.answers: dict[str, list] = {}
        self.completion = array("q")
        self.used = array("q")
        self.reasoning = self.prompt = 0
        self.latency = 0.0
        self._maj = self._pass = None
        # Identical text across all samples of an item usually means the endpoint ignores
        # seed/temperature; a hash keeps the check in constant memory.
        self.first_text: int | None = None
        self.all_same = True

    def add(self, row: dict) -> None:
        # The hot loop of scoring (once per sample row): one lookup per field, no helpers.
        get = row.get
        self.rows += 1
        attempts = get("attempts") or 1
        turns = get("turns") or 1
        if attempts > turns:
            self.retries += attempts - turns
        if get("error") is not None:
            self.errors += 1
            return
        self.n += 1
        text = get("response_digest")  # rows streamed from samples.jsonl carry a digest
        if text is None:
            text = hash(get("response") or "")
        if self.first_text is None:
            self.first_text = text
        elif text != self.first_text:
            self.all_same = False
        correct = bool(row["correct"])
        self.correct += correct
        partial = get("partial")
        if partial is not None:
            self.partial += partial
            if partial != correct:
                self.has_partial = True
        scores = get("scores")
        if scores:
            self.has_partial = True
            for name, value in scores.items():
                if value is not None:
                    entry = self.scores.setdefault(name, [0.0, 0])
                    entry[0] += float(value)
                    entry[1] += 1
        answer = get("answer")
        if answer is None:
            self.unparsed += 1
        else:
            if answer.__class__ is not str:  # a structured answer votes by its JSON form
                answer = json.dumps(answer, sort_keys=True)
            entry = self.answers.get(answer)
            if entry is None:
                self.answers[answer] = [1, correct]
            else:
                entry[0] += 1
        if get("truncated"):
            self.truncated += 1
        if get("reasoning_tokens_estimated"):
            self.estimated += 1
        completion = int(get("completion_tokens") or 0)
        reasoning = int(get("reasoning_tokens") or 0)
        self.completion.append(completion)
        self.used.append(reasoning if self.reasoning_used else completion)
        self.reasoning += reasoning
        self.prompt += get("prompt_tokens") or 0
        self.latency += get("latency_s") or 0.0

    def maj(self) -> np.ndarray:
        if self._maj is None:
            self._maj = maj_curve(*histogram_key({a: tuple(v) for a, v in self.answers.items()}, self.unparsed))
        return self._maj

    def pass_(self) -> np.ndarray:
        if self._pass is None:
            self._pass = pass_curve(self.n, self.correct)
        return self._pass


def _natural(text: str) -> tuple:
    """Sort key that puts L2 before L10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text)))


def budget_sort_key(label: str, requested: int | None, order: dict[str, int]) -> tuple:
    """Listed budgets first, in the given order; then by kind and size (effort by level)."""
    kind, _, value = label.partition(":")
    if kind == "effort":
        size = EFFORT_ORDER.index(value) if value in EFFORT_ORDER else len(EFFORT_ORDER)
    else:
        size = requested if requested is not None else float("inf")
    return (order.get(label, len(order)), kind, size, label)


def _concat(arrays: list[array]) -> np.ndarray:
    parts = [np.frombuffer(a, dtype=np.int64) for a in arrays if len(a)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _group(
    tallies: list[_Tally],
    maj_values: np.ndarray,
    pass_values: np.ndarray,
    maj_boot: np.ndarray,
    samples_per_item: int,
    prices: dict | None,
    params: float | None,
) -> dict:
    """Every figure for one group (one budget; all levels or one) from its item tallies.

    ``maj_values``/``pass_values``: item x k tables (NaN where an item has no scored
    sample); ``maj_boot``: bootstrap means of the maj@k columns.
    """
    scored = [t for t in tallies if t.n]
    rows = sum(t.rows for t in tallies)
    errors = sum(t.errors for t in tallies)
    n_scored = sum(t.n for t in tallies)
    expected = max((t.rows for t in tallies), default=0)
    complete = sum(1 for t in tallies if t.errors == 0 and t.n == expected)
    completion = _concat([t.completion for t in tallies])
    used = _concat([t.used for t in tallies])
    mean_completion = float(completion.mean()) if n_scored else 0.0
    mean_prompt = sum(t.prompt for t in tallies) / n_scored if n_scored else None
    mean_reasoning = sum(t.reasoning for t in tallies) / n_scored if n_scored else None
    mean_latency = sum(t.latency for t in tallies) / n_scored if n_scored else None
    cost_per_sample = None
    if prices and n_scored:
        cost_per_sample = (
            mean_prompt * float(prices.get("input_per_million") or 0.0)
            + mean_completion * float(prices.get("output_per_million") or 0.0)
        ) / 1e6

    maj_mean, maj_se, maj_n = column_stats(maj_values)
    pass_mean, pass_se, pass_n = column_stats(pass_values)
    maj_ci = percentile_interval(maj_boot)
    points = []
    for k in range(1, samples_per_item + 1):
        j = k - 1
        tokens = k * mean_completion
        points.append(
            {
                "k": k,
                "tokens_per_item": tokens,
                "reasoning_tokens_per_item": k * mean_reasoning if mean_reasoning is not None else None,
                "prompt_tokens_per_item": k * mean_prompt if mean_prompt is not None else None,
                "latency_s_per_item": k * mean_latency if mean_latency is not None else None,
                "cost_per_item": k * cost_per_sample if cost_per_sample is not None else None,
                "flops_per_item": 2.0 * params * tokens if params else None,
                "maj": stat_dict(maj_mean[j], maj_se[j], maj_n[j], maj_ci[:, j]),
                "pass": stat_dict(pass_mean[j], pass_se[j], pass_n[j]),
            }
        )
    pass1 = points[0]["pass"] if points else stat_dict(0.0, 0.0, 0)
    score_names = sorted({name for t in scored for name in t.scores})
    requested = next((t.requested for t in tallies if t.requested is not None), None)
    field = tallies[0].field if tallies else "completion_tokens"
    return {
        "items": len(tallies),
        "items_scored": len(scored),
        "items_complete": complete,
        "coverage": complete / len(tallies) if tallies else None,
        "samples": rows,
        "samples_scored": n_scored,
        "samples_per_item": samples_per_item,
        "errors": errors,
        "error_rate": errors / rows if rows else 0.0,
        "parse_failure_rate": sum(t.unparsed for t in tallies) / n_scored if n_scored else None,
        "identical_sample_rate": _identical_rate(scored),
        "truncation_rate": sum(t.truncated for t in tallies) / n_scored if n_scored else None,
        "pass@1": pass1,
        "partial": mean_se(t.partial / t.n for t in scored),
        "has_partial": any(t.has_partial for t in scored),
        "scores": {
            name: mean_se(t.scores[name][0] / t.scores[name][1] for t in scored if name in t.scores)
            for name in score_names
        },
        "mean_completion_tokens": mean_completion,
        "mean_reasoning_tokens": mean_reasoning,
        "mean_prompt_tokens": mean_prompt,
        "mean_latency_s": mean_latency,
        "cost_per_sample": cost_per_sample,
        "fidelity": budget_fidelity(
            requested,
            field,
            used,
            completion,
            sum(t.truncated for t in tallies),
            sum(t.estimated for t in tallies),
        ),
        "points": points,
    }


def _identical_rate(scored: list[_Tally]) -> float | None:
    """Share of items (with 2+ samples) whose samples all returned the very same text."""
    several = [t for t in scored if t.n >= 2]
    return sum(t.all_same for t in several) / len(several) if several else None


def _tables(tallies: list[_Tally], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Item x k tables of maj@k and pass@k (rows in tally order; NaN for unscored items)."""
    maj = np.full((len(tallies), k), np.nan)
    pas = np.full((len(tallies), k), np.nan)
    for i, t in enumerate(tallies):
        if t.n:
            maj[i] = t.maj()[:k]
            pas[i] = t.pass_()[:k]
    return maj, pas


def score_group(rows: list[dict]) -> dict:
    """Every figure for one (task, level or all levels, budget) group of sample rows."""
    by_item: dict[str, _Tally] = {}
    for row in rows:
        t = by_item.get(row["item"])
        if t is None:
            t = by_item[row["item"]] = _Tally(
                row.get("task"), row.get("level"), row["item"], row.get("budget", ""), row.get("requested_tokens")
            )
        t.add(row)
    tallies = list(by_item.values())
    k = min((t.n for t in tallies if t.n), default=0)
    maj, pas = _tables(tallies, k)
    boot = bootstrap_means(maj, bootstrap_weights(len(tallies))) if tallies else np.zeros((0, k))
    return _group(tallies, maj, pas, boot, k, None, None)


def _task_section(
    task: str,
    tallies: list[_Tally],
    budgets: list[str],
    prices: dict | None,
    params: float | None,
) -> tuple[list[dict], list[dict], dict]:
    """All-level groups, level groups and the task section (frontier, fits, s1) of one task."""
    items = sorted({t.item for t in tallies}, key=_natural)
    index = {item: i for i, item in enumerate(items)}
    by_budget: dict[str, list[_Tally]] = defaultdict(list)
    for t in tallies:
        by_budget[t.budget].append(t)
    budgets = [b for b in budgets if b in by_budget]

    # One item x (budget, k, metric) table for the task: the bootstrap resamples items once
    # and every point, curve and fit reads its columns.
    ks, maj_cols, pass_cols, width = {}, {}, {}, 0
    for b in budgets:
        ks[b] = min((t.n for t in by_budget[b] if t.n), default=0)
        maj_cols[b] = np.arange(width, width + ks[b])
        pass_cols[b] = np.arange(width + ks[b], width + 2 * ks[b])
        width += 2 * ks[b]
    table = np.full((len(items), width), np.nan)
    for b in budgets:
        k = ks[b]
        for t in by_budget[b]:
            if t.n and k:
                i = index[t.item]
                table[i, maj_cols[b]] = t.maj()[:k]
                table[i, pass_cols[b]] = t.pass_()[:k]
    boot = bootstrap_means(table, bootstrap_weights(len(items))) if items else np.zeros((0, width))

    overall = []
    for b in budgets:
        group = _group(
            by_budget[b],
            table[:, maj_cols[b]],
            table[:, pass_cols[b]],
            boot[:, maj_cols[b]],
            ks[b],
            prices,
            params,
        )
        overall.append({"task": task, "level": None, "budget": b, "requested_tokens": group["fidelity"]["requested_tokens"], **group})

    levels = sorted({t.level for t in tallies}, key=_natural)
    by_level = []
    all_maj = np.concatenate([maj_cols[b] for b in budgets]) if budgets else np.zeros(0, dtype=int)
    position = {c: j for j, c in enumerate(all_maj)}
    level_items: dict[str, set] = defaultdict(set)
    for t in tallies:
        level_items[t.level].add(t.item)
    for level in levels:
        rows = np.array(sorted(index[i] for i in level_items[level]), dtype=int)
        sub = table[rows]
        level_boot = bootstrap_means(sub[:, all_maj], bootstrap_weights(len(rows)))
        for b in budgets:
            members = [t for t in by_budget[b] if t.level == level]
            if not members:
                continue
            cols = [position[c] for c in maj_cols[b]]
            group = _group(members, sub[:, maj_cols[b]], sub[:, pass_cols[b]], level_boot[:, cols], ks[b], prices, params)
            by_level.append({"task": task, "level": level, "budget": b, "requested_tokens": group["fidelity"]["requested_tokens"], **group})

    points = candidates(overall, budgets, ORACLE)
    frontier = pareto_frontier(points)
    section = {
        "task": task,
        "budgets": budgets,
        "levels": levels,
        "items": len(items),
        "frontier": frontier,
        "frontier_with_oracle": pareto_frontier(points, ORACLE),
        "frontier_text": describe(frontier),
        "fits": _fits(overall, boot, maj_cols, pass_cols),
        "fidelity": s1_metrics(
            [
                {
                    "budget": g["budget"],
                    "tokens": g["mean_completion_tokens"] if g["samples_scored"] else None,
                    "accuracy": g["pass@1"]["mean"],
                    "within_budget": g["fidelity"]["within_budget"],
                    "samples": g["fidelity"]["samples"],
                    "requested_tokens": g["requested_tokens"],
                }
                for g in overall
            ]
        ),
    }
    return overall, by_level, section


def _fits(overall: list[dict], boot: np.ndarray, maj_cols: dict, pass_cols: dict) -> list[dict]:
    """Log-linear fits per method: across budgets, and across k at each budget."""
    series = []

    def add(method, budget, over, pts):
        tokens = [p[0] for p in pts]
        acc = [p[1] if p[1] is not None else np.nan for p in pts]
        cols = [p[2] for p in pts]
        fit = loglinear_fit(tokens, acc, boot[:, cols] if cols else None)
        if fit is not None:
            series.append({"method": method, "budget": budget, "over": over, **fit})

    scored = [g for g in overall if g["points"]]
    add("pass@1", None, "budgets", [(g["points"][0]["tokens_per_item"], g["pass@1"]["mean"], pass_cols[g["budget"]][0]) for g in scored])
    for method, key, cols in (("maj@k", "maj", maj_cols), ("pass@k", "pass", pass_cols)):
        add(
            method,
            None,
            "budgets and k",
            [(p["tokens_per_item"], p[key]["mean"], cols[g["budget"]][p["k"] - 1]) for g in scored for p in g["points"]],
        )
    for g in scored:
        for method, key, cols in (("maj@k", "maj", maj_cols), ("pass@k", "pass", pass_cols)):
            add(method, g["budget"], "k", [(p["tokens_per_item"], p[key]["mean"], cols[g["budget"]][p["k"] - 1]) for p in g["points"]])
    return series


def _clean(value):
    """JSON-ready: numpy scalars to Python, NaN to None, floats to 12 significant digits
    (so a summary does not change with the last bits of a BLAS summation order)."""
    kind = value.__class__
    if kind is float or isinstance(value, np.floating):
        value = float(value)
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if kind is dict:
        return {k: _clean(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_clean(v) for v in value]
    if kind is bool or kind is int or kind is str or value is None:
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def summarize(
    rows: Iterable[dict],
    budget_order: list[str] | None = None,
    *,
    prices: dict | None = None,
    params: float | None = None,
) -> dict:
    """summary.json content: per task x budget (all levels), per task x level x budget, and
    per task the frontier, scaling fits and budget fidelity.

    ``rows`` may be any iterable (a generator keeps memory flat); ``prices`` is
    {"input_per_million": USD, "output_per_million": USD}; ``params`` the model's
    parameter count for the FLOPs axis (2 x params x tokens).
    """
    tallies: dict[tuple, _Tally] = {}
    find = tallies.get
    for row in rows:
        key = (row["task"], row["level"], row["item"], row["budget"])
        t = find(key)
        if t is None:
            t = tallies[key] = _Tally(*key, row.get("requested_tokens"))
        t.add(row)
    samples = sum(t.rows for t in tallies.values())
    errors = sum(t.errors for t in tallies.values())
    retries = sum(t.retries for t in tallies.values())

    order = {b: i for i, b in enumerate(budget_order or [])}
    requested = {}
    for t in tallies.values():
        if requested.get(t.budget) is None:
            requested[t.budget] = t.requested
    budgets = sorted(requested, key=lambda b: budget_sort_key(b, requested[b], order))
    by_task: dict[str, list[_Tally]] = defaultdict(list)
    for t in tallies.values():
        by_task[t.task].append(t)

    overall, by_level, sections = [], [], []
    for task in sorted(by_task, key=_natural):
        groups, level_groups, section = _task_section(task, by_task[task], budgets, prices, params)
        overall += groups
        by_level += level_groups
        sections.append(section)
    return _clean(
        {
            "schema_version": SCHEMA_VERSION,
            "samples": samples,
            "errors": errors,
            "retries": retries,
            "prices": dict(prices) if prices else None,
            "params": params,
            "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED},
            "groups": overall + by_level,
            "tasks": sections,
            "warnings": _warnings(overall),
        }
    )


# Half the items answering with byte-identical samples is not chance at a nonzero temperature.
IDENTICAL_WARNING_RATE = 0.5


def _warnings(overall: list[dict]) -> list[str]:
    notes = []
    for g in overall:
        rate = g.get("identical_sample_rate")
        if rate is not None and rate >= IDENTICAL_WARNING_RATE:
            notes.append(
                f"{g['task']} {g['budget']}: every sample was identical on {rate:.0%} of items; "
                "the endpoint may ignore seed/temperature, so maj@k and pass@k add nothing"
            )
    return notes
