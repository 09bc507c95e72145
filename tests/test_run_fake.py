"""Integration: the real CLI, runner, client and store against a scripted fake endpoint."""

import json
import re
import subprocess
import threading
import sys
from pathlib import Path

import pytest

from fake_server import Fault, FakeServer
from fault_server import spare_first

ROW_FIELDS = {
    "run_id", "task", "level", "item", "budget", "sample", "seed", "response", "reasoning", "answer",
    "parse_ok", "correct", "partial", "finish_reason", "truncated", "prompt_tokens", "completion_tokens",
    "reasoning_tokens", "latency_s", "attempts", "error", "cached",
}


def add_answer(request):
    """A perfect arithmetic model: reads 'Compute a + b.' and answers."""
    text = request["messages"][0]["content"]
    a, b = map(int, re.search(r"Compute (\d+) \+ (\d+)", text).groups())
    return f"{a} plus {b} is {a + b}. <answer>{a + b}</answer>"


def run_dir(out: Path) -> Path:
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    return folder


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir(out) / "samples.jsonl").read_text().splitlines()]


def base_args(server, out):
    return ["run", "--model", "fake-model", "--base-url", server.base_url, "--out", out, "--no-progress",
            "--tasks", "arithmetic:add-1d", "--limit", "3"]


def test_run_writes_rows_manifest_summary_and_table(tmp_path, run_cli):
    with FakeServer(add_answer) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "forced:32", "--samples", "2")
        assert code == 0, err
        assert len(server.chat_requests()) == 3 * 2 * 2
    rows = rows_of(tmp_path)
    assert len(rows) == 12
    assert all(ROW_FIELDS <= row.keys() for row in rows)
    assert all(row["correct"] and row["error"] is None for row in rows)
    assert {(r["item"], r["budget"], r["sample"]) for r in rows} == {
        (f"arithmetic/add-1d/{i:04d}", b, j) for i in range(3) for b in ("tokens:64", "forced:32") for j in range(2)
    }
    folder = run_dir(tmp_path)
    summary = json.loads((folder / "summary.json").read_text())
    overall = [g for g in summary["groups"] if g["level"] is None]
    assert [g["budget"] for g in overall] == ["tokens:64", "forced:32"]
    assert all(g["pass@1"]["mean"] == 1.0 and g["points"][1]["maj"]["mean"] == 1.0 for g in overall)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["endpoint"]["model"] == "fake-model"
    assert "pass@1" in out and "maj@2" in out and "forced:32" in out


def test_request_parameters_and_per_sample_seeds(tmp_path, run_cli):
    with FakeServer(add_answer) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "3", "--temperature", "0.5")
        assert code == 0, err
        requests = server.chat_requests()
    assert all(r["max_tokens"] == 64 and r["temperature"] == 0.5 and r["model"] == "fake-model" for r in requests)
    seeds = [r["seed"] for r in requests]
    assert len(set(seeds)) == len(seeds)


def test_rerun_resumes_without_new_requests_and_extends_samples(tmp_path, run_cli):
    with FakeServer(add_answer) as server:
        assert run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "2")[0] == 0
        first = len(server.chat_requests())
        assert run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "2")[0] == 0
        assert len(server.chat_requests()) == first  # nothing requested twice
        assert run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "3")[0] == 0
        assert len(server.chat_requests()) == first + 3  # only the new sample index
    rows = rows_of(tmp_path)
    assert len({r["key"] for r in rows}) == len(rows) == 9


def test_forced_budget_continues_the_cut_off_message_with_an_answer_cue(tmp_path, run_cli):
    """forced:N on a visible reasoner: the cut-off reply is continued in the same assistant
    message (a prefill, the generic profile's mechanism), after the family's answer cue."""
    def responder(request):
        last = request["messages"][-1]
        if last["role"] == "user":  # the reasoning request: runs out of budget
            return {"content": "let me think " * 5, "finish_reason": "length",
                    "usage": {"prompt_tokens": 10, "completion_tokens": request["max_tokens"], "total_tokens": 0}}
        value = add_answer({"messages": request["messages"][:1]}).split("<answer>")[1].split("<")[0]
        return {"content": f"{value}</answer>", "usage": {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 0}}

    with FakeServer(responder) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "forced:16", "--samples", "1")
        assert code == 0, err
        requests = server.chat_requests()
    reasoning_turns = [r for r in requests if r["messages"][-1]["role"] == "user"]
    continued = [r for r in requests if r["messages"][-1]["role"] == "assistant"]
    assert len(reasoning_turns) == len(continued) == 3
    assert all(r["max_tokens"] == 16 for r in reasoning_turns)
    assert all(r["max_tokens"] == 24 for r in continued)  # the family's answer_tokens
    for r in continued:
        assert [m["role"] for m in r["messages"]] == ["user", "assistant"]
        prefix = r["messages"][-1]["content"]
        assert prefix.startswith("let me think") and prefix.endswith("final answer: <answer>")
    rows = rows_of(tmp_path)
    assert all(r["correct"] and r["truncated"] and r["forced_answer"] and r["turns"] == 2 for r in rows)
    assert all(r["reasoning_tokens"] == 16 and r["completion_tokens"] == 20 for r in rows)
    assert all(r["prompt_tokens"] == 10 and r["reread_tokens"] == 30 for r in rows)


