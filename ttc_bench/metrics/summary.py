"""summary.json from sample rows: every registered metric per task x budget (and level)
with error bars, the compute-optimal frontier, scaling fits and budget fidelity. Pure.

One pass over the rows tallies each (task, level, item, budget) (tally.py); everything else
is computed from the tallies, so memory grows with items x budgets, not with samples. The
metrics come from the registry (registry.py); the figures of one group from group.py.
The item bootstrap (one resampling per task) serves the scaling fits, the s1 Scaling
interval and the frontier's cost ties; it resamples tokens together with accuracies.
docs/metrics.md defines every figure.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Iterable

import numpy as np

from ..budgets import budget_of
from ..sample import Sample
from . import registry
from .compute_optimal import compute_optimal
from .fidelity import s1_metrics
from .fits import loglinear_fit
from .strategy_points import adaptive_point, revise_point, selfverify_point
from .frontier import (
    ADAPTIVE, DEPLOYABLE, ORACLE, SELFVERIFY, adaptive_candidates, candidates, describe, merge_cost_ties,
    pareto_frontier, revise_candidates, selfverify_candidates,
)  # fmt: skip
from .group import group_figures, item_table
from .intervals import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_means, bootstrap_weights
from .tally import ItemTally, scored_row

# 4: pass^k in every point ("pass_all"); used tokens of effort budgets are reasoning tokens
# (budgets.KINDS); without a recorded budget order, budgets are listed in the order of the
# budget kinds (tokens, forced, thinking, effort). docs/metrics.md lists the earlier ones.
SCHEMA_VERSION = 4
# What each interval in summary.json is (docs/metrics.md has the details and references).
INTERVALS = {
    "accuracy": "continuity-corrected Wilson interval on the effective number of trials, t quantile on items - 1 df",
    "fits": "percentile interval of the item bootstrap, tokens resampled with accuracy",
}
SIGNIFICANT_DIGITS = 12
# The curves the frontier and the scaling fits are drawn from (strategies, not just metrics).
FIT_METHODS = ("maj@k", "pass@k")
# Half the items answering with byte-identical samples is not chance at a nonzero temperature.
IDENTICAL_WARNING_RATE = 0.5


def _natural(text: str) -> tuple:
    """Sort key that puts L2 before L10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text)))


def budget_sort_key(label: str, order: dict[str, int]) -> tuple:
    """Listed budgets first, in the given order; then by kind and size (Budget.sort_key);
    labels this version cannot read last."""
    budget = budget_of(label)
    return (order.get(label, len(order)), (0, budget.sort_key()) if budget else (1,), label)


class _TaskTable:
    """One item x column table for a task: per budget the maj@k and pass@k columns for
    k = 1..K (K = the most scored samples of any item at that budget) and two token
    columns (completion-token sum and scored count per item). The item bootstrap resamples
    it once, so every point, curve, fit and cost comparison of the task shares resamples."""

    def __init__(self, items: list[str], by_budget: dict[str, list[ItemTally]], tables: dict, budgets: list[str]):
        self.index = {item: i for i, item in enumerate(items)}
        self.ks, self.cols, self.tok, self.cnt = {}, {}, {}, {}
        width = 0
        for b in budgets:
            k = max((t.n for t in by_budget[b]), default=0)
            self.ks[b] = k
            self.cols[b] = {name: np.arange(width + i * k, width + (i + 1) * k) for i, name in enumerate(FIT_METHODS)}
            width += len(FIT_METHODS) * k
            self.tok[b], self.cnt[b] = width, width + 1
            width += 2
        self.values = np.full((len(items), width), np.nan)
        for b in budgets:
            rows = np.array([self.index[t.item] for t in by_budget[b]], dtype=int)
            for name in FIT_METHODS:
                self.values[np.ix_(rows, self.cols[b][name])] = tables[b][name]
            scored = [(i, t) for i, t in zip(rows, by_budget[b]) if t.n]
            for i, t in scored:
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
        # A strategy's own requests (selfverify's judging) add their tokens per item.
        return point["k"] * self.boot_tokens[point["budget"]] + point.get("extra_tokens_per_item", 0.0)

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


def _group(task, level, budget, members, tables, k, prices, params, token_ci=None, adaptive=None, judged=None,
           revised=None) -> dict:
    group = group_figures(members, tables, k, prices, params, token_ci)
    requested = group["fidelity"]["requested_tokens"]
    if adaptive:
        group["adaptive"] = adaptive_point(members, adaptive, group["mean_completion_tokens"], group["cost_per_sample"], params)
    if judged is not None:
        group["selfverify"] = selfverify_point(members, judged, group["mean_completion_tokens"], group["cost_per_sample"],
                                               prices, params)
    if revised is not None:
        chains, rounds = revised
        group["revise"] = {f"revise:{r}": revise_point(members, chains, r, params) for r in rounds}
    return {"task": task, "level": level, "budget": budget, "requested_tokens": requested, **group}


