"""Every figure of one summary group (one task x budget, all levels or one) from its item
tallies and the item tables of the registered metrics.

Definitions (docs/metrics.md has them field by field):
- each metric's figure is the mean over items of its item values, with the SE over items
  and the 95% interval of intervals.bounded_intervals;
- a curve's point k uses the items with at least k scored samples (and says how many);
  its interval counts sum(n_i) / k independent trials (pass@1: every scored sample);
- tokens per item at (budget, k) = k x mean completion tokens per scored sample.
Errored samples are excluded from accuracy and reported as errors and coverage.
"""

from __future__ import annotations

from array import array

import numpy as np

from ..budgets import budget_of
from . import registry
from .fidelity import budget_fidelity
from .intervals import bounded_intervals, column_stats, mean_se, stat_dict
from .registry import Metric
from .tally import ItemTally


def item_table(tallies: list[ItemTally], metric: Metric, width: int) -> np.ndarray | None:
    """Item x k table of a curve over k = 1..width (NaN where an item has fewer than k
    scored samples, so each column holds exactly the items that reach its k), or the item
    x 1 column of a scalar (NaN for an item without a scored sample; None for the point of
    a curve, which is not computed again). Rows in tally order."""
    if metric.point_of is not None:
        return None
    if not metric.over_k:
        return np.array([[metric.item(t) if t.n else np.nan] for t in tallies]).reshape(len(tallies), 1)
    table = np.full((len(tallies), width), np.nan)
    for i, t in enumerate(tallies):
        if t.n:
            table[i, : t.n] = metric.item(t)[:width]
    return table


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


def _identical_rate(scored: list[ItemTally]) -> float | None:
    """Share of items (with 2+ samples) whose samples all returned the very same text."""
    several = [t for t in scored if t.n >= 2]
    return sum(t.all_same for t in several) / len(several) if several else None


def group_figures(
    tallies: list[ItemTally],
    tables: list[tuple[Metric, np.ndarray]],
    samples_per_item: int,
    prices: dict | None,
    params: float | None,
    token_ci: np.ndarray | None = None,
) -> dict:
    """Every figure for one group from its item tallies.

    ``tables``: each summary metric with its item table (rows in tally order; a curve's
    table is item x ``samples_per_item``); ``token_ci``: the bootstrap 95% interval of the
    mean completion tokens per sample (all-level groups only).
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
    mean_reread = sum(t.reread for t in tallies) / n_scored if n_scored else None
    unknown = sum(t.reasoning_unknown for t in tallies)
    counted = n_scored - unknown
    mean_reasoning = sum(t.reasoning for t in tallies) / counted if counted else None
    timed = sum(t.timed for t in tallies)
    mean_latency = sum(t.latency for t in tallies) / timed if timed else None
    cost_per_sample = None
    if prices and n_scored:
        cost_per_sample = (
            (mean_prompt + mean_reread) * float(prices.get("input_per_million") or 0.0)
            + mean_completion * float(prices.get("output_per_million") or 0.0)
        ) / 1e6

    counts = np.array([t.n for t in tallies], dtype=float)  # rows of the tables, in tally order
    curves = [(m, _point_stats(table, counts, samples_per_item)) for m, table in tables if m.over_k]
    points = []
    for k in range(1, samples_per_item + 1):
        j = k - 1
        tokens = k * mean_completion
        point = {
            "k": k,
            "items": int((counts >= k).sum()),
            "tokens_per_item": tokens,
            "tokens_ci95": [k * token_ci[0], k * token_ci[1]] if token_ci is not None else [None, None],
            "reasoning_tokens_per_item": k * mean_reasoning if mean_reasoning is not None else None,
            "prompt_tokens_per_item": k * mean_prompt if mean_prompt is not None else None,
            # Prompt tokens budget forcing read again (billed as input, counted apart).
            "reread_tokens_per_item": k * mean_reread if mean_reread is not None else None,
            "latency_s_per_item": k * mean_latency if mean_latency is not None else None,
            "cost_per_item": k * cost_per_sample if cost_per_sample is not None else None,
            "flops_per_item": 2.0 * params * tokens if params else None,
        }
        _place(point, [(m.key, stats[j]) for m, stats in curves])
        points.append(point)
    score_names = sorted({name for t in scored for name in t.scores})
    requested = next((t.requested for t in tallies if t.requested is not None), None)
    field = tallies[0].field if tallies else "completion_tokens"
    if unknown and field == "reasoning_tokens":
        field = "completion_tokens"  # the reasoning is not reported: used tokens include it
    budget = budget_of(tallies[0].budget) if tallies else None
    group = {
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
            budget.min_tokens if budget else None,
        ),
    }
    _place(group, [(m.key, _scalar(m, table, counts, points)) for m, table in tables if not m.over_k])
    group["points"] = points
    return group


def _scalar(metric: Metric, table: np.ndarray | None, counts: np.ndarray, points: list[dict]) -> dict:
    if metric.point_of is None:
        return _point_stats(table, counts, 1)[0]
    key = registry.get(metric.point_of).key
    return points[0][key] if points else stat_dict(0.0, 0.0, 0)


def _place(target: dict, figures: list[tuple[str, dict]]) -> None:
    """Add the metrics' figures under their keys, never over a figure already there."""
    for key, figure in figures:
        if key in target:
            raise ValueError(f"a metric's summary key {key!r} is already a summary field")
        target[key] = figure
