"""Endpoint flavours, usage parsing, reasoning extraction, the n path, faults and kill -9 resume."""

import json
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from fake_server import Fault, FakeServer
from test_run_fake import add_answer, base_args, rows_of, run_dir


def one_request(run_cli, tmp_path, api, budget, responder=add_answer, extra=(), model="fake-model"):
    with FakeServer(responder, models=(model,)) as server:
        args = [a if a != "fake-model" else model for a in base_args(server, tmp_path)]
        code, out, err = run_cli(*args, "--limit", "1", "--samples", "1", "--api", api, "--budgets", budget, *extra)
        return code, err, server.chat_requests()


# What each profile sends for each budget (docs/providers.md): besides model, messages and
# the per-sample seed, exactly these fields; no sampling value unless the user set one.
BODIES = [
    ("generic", "fake-model", "tokens:300", {"max_tokens": 300}),
    ("generic", "fake-model", "forced:300", {"max_tokens": 300}),
    ("openai", "gpt-4.1", "tokens:300", {"max_completion_tokens": 300}),
    ("openai", "o4-mini", "effort:high", {"reasoning_effort": "high"}),
    ("openai", "gpt-5-mini", "effort:minimal", {"reasoning_effort": "minimal"}),
    ("vllm", "Qwen/Qwen3-8B", "tokens:300", {"max_tokens": 300}),
    ("vllm", "Qwen/Qwen3-8B", "effort:low", {"reasoning_effort": "low"}),
    ("vllm", "Qwen/Qwen3-8B", "thinking:300", {"max_tokens": 300 + 1024, "chat_template_kwargs": {"enable_thinking": True},
                                              "thinking_token_budget": 300}),
    ("llama-server", "qwen3", "thinking:300", {"max_tokens": 300 + 1024, "reasoning_budget_tokens": 300,
                                               "thinking_budget_tokens": 300}),
    ("anthropic-compat", "claude-sonnet-4-5", "tokens:300", {"max_tokens": 300}),
    ("anthropic-compat", "claude-sonnet-4-5", "thinking:2000", {"max_tokens": 2000 + 1024,
                                                                "thinking": {"type": "enabled", "budget_tokens": 2000}}),
    ("gemini-compat", "gemini-2.5-flash", "thinking:512", {"max_tokens": 512 + 1024, "extra_body": {
        "google": {"thinking_config": {"thinking_budget": 512, "include_thoughts": True}}}}),
    ("gemini", "gemini-2.5-flash", "effort:low", {"reasoning_effort": "low", "extra_body": {
        "google": {"thinking_config": {"include_thoughts": True}}}}),
]


@pytest.mark.parametrize("api, model, budget, expected", BODIES)
def test_exact_request_body_per_profile_and_budget(tmp_path, run_cli, api, model, budget, expected):
    code, err, requests = one_request(run_cli, tmp_path, api, budget, model=model)
    assert code == 0, err
    body = requests[0]
    assert {k: v for k, v in body.items() if k not in {"model", "messages", "seed"}} == expected
    # Anthropic's compatibility layer ignores seed: it is not sent to claim reproducibility.
    assert ("seed" in body) == (api not in ("anthropic-compat",))
    assert body["model"] == model


@pytest.mark.parametrize("api, budget", [("generic", "effort:high"), ("generic", "thinking:100"), ("openai", "thinking:100"),
                                         ("anthropic-compat", "effort:low"), ("gemini-compat", "forced:256"),
                                         ("openai", "forced:256")])
def test_unsupported_combinations_fail_before_any_request(tmp_path, run_cli, api, budget):
    code, err, requests = one_request(run_cli, tmp_path, api, budget, model="o4-mini" if api == "openai" else "fake-model")
    assert code == 2 and requests == []
    assert err.startswith("error: budget") and err.count("\n") == 1


def test_reported_reasoning_tokens_are_used(tmp_path, run_cli):
    def responder(request):
        return {"content": "<answer>" + add_answer(request).split("<answer>")[1],
                "message": {"reasoning_content": "I add the numbers carefully."},
                "usage": {"prompt_tokens": 9, "completion_tokens": 40, "total_tokens": 49,
                          "completion_tokens_details": {"reasoning_tokens": 33}}}

    code, err, _ = one_request(run_cli, tmp_path, "vllm", "tokens:64", responder)
    assert code == 0, err
    (row,) = rows_of(tmp_path)
    assert row["reasoning"] == "I add the numbers carefully."
    assert (row["reasoning_tokens"], row["reasoning_tokens_estimated"], row["completion_tokens"]) == (33, False, 40)
    assert row["correct"]


def test_reasoning_tokens_estimated_and_flagged_without_details(tmp_path, run_cli):
    def responder(request):
        return {"content": "<answer>" + add_answer(request).split("<answer>")[1], "message": {"reasoning": "x" * 400},
                "usage": {"prompt_tokens": 9, "completion_tokens": 120, "total_tokens": 129}}

    code, err, _ = one_request(run_cli, tmp_path, "generic", "tokens:64", responder)
    assert code == 0, err
    (row,) = rows_of(tmp_path)
    assert row["reasoning_tokens_estimated"] is True and row["reasoning_tokens"] == 100


