"""The CI regression gate: pairing, verdicts, exit codes and the four report formats.

Verdict and simulation tests use synthetic run folders (or in-memory runs); the acceptance
points "a clearly worse model fails" and "JUnit XML validates" also run against the scripted
fake endpoint and, marked `embedded`, against two real runs of the embedded model.
"""

import argparse
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from fake_server import FakeServer
from ttc_bench.gate import RunData, Settings, compare_paths, compare_runs, exit_code, run_compare
from ttc_bench.gate.options import add_arguments, outputs_from, settings_from
from ttc_bench.gate.render import render_table, to_json, to_junit, to_markdown, write_outputs
from ttc_bench.errors import UserError
from ttc_bench.metrics import paired
from ttc_bench.sample import Sample

# --------------------------------------------------------------------------- helpers


def make_rows(rng, acc, samples, *, budget="tokens:64", task="arithmetic", tokens=None, error_rate=0.0, seed=0):
    """Synthetic sample rows: item i answers correctly with probability acc[i]."""
    rows = []
    for i, p in enumerate(acc):
        for j in range(samples):
            ok = bool(rng.random() < p)
            answer = "7" if ok else (None if rng.random() < 0.3 else str(int(rng.integers(0, 4))))
            error = "HTTP 500" if rng.random() < error_rate else None
            rows.append({
                "key": f"{task}/{budget}/{i}/{j}/{seed}", "run_id": "x", "task": task, "level": "l",
                "item": f"{task}/l/{i:04d}", "budget": budget, "sample": j, "seed": seed, "gold": "7",
                "answer": None if error else answer, "correct": ok and not error, "error": error,
                "completion_tokens": 0 if error else int(tokens[i] if tokens is not None else 100),
            })
    return rows


