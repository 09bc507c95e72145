"""The compute-optimal frontier: for a given number of tokens per item, which strategy wins?

A strategy is a (budget, k, method) point: a reasoning budget, k samples per item and a way
to turn them into one answer. ``maj@k`` (a majority vote; k = 1 is a single sample) is
deployable as is. ``pass@k`` needs an oracle that recognises a correct answer among k, so
it gets its own frontier ("with oracle") instead of hiding every deployable strategy.

Token costs are measured, so they are noisy too: two budgets that spent 38.9 and 39.3
tokens per item cost the same as far as the data can tell. :func:`merge_cost_ties` folds a
frontier point into the next, more accurate one when their costs are within noise of each
other (the caller decides what "within noise" means; summary.py uses the item bootstrap),
and records the folded points in ``cost_ties``.
"""

from __future__ import annotations

from . import registry

# Methods are the names of registered curves (their values are read from the points).
DEPLOYABLE = ("maj@k",)
ORACLE = ("maj@k", "pass@k")
_METHOD_RANK = {"maj@k": 0, "pass@k": 1}


def candidates(groups: list[dict], budget_order: list[str], methods=ORACLE) -> list[dict]:
    """Every (budget, k, method) point of one task's all-level groups."""
    rank = {b: i for i, b in enumerate(budget_order)}
    keys = {method: registry.get(method).key for method in methods}
    out = []
    for g in groups:
        for p in g["points"]:
            for method in methods:
                stat = p[keys[method]]
                if stat["mean"] is None or p["tokens_per_item"] is None:
                    continue
                out.append(
                    {
                        "budget": g["budget"],
                        "budget_rank": rank.get(g["budget"], len(rank)),
                        "k": p["k"],
                        "method": method,
                        "tokens_per_item": p["tokens_per_item"],
                        "accuracy": stat["mean"],
                        "ci95": stat["ci95"],
                        "tokens_ci95": p.get("tokens_ci95"),
                        "cost_per_item": p.get("cost_per_item"),
                        "flops_per_item": p.get("flops_per_item"),
                    }
                )
    return out


def pareto_frontier(points: list[dict], methods=DEPLOYABLE) -> list[dict]:
    """Points no other point beats: higher accuracy with at most as many tokens per item.

    Sorted by tokens per item, accuracy rises strictly along the result. Of equal points the
    deployable method, the smaller k and the earlier budget are kept.
    """
    pool = [p for p in points if p["method"] in methods]
    pool.sort(
        key=lambda p: (
            p["tokens_per_item"],
            -p["accuracy"],
            _METHOD_RANK.get(p["method"], 9),
            p["k"],
            p.get("budget_rank", 0),
            p["budget"],
        )
    )
    frontier: list[dict] = []
    best = float("-inf")
    for p in pool:
        # 1e-12 absorbs float noise, so a numerically equal but costlier point is dominated.
        if p["accuracy"] > best + 1e-12:
            frontier.append({key: v for key, v in p.items() if key != "budget_rank"})
            best = p["accuracy"]
    return frontier


def merge_cost_ties(frontier: list[dict], same_cost) -> list[dict]:
    """Fold each frontier point whose cost is within noise of the next (more accurate) one
    into it: at the same cost, as far as the data tell, the more accurate one is the better
    strategy. ``same_cost(cheaper, dearer) -> bool``. A kept point lists what it absorbed in
    ``cost_ties`` (budget, k, method, tokens_per_item, accuracy), cheapest first.
    """
    kept: list[dict] = []
    for point in frontier:
        point = dict(point, cost_ties=list(point.get("cost_ties") or []))
        while kept and same_cost(kept[-1], point):
            tied = kept.pop()
            summary = {key: tied[key] for key in ("budget", "k", "method", "tokens_per_item", "accuracy")}
            point["cost_ties"] = tied["cost_ties"] + [summary] + point["cost_ties"]
        kept.append(point)
    return kept


def strategy_name(point: dict) -> str:
    if point["method"] == "pass@k":
        return f"pass@{point['k']} (oracle pick of {point['k']} samples)"
    if point["k"] == 1:
        return "a single sample"
    return f"maj@{point['k']}"


def tokens_text(tokens: float) -> str:
    """Tokens rounded to what a reader needs: 2 significant figures, k/M suffixes."""
    if tokens >= 1e7:
        return f"{tokens / 1e6:.0f}M"
    if tokens >= 1e6:
        return f"{tokens / 1e6:.1f}M".replace(".0M", "M")
    if tokens >= 1e4:
        return f"{tokens / 1e3:.0f}k"
    if tokens >= 1000:
        return f"{tokens / 1e3:.1f}k".replace(".0k", "k")
    if tokens >= 100:
        return f"{round(tokens, -1):.0f}"
    return f"{tokens:.0f}"


def segments(frontier: list[dict]) -> list[list[dict]]:
    """Runs of consecutive frontier points that share budget and method (k rising)."""
    runs: list[list[dict]] = []
    for p in frontier:
        if runs and runs[-1][-1]["budget"] == p["budget"] and runs[-1][-1]["method"] == p["method"]:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


def _ties_text(run: list[dict]) -> str:
    ties = [t for p in run for t in p.get("cost_ties") or []]
    if not ties:
        return ""
    names = ", ".join(f"budget {t['budget']} with {strategy_name(t)} ({100 * t['accuracy']:.1f}%)" for t in ties)
    return f"; {names} cost{'s' if len(ties) == 1 else ''} the same within noise and {'is' if len(ties) == 1 else 'are'} less accurate"


def describe(frontier: list[dict]) -> list[str]:
    """One sentence per frontier segment: 'at about T tokens per item the best strategy is ...'."""
    lines = []
    for run in segments(frontier):
        first, last = run[0], run[-1]
        acc = f"{100 * first['accuracy']:.1f}%"
        if len(run) == 1:
            lines.append(
                f"at about {tokens_text(first['tokens_per_item'])} tokens per item the best strategy is "
                f"budget {first['budget']} with {strategy_name(first)} ({acc}){_ties_text(run)}"
            )
            continue
        lines.append(
            f"at about {tokens_text(first['tokens_per_item'])}-{tokens_text(last['tokens_per_item'])} tokens per "
            f"item the best strategy is budget {first['budget']} with {strategy_name(first)} to "
            f"{strategy_name(last)} ({acc} to {100 * last['accuracy']:.1f}%){_ties_text(run)}"
        )
    return lines


def best_at(frontier: list[dict], tokens_per_item: float) -> dict | None:
    """The best frontier strategy that costs at most ``tokens_per_item`` (None if none fits)."""
    best = None
    for p in frontier:
        if p["tokens_per_item"] <= tokens_per_item * (1 + 1e-9):
            best = p
    return best