def test_think_block_is_reasoning_and_answer_comes_from_final_content(tmp_path, run_cli):
    def responder(request):
        # The think block mentions a wrong number last: it must not be parsed as the answer.
        right = add_answer(request).split("<answer>")[1].split("<")[0]
        return f"<think>maybe it is 999... <answer>999</answer></think>The sum is <answer>{right}</answer>"

    code, err, _ = one_request(run_cli, tmp_path, "generic", "tokens:64", responder)
    assert code == 0, err
    (row,) = rows_of(tmp_path)
    assert row["correct"] and "999" in row["reasoning"] and "999" not in row["response"]
    assert not row["truncated"]


def test_unclosed_think_block_and_length_finish_are_truncated(tmp_path, run_cli):
    code, err, _ = one_request(run_cli, tmp_path, "generic", "tokens:64",
                               lambda r: {"content": "<think>still thinking about 7", "finish_reason": "stop"})
    assert code == 0, err
    (row,) = rows_of(tmp_path)
    assert row["truncated"] and row["answer"] is None and row["error"] is None
    code, err, _ = one_request(run_cli, tmp_path / "b", "generic", "tokens:64",
                               lambda r: {"content": "partial 1 2", "finish_reason": "length"})
    (row,) = rows_of(tmp_path / "b")
    assert row["truncated"] and row["finish_reason"] == "length"


def test_n_parameter_path_sends_one_request_per_item_and_budget(tmp_path, run_cli):
    def responder(request):
        # Usage covers all n choices of the request, as on real servers.
        return {"content": add_answer(request),
                "usage": {"prompt_tokens": 10, "completion_tokens": 12 * request.get("n", 1), "total_tokens": 0}}

    with FakeServer(responder) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "4", "--n-param")
        assert code == 0, err
        requests = server.chat_requests()
    # The first sample goes alone (the fail-fast probe), the rest of its item as n=3.
    assert [r.get("n") for r in requests] == [None, 3, 4, 4]
    rows = rows_of(tmp_path)
    assert len(rows) == 12 and all(r["correct"] and r["completion_tokens"] == 12 for r in rows)
    # Split from the request's usage: estimated, except the probe's own single request.
    assert sum(r["reasoning_tokens_estimated"] for r in rows) == 11


def test_n_parameter_refuses_forced_budgets(tmp_path, run_cli):
    code, err, requests = one_request(run_cli, tmp_path, "vllm", "forced:64", extra=("--n-param",))
    assert code == 2 and requests == [] and "n parameter" in err


def test_thirty_percent_rate_limits_and_outages_complete_without_errors(tmp_path, run_cli):
    rng = random.Random(3)
    lock = threading.Lock()

    def stormy(request):
        with lock:
            roll = rng.random()
        if roll < 0.15:
            return Fault(429, headers={"Retry-After": "1"})
        if roll < 0.30:
            return Fault(503)
        return add_answer(request)

    with FakeServer(stormy) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "4", "--limit", "4")
        assert code == 0, err
        total_requests = len(server.chat_requests())
    rows = rows_of(tmp_path)
    assert len(rows) == 16 and all(r["error"] is None and r["correct"] for r in rows)
    summary = json.loads((run_dir(tmp_path) / "summary.json").read_text())
    assert summary["retries"] == total_requests - 16 > 0
    assert f"{summary['retries']} retries" in out


KILL_ROUNDS = 6


def test_kill_9_and_rerun_gives_exactly_one_row_per_sample(tmp_path):
    """Kill the real CLI at random moments; re-runs finish the set with nothing lost, nothing
    duplicated, and no finished sample requested again."""
    def slow(request):
        time.sleep(0.01)
        return add_answer(request)

    command = lambda server: [sys.executable, "-m", "ttc_bench.cli", *map(str, base_args(server, tmp_path)),
                              "--limit", "9", "--budgets", "tokens:64", "forced:32", "--samples", "3",
                              "--run-id", "r", "--concurrency", "4"]
    rng = random.Random(7)
    with FakeServer(slow) as server:
        for _ in range(KILL_ROUNDS):
            proc = subprocess.Popen(command(server), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.8, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        samples = tmp_path / "r" / "samples.jsonl"
        # Only newline-terminated lines are finished; a torn tail is not.
        complete_lines = samples.read_bytes().split(b"\n")[:-1] if samples.exists() else []
        finished_before = {json.loads(line)["seed"] for line in complete_lines}
        already = len(server.chat_requests())
        final = subprocess.run(command(server), capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        rerun_seeds = [r["seed"] for r in server.chat_requests()[already:]]
    assert not finished_before & set(rerun_seeds), "a finished sample was requested again"
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    keys = [(r["item"], r["budget"], r["sample"]) for r in rows]
    assert len(keys) == len(set(keys)) == 9 * 2 * 3
    assert all(r["correct"] for r in rows)
