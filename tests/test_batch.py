"""`ttc-bench run --batch` against the OpenAI Batch API emulation (tests/emulators/openai_batch.py):
the same samples and summary as a live run, a kill -9 while polling resumes the same batch
without a second submission, expired and failed requests go out again and nothing else
does, and the emulation itself follows the documented API."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from emulators.openai_batch import OpenAIBatchServer
from emulators.vllm_run_batch import run_batch
from test_run_fake import run_dir

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
ITEMS, SAMPLES, BUDGETS = 4, 2, ("effort:low", "tokens:2048")
PLANNED = ITEMS * SAMPLES * len(BUDGETS)


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def args(server, out, *extra, api="openai"):
    return ["run", "--base-url", server.base_url, "--model", "gpt-5-mini", "--api", api, "--out", out,
            "--tasks", "arithmetic:add-2d", "--limit", ITEMS, "--samples", SAMPLES, "--budgets", *BUDGETS,
            "--no-progress", *extra]


def rows(folder: Path) -> dict[str, dict]:
    found = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    latest = {}
    for row in found:
        latest[row["key"]] = row
    return latest


def same_samples(a: dict[str, dict], b: dict[str, dict]) -> None:
    assert a.keys() == b.keys()
    for key in a:  # latency is the one thing a batch cannot measure
        assert {k: v for k, v in a[key].items() if k != "latency_s"} == {k: v for k, v in b[key].items() if k != "latency_s"}


def comparable(value):
    """A summary without what differs between two runs of the same samples by design."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items()
                if "latency" not in k and "cost" not in k and k not in ("run_id", "prices")}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


def live_reference(server, tmp_path, run_cli) -> Path:
    """The live run of the plan on ``server`` (keys name the endpoint, so the same one)."""
    code, _, err = run_cli(*args(server, tmp_path / "live"))
    assert code == 0, err
    return run_dir(tmp_path / "live")


# ---- the emulation follows the API reference --------------------------------------------------


def upload(server, text: str) -> str:
    response = httpx.post(f"{server.base_url}/files", headers=AUTH, data={"purpose": "batch"},
                          files={"file": ("in.jsonl", text.encode(), "application/jsonl")})
    assert response.status_code == 200, response.text
    assert response.json()["object"] == "file" and response.json()["purpose"] == "batch"
    return response.json()["id"]


def line(custom_id: str, content: str = "Compute 2 + 3.", model: str = "gpt-5-mini") -> str:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_completion_tokens": 2048}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}) + "\n"


def create(server, file_id: str, **extra) -> dict:
    response = httpx.post(f"{server.base_url}/batches", headers=AUTH,
                          json={"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h", **extra})
    assert response.status_code == 200, response.text
    return response.json()


def retrieve(server, batch_id: str) -> dict:
    return httpx.get(f"{server.base_url}/batches/{batch_id}", headers=AUTH).json()


def content(server, file_id: str) -> list[dict]:
    return [json.loads(x) for x in httpx.get(f"{server.base_url}/files/{file_id}/content", headers=AUTH).text.splitlines()]


def test_emulation_status_transitions_output_and_error_files():
    with OpenAIBatchServer(fail=lambda body: 500 if "7 + 1" in body["messages"][0]["content"] else None) as server:
        text = "".join(line(f"r{i}", f"Compute {i} + 1.") for i in range(10))
        batch = create(server, upload(server, text), metadata={"run": "x"})
        assert batch["status"] == "validating" and batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
        assert batch["expires_at"] - batch["created_at"] == 24 * 3600
        seen = [retrieve(server, batch["id"])["status"] for _ in range(3)]
        assert seen == ["in_progress", "finalizing", "completed"]
        final = retrieve(server, batch["id"])
        assert final["request_counts"] == {"total": 10, "completed": 9, "failed": 1}
        output, errors = content(server, final["output_file_id"]), content(server, final["error_file_id"])
    assert [r["custom_id"] for r in output] != sorted(r["custom_id"] for r in output)  # order may not match the input
    assert {r["custom_id"] for r in output} == {f"r{i}" for i in range(10)} - {"r7"}
    assert all(r["response"]["status_code"] == 200 and r["error"] is None for r in output)
    assert errors[0]["custom_id"] == "r7" and errors[0]["response"]["status_code"] == 500


