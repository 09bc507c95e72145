import itertools
import random
from fractions import Fraction
from math import comb

import pytest

from ttc_bench.metrics import maj_at_k, mean_se, pass_at_k, summarize


def brute_maj(samples, correct_answers, k):
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(samples)), k))
    for subset in subsets:
        votes = {}
        for i in subset:
            if samples[i] is not None:
                votes[samples[i]] = votes.get(samples[i], 0) + 1
        if not votes:
            continue
        top = max(votes.values())
        tied = [a for a, v in votes.items() if v == top]
        total += Fraction(sum(a in correct_answers for a in tied), len(tied))
    return float(total / len(subsets))


def test_pass_at_k_published_value():
    assert pass_at_k(200, 10, 10) == pytest.approx(0.408548, abs=1e-6)


@pytest.mark.parametrize("n", range(1, 12))
def test_pass_at_k_matches_exact_binomial_form(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            exact = 1 - comb(n - c, k) / comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_k_rejects_k_above_n():
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


def test_maj_at_k_matches_brute_force_on_random_histograms():
    rng = random.Random(0)
    for _ in range(250):
        n = rng.randint(1, 9)
        samples = [rng.choice([None, "a", "b", "c", "d"]) for _ in range(n)]
        correct = {"a"} if rng.random() < 0.8 else {"a", "c"}  # several correct classes allowed
        hist = {}
        for s in samples:
            if s is not None:
                hist[s] = hist.get(s, 0) + 1
        answers = {a: (m, a in correct) for a, m in hist.items()}
        for k in range(1, n + 1):
            assert maj_at_k(answers, samples.count(None), k) == pytest.approx(brute_maj(samples, correct, k), abs=1e-12)


def test_maj_at_k_ties_split_credit():
    # two samples, one right one wrong: a 2-vote is a tie, worth half.
    assert maj_at_k({"a": (1, True), "b": (1, False)}, 0, 2) == pytest.approx(0.5)
    assert maj_at_k({"a": (1, True)}, 1, 2) == pytest.approx(1.0)  # unparsed does not vote
    assert maj_at_k({}, 3, 2) == 0.0


def test_mean_se_hand_computed():
    stats = mean_se([0.0, 0.5, 1.0, 1.0])
    # mean 0.625, sample sd = sqrt(((.625)^2+(.125)^2+2*(.375)^2)/3) = 0.478714, se = 0.239357
    assert stats["mean"] == pytest.approx(0.625)
    assert stats["se"] == pytest.approx(0.2393568, abs=1e-6)
    # Newcombe's continuity-corrected Wilson interval with n_eff = p(1-p)/se^2 = 4.09, capped
    # at the 4 trials (no trial count given: one per item), and q = t(0.975, 3 df), by hand:
    n, p, q = min(4, 0.625 * 0.375 / 0.2393568**2), 0.625, 3.182446
    lo = (2 * n * p + q * q - 1 - q * (q * q - 2 - 1 / n + 4 * p * (n * (1 - p) + 1)) ** 0.5) / (2 * (n + q * q))
    hi = (2 * n * p + q * q + 1 + q * (q * q + 2 - 1 / n + 4 * p * (n * (1 - p) - 1)) ** 0.5) / (2 * (n + q * q))
    assert stats["ci95"] == pytest.approx([max(0.0, lo), min(1.0, hi)], abs=1e-6)


def test_no_zero_width_interval():
    # The case: 30 items all right. The interval must still say "not certain".
    for values in ([1.0] * 30, [0.0] * 30, [0.4] * 12):
        lo, hi = mean_se(values)["ci95"]
        assert hi - lo > 0.05 and lo <= values[0] <= hi
    # with the 30 items' 120 samples as the trials, narrower but still not zero
    lo, hi = mean_se([1.0] * 30, trials=120)["ci95"]
    assert hi == 1.0 and 0.9 < lo < 0.99
    assert mean_se([0.7])["ci95"] == [0.0, 1.0]  # one item: no spread to estimate


def _row(item, answer, correct, budget="tokens:10", tokens=10, error=None, level="L"):
    return {
        "key": f"{item}/{budget}/{random.random()}",
        "task": "t",
        "level": level,
        "item": item,
        "budget": budget,
        "answer": answer,
        "correct": correct,
        "partial": float(correct),
        "completion_tokens": tokens,
        "reasoning_tokens": 0,
        "prompt_tokens": 5,
        "latency_s": 0.1,
        "error": error,
        "truncated": False,
        "attempts": 1,
        "turns": 1,
    }


def test_a_group_excludes_errors_and_accounts_tokens():
    rows = [
        _row("i1", "1", True, tokens=10),
        _row("i1", "2", False, tokens=30),
        _row("i2", "3", True, tokens=20),
        _row("i2", "3", True, tokens=20),
        _row("i2", None, False, error="boom"),
    ]
    (group,) = [g for g in summarize(rows)["groups"] if g["level"] is None]
    assert group["errors"] == 1
    assert group["samples_scored"] == 4
    assert group["pass@1"]["mean"] == pytest.approx((0.5 + 1.0) / 2)
    assert group["mean_completion_tokens"] == pytest.approx(20)
    assert [p["tokens_per_item"] for p in group["points"]] == [20, 40]
    assert group["points"][1]["maj"]["mean"] == pytest.approx((0.5 + 1.0) / 2)


def test_summarize_orders_budgets_and_groups_levels():
    rows = [_row("i1", "1", True, budget=b, level=lv) for b in ("tokens:99", "tokens:5") for lv in ("x", "y")]
    summary = summarize(rows, ["tokens:99", "tokens:5"])
    overall = [g["budget"] for g in summary["groups"] if g["level"] is None]
    assert overall == ["tokens:99", "tokens:5"]
    assert {g["level"] for g in summary["groups"]} == {None, "x", "y"}


# ---------------------------------------------------------------------------- curves over every k

import numpy as np  # noqa: E402

from ttc_bench.metrics import estimators  # noqa: E402
from ttc_bench.metrics.estimators import _maj_at_k, histogram_key, maj_curve, pass_curve  # noqa: E402
from ttc_bench.metrics.intervals import (  # noqa: E402
    bootstrap_ci,
    bootstrap_means,
    bootstrap_weights,
    column_stats,
    percentile_interval,
)


def _random_item(rng, n, answers="abcde"):
    samples = [rng.choice([None, *answers]) for _ in range(n)]
    correct = {"a"} if rng.random() < 0.75 else {"a", "c"}
    hist = {}
    for s in samples:
        if s is not None:
            hist[s] = hist.get(s, 0) + 1
    return samples, correct, {a: (m, a in correct) for a, m in hist.items()}


@pytest.mark.parametrize("n", range(1, 16))
def test_pass_curve_matches_exact_binomial_form(n):
    for c in range(n + 1):
        curve = pass_curve(n, c)
        assert len(curve) == n
        for k in range(1, n + 1):
            assert curve[k - 1] == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)
        assert curve[0] == c / n  # pass@1 is exactly c/n


