"""The metric registry: one function + one registration puts a metric in summary.json and
in the gate; pass^k (the proof) against brute force; the contract readers rely on."""

import itertools
import json
import random
from math import comb
from pathlib import Path

import numpy as np
import pytest

from test_compare import write_run
from ttc_bench.gate import Settings, compare_paths
from ttc_bench.metrics import ItemTally, Metric, mean_se, registry, summarize
from ttc_bench.metrics.definitions import pass_all_k, pass_at_k


def _row(item, j, correct, answer="7", budget="tokens:64", error=None, level="L", tokens=10):
    return {
        "key": f"{item}/{budget}/{j}", "task": "t", "level": level, "item": item, "budget": budget, "sample": j,
        "answer": None if error else answer, "correct": bool(correct) and not error, "error": error, "gold": "7",
        "completion_tokens": tokens, "reasoning_tokens": 0, "prompt_tokens": 5, "attempts": 1, "turns": 1,
    }  # fmt: skip


def _tally(outcomes) -> ItemTally:
    tally = ItemTally()
    for j, ok in enumerate(outcomes):
        tally.add(_row("i", j, ok, answer="7" if ok else "3"))
    return tally


def brute_pass_all(outcomes, k):
    """Share of the size-k subsets of the samples in which every sample is correct."""
    subsets = list(itertools.combinations(outcomes, k))
    return sum(all(s) for s in subsets) / len(subsets)


# --------------------------------------------------------------------------- pass^k


@pytest.mark.parametrize("n", range(1, 10))
def test_pass_all_matches_brute_force_over_subsets(n):
    for c in range(n + 1):
        outcomes = [True] * c + [False] * (n - c)
        curve = pass_all_k(_tally(outcomes))
        assert len(curve) == n
        for k in range(1, n + 1):
            assert curve[k - 1] == pytest.approx(brute_pass_all(outcomes, k), abs=1e-12)
            assert curve[k - 1] == pytest.approx(comb(c, k) / comb(n, k), abs=1e-12)
        assert curve[0] == c / n == pass_at_k(_tally(outcomes))[0]  # pass^1 is pass@1


def test_pass_all_in_the_summary_per_budget_and_k_with_an_interval():
    rng = random.Random(4)
    rows, outcomes = [], {}
    for budget in ("tokens:64", "tokens:256"):
        for i in range(9):
            n = rng.randint(1, 5)  # uneven sample counts: each k has its own items
            item = f"t/L{i % 3}/{i}"
            mine = outcomes[(budget, item)] = [rng.random() < 0.7 for _ in range(n)]
            rows += [_row(item, j, ok, budget=budget, level=f"L{i % 3}") for j, ok in enumerate(mine)]
    summary = json.loads(json.dumps(summarize(rows)))
    assert summary["schema_version"] == 4
    for g in summary["groups"]:
        level = g["level"]
        mine = {item: o for (b, item), o in outcomes.items() if b == g["budget"] and (level is None or f"/{level}/" in item)}
        for point in g["points"]:
            k = point["k"]
            values = [brute_pass_all(o, k) for o in mine.values() if len(o) >= k]
            stat = point["pass_all"]
            assert stat["n"] == len(values) == point["items"]
            assert stat["mean"] == pytest.approx(np.mean(values), abs=1e-9)
            # the same interval as pass@k and maj@k: sum(n_i) / k trials of the items reaching k
            trials = sum(len(o) for o in mine.values() if len(o) >= k) / k
            assert stat["ci95"] == pytest.approx(mean_se(values, trials=trials)["ci95"], abs=1e-9)
        assert g["points"][0]["pass_all"] == g["pass@1"]


