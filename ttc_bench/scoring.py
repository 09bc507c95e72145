"""Metrics over sample rows: accuracy against compute, with error bars. Pure functions.

Definitions (checkable by hand; field by field in docs/metrics.md, as in DESIGN.md):
- pass@k = mean over items of 1 - C(n-c, k) / C(n, k)   (unbiased estimator, k <= n)
- maj@k  = mean over items of the expected majority-vote correctness over all size-k
           subsets of the item's n samples; unparsed samples do not vote; a tie splits
           credit evenly among the tied answers; a subset with no votes scores 0.
- tokens per item at (budget, k) = k x mean completion tokens per sample at that budget.
- SE = standard deviation of item-level values / sqrt(items); 95% interval: the
  continuity-corrected Wilson interval on the effective number of trials with t quantiles
  (estimators.bounded_intervals), for pass@1, pass@k and maj@k alike.
- each k of maj@k / pass@k uses the items with at least k scored samples (and says how many).
Errored samples are excluded from accuracy and reported as errors and coverage.
The item bootstrap (one resampling per task) serves the scaling fits, the s1 Scaling
interval and the frontier's cost ties; it resamples tokens together with accuracies.

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
    bounded_intervals,
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
from .fidelity import budget_fidelity, min_tokens, s1_metrics, used_field
from .fits import loglinear_fit
from .frontier import ORACLE, candidates, describe, merge_cost_ties, pareto_frontier

SCHEMA_VERSION = 3
# What each interval in summary.json is (docs/metrics.md has the details and references).
INTERVALS = {
    "accuracy": "continuity-corrected Wilson interval on the effective number of trials, t quantile on items - 1 df",
    "fits": "percentile interval of the item bootstrap, tokens resampled with accuracy",
}
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


def _column_trials(counts: np.ndarray, k: int) -> np.ndarray:
    """Independent trials behind each k column (k = 1..k): sum over the items with at least
    k samples of n_i / k (pass@1: every scored sample; a k-vote: n_i / k disjoint votes)."""
    ks = np.arange(1, k + 1)
    return np.array([counts[counts >= j].sum() / j for j in ks], dtype=float)


def _point_stats(values: np.ndarray, counts: np.ndarray, k: int) -> list[dict]:
    """{mean, se, ci95, n} per k column of an item x k table (NaN = item lacks k samples)."""
    mean, se, n = column_stats(values)
    lo, hi = bounded_intervals(mean, se, n, _column_trials(counts, k))
    return [stat_dict(mean[j], se[j], n[j], (lo[j], hi[j])) for j in range(k)]


def _group(
    tallies: list[_Tally],
    maj_values: np.ndarray,
    pass_values: np.ndarray,
    samples_per_item: int,
    prices: dict | None,
    params: float | None,
    token_ci: np.ndarray | None = None,
) -> dict:
    """Every figure for one group (one budget; all levels or one) from its item tallies.

    ``maj_values``/``pass_values``: item x k tables (NaN where an item has fewer than k
    scored samples); ``token_ci``: the bootstrap 95% interval of the mean completion tokens
    per sample (all-level groups only).
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

    counts = np.array([t.n for t in tallies], dtype=float)  # rows of the tables, in tally order
    maj_stats = _point_stats(maj_values, counts, samples_per_item)
    pass_stats = _point_stats(pass_values, counts, samples_per_item)
    points = []
    for k in range(1, samples_per_item + 1):
        j = k - 1
        tokens = k * mean_completion
        points.append(
            {
                "k": k,
                "items": maj_stats[j]["n"],
                "tokens_per_item": tokens,
                "tokens_ci95": [k * token_ci[0], k * token_ci[1]] if token_ci is not None else [None, None],
                "reasoning_tokens_per_item": k * mean_reasoning if mean_reasoning is not None else None,
                "prompt_tokens_per_item": k * mean_prompt if mean_prompt is not None else None,
                "latency_s_per_item": k * mean_latency if mean_latency is not None else None,
                "cost_per_item": k * cost_per_sample if cost_per_sample is not None else None,
                "flops_per_item": 2.0 * params * tokens if params else None,
                "maj": maj_stats[j],
                "pass": pass_stats[j],
            }
        )
    pass1 = points[0]["pass"] if points else stat_dict(0.0, 0.0, 0)
    score_names = sorted({name for t in scored for name in t.scores})
    requested = next((t.requested for t in tallies if t.requested is not None), None)
    field = tallies[0].field if tallies else "completion_tokens"
    label = tallies[0].budget if tallies else ""
    return {
        "items": len(tallies),
        "items_scored": len(scored),
        "items_complete": complete,
        "coverage": complete / len(tallies) if tallies else None,
        "samples": rows,
        "samples_scored": n_scored,
        "samples_per_item": samples_per_item,
        "samples_per_item_min": min((t.n for t in scored), default=0),
        "errors": errors,
        "error_rate": errors / rows if rows else 0.0,
        "parse_failure_rate": sum(t.unparsed for t in tallies) / n_scored if n_scored else None,
        "identical_sample_rate": _identical_rate(scored),
        "truncation_rate": sum(t.truncated for t in tallies) / n_scored if n_scored else None,
        "pass@1": pass1,
        "partial": mean_se((t.partial / t.n for t in scored), trials=n_scored),
        "has_partial": any(t.has_partial for t in scored),
        "scores": {
            name: mean_se(
                (t.scores[name][0] / t.scores[name][1] for t in scored if name in t.scores),
                trials=sum(t.scores[name][1] for t in scored if name in t.scores),
            )
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
            min_tokens(label),
        ),
        "points": points,
    }