def test_maj_curve_matches_brute_force_on_random_histograms_with_ties():
    rng = random.Random(7)
    for _ in range(300):
        n = rng.randint(1, 12)
        samples, correct, answers = _random_item(rng, n)
        curve = maj_curve(*histogram_key(answers, samples.count(None)))
        for k in range(1, n + 1):
            assert curve[k - 1] == pytest.approx(brute_maj(samples, correct, k), abs=1e-12)


def test_maj_curve_forced_ties_and_many_classes():
    # Even splits make ties at every k; many singleton classes exercise the one-vote path.
    cases = [
        ["a", "a", "b", "b", "c", "c"],
        ["a", "b", "c", "d", "e", "f", "g", None],
        ["a", "a", "a", "b", "b", "b", None, None],
        ["b", "b", "b", "b", "a", None],
        [None, None, None],
    ]
    for samples in cases:
        hist = {}
        for s in samples:
            if s is not None:
                hist[s] = hist.get(s, 0) + 1
        answers = {a: (m, a == "a") for a, m in hist.items()}
        curve = maj_curve(*histogram_key(answers, samples.count(None)))
        for k in range(1, len(samples) + 1):
            assert curve[k - 1] == pytest.approx(brute_maj(samples, {"a"}, k), abs=1e-12)


def test_maj_curve_matches_exact_integer_recursion_for_large_n():
    rng = random.Random(3)
    for _ in range(6):
        n = rng.randint(30, 60)
        samples, _, answers = _random_item(rng, n, answers="abcdefg")
        classes, unparsed = histogram_key(answers, samples.count(None))
        curve = maj_curve(classes, unparsed)
        for k in (1, 2, 3, n // 3, n // 2, n - 1, n):
            assert curve[k - 1] == pytest.approx(_maj_at_k(classes, unparsed, k), abs=1e-12)


def test_maj_curve_beyond_float_range_uses_exact_integers(monkeypatch):
    monkeypatch.setattr(estimators, "FLOAT_SAFE_SAMPLES", 4)
    samples = ["a", "a", "b", "b", "b", None, "c", "a"]
    hist = {}
    for s in samples:
        if s is not None:
            hist[s] = hist.get(s, 0) + 1
    classes, unparsed = histogram_key({a: (m, a == "a") for a, m in hist.items()}, 1)
    curve = maj_curve.__wrapped__(classes, unparsed)
    for k in range(1, 9):
        assert curve[k - 1] == pytest.approx(brute_maj(samples, {"a"}, k), abs=1e-12)


def test_maj_at_k_rejects_k_out_of_range():
    with pytest.raises(ValueError):
        maj_at_k({"a": (2, True)}, 0, 3)


def test_bootstrap_ci_two_items_hand_computed():
    # Resampling [0, 1]: means 0, 1/2, 1 with probability 1/4, 1/2, 1/4, so the 2.5th and
    # 97.5th percentiles of 1,000 resamples are 0 and 1.
    assert bootstrap_ci([0.0, 1.0]) == [0.0, 1.0]
    assert bootstrap_ci([0.3, 0.3, 0.3]) == pytest.approx([0.3, 0.3])
    assert bootstrap_ci([0.7]) == [0.7, 0.7]


def test_bootstrap_weights_equal_index_resampling():
    values = np.random.default_rng(1).random(23)
    idx = np.random.default_rng(0).integers(0, 23, size=(1000, 23))
    direct = values[idx].mean(axis=1)
    batched = bootstrap_means(values[:, None], bootstrap_weights(23))[:, 0]
    assert np.allclose(direct, batched, atol=1e-12)
    lo, hi = percentile_interval(batched[:, None])[:, 0]
    assert bootstrap_ci(values) == pytest.approx([lo, hi])


def test_column_stats_ignore_missing_items_like_mean_se():
    table = np.array([[0.0, 1.0], [0.5, np.nan], [1.0, 0.0], [1.0, np.nan]])
    mean, se, n = column_stats(table)
    first = mean_se([0.0, 0.5, 1.0, 1.0])
    assert mean[0] == pytest.approx(first["mean"]) and se[0] == pytest.approx(first["se"]) and n[0] == 4
    assert mean[1] == pytest.approx(0.5) and se[1] == pytest.approx(0.5) and n[1] == 2


# ---------------------------------------------------------------------------- summarize


def _rows(spec, budget="tokens:100", level="L1", requested=100, **extra):
    """spec: {item: [(answer, correct, completion_tokens), ...]}"""
    out = []
    for item, samples in spec.items():
        for j, (answer, correct, tokens) in enumerate(samples):
            row = _row(item, answer, correct, budget=budget, tokens=tokens, level=level)
            row.update({"key": f"{item}/{budget}/{j}", "requested_tokens": requested, "sample": j}, **extra)
            out.append(row)
    return out


def test_summary_group_figures_hand_computed():
    rows = _rows(
        {
            "t/L1/0": [("1", True, 10), ("2", False, 30), ("1", True, 20), (None, False, 40)],
            "t/L1/1": [("3", True, 20), ("3", True, 20), ("4", False, 20), ("3", True, 20)],
        }
    )
    rows[3]["truncated"] = True
    rows[7]["error"] = "timeout"  # excluded from accuracy, counted in coverage
    summary = summarize(rows, prices={"input_per_million": 1.0, "output_per_million": 10.0}, params=1e9)
    (group,) = [g for g in summary["groups"] if g["level"] is None]
    assert group["errors"] == 1 and group["samples_scored"] == 7
    assert group["items_complete"] == 1 and group["coverage"] == 0.5
    # k runs to the largest scored count; each k uses the items that have k samples
    assert group["samples_per_item"] == 4 and group["samples_per_item_min"] == 3
    assert [p["items"] for p in group["points"]] == [2, 2, 2, 1]
    assert group["points"][3]["maj"]["n"] == 1 and group["points"][3]["pass"]["mean"] == 1.0
    assert group["pass@1"]["mean"] == pytest.approx((2 / 4 + 2 / 3) / 2)
    assert group["parse_failure_rate"] == pytest.approx(1 / 7)
    assert group["truncation_rate"] == pytest.approx(1 / 7)
    mean_tokens = (10 + 30 + 20 + 40 + 20 + 20 + 20) / 7
    assert group["mean_completion_tokens"] == pytest.approx(mean_tokens)
    point = group["points"][1]  # k = 2
    assert point["tokens_per_item"] == pytest.approx(2 * mean_tokens)
    assert point["cost_per_item"] == pytest.approx(2 * (5 * 1.0 + mean_tokens * 10.0) / 1e6)
    assert point["flops_per_item"] == pytest.approx(2 * 1e9 * 2 * mean_tokens)
    # item 0, k=2 over its 4 samples (1, 2, 1, unparsed): pairs {1,1} = 1, {1,2} x2 tie = 1/2
    # each, {1,-} x2 = 1 each, {2,-} = 0 -> 4/6; item 1 (3, 3, 4): pairs 1, 1/2, 1/2 -> 2/3
    assert point["maj"]["mean"] == pytest.approx((4 / 6 + 2 / 3) / 2)
    fid = group["fidelity"]
    assert fid["used_tokens"] == "completion_tokens"
    assert fid["used_median"] == 20 and fid["used_p90"] == pytest.approx(34.0)
    assert fid["within_budget_share"] == 1.0 and fid["control"] == 1.0 and fid["cut_off_rate"] == pytest.approx(1 / 7)


def test_summary_partial_credit_scores_and_budget_kinds():
    rows = _rows({"t/L1/0": [("1", False, 50), ("1", False, 60)]}, budget="forced:40", requested=40)
    for row, letters, reasoning in zip(rows, (0.5, 1.0), (40, 50)):
        row.update({"partial": letters, "scores": {"letters": letters}, "reasoning_tokens": reasoning})
    summary = summarize(rows)
    (group,) = [g for g in summary["groups"] if g["level"] is None]
    assert group["has_partial"] and group["partial"]["mean"] == pytest.approx(0.75)
    assert group["scores"]["letters"]["mean"] == pytest.approx(0.75)
    # forced:N caps the reasoning: used = reasoning tokens (40, 50), within budget when <= 40
    assert group["fidelity"]["used_tokens"] == "reasoning_tokens"
    assert group["fidelity"]["within_budget_share"] == 0.5
    assert group["fidelity"]["control"] == 0.0  # the mean, 45 reasoning tokens, exceeds 40


def test_summary_budgets_sorted_by_kind_and_size_without_an_order():
    # Without a recorded order: budgets.KINDS order (tokens, forced, thinking, effort), each
    # kind by size (effort by level); labels this version cannot read last.
    rows = []
    for b in ("tokens:1024", "other:9", "tokens:256", "effort:high", "forced:64", "effort:low"):
        requested = int(b.split(":")[1]) if b.split(":")[1].isdigit() else None
        rows += _rows({"t/L1/0": [("1", True, 5)]}, budget=b, requested=requested)
    summary = summarize(rows)
    expected = ["tokens:256", "tokens:1024", "forced:64", "effort:low", "effort:high", "other:9"]
    assert summary["tasks"][0]["budgets"] == expected
    # A recorded order comes first; budgets it does not list follow in kind order.
    assert summarize(rows, ["effort:high", "tokens:1024"])["tasks"][0]["budgets"] == [
        "effort:high", "tokens:1024", "tokens:256", "forced:64", "effort:low", "other:9"
    ]


def test_summary_is_json_clean_and_deterministic():
    import json

    rng = random.Random(0)
    rows = []
    for b, p in (("tokens:64", 0.3), ("tokens:256", 0.6)):
        for i in range(12):
            samples = [(str(rng.choice([1, 2, 3])) if rng.random() > p else "7", None, rng.randint(10, 60)) for _ in range(5)]
            rows += _rows({f"t/L{i % 3}/{i}": [(a, a == "7", t) for a, _, t in samples]}, budget=b, level=f"L{i % 3}", requested=int(b[7:]))
    a = json.dumps(summarize(rows), sort_keys=True, allow_nan=False)
    b = json.dumps(summarize(list(rows)), sort_keys=True, allow_nan=False)
    assert a == b
    summary = json.loads(a)
    assert summary["schema_version"] == 4
    task = summary["tasks"][0]
    assert task["levels"] == ["L0", "L1", "L2"] and task["frontier"] and task["fits"]
    assert {(g["level"], g["budget"]) for g in summary["groups"]} >= {("L0", "tokens:64"), (None, "tokens:256")}


def test_group_intervals_are_bounded_intervals_of_item_values():
    # Each point's interval is intervals.bounded_interval of its item values, with the
    # trials behind them (samples / k), for every group and level.
    from ttc_bench.metrics.intervals import bounded_interval

    rng = random.Random(5)
    rows = []
    for b in ("tokens:64", "tokens:256"):
        for i in range(9):
            level = f"L{i % 3}"
            samples = [(rng.choice(["7", "7", "3", "4", None]), None, 10) for _ in range(4)]
            rows += _rows({f"t/{level}/{i}": [(a, a == "7", t) for a, _, t in samples]}, budget=b, level=level, requested=int(b[7:]))
    summary = summarize(rows)

    def item_values(budget, level, k):
        values = []
        for item in sorted({r["item"] for r in rows if r["budget"] == budget and (level is None or r["level"] == level)}):
            mine = [r for r in rows if r["item"] == item and r["budget"] == budget]
            hist = {}
            for r in mine:
                if r["answer"] is not None:
                    hist[r["answer"]] = (hist.get(r["answer"], (0, r["correct"]))[0] + 1, r["correct"])
            values.append(maj_curve(*histogram_key(hist, sum(r["answer"] is None for r in mine)))[k - 1])
        return values

    for g in summary["groups"]:
        for k in (1, 2, 4):
            values = item_values(g["budget"], g["level"], k)
            point = g["points"][k - 1]["maj"]
            expected = mean_se(values, trials=len(values) * 4 / k)
            assert point["mean"] == pytest.approx(np.mean(values))
            assert point["ci95"] == pytest.approx(expected["ci95"], abs=1e-9)
            assert point["ci95"] == pytest.approx(bounded_interval(np.mean(values), expected["se"], len(values), len(values) * 4 / k), abs=1e-9)
        assert g["pass@1"]["ci95"] == pytest.approx(mean_se([r for r in item_values(g["budget"], g["level"], 1)], trials=4 * g["items"])["ci95"])


def test_each_k_uses_the_items_that_have_k_samples():
    # One item with 3 of 8 samples no longer cuts every curve of its budget to k <= 3.
    spec = {f"t/L1/{i}": [("7", True, 10)] * 8 for i in range(5)}
    spec["t/L1/short"] = [("3", False, 10)] * 3
    group = [g for g in summarize(_rows(spec))["groups"] if g["level"] is None][0]
    assert group["samples_per_item"] == 8 and group["samples_per_item_min"] == 3
    assert [p["items"] for p in group["points"]] == [6, 6, 6, 5, 5, 5, 5, 5]
    assert group["points"][7]["maj"]["mean"] == 1.0 and group["points"][2]["maj"]["mean"] == pytest.approx(5 / 6)


def test_fits_and_frontier_see_token_noise():
    # Two budgets that spend the same tokens within noise: no fit across them (less than
    # half a doubling), and the frontier keeps only the more accurate of the two.
    rng = random.Random(9)
    rows = []
    for b, acc in (("tokens:100", 0.3), ("tokens:101", 0.5)):
        answers = {f"t/L1/{i}": ["7" if rng.random() < acc else "3" for _ in range(2)] for i in range(40)}
        spec = {item: [(a, a == "7", rng.randint(30, 50)) for a in samples] for item, samples in answers.items()}
        rows += _rows(spec, budget=b, requested=int(b[7:]))
    task = summarize(rows)["tasks"][0]
    pass1 = [f for f in task["fits"] if f["method"] == "pass@1"][0]
    assert pass1["points_per_doubling"] is None and pass1["undefined"]
    assert task["fidelity"]["scaling_per_1k_tokens"] is None and task["fidelity"]["scaling_undefined"]
    first = task["frontier"][0]
    assert first["budget"] == "tokens:101" and first["k"] == 1
    assert first["cost_ties"] and first["cost_ties"][0]["budget"] == "tokens:100"
    assert "costs the same within noise" in task["frontier_text"][0]
    assert all(p["tokens_ci95"][0] < p["tokens_per_item"] < p["tokens_ci95"][1] for p in task["frontier"])


def test_identical_samples_are_flagged():
    same = [dict(_row("i1", "1", True), response="same text") for _ in range(3)]
    varied = [dict(_row("i2", a, a == "1"), response=f"text {a}") for a in ("1", "2", "1")]
    summary = summarize(same + varied)
    overall = [g for g in summary["groups"] if g["level"] is None][0]
    assert overall["identical_sample_rate"] == pytest.approx(0.5)
    assert summary["warnings"] and "ignore seed/temperature" in summary["warnings"][0]
    assert not summarize(varied)["warnings"]


def _wilson_cc(mean, se, items, trials, q):
    """Newcombe's continuity-corrected Wilson interval on n_eff = p(1-p)/se^2 <= trials,
    written out independently of estimators.py."""
    p = mean
    n = min(p * (1 - p) / se**2 if se > 0 else float("inf"), max(trials, items))
    lo = (2 * n * p + q * q - 1 - q * max(0.0, q * q - 2 - 1 / n + 4 * p * (n * (1 - p) + 1)) ** 0.5) / (2 * (n + q * q))
    hi = (2 * n * p + q * q + 1 + q * max(0.0, q * q + 2 - 1 / n + 4 * p * (n * (1 - p) - 1)) ** 0.5) / (2 * (n + q * q))
    lo = 0.0 if n * p < 1 else min(max(lo, 0.0), p)
    hi = 1.0 if n * (1 - p) < 1 else max(min(hi, 1.0), p)
    return [lo, hi]


def test_summary_matches_an_independent_recompute_from_samples(tmp_path):
    """Every accuracy figure, interval and fidelity figure of a rebuilt summary.json against
    a recompute written here from the definitions in docs/metrics.md (brute-force votes,
    binomial pass@k, the interval formula by hand)."""
    import json

    from ttc_bench.metrics.distributions import t_quantile
    from ttc_bench.summarize import summarize_run

    rng = random.Random(12)
    rows = []
    for b, (budget, requested) in enumerate((("forced:40:min=10", 40), ("tokens:80", 80))):
        for i in range(7):
            for j in range(rng.randint(2, 5)):  # uneven sample counts: each k has its own items
                answer = rng.choice(["7", "7", "3", "4", None])
                error = "timeout" if rng.random() < 0.1 else None
                rows.append({"key": f"{budget}/{i}/{j}", "task": "t", "level": "L", "item": f"t/L/{i}", "budget": budget,
                             "requested_tokens": requested, "sample": j, "answer": None if error else answer,
                             "correct": answer == "7" and not error, "error": error, "response": f"r{i}{j}{answer}",
                             "completion_tokens": rng.randint(5, 90), "reasoning_tokens": rng.randint(0, 50)})  # fmt: skip
    run = tmp_path / "run"
    run.mkdir()
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize_run(run)
    for g in (g for g in summary["groups"] if g["level"] is None):
        mine = [r for r in rows if r["budget"] == g["budget"] and r["error"] is None]
        items = sorted({r["item"] for r in mine})
        samples = {item: [r for r in mine if r["item"] == item] for item in items}
        assert g["samples_per_item"] == max(len(s) for s in samples.values())
        for point in g["points"]:
            k = point["k"]
            reach = [item for item in items if len(samples[item]) >= k]
            assert point["items"] == len(reach)
            trials = sum(len(samples[item]) for item in reach) / k
            q = t_quantile(0.975, len(reach) - 1) if len(reach) > 1 else None
            for key, value in (
                ("maj", lambda s: brute_maj([r["answer"] for r in s], {"7"}, k)),
                ("pass", lambda s: 1 - comb(len(s) - sum(r["correct"] for r in s), k) / comb(len(s), k)),
            ):
                values = np.array([value(samples[item]) for item in reach])
                mean = values.mean()
                se = values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
                stat = point[key]
                assert stat["mean"] == pytest.approx(mean, abs=1e-9) and stat["se"] == pytest.approx(se, abs=1e-9)
                expected = _wilson_cc(mean, se, len(reach), trials, q) if q else [0.0, 1.0]
                assert stat["ci95"] == pytest.approx(expected, abs=1e-9)
        used = np.array([r["reasoning_tokens"] if g["budget"].startswith("forced") else r["completion_tokens"] for r in mine])
        low = 10 if g["budget"].startswith("forced") else 0
        within = (used >= low) & (used <= g["requested_tokens"])
        assert g["fidelity"]["within_budget_share"] == pytest.approx(within.mean())
        assert g["fidelity"]["control"] == (1.0 if low <= used.mean() <= g["requested_tokens"] else 0.0)
    s1 = summary["tasks"][0]["fidelity"]
    controls = [g["fidelity"]["control"] for g in summary["groups"] if g["level"] is None]
    assert s1["control"] == pytest.approx(np.mean(controls)) and s1["control_settings"] == 2
