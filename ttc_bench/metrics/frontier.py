"""The compute-optimal frontier: for a given number of tokens per item, which strategy wins?

A strategy is a (budget, k, method) point: a reasoning budget, k samples per item and a way
to turn them into one answer. ``maj@k`` (a majority vote; k = 1 is a single sample) is
deployable as is, and so are the curves of the selection strategies a run asks for
(verified-maj@k, best-of-k: the gold-free checker needs no gold; docs/strategies.md). ``pass@k`` needs an oracle that recognises a correct answer among k, so
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
# The points of strategies that are not registered curves (one per budget,
# metrics/strategy_points.py).
ADAPTIVE = "adaptive"
SELFVERIFY = "selfverify"
# Of equal points: the plain vote, then a selection strategy's curve, then the oracle.
_METHOD_RANK = {"maj@k": 0, "pass@k": 2}


def candidates(groups: list[dict], budget_order: list[str], methods=ORACLE, complete_only: bool = False) -> list[dict]:
    """Every (budget, k, method) point of one task's all-level groups (``complete_only``:
    only the k every scored item reached)."""
    rank = {b: i for i, b in enumerate(budget_order)}
    keys = {method: registry.get(method).key for method in methods}
    out = []
    for g in groups:
        for p in g["points"]:
            if complete_only and p["items"] < g["items_scored"]:
                continue
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


def adaptive_candidates(groups: list[dict], budget_order: list[str]) -> list[dict]:
    """The adaptive point of each all-level group of an adaptively sampled run: k is the
    mean number of samples an item drew, so k x tokens per sample is what it spent."""
    rank = {b: i for i, b in enumerate(budget_order)}
    out = []
    for g in groups:
        a = g.get("adaptive")
        if not a or a["accuracy"]["mean"] is None:
            continue
        ci = g["points"][0].get("tokens_ci95") if g["points"] else None
        out.append({
            "budget": g["budget"], "budget_rank": rank.get(g["budget"], len(rank)), "k": a["samples_per_item"],
            "method": ADAPTIVE, "tokens_per_item": a["tokens_per_item"], "accuracy": a["accuracy"]["mean"],
            "ci95": a["accuracy"]["ci95"],
            "tokens_ci95": [a["samples_per_item"] * ci[0], a["samples_per_item"] * ci[1]] if ci and ci[0] is not None else [None, None],
            "cost_per_item": a["cost_per_item"], "flops_per_item": a["flops_per_item"], "samples_cap": a["samples_cap"],
        })  # fmt: skip
    return out


def selfverify_candidates(groups: list[dict], budget_order: list[str]) -> list[dict]:
    """The selfverify point of each all-level group: k = n samples, and its cost adds the
    judging tokens per item (``extra_tokens_per_item``) to k x tokens per sample."""
    rank = {b: i for i, b in enumerate(budget_order)}
    out = []
    for g in groups:
        v = g.get("selfverify")
        if not v or v["accuracy"]["mean"] is None or not g["points"]:
            continue
        top = g["points"][-1]
        ci = top.get("tokens_ci95") or [None, None]
        extra = v["judge_tokens_per_item"]
        out.append({
            "budget": g["budget"], "budget_rank": rank.get(g["budget"], len(rank)), "k": top["k"],
            "method": SELFVERIFY, "tokens_per_item": v["tokens_per_item"], "accuracy": v["accuracy"]["mean"],
            "ci95": v["accuracy"]["ci95"],
            "tokens_ci95": [ci[0] + extra, ci[1] + extra] if ci[0] is not None else [None, None],
            "cost_per_item": v["cost_per_item"], "flops_per_item": v["flops_per_item"],
            "extra_tokens_per_item": extra,
        })  # fmt: skip
    return out


def revise_candidates(groups: list[dict], budget_order: list[str]) -> list[dict]:
    """The revise:R points of each all-level group: one sample (k = 1) and its revision
    rounds, whose tokens per item are ``extra_tokens_per_item``."""
    rank = {b: i for i, b in enumerate(budget_order)}
    out = []
    for g in groups:
        for name, v in (g.get("revise") or {}).items():
            if v["accuracy"]["mean"] is None:
                continue
            out.append({
                "budget": g["budget"], "budget_rank": rank.get(g["budget"], len(rank)), "k": 1, "method": name,
                "tokens_per_item": v["tokens_per_item"], "accuracy": v["accuracy"]["mean"], "ci95": v["accuracy"]["ci95"],
                "tokens_ci95": [None, None], "cost_per_item": None, "flops_per_item": v["flops_per_item"],
                "extra_tokens_per_item": v["revision_tokens_per_item"], "rounds": v["rounds"],
            })  # fmt: skip
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
            _METHOD_RANK.get(p["method"], 1),
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
    if point["method"] == ADAPTIVE:
        return f"adaptive majority vote ({point['k']:.1f} of at most {point.get('samples_cap', '?')} samples)"
    if point["method"].startswith("revise:"):
        return f"{point['method']} (a sample, then up to {point['rounds']} rounds of revision)"
    if point["method"] == SELFVERIFY:
        return f"selfverify (majority of {point['k']} samples over the answers the model judged correct)"
    if point["k"] == 1:
        return "a single sample"
    # maj@4, or a selection strategy's curve at k (verified-maj@4, best-of-4)
    return registry.get(point["method"]).label(point["k"])


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