def test_emulation_validation_failure_expiry_cancel_and_listing():
    with OpenAIBatchServer(expire_after=[None, 2], hold=True) as server:
        bad = create(server, upload(server, line("a") + line("a") + line("b", model="gpt-4o")))
        failed = retrieve(server, bad["id"])
        assert failed["status"] == "failed"
        assert {e["code"] for e in failed["errors"]["data"]} == {"duplicate_custom_id", "mismatched_model"}
        expiring = create(server, upload(server, "".join(line(f"e{i}") for i in range(5))))
        assert retrieve(server, expiring["id"])["status"] == "in_progress"
        assert retrieve(server, expiring["id"])["status"] == "in_progress"  # held
        server.release()
        expired = retrieve(server, expiring["id"])
        assert expired["status"] == "expired" and expired["request_counts"]["completed"] == 2
        lost = content(server, expired["error_file_id"])
        assert len(lost) == 3 and all(r["response"] is None and r["error"]["code"] == "batch_expired" for r in lost)
        cancelled = create(server, upload(server, line("c")))
        response = httpx.post(f"{server.base_url}/batches/{cancelled['id']}/cancel", headers=AUTH)
        assert response.json()["status"] == "cancelling"
        assert retrieve(server, cancelled["id"])["status"] == "cancelled"
        page = httpx.get(f"{server.base_url}/batches", headers=AUTH, params={"limit": 2}).json()
        assert [b["id"] for b in page["data"]] == [cancelled["id"], expiring["id"]] and page["has_more"]
        rest = httpx.get(f"{server.base_url}/batches", headers=AUTH, params={"limit": 2, "after": page["last_id"]}).json()
        assert [b["id"] for b in rest["data"]] == [bad["id"]] and not rest["has_more"]
        assert server.creates == 3


def test_emulation_refuses_what_the_reference_refuses():
    with OpenAIBatchServer() as server:
        file_id = upload(server, line("a"))
        post = lambda body: httpx.post(f"{server.base_url}/batches", headers=AUTH, json=body)  # noqa: E731
        base = {"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"}
        assert post({**base, "completion_window": "48h"}).status_code == 400
        assert post({**base, "endpoint": "/v1/responses/x"}).status_code == 400
        assert post({**base, "metadata": {"k" * 65: "v"}}).status_code == 400
        assert post({**base, "input_file_id": "file-missing"}).status_code == 404
        assert httpx.post(f"{server.base_url}/batches", json=base).status_code == 401
        assert server.creates == 0


# ---- run --batch -------------------------------------------------------------------------------


def test_batch_run_matches_the_live_run_sample_for_sample_and_costs_half(tmp_path, run_cli):
    prices = ("--price-input", "1.1", "--price-output", "4.4")
    with OpenAIBatchServer() as server:
        assert run_cli(*args(server, tmp_path / "live", *prices))[0] == 0
        live_requests = len(server.chat_bodies())
        code, out, err = run_cli(*args(server, tmp_path / "batch", "--batch", *prices))
        assert code == 0, err
        assert server.creates == 1 and server.uploads == 1
        assert len(server.chat_bodies()) == live_requests  # the batch's lines ran in-process, not over HTTP
        # The same command again: nothing pending, nothing submitted.
        assert run_cli(*args(server, tmp_path / "batch", "--batch", *prices))[0] == 0
        assert server.creates == 1 and server.uploads == 1
    live, batch = run_dir(tmp_path / "live"), run_dir(tmp_path / "batch")
    assert live.name == batch.name  # batch mode does not change the settings' hash
    same_samples(rows(live), rows(batch))
    assert all(row["latency_s"] is None for row in rows(batch).values())
    assert comparable(summary(live)) == comparable(summary(batch))
    manifest = json.loads((batch / "manifest.json").read_text())
    assert manifest["spec"]["batch"] is True and manifest["batch"]["price_factor"] == 0.5
    assert manifest["spec"]["prices"] == {"input_per_million": 0.55, "output_per_million": 2.2}
    assert manifest["batch"]["list_prices"] == {"input_per_million": 1.1, "output_per_million": 4.4}
    for a, b in zip(summary(live)["groups"], summary(batch)["groups"]):
        assert a["cost_per_sample"] and b["cost_per_sample"] == pytest.approx(a["cost_per_sample"] / 2)
    state = json.loads((batch / "batch.json").read_text())
    assert state["active"] == [] and [d["status"] for d in state["done"]] == ["completed"]
    assert f"{PLANNED} samples requested, 0 reused" in out


