"""`ttc-bench export-requests` and `import-results`: the exported lines pass vLLM run-batch's input
schema and are exactly the live requests; results written like `vllm run-batch` (executed
by the vLLM emulation) import into the same samples and summary as a live run, forced
budgets through successive rounds; importing twice changes nothing; results that do not
belong are reported, never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulators.vllm_run_batch import SchemaError, check_input_line, run_batch
from emulators.vllm_server import VLLMServer
from test_batch import comparable, rows, same_samples, summary
from test_run_fake import run_dir

KEY = "test-key"
BUDGETS = ("tokens:512", "thinking:64", "effort:low", "forced:64", "forced:256")


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def plan_flags(server, out, budgets=BUDGETS):
    return ["--base-url", server.base_url, "--model", "Qwen/Qwen3-8B", "--api", "vllm", "--out", out,
            "--tasks", "arithmetic:add-2d", "--limit", "3", "--samples", "2", "--budgets", *budgets]


def offline_rounds(run_cli, server, tmp_path: Path, out: Path, budgets=BUDGETS) -> tuple[Path, list[int]]:
    """export -> vllm run-batch -> import until nothing is pending; the run folder and the
    requests of each round."""
    sizes = []
    for number in range(1, 6):
        requests, results = tmp_path / f"requests{number}.jsonl", tmp_path / f"results{number}.jsonl"
        code, stdout, err = run_cli("export-requests", *plan_flags(server, out, budgets), "--to", requests)
        assert code == 0, err
        if "nothing to export" in stdout:
            return run_dir(out), sizes
        sizes.append(run_batch(requests, results, server))
        code, _, err = run_cli("import-results", run_dir(out), results)
        assert code == 0, err
    raise AssertionError("rounds did not end")


def test_offline_rounds_equal_the_live_run(tmp_path, run_cli):
    with VLLMServer() as server:
        code, _, err = run_cli("run", *plan_flags(server, tmp_path / "live"), "--no-progress")
        assert code == 0, err
        folder, sizes = offline_rounds(run_cli, server, tmp_path, tmp_path / "offline")
    live = run_dir(tmp_path / "live")
    assert folder.name == live.name
    planned = 3 * 2 * len(BUDGETS)
    assert sizes[0] == planned and len(sizes) >= 2  # forced budgets needed a second round
    continued = [json.loads(x) for x in (tmp_path / "requests2.jsonl").read_text().splitlines()]
    assert all(c["custom_id"].endswith(":t2") and c["body"]["continue_final_message"] for c in continued)
    same_samples(rows(live), rows(folder))
    assert comparable(summary(live)) == comparable(summary(folder))
    assert not (folder / "turns.jsonl").exists() or all(
        json.loads(x)["turn"] in (0, 1, 2) for x in (folder / "turns.jsonl").read_text().splitlines())


def test_exported_lines_pass_the_run_batch_schema_and_are_the_live_requests(tmp_path, run_cli):
    with VLLMServer() as server:
        assert run_cli("run", *plan_flags(server, tmp_path / "live"), "--no-progress")[0] == 0
        live = [r.body for r in server.received("POST", "/chat/completions")]
        assert run_cli("export-requests", *plan_flags(server, tmp_path / "off"), "--to", tmp_path / "r.jsonl")[0] == 0
    text = (tmp_path / "r.jsonl").read_text()
    lines = [check_input_line(x) for x in text.splitlines()]
    assert all(line["method"] == "POST" and line["url"] == "/v1/chat/completions" for line in lines)
    keys = {json.loads(x)["key"] for x in (run_dir(tmp_path / "live") / "samples.jsonl").read_text().splitlines()}
    assert {line["custom_id"] for line in lines} == keys  # custom_id = the sample key
    first_turns = [body for body in live if not body.get("continue_final_message")]
    canonical = lambda body: json.dumps(body, sort_keys=True)  # noqa: E731
    assert sorted(map(canonical, (line["body"] for line in lines))) == sorted(map(canonical, first_turns))


def test_the_schema_check_refuses_what_run_batch_refuses():
    good = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}}
    check_input_line(json.dumps(good))
    for broken in (
        {**good, "custom_id": 1},
        {**good, "url": "/v1/responses"},
        {**good, "body": {**good["body"], "thinking": {"type": "enabled"}}},  # ignored by vLLM
        {**good, "body": {**good["body"], "seed": 2**63}},
        {**good, "body": {**good["body"], "reasoning_effort": "extreme"}},
        {**good, "body": {**good["body"], "continue_final_message": True}},  # add_generation_prompt defaults to true
        {**good, "body": {**good["body"], "stream_options": {"include_usage": True}}},
        {**good, "body": {**good["body"], "max_tokens": "5"}},
    ):
        with pytest.raises(SchemaError):
            check_input_line(json.dumps(broken))


def test_importing_twice_changes_nothing(tmp_path, run_cli):
    with VLLMServer() as server:
        flags = plan_flags(server, tmp_path / "off", ("tokens:512", "forced:64"))
        assert run_cli("export-requests", *flags, "--to", tmp_path / "r.jsonl")[0] == 0
        run_batch(tmp_path / "r.jsonl", tmp_path / "out.jsonl", server)
    folder = run_dir(tmp_path / "off")
    assert run_cli("import-results", folder, tmp_path / "out.jsonl")[0] == 0
    before = {name: (folder / name).read_bytes() for name in ("samples.jsonl", "turns.jsonl")}
    code, out, err = run_cli("import-results", folder, tmp_path / "out.jsonl")
    assert code == 0, err
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert "12 results were already in the run" in out.replace("\n", " ")


def test_unknown_and_mismatched_custom_ids_are_reported_not_dropped(tmp_path, run_cli):
    with VLLMServer() as server:
        flags = plan_flags(server, tmp_path / "off", ("tokens:512", "forced:64"))
        assert run_cli("export-requests", *flags, "--to", tmp_path / "r.jsonl")[0] == 0
        run_batch(tmp_path / "r.jsonl", tmp_path / "out.jsonl", server)
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    stranger = json.loads(lines[0]) | {"custom_id": "not-a-sample-of-this-run"}
    early = json.loads(lines[-1])
    early["custom_id"] += ":t3"  # a turn no sample waits for
    (tmp_path / "mixed.jsonl").write_text("\n".join([*lines[1:], json.dumps(stranger), json.dumps(early), "garbage"]) + "\n")
    folder = run_dir(tmp_path / "off")
    code, _, err = run_cli("import-results", folder, tmp_path / "mixed.jsonl")
    assert code == 2 and err.strip().count("\n") == 0
    assert "1 results are not requests of this run (custom_id not-a-sample-of-this-run)" in err
    assert f"1 results answer a turn their sample is not waiting for (custom_id {early['custom_id']})" in err
    assert "1 lines are not batch results" in err
    imported = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    turns = (folder / "turns.jsonl").read_text().splitlines() if (folder / "turns.jsonl").exists() else []
    assert len(imported) + len(turns) == len(lines) - 1  # every matching result was imported


def test_openai_error_lines_become_error_rows_and_go_out_again(tmp_path, run_cli):
    with VLLMServer() as server:
        flags = plan_flags(server, tmp_path / "off", ("tokens:512",))
        assert run_cli("export-requests", *flags, "--to", tmp_path / "r1.jsonl")[0] == 0
        run_batch(tmp_path / "r1.jsonl", tmp_path / "out.jsonl", server)
        lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
        expired = {"id": "batch_req_1", "custom_id": lines[0]["custom_id"], "response": None,
                   "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}
        refused = {"id": "batch_req_2", "custom_id": lines[1]["custom_id"], "error": None,
                   "response": {"status_code": 400, "request_id": "req_2", "body": {"error": {"message": "context too long", "type": "invalid_request_error"}}}}
        empty = {**lines[2], "response": {**lines[2]["response"], "body": {"object": "chat.completion", "choices": []}}}
        (tmp_path / "output.jsonl").write_text("".join(json.dumps(x) + "\n" for x in [empty, *lines[3:]]))
        (tmp_path / "errors.jsonl").write_text(json.dumps(expired) + "\n" + json.dumps(refused) + "\n")
        folder = run_dir(tmp_path / "off")
        code, out, err = run_cli("import-results", folder, tmp_path / "output.jsonl", tmp_path / "errors.jsonl")
        assert code == 0, err
        errors = {r["key"]: r["error"] for r in rows(folder).values() if r["error"]}
        assert errors == {lines[0]["custom_id"]: "batch: This request could not be executed before the completion window expired.",
                          lines[1]["custom_id"]: "batch: 400 context too long",
                          lines[2]["custom_id"]: "MalformedResponse: response has 0 readable choices, expected 1"}
        assert run_cli("export-requests", *flags, "--to", tmp_path / "r2.jsonl")[0] == 0
    again = {json.loads(x)["custom_id"] for x in (tmp_path / "r2.jsonl").read_text().splitlines()}
    assert again == set(errors)


def test_export_refusals_are_one_line(tmp_path, run_cli):
    code, _, err = run_cli("export-requests", "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--tasks",
                           "arithmetic", "--to", tmp_path / "r.jsonl", "--out", tmp_path)
    assert code == 2 and "pass --api" in err and err.strip().count("\n") == 0
    code, _, err = run_cli("export-requests", "--tasks", "arithmetic", "--to", tmp_path / "r.jsonl", "--out", tmp_path)
    assert code == 2 and "needs --model" in err
    code, _, err = run_cli("export-requests", "--model", "o4-mini", "--budgets", "forced:64", "--tasks", "arithmetic",
                           "--to", tmp_path / "r.jsonl", "--out", tmp_path)
    assert code == 2 and "hides the model's reasoning" in err
    code, _, err = run_cli("export-requests", "--api", "deepseek", "--model", "deepseek-chat", "--budgets", "forced:64",
                           "--tasks", "arithmetic", "--to", tmp_path / "r.jsonl", "--out", tmp_path)
    assert code == 2 and "cannot be written as a batch line" in err  # its continuations go to /beta
    assert not (tmp_path / "r.jsonl").exists() and not any(tmp_path.iterdir())