def _identical_rate(scored: list[_Tally]) -> float | None:
    """Share of items (with 2+ samples) whose samples all returned the very same text."""
    several = [t for t in scored if t.n >= 2]
    return sum(t.all_same for t in several) / len(several) if several else None


def _tables(tallies: list[_Tally], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Item x k tables of maj@k and pass@k (rows in tally order; NaN where an item has
    fewer than k scored samples, so each k column holds exactly the items that reach k)."""
    maj = np.full((len(tallies), k), np.nan)
    pas = np.full((len(tallies), k), np.nan)
    for i, t in enumerate(tallies):
        if t.n:
            maj[i, : t.n] = t.maj()[:k]
            pas[i, : t.n] = t.pass_()[:k]
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
    k = max((t.n for t in tallies), default=0)
    maj, pas = _tables(tallies, k)
    return _group(tallies, maj, pas, k, None, None)


class _TaskTable:
    """One item x column table for a task: per budget the maj@k and pass@k columns for
    k = 1..K (K = the most scored samples of any item at that budget) and two token
    columns (completion-token sum and scored count per item). The item bootstrap resamples
    it once, so every point, curve, fit and cost comparison of the task shares resamples."""

    def __init__(self, items: list[str], by_budget: dict[str, list[_Tally]], budgets: list[str]):
        self.index = {item: i for i, item in enumerate(items)}
        self.ks, self.maj, self.pas, self.tok, self.cnt = {}, {}, {}, {}, {}
        width = 0
        for b in budgets:
            k = max((t.n for t in by_budget[b]), default=0)
            self.ks[b] = k
            self.maj[b] = np.arange(width, width + k)
            self.pas[b] = np.arange(width + k, width + 2 * k)
            self.tok[b], self.cnt[b] = width + 2 * k, width + 2 * k + 1
            width += 2 * k + 2
        self.values = np.full((len(items), width), np.nan)
        for b in budgets:
            for t in by_budget[b]:
                if not t.n:
                    continue
                i = self.index[t.item]
                self.values[i, self.maj[b][: t.n]] = t.maj()
                self.values[i, self.pas[b][: t.n]] = t.pass_()
                self.values[i, self.tok[b]] = float(sum(t.completion))
                self.values[i, self.cnt[b]] = t.n
        weights = bootstrap_weights(len(items))
        self.boot = bootstrap_means(self.values, weights) if items else np.zeros((0, width))
        # Resampled mean completion tokens per sample: a ratio of resampled sums, as the
        # point estimate is (all scored samples of the budget, not a mean of item means).
        filled = np.nan_to_num(self.values)
        self.boot_tokens = {}
        for b in budgets:
            with np.errstate(invalid="ignore", divide="ignore"):
                self.boot_tokens[b] = (weights @ filled[:, self.tok[b]]) / (weights @ filled[:, self.cnt[b]])

    def token_ci(self, budget: str) -> np.ndarray | None:
        reps = self.boot_tokens[budget]
        reps = reps[np.isfinite(reps)]
        return np.percentile(reps, [2.5, 97.5]) if reps.size else None

    def cost(self, point: dict) -> np.ndarray:
        """Bootstrap replicates of a (budget, k) point's tokens per item."""
        return point["k"] * self.boot_tokens[point["budget"]]

    def same_cost(self, cheaper: dict, dearer: dict) -> bool:
        """Whether two points' costs are within noise: the 95% bootstrap interval of their
        paired cost difference (same resampled items) holds 0."""
        if cheaper["budget"] == dearer["budget"]:
            return False  # k x the same measured mean: the order is certain
        diff = self.cost(dearer) - self.cost(cheaper)
        diff = diff[np.isfinite(diff)]
        if diff.size < 2:
            return False
        lo, hi = np.percentile(diff, [2.5, 97.5])
        return bool(lo <= 0 <= hi)


def _task_section(
    task: str,
    tallies: list[_Tally],
    budgets: list[str],
    prices: dict | None,
    params: float | None,
) -> tuple[list[dict], list[dict], dict]:
    """All-level groups, level groups and the task section (frontier, fits, s1) of one task."""
    items = sorted({t.item for t in tallies}, key=_natural)
    by_budget: dict[str, list[_Tally]] = defaultdict(list)
    for t in tallies:
        by_budget[t.budget].append(t)
    budgets = [b for b in budgets if b in by_budget]
    table = _TaskTable(items, by_budget, budgets)

    def rows_of(members: list[_Tally]) -> np.ndarray:
        return np.array([table.index[t.item] for t in members], dtype=int)

    overall = []
    for b in budgets:
        members = by_budget[b]
        rows = rows_of(members)
        group = _group(
            members,
            table.values[np.ix_(rows, table.maj[b])],
            table.values[np.ix_(rows, table.pas[b])],
            table.ks[b],
            prices,
            params,
            table.token_ci(b),
        )
        overall.append({"task": task, "level": None, "budget": b, "requested_tokens": group["fidelity"]["requested_tokens"], **group})

    levels = sorted({t.level for t in tallies}, key=_natural)
    by_level = []
    for level in levels:
        for b in budgets:
            members = [t for t in by_budget[b] if t.level == level]
            if not members:
                continue
            k = max(t.n for t in members)
            rows = rows_of(members)
            group = _group(
                members,
                table.values[np.ix_(rows, table.maj[b][:k])],
                table.values[np.ix_(rows, table.pas[b][:k])],
                k,
                prices,
                params,
            )
            by_level.append({"task": task, "level": level, "budget": b, "requested_tokens": group["fidelity"]["requested_tokens"], **group})

    points = candidates(overall, budgets, ORACLE)
    frontier = merge_cost_ties(pareto_frontier(points), table.same_cost)
    scored = [g for g in overall if g["samples_scored"]]
    s1_cols = [table.pas[g["budget"]][0] for g in scored]
    section = {
        "task": task,
        "budgets": budgets,
        "levels": levels,
        "items": len(items),
        "frontier": frontier,
        "frontier_with_oracle": merge_cost_ties(pareto_frontier(points, ORACLE), table.same_cost),
        "frontier_text": describe(frontier),
        "fits": _fits(overall, table),
        "fidelity": s1_metrics(
            [
                {
                    "budget": g["budget"],
                    "tokens": g["mean_completion_tokens"],
                    "accuracy": g["pass@1"]["mean"],
                    "within_budget": g["fidelity"]["within_budget"],
                    "samples": g["fidelity"]["samples"],
                    "requested_tokens": g["requested_tokens"],
                    "control": g["fidelity"]["control"],
                }
                for g in scored
            ],
            np.column_stack([table.boot_tokens[g["budget"]] for g in scored]) if scored else None,
            table.boot[:, s1_cols] if scored else None,
        ),
    }
    return overall, by_level, section


def _fits(overall: list[dict], table: _TaskTable) -> list[dict]:
    """Log-linear fits per method: across budgets, and across k at each budget. Each fit's
    bootstrap resamples tokens and accuracies together (the same items)."""
    series = []

    def add(method, budget, over, pts):
        # pts: (group, point, accuracy stat key, the table's columns of that stat by budget)
        if not pts:
            return
        tokens = [p["tokens_per_item"] for _, p, _, _ in pts]
        acc = [np.nan if p[key]["mean"] is None else p[key]["mean"] for _, p, key, _ in pts]
        columns = [by_budget[g["budget"]][p["k"] - 1] for g, p, _, by_budget in pts]
        boot_tokens = np.column_stack([p["k"] * table.boot_tokens[g["budget"]] for g, p, _, _ in pts])
        fit = loglinear_fit(tokens, acc, table.boot[:, columns], boot_tokens)
        if fit is not None:
            series.append({"method": method, "budget": budget, "over": over, **fit})

    scored = [g for g in overall if g["points"]]
    add("pass@1", None, "budgets", [(g, g["points"][0], "pass", table.pas) for g in scored])
    for method, key, cols in (("maj@k", "maj", table.maj), ("pass@k", "pass", table.pas)):
        add(method, None, "budgets and k", [(g, p, key, cols) for g in scored for p in g["points"]])
    for g in scored:
        for method, key, cols in (("maj@k", "maj", table.maj), ("pass@k", "pass", table.pas)):
            add(method, g["budget"], "k", [(g, p, key, cols) for p in g["points"]])
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
            "intervals": INTERVALS,
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