def test_pass_all_is_gateable(tmp_path, run_cli):
    # Every item right on all 4 samples, then on 3 of 4: pass@1 drops 25 points, pass^4 drops
    # from 1 to 0 on every item.
    n_items = 30
    base = [_row(f"t/L/{i}", j, True) for i in range(n_items) for j in range(4)]
    cur = [_row(f"t/L/{i}", j, j != 0) for i in range(n_items) for j in range(4)]
    a, b = write_run(tmp_path / "a", base), write_run(tmp_path / "b", cur)
    comparison = compare_paths(a, b, metrics=["pass^k"])
    (cell,) = comparison.results
    assert cell.metric == "pass^4" and cell.k == 4 and cell.baseline == 1.0 and cell.current == 0.0
    assert cell.verdict == "regression"
    # Through the CLI, as users type it.
    code, out, _ = run_cli("compare", a, b, "--metrics", "pass^k", "pass@1", "--json", tmp_path / "c.json")
    assert code == 1 and "pass^4" in out
    metrics = [r["metric"] for r in json.loads((tmp_path / "c.json").read_text())["results"]]
    assert metrics == ["pass@1", "pass^4"]  # registration order
    code, _, err = run_cli("compare", a, b, "--metrics", "pass^")
    assert code == 2 and "unknown metric 'pass^'" in err and "pass^k" in err and err.count("\n") == 1


# --------------------------------------------------------------------------- a metric registered here


def parsed_share(item: ItemTally) -> float:
    return (item.n - item.unparsed) / item.n


def all_parsed(item: ItemTally) -> np.ndarray:
    i = np.arange(item.n, dtype=float)
    return np.cumprod(np.clip((item.n - item.unparsed - i) / (item.n - i), 0.0, None))


@pytest.fixture
def test_metrics():
    """Two metrics registered for one test: a scalar and a curve over k."""
    made = [
        registry.register(Metric("parsed", parsed_share, "share of samples with an answer", key="parsed", per_sample=True)),
        registry.register(Metric("parsed^k", all_parsed, "all of k samples parsed", over_k=True, key="parsed_all")),
    ]
    yield made
    for m in made:
        registry.unregister(m.name)
    assert "parsed" not in {m.name for m in registry.metrics()}


def _parse_rows(unparsed_share, seed, items=40):
    rng = random.Random(seed)
    rows = []
    for i in range(items):
        for j in range(3):
            answer = None if rng.random() < unparsed_share else "7"
            rows.append(dict(_row(f"t/L/{i}", j, answer is not None), answer=answer))
    return rows


def test_a_registered_metric_appears_in_the_summary_and_can_be_gated(test_metrics, tmp_path):
    rows = _parse_rows(0.2, 1)
    (group,) = [g for g in summarize(rows)["groups"] if g["level"] is None]
    per_item = {}
    for r in rows:
        per_item.setdefault(r["item"], []).append(r["answer"] is not None)
    expected = [np.mean(v) for v in per_item.values()]
    assert group["parsed"]["mean"] == pytest.approx(np.mean(expected))
    assert group["parsed"]["ci95"] == pytest.approx(mean_se(expected, trials=len(rows))["ci95"])
    assert group["points"][2]["parsed_all"]["mean"] == pytest.approx(np.mean([all(v) for v in per_item.values()]))
    # the readers' contract: read by name from the registry
    scalar, curve = test_metrics
    assert scalar.read(group) == group["parsed"] and curve.read(group, 2) == group["points"][1]["parsed_all"]
    assert [k for k, _ in curve.curve(group)] == [1, 2, 3]
    # ...and the gate: a current run that fails to parse half its answers regresses
    a = write_run(tmp_path / "a", rows)
    b = write_run(tmp_path / "b", _parse_rows(0.6, 2))
    comparison = compare_paths(a, b, metrics=["parsed", "parsed^k", "pass@1"])
    cells = {r.metric: r for r in comparison.results}
    assert list(cells) == ["pass@1", "parsed", "parsed^3"]
    assert cells["parsed"].verdict == "regression" and cells["parsed"].method == "paired-t"
    assert cells["parsed"].baseline == pytest.approx(group["parsed"]["mean"])
    assert cells["parsed^3"].verdict == "regression" and cells["parsed^3"].items == 40


def test_registration_is_checked():
    def value(item):
        return 0.0

    with pytest.raises(ValueError, match="taken"):
        registry.register(Metric("maj@k", value, "again"))
    with pytest.raises(ValueError, match="ends in k"):
        registry.register(Metric("streaks", value, "a curve", over_k=True))
    with pytest.raises(ValueError, match="summary key 'maj' is taken"):
        registry.register(Metric("vote@k", value, "a curve", over_k=True, key="maj"))
    with pytest.raises(ValueError, match="kind"):
        registry.register(Metric("speed", value, "tokens per second", kind="speed"))
    with pytest.raises(ValueError, match="over scored samples"):
        registry.register(Metric("strict@k", value, "a curve", over_k=True, samples="all"))
    assert "streaks" not in {m.name for m in registry.metrics()}


