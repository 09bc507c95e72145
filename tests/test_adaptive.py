"""The adaptive strategy (strategies/adaptive.py, docs/strategies.md): its stopping rules,
live skipping (a settled item's next sample is never sent), resume from stored votes, the
summary's adaptive point, and the acceptance figure: on an endpoint whose items are mostly
easy, at least 40% fewer tokens than fixed-n maj@n at the same accuracy (within 1 point)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from fake_server import FakeServer
from scripted_models import AdditionModel
from ttc_bench.strategies.adaptive import CONFIDENCE, leader_share_above_half, settled

N = 16
ITEMS = 60


def test_the_leader_that_cannot_lose_stops_sampling():
    # 3 votes to 0 with 2 samples left: even 2 more for the runner-up leave it behind.
    assert settled(["a", "a", "a"], 2)
    # 3 to 1 with 2 left could end 3 to 3: not settled by rule 1, nor by the Beta rule.
    assert not settled(["a", "a", "a", "b"], 2)
    assert settled(["a", "b"], 0)  # nothing left to draw


def test_the_beta_rule_at_the_papers_threshold():
    # P(Beta(a+1, b+1) > 1/2) = P(Binomial(a+b+1, 1/2) <= a): 1 - 2^-(a+1) without dissent.
    assert leader_share_above_half(3, 0) == pytest.approx(1 - 2**-4)
    assert leader_share_above_half(4, 0) == pytest.approx(1 - 2**-5)
    assert leader_share_above_half(2, 2) == pytest.approx(0.5)
    assert not settled(["a"] * 3, 100) and settled(["a"] * 4, 100)
    assert settled(["a"] * 6 + ["b"], 100) and not settled(["a"] * 5 + ["b"], 100)
    assert leader_share_above_half(6, 1) >= CONFIDENCE > leader_share_above_half(5, 1)


def test_unparsed_samples_and_no_votes_never_settle_early():
    assert not settled([], 8)
    assert not settled([None, None, None, None, None], 3)
    assert settled([None, "a", "a", "a", "a"], 3)


def expected_draws(rows: list[dict], n: int) -> dict[str, int]:
    """Per item, how many of its n samples (in order) the rule draws: the first j at which
    the votes of samples 0..j-1 are settled, read off a fixed-n run of the same seeds."""
    by_item = defaultdict(dict)
    for r in rows:
        by_item[r["item"]][r["sample"]] = r["answer"]
    draws = {}
    for item, answers in by_item.items():
        votes = [answers[j] for j in range(n)]
        draws[item] = next((j for j in range(n + 1) if settled(votes[:j], n - j)), n)
    return draws


def args(server, out, *extra, samples=N, limit=ITEMS):
    return ["run", "--model", "fake-model", "--base-url", server.base_url, "--out", out, "--no-progress",
            "--tasks", "arithmetic:add-2d", "--limit", str(limit), "--budgets", "tokens:64", "--samples", str(samples),
            "--retry-window", "5", *extra]


def rows_of(out: Path) -> list[dict]:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]


def summary_of(out: Path) -> dict:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return json.loads((folder / "summary.json").read_text())


def overall(summary: dict) -> dict:
    (group,) = [g for g in summary["groups"] if g["level"] is None]
    return group


def test_adaptive_saves_40_percent_of_tokens_at_the_same_accuracy(tmp_path, run_cli):
    model = AdditionModel()
    with FakeServer(model) as server:
        code, _, err = run_cli(*args(server, tmp_path / "fixed"))
        assert code == 0, err
        fixed_requests = len(server.chat_requests())
        code, out, err = run_cli(*args(server, tmp_path / "adaptive", "--strategies", "adaptive"))
        assert code == 0, err
        adaptive_requests = len(server.chat_requests()) - fixed_requests
    fixed_rows, adaptive_rows = rows_of(tmp_path / "fixed"), rows_of(tmp_path / "adaptive")
    assert fixed_requests == ITEMS * N and adaptive_requests == len(adaptive_rows)
    # Live skipping: every item drew exactly what the rule allows, no sample beyond.
    drawn = defaultdict(int)
    for r in adaptive_rows:
        drawn[r["item"]] += 1
    assert dict(drawn) == expected_draws(fixed_rows, N)
    fixed, adaptive = overall(summary_of(tmp_path / "fixed")), overall(summary_of(tmp_path / "adaptive"))
    point = adaptive["adaptive"]
    fixed_tokens = N * fixed["mean_completion_tokens"]
    spent = sum(r["completion_tokens"] for r in adaptive_rows) / ITEMS
    assert point["tokens_per_item"] == pytest.approx(spent)
    assert point["fixed_tokens_per_item"] == pytest.approx(N * adaptive["mean_completion_tokens"])
    assert 1 - spent / fixed_tokens >= 0.40 and point["tokens_saved"] >= 0.40
    assert abs(point["accuracy"]["mean"] - fixed["points"][N - 1]["maj"]["mean"]) <= 0.01
    # The fixed run's summary has no adaptive point; the adaptive one is on the frontier and in the table.
    assert "adaptive" not in fixed
    (task,) = summary_of(tmp_path / "adaptive")["tasks"]
    assert any(p["method"] == "adaptive" for p in task["frontier"])
    # Curve points beyond an item's stop (over the harder items alone) stay off the frontier.
    assert all(p["k"] <= min(drawn.values()) for p in task["frontier"] if p["method"] != "adaptive")
    assert "adaptive at tokens:64" in out and "fewer tokens" in out


def test_adaptive_resumes_from_stored_samples_without_asking_again(tmp_path, run_cli):
    model = AdditionModel()
    with FakeServer(model) as server:
        # Two samples per item first (a fixed run of the same settings: the same folder and seeds).
        assert run_cli(*args(server, tmp_path, samples=2, limit=20))[0] == 0
        first = server.chat_requests()
        code, _, err = run_cli(*args(server, tmp_path, "--strategies", "adaptive", samples=N, limit=20))
        assert code == 0, err
        later = server.chat_requests()[len(first):]
        # A second adaptive run finds every item settled: nothing is sent.
        assert run_cli(*args(server, tmp_path, "--strategies", "adaptive", samples=N, limit=20))[0] == 0
        assert len(server.chat_requests()) == len(first) + len(later)
    seeds = [r["seed"] for r in first + later]
    assert len(seeds) == len(set(seeds))  # no sample asked twice
    rows = rows_of(tmp_path)
    # Stored votes count: each item holds exactly what the rule draws from sample 0 on.
    with FakeServer(model) as server:
        assert run_cli(*args(server, tmp_path / "full", samples=N, limit=20))[0] == 0
    want = expected_draws(rows_of(tmp_path / "full"), N)
    drawn = defaultdict(int)
    for r in rows:
        drawn[r["item"]] += 1
    assert {item: max(count, 2) for item, count in want.items()} == dict(drawn)


def test_adaptive_is_refused_where_it_cannot_decide_each_sample(tmp_path, run_cli):
    base = ["--tasks", "arithmetic:add-1d", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--strategies", "adaptive"]
    code, _, err = run_cli("run", *base, "--n-param", "--out", tmp_path)
    assert code == 2 and "drop --n-param" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli("export-requests", *base, "--out", tmp_path, "--to", tmp_path / "r.jsonl")
    assert code == 2 and "needs a live run" in err
    with FakeServer(AdditionModel()) as server:
        assert run_cli(*args(server, tmp_path / "fixed", samples=2, limit=2))[0] == 0
    (folder,) = [p for p in (tmp_path / "fixed").iterdir() if p.is_dir()]
    code, _, err = run_cli("report", folder, "--strategies", "adaptive")
    assert code == 2 and "adaptive is how a run samples" in err