def _rows(table: np.ndarray | None, rows: list[int], k: int | None) -> np.ndarray | None:
    """Some items' rows of an item table (a curve's to k)."""
    if table is None:
        return None
    return table[rows, :k] if k is not None else table[rows]


def _task_section(
    task: str,
    tallies: list[ItemTally],
    budgets: list[str],
    prices: dict | None,
    params: float | None,
    selection: tuple[str, ...] = (),
    adaptive: int | None = None,
    judged: dict | None = None,
    revised: tuple | None = None,
) -> tuple[list[dict], list[dict], dict]:
    """All-level groups, level groups and the task section (frontier, fits, s1) of one task."""
    items = sorted({t.item for t in tallies}, key=_natural)
    by_budget: dict[str, list[ItemTally]] = defaultdict(list)
    for t in tallies:
        by_budget[t.budget].append(t)
    budgets = [b for b in budgets if b in by_budget]
    metrics = registry.in_summary(selection)
    tables = {}  # budget -> metric name -> item table, rows in by_budget order
    for b in budgets:
        k = max(t.n for t in by_budget[b])
        tables[b] = {m.name: item_table(by_budget[b], m, k) for m in metrics}
    table = _TaskTable(items, by_budget, tables, budgets)

    overall = []
    for b in budgets:
        mine = [(m, tables[b][m.name]) for m in metrics]
        overall.append(_group(task, None, b, by_budget[b], mine, table.ks[b], prices, params, table.token_ci(b), adaptive, judged, revised))

    levels = sorted({t.level for t in tallies}, key=_natural)
    by_level = []
    for level in levels:
        for b in budgets:
            rows = [i for i, t in enumerate(by_budget[b]) if t.level == level]
            if not rows:
                continue
            members = [by_budget[b][i] for i in rows]
            k = max(t.n for t in members)
            mine = [(m, _rows(tables[b][m.name], rows, k if m.over_k else None)) for m in metrics]
            by_level.append(_group(task, level, b, members, mine, k, prices, params, adaptive=adaptive, judged=judged, revised=revised))

    # The requested selection curves (docs/strategies.md) are deployable like maj@k: a
    # checker needs no oracle. They cost what their k samples cost.
    deployable = tuple(dict.fromkeys(DEPLOYABLE + tuple(selection)))
    # Adaptive sampling: a curve point counts only where every item reached k (beyond an
    # item's stop it holds the harder items alone), and the adaptive point joins them.
    points = candidates(overall, budgets, deployable + tuple(m for m in ORACLE if m not in deployable),
                        complete_only=bool(adaptive))
    if adaptive:
        deployable += (ADAPTIVE,)
        points += adaptive_candidates(overall, budgets)
    if judged is not None:
        deployable += (SELFVERIFY,)
        points += selfverify_candidates(overall, budgets)
    if revised is not None:
        deployable += tuple(f"revise:{r}" for r in revised[1])
        points += revise_candidates(overall, budgets)
    frontier = merge_cost_ties(pareto_frontier(points, deployable), table.same_cost)
    scored = [g for g in overall if g["samples_scored"]]
    s1_cols = [table.cols[g["budget"]]["pass@k"][0] for g in scored]
    if set(selection) - {"maj@k"} or adaptive or judged is not None or revised is not None:
        # Only when the run names strategies beyond maj: today's summary otherwise.
        curves = tuple(m for m in deployable if m in {x.name for x in registry.metrics()})
        levels_groups = {level: [g for g in by_level if g["level"] == level] for level in levels}
        optimal = compute_optimal(levels_groups, budgets, curves, deployable, bool(adaptive))
    else:
        optimal = None
    section = {
        "task": task,
        "budgets": budgets,
        "levels": levels,
        "items": len(items),
        "frontier": frontier,
        "frontier_with_oracle": merge_cost_ties(pareto_frontier(points, deployable + ORACLE), table.same_cost),
        "frontier_text": describe(frontier),
        **({"compute_optimal": optimal} if optimal is not None else {}),
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
    """Log-linear fits per method: pass@1 across budgets, each curve across budgets and k,
    and across k at each budget. Each fit's bootstrap resamples tokens and accuracies
    together (the same items)."""
    series = []
    keys = {name: registry.get(name).key for name in FIT_METHODS}

    def add(method, budget, over, pts):
        # pts: (group, point, the curve's name) of every point of the fit
        if not pts:
            return
        tokens = [p["tokens_per_item"] for _, p, _ in pts]
        acc = [np.nan if p[keys[name]]["mean"] is None else p[keys[name]]["mean"] for _, p, name in pts]
        columns = [table.cols[g["budget"]][name][p["k"] - 1] for g, p, name in pts]
        boot_tokens = np.column_stack([p["k"] * table.boot_tokens[g["budget"]] for g, p, _ in pts])
        fit = loglinear_fit(tokens, acc, table.boot[:, columns], boot_tokens)
        if fit is not None:
            series.append({"method": method, "budget": budget, "over": over, **fit})

    scored = [g for g in overall if g["points"]]
    add("pass@1", None, "budgets", [(g, g["points"][0], "pass@k") for g in scored])
    for name in FIT_METHODS:
        add(name, None, "budgets and k", [(g, p, name) for g in scored for p in g["points"]])
    for g in scored:
        for name in FIT_METHODS:
            add(name, g["budget"], "k", [(g, p, name) for p in g["points"]])
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
    rows: Iterable[dict | Sample],
    budget_order: list[str] | None = None,
    *,
    prices: dict | None = None,
    params: float | None = None,
    selection: tuple[str, ...] = (),
    adaptive: int | None = None,
    judged: dict | None = None,
    revised: tuple | None = None,
    no_checker=(),
) -> dict:
    """summary.json content: per task x budget (all levels), per task x level x budget, and
    per task the frontier, scaling fits and budget fidelity.

    ``rows``: samples, or rows with their :data:`~ttc_bench.metrics.tally.SCORED_FIELDS`,
    the latest of each sample key; any iterable (a generator keeps memory flat).
    ``prices`` is {"input_per_million": USD, "output_per_million": USD}; ``params`` the
    model's parameter count for the FLOPs axis (2 x params x tokens). ``selection``: the
    ``on_request`` curves of the run's selection strategies (verified-maj@k, best-of-k),
    added to every point and to the frontier; none by default (today's summary).
    ``adaptive``: the run sampled adaptively with at most this many samples per item: each
    group gets its ``adaptive`` point (metrics/strategy_points.py), and the frontier with it.
    ``judged``: the selfverify verdicts, (task, item, budget) -> {"yes", "judged",
    "tokens", "prompt"}: each group gets its ``selfverify`` point, and the frontier with it.
    ``revised``: (the revision chains, the requested R values): each group gets a
    ``revise`` point per R (metrics/strategy_points.py), and the frontier with them.
    ``no_checker``: tasks whose family has no gold-free checker: the checker's selection
    curves skip them (they would be maj@k under another name), and a warning says so.
    """
    tallies: dict[tuple, ItemTally] = {}
    find = tallies.get
    for row in rows:
        if row.__class__ is Sample:
            row = scored_row(row)
        key = (row["task"], row["level"], row["item"], row["budget"])
        t = find(key)
        if t is None:
            t = tallies[key] = ItemTally(*key, row.get("requested_tokens"))
        t.add(row)
    samples = sum(t.rows for t in tallies.values())
    errors = sum(t.errors for t in tallies.values())
    retries = sum(t.retries for t in tallies.values())

    order = {b: i for i, b in enumerate(budget_order or [])}
    budgets = sorted({t.budget for t in tallies.values()}, key=lambda b: budget_sort_key(b, order))
    by_task: dict[str, list[ItemTally]] = defaultdict(list)
    for t in tallies.values():
        by_task[t.task].append(t)

    overall, by_level, sections = [], [], []
    for task in sorted(by_task, key=_natural):
        chosen = () if task in no_checker else tuple(selection)
        groups, level_groups, section = _task_section(task, by_task[task], budgets, prices, params, chosen, adaptive, judged, revised)
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
            "warnings": _warnings(overall) + _check_warnings(selection, [t for t in tallies.values() if t.task not in no_checker])
            + _no_checker_warnings(selection, sorted(set(no_checker) & set(by_task))),
        }
    )


def _no_checker_warnings(selection, tasks: list[str]) -> list[str]:
    """One line naming the tasks the checker's curves skipped."""
    names = [registry.get(name).name for name in selection if registry.get(name).on_request]
    if not names or not tasks:
        return []
    return [f"{', '.join(names)}: {', '.join(tasks)} {'have' if len(tasks) > 1 else 'has'} no gold-free checker, "
            "so only the tasks with one (sudoku, crossword) show these curves"]


def _check_warnings(selection, tallies) -> list[str]:
    """A checker strategy over rows stored before checks were: those count as rejected."""
    if not any(registry.get(name).on_request for name in selection):
        return []
    unchecked = sum(t.unchecked for t in tallies)
    if not unchecked:
        return []
    return [
        f"{unchecked} parsed samples carry no checker verdict (stored before answers were checked): the "
        "checker's strategies count them as rejected; `ttc-bench report --rescore RUN` checks them"
    ]


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