def test_a_metric_key_never_overwrites_a_summary_field():
    registry.register(Metric("clash", parsed_share, "a scalar over an existing field", key="coverage"))
    try:
        with pytest.raises(ValueError, match="'coverage' is already a summary field"):
            summarize(_parse_rows(0.2, 1, items=3))
    finally:
        registry.unregister("clash")


# --------------------------------------------------------------------------- the readers' contract


def test_built_in_metrics_and_how_to_read_them():
    names = [m.name for m in registry.metrics()]
    assert names == ["pass@1", "pass@1-strict", "pass@k", "maj@k", "pass^k", "verified-maj@k", "best-of-k", "errors", "tokens"]
    assert registry.gate_default() == ("pass@1", "pass@1-strict", "maj@k", "errors", "tokens")
    assert [m.name for m in registry.in_summary()] == ["pass@1", "pass@k", "maj@k", "pass^k"]
    assert [m.name for m in registry.in_summary(["best-of-k"])] == ["pass@1", "pass@k", "maj@k", "pass^k", "best-of-k"]
    assert all(m.title for m in registry.metrics())
    maj = registry.get("maj@k")
    assert maj.over_k and maj.label(4) == "maj@4" and registry.get("pass^k").label(2) == "pass^2"
    rows = [_row(f"t/L/{i}", j, (i + j) % 3 != 0, answer="7" if (i + j) % 3 else "3") for i in range(6) for j in range(4)]
    rows[0]["error"] = "timeout"
    (group,) = [g for g in summarize(rows)["groups"] if g["level"] is None]
    assert maj.read(group, 2) == group["points"][1]["maj"] and maj.read(group) == group["points"][-1]["maj"]
    assert maj.read(group, 9) is None and maj.read(group, 0) is None
    assert registry.get("pass@1").read(group) == group["pass@1"]
    assert registry.get("errors").read(group) == group["error_rate"] == pytest.approx(1 / 24)
    assert registry.get("tokens").read(group) == group["mean_completion_tokens"]
    assert registry.get("pass@1-strict").read(group) is None  # the gate's only
    # A summary written before pass^k existed (schema 3) reads as "not there", not a crash.
    old = dict(group, points=[{k: v for k, v in p.items() if k != "pass_all"} for p in group["points"]])
    assert registry.get("pass^k").read(old, 2) is None and registry.get("pass^k").curve(old) == []
    with pytest.raises(KeyError, match="known: pass@1"):
        registry.get("nope")


def test_summary_accepts_samples_as_well_as_rows():
    from ttc_bench.sample import Sample

    rows = [dict(r, partial=float(r["correct"])) for r in _parse_rows(0.3, 5, items=6)]
    assert summarize([Sample.from_json(r) for r in rows]) == summarize(rows)


def test_gate_and_summary_read_the_same_item_values(tmp_path):
    # The gate's maj@k cell is the mean of the summary's item values (one function).
    rng = random.Random(8)
    rows = [_row(f"t/L/{i}", j, False, answer=rng.choice(["7", "3", "4", None])) for i in range(20) for j in range(4)]
    for r in rows:
        r["correct"] = r["answer"] == "7"
    other = [dict(r, key=r["key"] + "x") for r in rows]
    (group,) = [g for g in summarize(rows)["groups"] if g["level"] is None]
    comparison = compare_paths(write_run(tmp_path / "a", rows), write_run(tmp_path / "b", other), metrics=["maj@k", "pass@1"])
    cells = {r.metric: r for r in comparison.results}
    assert cells["maj@4"].baseline == pytest.approx(group["points"][3]["maj"]["mean"], abs=1e-12)
    assert cells["pass@1"].baseline == pytest.approx(group["pass@1"]["mean"], abs=1e-12)
    assert Settings().metrics == registry.gate_default()
    assert Path(comparison.baseline["path"]).name == "a"