def test_permanent_sample_failure_is_an_error_not_a_wrong_answer(tmp_path, run_cli):
    spared = spare_first()

    def responder(request):
        if spared(request) and ("Compute 1 +" in request["messages"][0]["content"] or request.get("seed", 0) % 2):
            return Fault(400, body='{"error": {"message": "context too long"}}')
        return add_answer(request)

    with FakeServer(responder) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "4")
        assert code == 0, err
    rows = rows_of(tmp_path)
    errored = [r for r in rows if r["error"]]
    assert errored and all("400" in r["error"] and r["attempts"] == 1 for r in errored)
    summary = json.loads((run_dir(tmp_path) / "summary.json").read_text())
    overall = [g for g in summary["groups"] if g["level"] is None][0]
    assert overall["errors"] == len(errored)
    assert overall["pass@1"]["mean"] == 1.0  # errors are excluded, not counted wrong


def test_wrong_api_key_stops_with_one_line_and_exit_2(tmp_path, run_cli, monkeypatch):
    monkeypatch.setenv("TTC_TEST_KEY", "sk-wrong")
    with FakeServer(add_answer, required_key="sk-right") as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:8", "--api-key-env", "TTC_TEST_KEY")
        assert not server.chat_requests()
    assert code == 2
    assert err.count("\n") == 1 and "401" in err and "TTC_TEST_KEY" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tasks", "nonsense"], "unknown task family 'nonsense'"),
        (["--tasks", "arithmetic:L99"], "no level 'L99'"),
        (["--budgets", "tokens:lots"], "bad budget 'tokens:lots'"),
        (["--samples", "0"], "--samples must be a positive"),
        (["--budgets", "effort:high"], "reasoning_effort"),
        (["--suite", "nope"], "unknown suite 'nope'"),
        (["--model", "m", "--base-url", "http://127.0.0.1:9/v1"], "cannot reach http://127.0.0.1:9/v1"),
        (["--model", "m", "--base-url", "ftp://x"], "must start with http"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    # A real subprocess: proves there is no traceback and the exit code is 2.
    proc = subprocess.run(
        [sys.executable, "-m", "ttc_bench.cli", "run", "--out", str(tmp_path), "--no-progress", *args],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_out_pointing_at_a_file_is_rejected(tmp_path, run_cli):
    target = tmp_path / "file.txt"
    target.write_text("x")
    with FakeServer(add_answer) as server:
        code, _, err = run_cli(*base_args(server, target), "--budgets", "tokens:8", "--run-id", "r")
    assert code == 2 and "error:" in err


def test_progress_lines_in_a_non_interactive_log(tmp_path, run_cli, monkeypatch):
    """stderr is not a terminal (a CI log): plain progress lines every few seconds, and a
    final line, instead of a live bar that a log cannot show."""
    from ttc_bench import progress

    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.2)

    def slow(request):
        import time

        time.sleep(0.15)
        return add_answer(request)

    with FakeServer(slow) as server:
        args = [a for a in base_args(server, tmp_path) if a != "--no-progress"]
        code, out, err = run_cli(*args, "--budgets", "tokens:64", "--samples", "2", "--concurrency", "1")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "samples" in line]
    assert len(lines) >= 3, err
    assert re.search(r"\d+/6 samples \(\d+%\).*tok/s.*errors 0.*retries 0.*ETA", err)
    assert re.search(r"6/6 samples \(100%\).*done in", lines[-1])


def test_a_smaller_resumed_run_says_its_tables_include_the_earlier_samples(tmp_path, run_cli):
    """The same command with a smaller --limit reuses the folder of the larger run: the
    summary scores every stored sample, and says so instead of passing them off as its own."""
    with FakeServer(add_answer) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "2")
        assert code == 0 and "beyond" not in out, err
        args = base_args(server, tmp_path)
        args[args.index("--limit") + 1] = "2"
        code, out, err = run_cli(*args, "--budgets", "tokens:64", "--samples", "1")
    assert code == 0, err
    assert "4 samples requested" not in out and "2 reused" in out
    (line,) = [line for line in out.splitlines() if "beyond" in line]
    assert "holds 4 samples beyond the 2 this command asked for" in line and "all 6" in line