def test_live_batch_and_export_import_give_the_same_samples_and_summary(tmp_path, run_cli):
    """The three ways through one deterministic endpoint: live requests, run --batch, and
    export-requests -> an external engine -> import-results."""
    with OpenAIBatchServer() as server:
        live = live_reference(server, tmp_path, run_cli)
        assert run_cli(*args(server, tmp_path / "batch", "--batch"))[0] == 0
        plan = args(server, tmp_path / "offline")[1:-1]  # the run flags, without run and --no-progress
        assert run_cli("export-requests", *plan, "--to", tmp_path / "requests.jsonl")[0] == 0
        assert run_batch(tmp_path / "requests.jsonl", tmp_path / "results.jsonl", server) == PLANNED
    offline = run_dir(tmp_path / "offline")
    code, _, err = run_cli("import-results", offline, tmp_path / "results.jsonl")
    assert code == 0, err
    for other in (run_dir(tmp_path / "batch"), offline):
        same_samples(rows(live), rows(other))
        assert comparable(summary(live)) == comparable(summary(other))


def wait_for(predicate, what: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        assert proc.poll() is None, f"the run ended before {what}: {proc.stderr.read() if proc.stderr else ''}"
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


def submitted(folder: Path) -> str | None:
    try:
        state = json.loads((folder / "batch.json").read_text())
    except (OSError, ValueError):
        return None
    active = [e for e in state["active"] if e.get("state") == "submitted"]
    return active[0]["batch_id"] if active else None


def test_kill_9_while_polling_then_the_same_command_polls_the_same_batch(tmp_path, run_cli):
    out = tmp_path / "killed"
    with OpenAIBatchServer(hold=True) as server:
        reference = live_reference(server, tmp_path, run_cli)
        command = [sys.executable, "-m", "ttc_bench.cli", *map(str, args(server, out, "--batch"))]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: (out.exists() and any(out.iterdir()) and submitted(run_dir(out))), "a submitted batch", proc)
            wait_for(lambda: len(server.received("GET", f"/batches/{submitted(run_dir(out))}")) >= 2, "polling", proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        folder = run_dir(out)
        batch_id = submitted(folder)
        assert server.creates == 1 and not (folder / "samples.jsonl").read_bytes()
        server.release()
        code, _, err = run_cli(*args(server, out, "--batch"))
        assert code == 0, err
        assert server.creates == 1 and server.uploads == 1  # polled again, never submitted twice
    state = json.loads((folder / "batch.json").read_text())
    assert [d["batch_id"] for d in state["done"]] == [batch_id]
    same_samples(rows(reference), rows(folder))


def test_a_create_whose_answer_was_lost_is_found_again_not_repeated(tmp_path, run_cli):
    """A crash between the create call and saving its id: batch.json still says
    "submitting"; the next run finds the batch by the marker in its metadata."""
    out = tmp_path / "lost"
    with OpenAIBatchServer(hold=True) as server:
        reference = live_reference(server, tmp_path, run_cli)
        proc = subprocess.Popen([sys.executable, "-m", "ttc_bench.cli", *map(str, args(server, out, "--batch"))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: out.exists() and any(out.iterdir()) and submitted(run_dir(out)), "a submitted batch", proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        folder = run_dir(out)
        state = json.loads((folder / "batch.json").read_text())
        entry = state["active"][0]
        entry["state"], lost = "submitting", entry.pop("batch_id")
        (folder / "batch.json").write_text(json.dumps(state))
        server.release()
        code, _, err = run_cli(*args(server, out, "--batch"))
        assert code == 0, err
        assert server.creates == 1
    assert [d["batch_id"] for d in json.loads((folder / "batch.json").read_text())["done"]] == [lost]
    same_samples(rows(reference), rows(folder))


def test_expiry_resubmits_only_the_missing_requests(tmp_path, run_cli):
    with OpenAIBatchServer(expire_after=[5]) as server:
        reference = live_reference(server, tmp_path, run_cli)
        code, out, err = run_cli(*args(server, tmp_path / "expiring", "--batch", "--progress", "lines"))
        assert code == 0, err
        assert server.creates == 2
    folder = run_dir(tmp_path / "expiring")
    first, second = (folder / "batch" / "round1-1.jsonl"), (folder / "batch" / "round2-1.jsonl")
    sent_first = [json.loads(x)["custom_id"] for x in first.read_text().splitlines()]
    sent_second = [json.loads(x)["custom_id"] for x in second.read_text().splitlines()]
    output = folder.glob("batch/*-output.jsonl")
    answered_first = {json.loads(x)["custom_id"] for x in sorted(output)[0].read_text().splitlines()}
    assert len(sent_first) == PLANNED and len(answered_first) == 5
    assert sorted(sent_second) == sorted(set(sent_first) - answered_first)  # only what expired
    assert [d["status"] for d in json.loads((folder / "batch.json").read_text())["done"]] == ["expired", "completed"]
    same_samples(rows(reference), rows(folder))
    assert "expired" in out


def test_partial_failures_transient_go_out_again_permanent_stay_errors(tmp_path, run_cli):
    calls: dict[int, int] = {}

    def fail(body):
        calls[body["seed"]] = calls.get(body["seed"], 0) + 1
        if body.get("reasoning_effort") == "low" and calls[body["seed"]] == 1:
            return 503  # transient: sent again in the next round
        if body.get("max_completion_tokens") == 2048 and body["seed"] % 5 == 0:
            return 400  # for good: an error row, not sent again by this invocation
        return None

    with OpenAIBatchServer(fail=fail) as server:
        code, _, err = run_cli(*args(server, tmp_path / "failing", "--batch"))
        assert code == 0, err
        assert server.creates == 2
    folder = run_dir(tmp_path / "failing")
    found = rows(folder)
    errors = [r for r in found.values() if r["error"]]
    assert errors and all(r["budget"] == "tokens:2048" and r["seed"] % 5 == 0 and "400" in r["error"] for r in errors)
    assert all(r["error"] is None for r in found.values() if r["budget"] == "effort:low")
    second = (folder / "batch" / "round2-1.jsonl").read_text().splitlines()
    assert all(json.loads(x)["body"].get("reasoning_effort") == "low" for x in second)
    assert len(second) == ITEMS * SAMPLES


def test_large_plans_split_into_batches_within_the_request_limit(tmp_path, run_cli, monkeypatch):
    from ttc_bench.models import batch

    monkeypatch.setitem(batch.BATCH_APIS, "openai", batch.BATCH_APIS["openai"].__class__(
        **{**batch.BATCH_APIS["openai"].__dict__, "max_requests": 5}))
    with OpenAIBatchServer() as server:
        reference = live_reference(server, tmp_path, run_cli)
        code, _, err = run_cli(*args(server, tmp_path / "split", "--batch"))
        assert code == 0, err
        assert server.creates == 4  # 16 requests, at most 5 per batch
    same_samples(rows(reference), rows(run_dir(tmp_path / "split")))


def test_a_batch_that_fails_validation_stops_with_its_reason(tmp_path, run_cli, monkeypatch):
    import emulators.openai_batch as emulation

    monkeypatch.setattr(emulation, "MAX_REQUESTS", 3)
    with OpenAIBatchServer() as server:
        code, _, err = run_cli(*args(server, tmp_path / "refused", "--batch"))
    assert code == 2
    assert err.strip().count("\n") == 0 and "failed validation" in err and "up to 3 requests" in err


@pytest.mark.parametrize("api, extra, message", [
    ("vllm", (), "has no Batch API"),
    ("openai", ("--n-param",), "drop --n-param"),
    ("openai", ("--fresh",), "cannot be --fresh"),
])
def test_batch_mode_refusals_are_one_line_before_any_request(tmp_path, run_cli, api, extra, message):
    with OpenAIBatchServer() as server:
        code, _, err = run_cli(*args(server, tmp_path / "no", "--batch", *extra, api=api))
        assert code == 2 and message in err and err.strip().count("\n") == 0
        assert server.chat_bodies() == [] and server.creates == 0
    assert not (tmp_path / "no").exists() or not any((tmp_path / "no").iterdir())
