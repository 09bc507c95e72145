"""The compute-optimal strategy per difficulty level (Snell et al. 2024, "Scaling LLM
Test-Time Compute Optimally can be More Effective than Scaling Model Parameters", arXiv
2408.03314: which way of spending test-time compute wins depends on how hard the problem
is, and the compute-optimal choice per difficulty beats any single strategy).

For each level of a task and each compute level C (tokens per item; powers of two spanning
the task's strategy points), the winner is the deployable point of that level's groups
with the highest accuracy among those costing at most C tokens per item (ties: the cheaper,
then the plain vote, then the smaller k), with its 95% interval. The points are the same
as the frontier's (pareto_frontier): maj@k, the requested selection curves, and the
adaptive, selfverify and revise points, each computed over the level's items.
"""

from __future__ import annotations

import math

from .frontier import adaptive_candidates, candidates, pareto_frontier, revise_candidates, selfverify_candidates, strategy_name


def short_name(point: dict) -> str:
    """A point's strategy in a few characters, for a table cell ("maj@4", "adaptive")."""
    method = point["method"]
    if method == "maj@k":
        return "1 sample" if point["k"] == 1 else f"maj@{point['k']}"
    if method.endswith("@k") or method.endswith("-k"):
        return f"{method[:-1]}{point['k']}"
    return method


def compute_levels(points: list[dict]) -> list[float]:
    """Powers of two from below the cheapest point to above the dearest (tokens per item)."""
    costs = [p["tokens_per_item"] for p in points if p["tokens_per_item"] and p["tokens_per_item"] > 0]
    if not costs:
        return []
    low, high = math.floor(math.log2(min(costs))), math.ceil(math.log2(max(costs)))
    return [float(2**e) for e in range(low, high + 1)]


def level_points(groups: list[dict], budgets: list[str], curves: tuple[str, ...], complete_only: bool) -> list[dict]:
    """Every deployable point of one level's groups (one group per budget)."""
    return (candidates(groups, budgets, curves, complete_only=complete_only) + adaptive_candidates(groups, budgets)
            + selfverify_candidates(groups, budgets) + revise_candidates(groups, budgets))


def compute_optimal(by_level: dict[str, list[dict]], budgets: list[str], curves: tuple[str, ...], deployable: tuple[str, ...],
                    complete_only: bool) -> dict:
    """{"compute_levels": [C, ...], "levels": [{"level", "best": [winner or None per C]}]}; a
    winner is {"tokens_max", "budget", "k", "method", "strategy", "short", "accuracy",
    "ci95", "tokens_per_item"}."""
    points = {level: level_points(groups, budgets, curves, complete_only) for level, groups in by_level.items()}
    grid = compute_levels([p for pts in points.values() for p in pts])
    rows = []
    for level, pts in points.items():
        frontier = pareto_frontier(pts, deployable)
        best = []
        for c in grid:
            fit = [p for p in frontier if p["tokens_per_item"] <= c * (1 + 1e-9)]
            p = fit[-1] if fit else None  # the frontier rises in accuracy with cost
            best.append(None if p is None else {
                "tokens_max": c, "budget": p["budget"], "k": p["k"], "method": p["method"], "strategy": strategy_name(p),
                "short": short_name(p),
                "accuracy": p["accuracy"], "ci95": p["ci95"], "tokens_per_item": p["tokens_per_item"],
            })  # fmt: skip
        rows.append({"level": level, "best": best})
    return {"compute_levels": grid, "levels": rows}
