"""Strategies end to end (docs/strategies.md): --strategies on run and report, the suite
key, the refusal of a checker strategy without a checker, and the selection strategies'
points in summary.json, the frontier and the report, against scripted endpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_server import FakeServer
from scripted_models import AdditionModel, SudokuModel
from ttc_bench.errors import UserError
from ttc_bench.metrics.frontier import strategy_name
from ttc_bench.spec import build_spec
from ttc_bench.strategies import parse_strategies, strategies

ITEMS = 12


def run_dir(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def sudoku_args(server, out, *extra):
    return ["run", "--model", "fake-model", "--base-url", server.base_url, "--out", out, "--no-progress",
            "--tasks", "sudoku:4x4", "--limit", str(ITEMS), "--budgets", "tokens:256", "--samples", "4", "--retry-window", "5", *extra]


def overall(summary: dict) -> dict:
    (group,) = [g for g in summary["groups"] if g["level"] is None]
    return group


def test_the_registry_names_every_strategy_and_parses_lists():
    assert [s.name for s in strategies()][:3] == ["maj", "verified-maj", "best-of"]
    assert parse_strategies(["maj", "best-of", "maj"]) == ("maj", "best-of")
    for bad, says in ((["majority"], "unknown strategy 'majority'; known: maj"), (["best-of:3"], "takes no argument"),
                      ([], "at least one"), ("maj", "must be a list")):
        with pytest.raises(UserError, match=says):
            parse_strategies(bad)


def test_a_checker_on_sudoku_lifts_the_vote_and_every_strategy_is_a_point(tmp_path, run_cli):
    model = SudokuModel.of("4x4", ITEMS, p_right=0.4)
    with FakeServer(model) as server:
        code, out, err = run_cli(*sudoku_args(server, tmp_path, "--strategies", "maj", "verified-maj", "best-of"))
        assert code == 0, err
    folder = run_dir(tmp_path)
    rows = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    # Every parsed answer carries the checker's verdict, and it agrees with the gold here.
    assert all(r["checked"] is r["correct"] for r in rows)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["strategies"] == ["maj", "verified-maj", "best-of"]
    group = overall(summary)
    for p in group["points"]:
        assert p["verified_maj"]["mean"] >= p["maj"]["mean"] - 1e-12
        assert p["best_of"]["mean"] >= p["maj"]["mean"] - 1e-12
        assert p["verified_maj"]["ci95"][0] <= p["verified_maj"]["mean"] <= p["verified_maj"]["ci95"][1]
    top = group["points"][-1]
    # The wrong answer is one grid voted for 60% of the time: the vote loses what the checker keeps.
    assert top["verified_maj"]["mean"] > top["maj"]["mean"] + 0.1
    # With an exact checker, verified-maj@k is pass@k: right whenever one of k samples is.
    assert top["verified_maj"]["mean"] == pytest.approx(top["pass"]["mean"], abs=1e-9)
    (task,) = summary["tasks"]
    assert {p["method"] for p in task["frontier"]} & {"verified-maj@k", "best-of-k"}
    names = [strategy_name(p) for p in task["frontier"]]
    assert any(name.startswith(("verified-maj@", "best-of-")) for name in names), names
    assert "verified-maj@n" in out and "best-of-n" in out
    report = (folder / "report.md").read_text()
    assert "verified-maj@4 (95% CI)" in report and "best-of-4 (95% CI)" in report


def test_without_strategies_the_summary_is_todays(tmp_path, run_cli):
    model = SudokuModel.of("4x4", ITEMS, p_right=0.5)
    with FakeServer(model) as server:
        code, out, err = run_cli(*sudoku_args(server, tmp_path))
        assert code == 0, err
    folder = run_dir(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    assert "strategies" not in summary and all("compute_optimal" not in t for t in summary["tasks"])
    assert all("verified_maj" not in p and "best_of" not in p for g in summary["groups"] for p in g["points"])
    assert "strategies" not in json.loads((folder / "manifest.json").read_text())["spec"]
    assert "verified-maj" not in out
    # report --strategies adds them to a finished run without a request; report alone keeps them out.
    code, out, err = run_cli("report", folder, "--strategies", "verified-maj")
    assert code == 0, err
    assert "verified-maj@n" in out
    assert overall(json.loads((folder / "summary.json").read_text()))["points"][-1]["verified_maj"]["mean"] is not None
    code, out, _ = run_cli("report", folder)
    assert code == 0 and "verified-maj" not in out


@pytest.mark.parametrize("strategy", ["verified-maj", "best-of"])
def test_a_checker_strategy_without_any_checker_is_refused_before_any_request(tmp_path, run_cli, strategy):
    with FakeServer(lambda request: "<answer>3</answer>") as server:
        code, out, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path,
                                 "--no-progress", "--tasks", "arithmetic:add-1d", "mcq:easy", "--limit", "2",
                                 "--strategies", "maj", strategy)
        assert server.chat_requests() == []
    assert code == 2
    (line,) = err.strip().splitlines()
    assert f"strategy {strategy} needs a gold-free checker" in line and "arithmetic, mcq" in line
    assert not any(tmp_path.iterdir())


def test_a_checker_strategy_in_a_mixed_run_applies_where_a_checker_exists_and_says_where_not(tmp_path, run_cli):
    """The standard suite mixes families: verified-maj shows for sudoku, and arithmetic
    keeps maj@k with one line saying why, instead of maj@k under another name."""
    with FakeServer(lambda request: "<answer>3</answer>") as server:
        code, out, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path,
                                 "--no-progress", "--tasks", "arithmetic:add-1d", "sudoku:4x4", "--limit", "2",
                                 "--samples", "2", "--strategies", "maj", "verified-maj")
    assert code == 0, err
    summary = json.loads((run_dir(tmp_path) / "summary.json").read_text())
    by_task = {g["task"]: g for g in summary["groups"] if g["level"] is None}
    assert by_task["sudoku"]["points"][-1].get("verified_maj") is not None
    assert by_task["arithmetic"]["points"][-1].get("verified_maj") is None
    (note,) = [w for w in summary["warnings"] if "no gold-free checker" in w]
    assert "arithmetic" in note and "sudoku" not in note.split(":")[1].split("so only")[0]
    assert "arithmetic has no gold-free checker" in out


def test_unknown_strategy_is_one_line(tmp_path, run_cli):
    code, _, err = run_cli("run", "--tasks", "sudoku:4x4", "--out", tmp_path, "--strategies", "vote")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "unknown strategy 'vote'" in err


def test_report_refuses_a_checker_strategy_for_a_run_without_one(tmp_path, run_cli):
    with FakeServer(lambda request: "<answer>3</answer>") as server:
        code, _, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path,
                               "--no-progress", "--tasks", "arithmetic:add-1d", "--limit", "2")
        assert code == 0, err
    code, _, err = run_cli("report", run_dir(tmp_path), "--strategies", "best-of")
    assert code == 2 and "strategy best-of needs a gold-free checker" in err and len(err.strip().splitlines()) == 1


def test_the_suite_key_and_the_flag(tmp_path):
    suite = tmp_path / "s.toml"
    suite.write_text('name = "s"\nsamples = 2\nbudgets = ["tokens:64"]\nstrategies = ["maj", "best-of"]\n'
                     '[[tasks]]\nfamily = "crossword"\nlevels = ["3x3"]\nitems = 2\n')
    assert build_spec(str(suite)).strategies == ("maj", "best-of")
    assert build_spec(str(suite), strategies=["verified-maj"]).strategies == ("verified-maj",)
    assert build_spec(str(suite)).to_dict()["strategies"] == ["maj", "best-of"]
    suite.write_text(suite.read_text().replace('["maj", "best-of"]', '"maj"'))
    with pytest.raises(UserError, match="strategies must be a list"):
        build_spec(str(suite))


def test_the_gate_compares_a_selection_curve_on_request(tmp_path, run_cli):
    model = SudokuModel.of("4x4", ITEMS, p_right=0.4)
    with FakeServer(model) as server:
        assert run_cli(*sudoku_args(server, tmp_path / "a"))[0] == 0
    folder = run_dir(tmp_path / "a")
    code, out, err = run_cli("compare", folder, folder, "--metrics", "verified-maj@k", "best-of-k")
    assert code == 0, err
    assert "verified-maj@4" in out and "best-of-4" in out


def test_selfverify_judges_each_distinct_answer_counts_its_tokens_and_resumes(tmp_path, run_cli):
    model = SudokuModel.of("4x4", ITEMS, p_right=0.4)
    with FakeServer(model) as server:
        code, out, err = run_cli(*sudoku_args(server, tmp_path, "--strategies", "maj", "selfverify"))
        assert code == 0, err
        requests = server.chat_requests()
        judging = [r for r in requests if "Proposed answer:" in r["messages"][-1]["content"]]
        # The same command again: every sample and every verdict is stored, nothing is sent.
        assert run_cli(*sudoku_args(server, tmp_path, "--strategies", "maj", "selfverify"))[0] == 0
        assert len(server.chat_requests()) == len(requests)
    folder = run_dir(tmp_path)
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    verdicts = [json.loads(line) for line in (folder / "strategies" / "samples.jsonl").read_text().splitlines()]
    distinct = {(r["item"], r["answer"]) for r in samples if r["answer"] is not None}
    assert len(judging) == len(verdicts) == len(distinct)
    assert {(r["item"], r["answer"]) for r in verdicts} == distinct
    assert all(r["strategy"] == "selfverify" and r["verdict"] is r["correct"] for r in verdicts)
    parents = {r["key"]: r for r in samples}
    assert all(parents[r["parent"]]["answer"] == r["answer"] for r in verdicts)
    summary = json.loads((folder / "summary.json").read_text())
    group = overall(summary)
    point, top = group["selfverify"], group["points"][-1]
    # A perfect judge: right whenever one of the n samples is (pass@n), above the plain vote.
    assert point["accuracy"]["mean"] == pytest.approx(top["pass"]["mean"], abs=1e-9)
    assert point["accuracy"]["mean"] > top["maj"]["mean"] + 0.1
    judge_tokens = sum(r["completion_tokens"] for r in verdicts) / ITEMS
    assert point["judge_tokens_per_item"] == pytest.approx(judge_tokens)
    assert point["tokens_per_item"] == pytest.approx(top["tokens_per_item"] + judge_tokens)
    (task,) = summary["tasks"]
    assert any(p["method"] == "selfverify" for p in task["frontier"])
    assert "selfverify at tokens:256" in out


def test_selfverify_in_a_report_needs_the_judgements(tmp_path, run_cli):
    model = SudokuModel.of("4x4", ITEMS, p_right=0.4)
    with FakeServer(model) as server:
        assert run_cli(*sudoku_args(server, tmp_path))[0] == 0
    code, _, err = run_cli("report", run_dir(tmp_path), "--strategies", "selfverify")
    assert code == 2 and "selfverify needs the model's judgements" in err and len(err.strip().splitlines()) == 1


def test_revise_converges_on_a_model_that_fixes_the_reported_violations(tmp_path, run_cli):
    model = SudokuModel.of("4x4", ITEMS, p_right=0.25)
    with FakeServer(model) as server:
        code, out, err = run_cli(*sudoku_args(server, tmp_path, "--strategies", "maj", "revise:1", "revise:3"))
        assert code == 0, err
        requests = server.chat_requests()
        rounds = [r for r in requests if len(r["messages"]) > 1]
        assert run_cli(*sudoku_args(server, tmp_path, "--strategies", "maj", "revise:1", "revise:3"))[0] == 0
        assert len(server.chat_requests()) == len(requests)  # every round stored: nothing asked twice
    folder = run_dir(tmp_path)
    firsts = {r["item"]: r for r in map(json.loads, (folder / "samples.jsonl").read_text().splitlines()) if r["sample"] == 0}
    revisions = [json.loads(line) for line in (folder / "strategies" / "samples.jsonl").read_text().splitlines()]
    wrong = [item for item, r in firsts.items() if not r["correct"]]
    # One round per wrong first answer, told its violations concretely; a right one is never revised.
    assert len(rounds) == len(revisions) == len(wrong) > 0
    assert all("holds two" in r["messages"][-1]["content"] for r in rounds)
    assert all(r["round"] == 1 and r["correct"] and r["checked"] and r["parent"] == firsts[r["item"]]["key"] for r in revisions)
    group = overall(json.loads((folder / "summary.json").read_text()))
    for name in ("revise:1", "revise:3"):
        point = group["revise"][name]
        assert point["accuracy"]["mean"] == 1.0 and point["rounds_per_item"] == pytest.approx(len(wrong) / ITEMS)
        spent = sum(r["completion_tokens"] for r in firsts.values()) + sum(r["completion_tokens"] for r in revisions)
        assert point["tokens_per_item"] == pytest.approx(spent / ITEMS)
    assert "revise:1 at tokens:256: 100.0" in out


def test_revise_without_a_checker_asks_to_recheck_for_every_round(tmp_path, run_cli):
    with FakeServer(AdditionModel(hard_every=1, p_right=0.0)) as server:
        code, _, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path,
                               "--no-progress", "--tasks", "arithmetic:add-2d", "--limit", "3", "--budgets", "tokens:64",
                               "--samples", "1", "--strategies", "revise:2")
        assert code == 0, err
        rounds = [r for r in server.chat_requests() if len(r["messages"]) > 1]
    assert len(rounds) == 3 * 2  # no checker says when to stop: every round is asked
    assert all("Re-check your answer" in r["messages"][-1]["content"] for r in rounds)
    assert all(len(r["messages"]) in (3, 5) for r in rounds)
    group = overall(json.loads((run_dir(tmp_path) / "summary.json").read_text()))
    assert group["revise"]["revise:2"]["rounds_per_item"] == 2


@pytest.mark.parametrize("bad", ["revise", "revise:0", "revise:x", "revise:11"])
def test_revise_takes_a_count(bad):
    with pytest.raises(UserError, match="takes a count from 1 to 10"):
        parse_strategies([bad])


def test_the_compute_optimal_table_per_level(tmp_path, run_cli):
    from ttc_bench.adapters import get_family

    sudoku = get_family("sudoku")()
    model = SudokuModel(sudoku.items(0, "4x4", ITEMS) + sudoku.items(0, "6x6", ITEMS), p_right=0.4)
    with FakeServer(model) as server:
        args = sudoku_args(server, tmp_path, "--strategies", "maj", "verified-maj", "selfverify", "revise:1")
        args[args.index("sudoku:4x4")] = "sudoku:4x4,6x6"
        code, out, err = run_cli(*args)
        assert code == 0, err
    summary = json.loads((run_dir(tmp_path) / "summary.json").read_text())
    (task,) = summary["tasks"]
    table = task["compute_optimal"]
    grid = table["compute_levels"]
    assert grid == sorted(grid) and all(c > 0 and (c == 2 ** round(__import__("math").log2(c))) for c in grid)
    assert [row["level"] for row in table["levels"]] == ["4x4", "6x6"]
    for row in table["levels"]:
        (group,) = [g for g in summary["groups"] if g["level"] == row["level"]]
        # Every deployable point of the level, from the group itself.
        points = [(p["tokens_per_item"], p[key]["mean"]) for p in group["points"] for key in ("maj", "verified_maj")]
        points += [(group["selfverify"]["tokens_per_item"], group["selfverify"]["accuracy"]["mean"]),
                   (group["revise"]["revise:1"]["tokens_per_item"], group["revise"]["revise:1"]["accuracy"]["mean"])]
        for c, best in zip(grid, row["best"]):
            fit = [acc for tokens, acc in points if tokens <= c]
            if not fit:
                assert best is None
                continue
            assert best["tokens_per_item"] <= c and best["accuracy"] == pytest.approx(max(fit), abs=1e-12)
            assert best["ci95"][0] <= best["accuracy"] <= best["ci95"][1]
    assert "compute-optimal per level" in out and "level 6x6:" in out
    assert "Compute-optimal strategy per level" in (run_dir(tmp_path) / "report.md").read_text()


def test_merged_shards_keep_the_strategies_rows(tmp_path, run_cli):
    model = SudokuModel.of("4x4", ITEMS, p_right=0.4)
    with FakeServer(model) as server:
        for shard in ("1/2", "2/2"):
            assert run_cli(*sudoku_args(server, tmp_path / "shards", "--strategies", "maj", "selfverify", "revise:1",
                                        "--shard", shard))[0] == 0
        assert run_cli(*sudoku_args(server, tmp_path / "whole", "--strategies", "maj", "selfverify", "revise:1"))[0] == 0
    parts = sorted(p for p in (tmp_path / "shards").iterdir() if p.is_dir())
    code, _, err = run_cli("merge", tmp_path / "merged", *parts)
    assert code == 0, err
    merged = overall(json.loads((tmp_path / "merged" / "summary.json").read_text()))
    whole = overall(json.loads((run_dir(tmp_path / "whole") / "summary.json").read_text()))
    for name in ("selfverify",):
        assert merged[name]["accuracy"]["mean"] == pytest.approx(whole[name]["accuracy"]["mean"])
        assert merged[name]["tokens_per_item"] == pytest.approx(whole[name]["tokens_per_item"])
    assert merged["revise"]["revise:1"]["accuracy"]["mean"] == pytest.approx(whole["revise"]["revise:1"]["accuracy"]["mean"])


def test_judging_requests_refused_again_and_again_stop_the_run_in_one_line(tmp_path, run_cli):
    """The samples are answered, then every judging request meets the same 400: the run
    stops after 20 in a row, as sampling does, instead of storing one error per candidate."""
    from fake_server import Fault
    from test_run_fake import add_answer

    def responder(request):
        if "Proposed answer" in request["messages"][0]["content"]:
            return Fault(400, b'{"error": {"message": "content policy: judging is not allowed here"}}')
        return add_answer(request)

    with FakeServer(responder) as server:
        code, out, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path,
                                 "--no-progress", "--tasks", "arithmetic:add-2d", "--limit", "40", "--samples", "1",
                                 "--budgets", "tokens:64", "--concurrency", "1", "--strategies", "maj", "selfverify")
        judged = [r for r in server.chat_requests() if "Proposed answer" in r["messages"][0]["content"]]
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    assert "refused 20 requests in a row" in err and "judging is not allowed" in err
    assert len(judged) == 20
