import pytest

from ttc_bench.metrics.frontier import best_at, candidates, describe, merge_cost_ties, pareto_frontier, tokens_text


def _point(budget, k, method, tokens, acc):
    return {"budget": budget, "k": k, "method": method, "tokens_per_item": tokens, "accuracy": acc, "ci95": [acc - 0.1, acc + 0.1]}


def _group(budget, tokens, maj, passk):
    return {
        "budget": budget,
        "points": [
            {"k": k, "tokens_per_item": k * tokens, "maj": {"mean": m, "ci95": [m, m]}, "pass": {"mean": p, "ci95": [p, p]}}
            for k, (m, p) in enumerate(zip(maj, passk), start=1)
        ],
    }


def test_pareto_frontier_constructed_case():
    # Two budgets; the short budget with a vote of 4 (400 tokens) beats the long budget's
    # single sample (500 tokens), and the long budget's vote of 2 tops everything.
    groups = [
        _group("tokens:100", 100, [0.30, 0.35, 0.40, 0.42], [0.30, 0.50, 0.60, 0.65]),
        _group("tokens:500", 500, [0.41, 0.55], [0.41, 0.70]),
    ]
    points = candidates(groups, ["tokens:100", "tokens:500"])
    frontier = pareto_frontier(points)
    assert [(p["budget"], p["k"], p["tokens_per_item"], p["accuracy"]) for p in frontier] == [
        ("tokens:100", 1, 100, 0.30),
        ("tokens:100", 2, 200, 0.35),
        ("tokens:100", 3, 300, 0.40),
        ("tokens:100", 4, 400, 0.42),
        ("tokens:500", 2, 1000, 0.55),
    ]
    # tokens:500 k=1 (500 tokens, 41%) is dominated by tokens:100 k=4 (400 tokens, 42%)
    assert all(not (p["budget"] == "tokens:500" and p["k"] == 1) for p in frontier)
    oracle = pareto_frontier(points, ("maj@k", "pass@k"))
    assert [(p["method"], p["budget"], p["k"]) for p in oracle] == [
        ("maj@k", "tokens:100", 1),
        ("pass@k", "tokens:100", 2),
        ("pass@k", "tokens:100", 3),
        ("pass@k", "tokens:100", 4),
        ("pass@k", "tokens:500", 2),
    ]


def test_pareto_frontier_ties_keep_the_cheaper_and_deployable_point():
    points = [
        _point("b", 2, "pass@k", 100, 0.5),
        _point("a", 1, "maj@k", 100, 0.5),
        _point("c", 1, "maj@k", 150, 0.5),  # same accuracy, more tokens: dominated
        _point("d", 1, "maj@k", 90, 0.2),
    ]
    frontier = pareto_frontier(points, ("maj@k", "pass@k"))
    assert [(p["budget"], p["method"]) for p in frontier] == [("d", "maj@k"), ("a", "maj@k")]


def test_frontier_text_and_lookup():
    frontier = [
        _point("tokens:100", 1, "maj@k", 100, 0.30),
        _point("tokens:100", 2, "maj@k", 200, 0.35),
        _point("tokens:100", 4, "maj@k", 400, 0.42),
        _point("tokens:500", 2, "maj@k", 1000, 0.55),
    ]
    assert describe(frontier) == [
        "at about 100-400 tokens per item the best strategy is budget tokens:100 with a single sample to maj@4 (30.0% to 42.0%)",
        "at about 1k tokens per item the best strategy is budget tokens:500 with maj@2 (55.0%)",
    ]
    assert best_at(frontier, 399)["k"] == 2
    assert best_at(frontier, 5000)["budget"] == "tokens:500"
    assert best_at(frontier, 50) is None


@pytest.mark.parametrize(
    "tokens, text",
    [(39, "39"), (282.75, "280"), (1000, "1k"), (1536, "1.5k"), (23456, "23k"), (2.5e6, "2.5M"), (3.2e7, "32M")],
)
def test_tokens_text(tokens, text):
    assert tokens_text(tokens) == text


def test_points_whose_costs_are_within_noise_are_merged():
    # 38.9 and 39.3 tokens per item: the same cost as far as the data tell, so the less
    # accurate, cheaper point is folded into the more accurate one.
    frontier = [
        _point("a", 1, "maj@k", 38.9, 0.30),
        _point("b", 1, "maj@k", 39.3, 0.40),
        _point("a", 2, "maj@k", 77.8, 0.45),
        _point("c", 1, "maj@k", 200, 0.50),
    ]

    def same_cost(cheaper, dearer):
        return cheaper["budget"] != dearer["budget"] and abs(dearer["tokens_per_item"] - cheaper["tokens_per_item"]) < 1

    merged = merge_cost_ties(frontier, same_cost)
    assert [(p["budget"], p["k"]) for p in merged] == [("b", 1), ("a", 2), ("c", 1)]
    assert merged[0]["cost_ties"] == [{"budget": "a", "k": 1, "method": "maj@k", "tokens_per_item": 38.9, "accuracy": 0.30}]
    assert all(p["cost_ties"] == [] for p in merged[1:])
    assert "budget a with a single sample (30.0%) costs the same within noise and is less accurate" in describe(merged)[0]
    # chains fold transitively; nothing tied leaves the frontier as it was
    chain = merge_cost_ties([_point("x", 1, "maj@k", 10, 0.1), _point("y", 1, "maj@k", 10.2, 0.2), _point("z", 1, "maj@k", 10.4, 0.3)], same_cost)
    assert [p["budget"] for p in chain] == ["z"] and [t["budget"] for t in chain[0]["cost_ties"]] == ["x", "y"]
    assert [p["budget"] for p in merge_cost_ties(frontier, lambda a, b: False)] == ["a", "b", "a", "c"]