def write_run(folder: Path, rows, *, seed=0, model="m", suite="ci-smoke", summary=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = {"run_id": folder.name, "spec": {"suite": suite, "seed": seed, "temperature": 0.7},
                "endpoint": {"model": model, "base_url": "http://127.0.0.1:1/v1", "api": "generic"}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    if summary:
        (folder / "summary.json").write_text(json.dumps({"schema_version": 1, "groups": []}))
    return folder


def mem_run(rows, name="run", seed=0) -> RunData:
    samples = [Sample.from_json(row) for row in rows]
    return RunData(Path(name), samples, {"run_id": name, "spec": {"seed": seed}, "endpoint": {"model": name}})


def deterministic_rows(correct: list[bool], *, tokens=100, budget="tokens:64"):
    """One sample per item, fixed outcomes (a deterministic endpoint)."""
    return [{
        "key": f"{i}", "task": "arithmetic", "level": "l", "item": f"arithmetic/l/{i:04d}", "budget": budget,
        "sample": 0, "seed": 1, "gold": "7", "answer": "7" if ok else "3", "correct": ok, "error": None,
        "completion_tokens": tokens,
    } for i, ok in enumerate(correct)]


def cell(comparison, metric, budget=None):
    (found,) = [r for r in comparison.results if r.metric == metric and (budget is None or r.budget == budget)]
    return found


# The common JUnit schema (Jenkins xunit junit-10.xsd, which GitHub/GitLab report tools read):
# elements, their required and allowed attributes, and allowed children.
JUNIT_SCHEMA = {
    "testsuites": (set(), {"name", "time", "tests", "failures", "errors"}, {"testsuite"}),
    "testsuite": ({"name", "tests", "failures", "errors"},
                  {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname", "id",
                   "package", "file", "log", "url"},
                  {"testsuite", "properties", "testcase", "system-out", "system-err"}),
    "properties": (set(), set(), {"property"}),
    "property": ({"name", "value"}, {"name", "value"}, set()),
    "testcase": ({"name"}, {"name", "time", "classname", "group"},
                 {"skipped", "error", "failure", "system-out", "system-err"}),
    "failure": (set(), {"type", "message"}, set()),
    "error": (set(), {"type", "message"}, set()),
    "skipped": (set(), {"type", "message"}, set()),
    "system-out": (set(), set(), set()),
    "system-err": (set(), set(), set()),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")
INTEGER = re.compile(r"[0-9]+")


def validate_junit(text: str) -> ET.Element:
    """Check a JUnit XML report against the common schema's rules; returns the root."""
    root = ET.fromstring(text)
    assert root.tag == "testsuites"

    def walk(el):
        required, allowed, children = JUNIT_SCHEMA[el.tag]
        assert required <= el.attrib.keys(), (el.tag, el.attrib)
        assert el.attrib.keys() <= allowed, (el.tag, el.attrib)
        if "time" in el.attrib:
            assert SUREFIRE_TIME.fullmatch(el.attrib["time"]), el.attrib["time"]
        for name in ("tests", "failures", "errors", "skipped"):
            if name in el.attrib:
                assert INTEGER.fullmatch(el.attrib[name])
        for child in el:
            assert child.tag in children, (el.tag, child.tag)
            walk(child)

    walk(root)
    total = failures = 0
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(suite.get("skipped")) == sum(c.find("skipped") is not None for c in cases)
        for case in cases:
            assert case.get("classname", "").startswith("ttc-bench.") and case.get("name")
            failure = case.find("failure")
            if failure is not None:
                assert failure.get("message") and failure.get("type")
        total += len(cases)
        failures += int(suite.get("failures"))
    assert int(root.get("tests")) == total and int(root.get("failures")) == failures
    return root


@pytest.fixture(autouse=True)
def no_step_summary(monkeypatch):
    # Tests that run inside GitHub Actions must not write into the real job summary.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def parse_args(*argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def compare_cli(*argv) -> int:
    """`ttc-bench compare ARGV` as cli.py runs it: flags -> Settings and Outputs -> run_compare."""
    args = parse_args(*argv)
    return run_compare(Path(args.baseline), Path(args.current), settings_from(args), outputs_from(args))


# --------------------------------------------------------------------------- acceptance


def test_a_clearly_worse_model_fails_the_gate(tmp_path, capsys):
    rng = np.random.default_rng(1)
    acc = rng.uniform(0.6, 1.0, size=60)
    base = write_run(tmp_path / "base", make_rows(rng, acc, 4))
    cur = write_run(tmp_path / "cur", make_rows(rng, acc - 0.3, 4), model="m2")
    code = compare_cli(base, cur, "--junit", tmp_path / "j.xml")
    out = capsys.readouterr().out
    assert code == 1
    assert "regression" in out and "gate: FAIL" in out
    comparison = compare_paths(base, cur)
    assert cell(comparison, "pass@1").verdict == "regression"
    assert cell(comparison, "maj@4").verdict == "regression"
    root = validate_junit((tmp_path / "j.xml").read_text())
    assert int(root.get("failures")) >= 1


@pytest.mark.parametrize("n_items,samples", [(40, 4), (60, 1)])
def test_the_same_model_twice_passes_at_least_95_of_100_times(n_items, samples):
    """Same items, same per-item accuracy, independent sampling noise (other sample seeds)."""
    rng = np.random.default_rng(2024)
    settings = Settings(max_token_increase=0.2)
    passes = 0
    for rep in range(100):
        acc = rng.beta(2, 2, size=n_items)  # items from easy to hard
        tokens = rng.uniform(50, 300, size=n_items)
        base = make_rows(rng, acc, samples, tokens=rng.poisson(tokens), seed=1)
        cur = make_rows(rng, acc, samples, tokens=rng.poisson(tokens), seed=2)
        passes += exit_code(compare_runs(mem_run(base, "a"), mem_run(cur, "b"), settings)) == 0
    assert passes >= 95


def test_a_tiny_suite_is_inconclusive_not_ok(tmp_path):
    rng = np.random.default_rng(5)
    acc = [0.5] * 5
    base = write_run(tmp_path / "base", make_rows(rng, acc, 2))
    cur = write_run(tmp_path / "cur", make_rows(rng, acc, 2))
    comparison = compare_paths(base, cur)
    assert {r.verdict for r in comparison.gated()} == {"inconclusive"}
    assert exit_code(comparison) == 0  # inconclusive does not fail the gate by default...
    assert exit_code(compare_paths(base, cur, fail_inconclusive=True)) == 1  # ...unless asked
    r = cell(comparison, "pass@1")
    assert r.mde > r.target and r.items_needed and r.items_needed > r.items
    assert "items" in r.reason


def test_identical_small_run_with_a_tolerance_is_inconclusive_and_says_how_many_items():
    rows = deterministic_rows([True, False] * 10)  # 20 items, the same answers twice
    comparison = compare_runs(mem_run(rows, "a"), mem_run(rows, "b"), Settings(max_drop=0.1))
    r = cell(comparison, "pass@1")
    assert r.verdict == "inconclusive" and r.diff == 0 and r.p_value == 1.0
    assert r.target == pytest.approx(0.15)  # 5 points beyond the 10-point tolerance
    # Changes come in whole-item flips and an exact test needs 6 one-way flips: the MDE (the
    # drop caught 80% of the time) is above the 6 items = 30 points that are barely enough.
    assert r.mde > paired.min_differing_items(0.05) / 20
    assert r.items_needed and r.items_needed > 20
    # A suite of the suggested size, with the same answers, meets the target.
    bigger = deterministic_rows([True, False] * (r.items_needed // 2 + 1))
    again = cell(compare_runs(mem_run(bigger, "a"), mem_run(bigger, "b"), Settings(max_drop=0.1)), "pass@1")
    assert again.mde <= 0.15 and again.verdict == "ok"


def test_a_large_identical_run_is_ok():
    rows = deterministic_rows([i % 3 != 0 for i in range(400)])
    comparison = compare_runs(mem_run(rows, "a"), mem_run(rows, "b"), Settings())
    r = cell(comparison, "pass@1")
    assert r.verdict == "ok" and r.method == "mcnemar-exact" and r.mde <= 0.05
    assert exit_code(comparison) == 0


# --------------------------------------------------------------------------- verdict rules


def test_one_sample_per_item_uses_exact_mcnemar():
    base = [True] * 50 + [False] * 50
    cur = [True] * 38 + [False] * 12 + [True] * 2 + [False] * 48  # 12 lost, 2 gained
    comparison = compare_runs(mem_run(deterministic_rows(base), "a"), mem_run(deterministic_rows(cur), "b"), Settings())
    r = cell(comparison, "pass@1")
    assert r.method == "mcnemar-exact" and r.discordant == (12, 2)
    assert r.p_value == pytest.approx(paired.mcnemar_exact_p(12, 2))
    assert r.se == pytest.approx(paired.mcnemar_se(12, 2, 100))
    assert r.diff == pytest.approx(-0.10)
    assert r.p_worse == pytest.approx(paired.mcnemar_one_sided_p(12, 2))
    assert r.verdict == "regression"  # p = 0.013; maj@1 is pass@1, the error cell has nothing to test
    assert [x.metric for x in comparison.results] == ["pass@1", "errors", "tokens"]
    assert comparison.paired["holm_family"] == 1


def test_a_significant_drop_within_the_tolerance_is_ok_and_beyond_it_a_regression():
    base = [i % 5 != 0 for i in range(1000)]  # 80%
    cur = list(base)
    flipped = 0
    for i, ok in enumerate(cur):
        if ok and flipped < 60:
            cur[i], flipped = False, flipped + 1  # 6 points lost, all one way: very significant
    a, b = mem_run(deterministic_rows(base), "a"), mem_run(deterministic_rows(cur), "b")
    plain = cell(compare_runs(a, b, Settings()), "pass@1")
    assert plain.p_value < 1e-6 and plain.verdict == "regression"
    # Non-inferiority: with a 5-point tolerance the 6-point drop is not *significantly*
    # beyond it (the CI reaches above -5 points), so it passes...
    within = cell(compare_runs(a, b, Settings(max_drop=0.05)), "pass@1")
    assert within.method == "tango-score" and within.ci95[1] > -0.05
    assert within.verdict == "ok" and "not significantly worse than the 5.0 pts tolerance" in within.reason
    # ...and with 2 points it is: the interval lies entirely below -2 points.
    beyond = cell(compare_runs(a, b, Settings(max_drop=0.02)), "pass@1")
    assert beyond.verdict == "regression" and beyond.ci95[1] < -0.02


def test_improvement_verdict_does_not_fail():
    rng = np.random.default_rng(8)
    acc = rng.uniform(0.2, 0.5, size=80)
    comparison = compare_runs(mem_run(make_rows(rng, acc, 4), "a"), mem_run(make_rows(rng, acc + 0.4, 4), "b"))
    assert cell(comparison, "pass@1").verdict == "improvement"
    assert exit_code(comparison) == 0 and comparison.status == "improvement"


def test_token_cost_gate(tmp_path):
    rng = np.random.default_rng(9)
    acc = rng.uniform(0.3, 0.9, size=60)
    tokens = rng.uniform(80, 120, size=60)
    base = make_rows(np.random.default_rng(1), acc, 4, tokens=tokens)
    same_acc = make_rows(np.random.default_rng(1), acc, 4, tokens=tokens * 1.5)  # same answers, 50% dearer
    a, b = mem_run(base, "a"), mem_run(same_acc, "b")
    gated = compare_runs(a, b, Settings(max_token_increase=0.2))
    tok = cell(gated, "tokens")
    assert tok.verdict == "regression" and tok.diff == pytest.approx(0.5, abs=0.01)
    assert tok.baseline == pytest.approx(4 * np.mean(tokens), rel=0.01)  # tokens per item at k = 4
    assert exit_code(gated) == 1
    ungated = compare_runs(a, b, Settings())
    assert cell(ungated, "tokens").verdict == "ungated" and exit_code(ungated) == 0
    small = make_rows(np.random.default_rng(1), acc, 4, tokens=tokens * 1.1)
    assert cell(compare_runs(a, mem_run(small, "c"), Settings(max_token_increase=0.2)), "tokens").verdict in ("ok", "inconclusive")
    assert exit_code(compare_runs(a, mem_run(small, "c"), Settings(max_token_increase=0.2))) == 0


def test_holm_keeps_many_checks_from_crying_wolf():
    rng = np.random.default_rng(12)
    budgets = [f"tokens:{b}" for b in (32, 64, 128, 256, 512)]
    base, cur = [], []
    for budget in budgets:
        acc = rng.beta(2, 2, size=50)
        base += make_rows(rng, acc, 4, budget=budget)
        cur += make_rows(rng, acc, 4, budget=budget)
    comparison = compare_runs(mem_run(base, "a"), mem_run(cur, "b"))
    assert comparison.paired["gated_cells"] == 15  # pass@1, maj@4 and errors per budget
    # No error in either run: the error cells cannot be significant and stay out of the
    # Holm family (Tarone 1990), so they do not dilute the other ten.
    assert comparison.paired["holm_family"] == 10
    gated = comparison.gated()
    assert all(r.p_adjusted >= r.p_value for r in gated)
    assert comparison.paired["alpha_per_cell"] == pytest.approx(0.005)
    assert all(r.alpha == pytest.approx(0.005) for r in gated if r.in_family)


# --------------------------------------------------------------------------- pairing


def test_pairing_uses_common_samples_and_keeps_errors_for_the_error_cells(tmp_path):
    rng = np.random.default_rng(4)
    acc = rng.uniform(0.2, 0.8, size=30)
    base_rows = make_rows(rng, acc, 4)
    cur_rows = [r for r in make_rows(rng, acc, 2)]  # fewer samples: k is 2
    cur_rows[0]["error"], cur_rows[0]["correct"], cur_rows[0]["answer"] = "timeout", False, None
    comparison = compare_runs(mem_run(base_rows, "a"), mem_run(cur_rows, "b"))
    assert comparison.paired["samples"] == 30 * 2 - 1
    assert comparison.paired["errored_pairs"] == 1
    assert comparison.paired["baseline_only"] == 30 * 2
    assert [r.metric for r in comparison.results] == ["pass@1", "pass@1-strict", "maj@2", "errors", "tokens"]
    assert cell(comparison, "maj@2").items == 29  # the item that lost a sample cannot vote over 2
    assert cell(comparison, "pass@1").items == 30
    assert cell(comparison, "errors").current == pytest.approx(1 / 60)  # one of 2 samples of 1 of 30 items
    assert any("errored" in n for n in comparison.notes)
    assert any("only in the baseline" in n for n in comparison.notes)


def test_pairing_ignores_the_request_key_and_excludes_items_whose_gold_changed():
    rows = deterministic_rows([True] * 10)
    other = [dict(r, key="different-" + r["key"]) for r in rows]  # another model: other keys
    other[0]["gold"] = "8"
    comparison = compare_runs(mem_run(rows, "a"), mem_run(other, "b"))
    assert comparison.paired["items"] == 9 and comparison.paired["changed_items"] == 1
    assert any("gold" in n for n in comparison.notes)


def test_per_budget_and_per_task_cells(tmp_path):
    rng = np.random.default_rng(6)
    rows = []
    for task in ("arithmetic", "sudoku"):
        for budget in ("forced:16", "forced:64"):
            rows += make_rows(rng, [0.5] * 10, 2, task=task, budget=budget)
    comparison = compare_runs(mem_run(rows, "a"), mem_run(rows, "b"))
    assert [(r.task, r.budget, r.metric) for r in comparison.results] == [
        (t, b, m) for t in ("arithmetic", "sudoku") for b in ("forced:16", "forced:64") for m in ("pass@1", "maj@2", "errors", "tokens")
    ]


def test_metrics_selection():
    rng = np.random.default_rng(6)
    rows = make_rows(rng, [0.5] * 10, 2)
    comparison = compare_runs(mem_run(rows, "a"), mem_run(rows, "b"), Settings(metrics=("pass@1",)))
    assert [r.metric for r in comparison.results] == ["pass@1"]


# --------------------------------------------------------------------------- unusable input (exit 2)


def test_summary_file_uses_its_sibling_samples(tmp_path):
    rows = deterministic_rows([True, False] * 5)
    base = write_run(tmp_path / "a", rows)
    cur = write_run(tmp_path / "b", rows)
    comparison = compare_paths(base / "summary.json", cur / "samples.jsonl")
    assert comparison.baseline["run_id"] == "a" and comparison.current["run_id"] == "b"


def test_results_folder_with_one_run_is_accepted_and_with_two_is_refused(tmp_path):
    rows = deterministic_rows([True] * 6)
    write_run(tmp_path / "results" / "only", rows)
    base = write_run(tmp_path / "base", rows)
    assert compare_paths(base, tmp_path / "results").current["run_id"] == "only"
    write_run(tmp_path / "results" / "second", rows)
    with pytest.raises(UserError, match="holds 2 runs"):
        compare_paths(base, tmp_path / "results")


@pytest.mark.parametrize("case", ["missing", "summary-only", "empty", "not-samples"])
def test_unusable_paths_are_one_line_user_errors(tmp_path, case):
    base = write_run(tmp_path / "base", deterministic_rows([True] * 6))
    cur = tmp_path / "cur"
    if case == "summary-only":
        cur.mkdir()
        (cur / "summary.json").write_text("{}")
        cur = cur / "summary.json"
    elif case == "empty":
        cur.mkdir()
        (cur / "samples.jsonl").write_text("")
    elif case == "not-samples":
        cur.mkdir()
        (cur / "samples.jsonl").write_text('{"key": "a", "hello": 1}\n')
    with pytest.raises(UserError) as info:
        compare_paths(base, cur)
    assert "\n" not in str(info.value)
    if case == "summary-only":
        assert "samples.jsonl" in str(info.value)


def test_runs_with_different_seeds_are_refused(tmp_path):
    rows = deterministic_rows([True] * 6)
    base = write_run(tmp_path / "a", rows, seed=0)
    cur = write_run(tmp_path / "b", rows, seed=1)
    with pytest.raises(UserError, match="different suite seeds"):
        compare_paths(base, cur)


def test_runs_with_nothing_in_common_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    base = write_run(tmp_path / "a", make_rows(rng, [0.5] * 5, 1, task="arithmetic"))
    cur = write_run(tmp_path / "b", make_rows(rng, [0.5] * 5, 1, task="sudoku"))
    with pytest.raises(UserError, match="nothing|no .*in common"):
        compare_paths(base, cur)


def test_a_current_run_that_only_errored_fails_the_gate(tmp_path):
    # An endpoint that starts failing is a regression, not unusable input.
    rng = np.random.default_rng(0)
    base = write_run(tmp_path / "a", make_rows(rng, [0.5] * 10, 2))
    cur = write_run(tmp_path / "b", make_rows(rng, [0.5] * 10, 2, error_rate=1.0))
    comparison = compare_paths(base, cur)
    assert exit_code(comparison) == 1
    assert cell(comparison, "errors").verdict == "regression"
    assert cell(comparison, "errors").diff == pytest.approx(1.0)
    # Both runs failing on every sample leaves nothing to compare at all: exit 2.
    with pytest.raises(UserError, match="errored in both runs"):
        compare_paths(cur, cur)


def test_flag_parsing():
    args = parse_args("a", "b", "--max-drop", "2%", "--max-token-increase", "20%")
    assert args.max_drop == pytest.approx(0.02) and args.max_token_increase == pytest.approx(0.2)
    args = parse_args("a", "b", "--max-drop", "0.02", "--max-token-increase", "0.2", "--mde-target", "10%")
    assert args.max_drop == pytest.approx(0.02) and args.max_token_increase == pytest.approx(0.2)
    assert args.mde_target == pytest.approx(0.1)
    assert parse_args("a", "b", "--max-token-increase", "1.5").max_token_increase == 1.5
    defaults = parse_args("a", "b")
    assert defaults.max_drop == 0.0 and defaults.max_token_increase is None and not defaults.fail_inconclusive
    assert defaults.max_error_increase == 0.0 and not defaults.mid_p
    args = parse_args("a", "b", "--max-error-increase", "1%", "--mid-p", "--metrics", "pass@1-strict", "errors")
    assert args.max_error_increase == pytest.approx(0.01) and args.mid_p and args.metrics == ["pass@1-strict", "errors"]
    for bad in (["--max-drop", "5"], ["--max-drop", "abc"], ["--max-token-increase", "-1"]):
        with pytest.raises(SystemExit) as info:
            parse_args("a", "b", *bad)
        assert info.value.code == 2
    flags_only = argparse.ArgumentParser()
    add_arguments(flags_only, positionals=False)
    assert not hasattr(flags_only.parse_args([]), "baseline")
    # Flags become settings: no metrics named is the registry's default gate set.
    settings = settings_from(parse_args("a", "b", "--max-drop", "2%", "--mid-p"))
    assert settings == Settings(max_drop=0.02, mid_p=True)
    assert settings.metrics == ("pass@1", "pass@1-strict", "maj@k", "errors", "tokens")
    assert settings_from(parse_args("a", "b", "--metrics", "pass^k")).metrics == ("pass^k",)
    outputs = outputs_from(parse_args("a", "b", "--junit", "j.xml", "--report-dir", "rep"))
    assert outputs.junit == Path("j.xml") and outputs.report_dir == Path("rep") and outputs.markdown is None


def test_an_mde_target_within_the_tolerance_is_refused():
    rows = deterministic_rows([True, False] * 5)
    with pytest.raises(UserError, match="must exceed --max-drop"):
        compare_runs(mem_run(rows, "a"), mem_run(rows, "b"), Settings(max_drop=0.05, mde_target=0.05))


def test_mid_p_option_for_one_sample_suites():
    base = [True] * 50 + [False] * 50
    cur = [True] * 43 + [False] * 7 + [True] * 1 + [False] * 49  # 7 lost, 1 gained
    a, b = mem_run(deterministic_rows(base), "a"), mem_run(deterministic_rows(cur), "b")
    exact = cell(compare_runs(a, b, Settings()), "pass@1")
    mid = cell(compare_runs(a, b, Settings(mid_p=True)), "pass@1")
    assert exact.method == "mcnemar-exact" and mid.method == "mcnemar-midp"
    assert exact.p_value == pytest.approx(paired.mcnemar_exact_p(7, 1))  # 0.070: not significant
    assert mid.p_value == pytest.approx(0.039, abs=5e-4)  # the mid-p test calls it (Fagerland et al. 2013)
    assert exact.verdict != "regression" and mid.verdict == "regression"
    assert mid.mde < exact.mde  # less conservative, so more power


def test_run_compare_takes_the_current_folder_from_the_caller(tmp_path, capsys):
    """`ttc-bench run --baseline` compares the folder it just wrote, with the run's gate flags."""
    rows = deterministic_rows([True, False] * 5)
    base = write_run(tmp_path / "base", rows)
    cur = write_run(tmp_path / "cur", rows)
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline")
    add_arguments(parser, positionals=False)
    args = parser.parse_args(["--baseline", str(base), "--report-dir", str(tmp_path / "rep")])
    assert run_compare(Path(args.baseline), cur, settings_from(args), outputs_from(args)) == 0
    assert "gate: PASS" in capsys.readouterr().out
    assert (tmp_path / "rep" / "compare-junit.xml").exists()


# --------------------------------------------------------------------------- outputs


def _regressed_comparison(tmp_path):
    rng = np.random.default_rng(1)
    acc = rng.uniform(0.6, 1.0, size=60)
    base = write_run(tmp_path / "base", make_rows(rng, acc, 4, budget="forced:16"))
    cur = write_run(tmp_path / "cur", make_rows(rng, acc - 0.3, 4, budget="forced:16"))
    return compare_paths(base, cur, max_token_increase=0.2)


def test_outputs_markdown_json_junit_and_step_summary(tmp_path, monkeypatch):
    comparison = _regressed_comparison(tmp_path)
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    written = write_outputs(comparison, out_dir=tmp_path / "report", junit=tmp_path / "x" / "junit.xml",
                            markdown=tmp_path / "r.md", json_path=tmp_path / "r.json")
    assert {p.name for p in written} == {"compare.md", "compare.json", "compare-junit.xml", "junit.xml", "r.md", "r.json"}
    md = (tmp_path / "r.md").read_text()
    assert md.startswith("### ❌ ttc-bench compare: FAIL")
    assert "| task | budget | metric |" in md and "forced:16" in md and "regression" in md
    assert summary.read_text().startswith("earlier step\n") and md in summary.read_text()  # appended
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["exit_code"] == 1 and data["passed"] is False and data["status"] == "regression"
    assert {r["metric"] for r in data["results"]} == {"pass@1", "maj@4", "errors", "tokens"}
    first = data["results"][0]
    for key in ("baseline", "current", "diff", "se", "ci95", "p_value", "p_adjusted", "p_worse", "p_better",
                "correlation", "mde", "verdict", "items"):
        assert key in first
    root = validate_junit((tmp_path / "x" / "junit.xml").read_text())
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {("ttc-bench.arithmetic.forced:16", m) for m in ("pass@1", "maj@4", "errors", "tokens")}
    failure = cases[("ttc-bench.arithmetic.forced:16", "pass@1")].find("failure")
    assert failure is not None and failure.get("type") == "regression" and "pass@1" in failure.get("message")


def test_json_writes_an_undetectable_mde_as_null():
    rows = deterministic_rows([True, False, True])
    data = to_json(compare_runs(mem_run(rows, "a"), mem_run(rows, "b")))
    json.dumps(data, allow_nan=False)  # strict JSON: no Infinity
    assert data["results"][0]["mde"] is None and data["results"][0]["verdict"] == "inconclusive"


def test_ungated_and_inconclusive_in_junit():
    rows = deterministic_rows([True, False] * 5)
    comparison = compare_runs(mem_run(rows, "a"), mem_run(rows, "b"), Settings(fail_inconclusive=True))
    root = validate_junit(to_junit(comparison))
    tokens = [c for c in root.iter("testcase") if c.get("name") == "tokens"][0]
    assert tokens.find("skipped") is not None  # reported, not gated
    pass1 = [c for c in root.iter("testcase") if c.get("name") == "pass@1"][0]
    assert pass1.find("failure").get("type") == "inconclusive"  # fails only with fail_inconclusive


def test_terminal_table_renders(tmp_path):
    from rich.console import Console

    comparison = _regressed_comparison(tmp_path)
    console = Console(record=True, width=200)
    console.print(render_table(comparison))
    text = console.export_text()
    for header in ("task", "budget", "metric", "baseline", "current", "95% CI", "MDE", "verdict"):
        assert header in text
    assert "regression" in text and "to_markdown" not in text
    assert "| " in to_markdown(comparison)


# --------------------------------------------------------------------------- fake endpoint, end to end


def _operands(request):
    text = request["messages"][0]["content"]
    return map(int, re.search(r"Compute (\d+) \+ (\d+)", text).groups())


def scripted_model(request):
    """good-model always adds right; worse-model gets two thirds of the sums wrong."""
    a, b = _operands(request)
    answer = a + b
    if request["model"] == "worse-model" and answer % 3 != 0:
        answer += 1
    return f"{a} plus {b}. <answer>{answer}</answer>"


def _run(run_cli, server, out, model, *extra):
    code, _, err = run_cli("run", "--model", model, "--base-url", server.base_url, "--out", out, "--no-progress",
                           "--tasks", "arithmetic:add-1d", "--limit", "20", "--budgets", "tokens:64",
                           "--samples", "1", *extra)
    assert code == 0, err
    (folder,) = [p for p in Path(out).iterdir() if p.is_dir()]
    return folder


def test_fake_endpoint_worse_model_fails_and_same_model_passes(tmp_path, run_cli, capsys):
    with FakeServer(scripted_model) as server:
        good = _run(run_cli, server, tmp_path / "good", "good-model")
        again = _run(run_cli, server, tmp_path / "again", "good-model", "--run-id", "again")
        worse = _run(run_cli, server, tmp_path / "worse", "worse-model")
    junit = tmp_path / "junit.xml"
    assert compare_cli(good, worse, "--junit", junit, "--markdown", tmp_path / "r.md") == 1
    out = capsys.readouterr().out
    assert "gate: FAIL" in out and "pass@1" in out
    root = validate_junit(junit.read_text())
    assert root.find("testsuite/testcase/failure") is not None
    comparison = compare_paths(good, worse)
    r = cell(comparison, "pass@1")
    assert r.method == "mcnemar-exact" and r.discordant[1] == 0 and r.discordant[0] >= 6
    assert comparison.changes and "model: good-model -> worse-model" in comparison.changes
    # The same model twice: exit 0 (20 items cannot show a 5-point drop: inconclusive, not ok).
    assert compare_cli(good, again / "summary.json") == 0
    assert cell(compare_paths(good, again), "pass@1").verdict == "inconclusive"


# --------------------------------------------------------------------------- embedded model, end to end


@pytest.mark.embedded
def test_compare_two_real_embedded_runs(tmp_path, capsys):
    folders = []
    for run_id in ("a", "b"):
        proc = subprocess.run(
            [sys.executable, "-m", "ttc_bench.cli", "run", "--limit", "2", "--budgets", "tokens:16", "--samples", "2",
             "--out", str(tmp_path), "--run-id", run_id, "--no-progress"],
            capture_output=True, text=True, timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        folders.append(tmp_path / run_id)
    junit, md, js = tmp_path / "junit.xml", tmp_path / "r.md", tmp_path / "r.json"
    code = compare_cli(folders[0], folders[1], "--junit", junit, "--markdown", md, "--json", js)
    assert code == 0, capsys.readouterr().out
    root = validate_junit(junit.read_text())
    names = {(c.get("classname"), c.get("name")) for c in root.iter("testcase")}
    assert ("ttc-bench.arithmetic.tokens:16", "pass@1") in names and ("ttc-bench.arithmetic.tokens:16", "maj@2") in names
    data = json.loads(js.read_text())
    assert data["paired"]["items"] >= 2 and data["passed"] is True
    # A suite this small cannot see a 5-point change: the gate says so instead of "ok".
    assert all(r["verdict"] in ("inconclusive", "ungated") for r in data["results"])


def test_majority_vote_of_identical_small_runs_is_inconclusive_not_an_mde_of_zero():
    """8 items x 4 samples, the very same answers in both runs (a deterministic endpoint):
    maj@4 has no spread at all, which must not read as "MDE 0, ok" on a suite this small."""
    rows = []
    for i in range(8):
        for j in range(4):
            ok = (i + j) % 3 == 0
            rows.append({"key": f"{i}-{j}", "task": "arithmetic", "level": "l", "item": f"arithmetic/l/{i:04d}",
                         "budget": "tokens:64", "sample": j, "seed": j, "gold": "7", "answer": "7" if ok else str(j),
                         "correct": ok, "error": None, "completion_tokens": 50})
    comparison = compare_runs(mem_run(rows, "a"), mem_run(rows, "b"), Settings())
    majority = [r for r in comparison.gated() if r.metric.startswith("maj@")]
    assert majority, [r.metric for r in comparison.results]
    for r in majority:
        assert r.diff == 0 and r.verdict == "inconclusive" and r.mde > 0.1, (r.metric, r.mde, r.verdict)


@pytest.mark.parametrize("flag", ["--report-dir", "--junit"])
def test_an_output_path_of_the_wrong_kind_says_which(tmp_path, run_cli, flag):
    rng = np.random.default_rng(3)
    base = write_run(tmp_path / "base", make_rows(rng, [0.5] * 10, 2))
    cur = write_run(tmp_path / "cur", make_rows(rng, [0.5] * 10, 2))
    if flag == "--report-dir":
        target, words = tmp_path / "a-file", "is a file, not a folder"
        target.write_text("x")
    else:
        target, words = tmp_path / "a-folder", "it is a folder; give a file path"
        target.mkdir()
    code, out, err = run_cli("compare", base, cur, flag, target)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and words in err, err
