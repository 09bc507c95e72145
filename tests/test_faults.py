"""Every injected endpoint fault ends in a correct run (docs/reliability.md has the table).

- transient faults are retried, counted (row ``attempts``, summary ``retries``) and never
  become wrong answers;
- faults that persist past the retry budget, and per-request 4xx, are error rows with the
  reason, excluded from accuracy and shown in the error count;
- 401/403/404 stop the run at once with one line and exit 2, keeping what was saved;
- odd but readable answers (no usage, null content, 5 MB, invalid UTF-8, wrong content
  type) are stored and scored, not dropped.
"""

import json
import threading
import time

import pytest

from fake_server import Fault
from fault_server import FaultServer
from test_run_fake import add_answer, base_args, rows_of, run_dir

# Seconds per request before the client gives up on it: hang/trickle faults cost this.
TIMEOUT = "1"


def run(run_cli, server, out, *extra, limit=3, samples=2):
    return run_cli(*base_args(server, out), "--limit", limit, "--budgets", "tokens:64", "--samples", samples,
                   "--timeout", TIMEOUT, "--concurrency", "4", *extra)


def summary_of(out):
    return json.loads((run_dir(out) / "summary.json").read_text())


def overall(summary):
    (group,) = [g for g in summary["groups"] if g["level"] is None]
    return group


TRANSIENT = ["429", "429-retry", "500", "502", "503", "hang", "trickle", "drop", "bad-json", "html", "no-choices"]


@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_fault_is_retried_and_counted(tmp_path, run_cli, fault):
    # Every request meets the fault once, then succeeds: deterministic retry accounting.
    with FaultServer(add_answer, {fault: 1.0}, max_faults_per_request=1, retry_after="1") as server:
        code, out, err = run(run_cli, server, tmp_path)
        assert code == 0, err
        served = server.served[fault]
    rows = rows_of(tmp_path)
    assert len(rows) == 6 and served == 6
    assert all(r["error"] is None and r["correct"] for r in rows), [r["error"] for r in rows]
    assert all(r["attempts"] == 2 for r in rows)
    summary = summary_of(tmp_path)
    assert summary["retries"] == served and summary["errors"] == 0
    assert f"{served} retries" in out


def test_fault_storm_at_configured_rates_completes_with_every_sample_right(tmp_path, run_cli):
    rates = {"429": 0.08, "429-retry": 0.05, "500": 0.05, "502": 0.05, "503": 0.08, "hang": 0.03,
             "drop": 0.05, "bad-json": 0.05, "html": 0.03, "no-choices": 0.03}
    with FaultServer(add_answer, rates, seed=11, max_faults_per_request=3, retry_after="0") as server:
        code, out, err = run(run_cli, server, tmp_path, limit=4, samples=4)
        assert code == 0, err
        served = server.total_faults()
        requests = len(server.chat_requests())
    rows = rows_of(tmp_path)
    assert len(rows) == 16 and all(r["error"] is None and r["correct"] for r in rows)
    assert served > 0 and requests == 16 + served
    assert summary_of(tmp_path)["retries"] == served


def test_retry_after_is_honoured(tmp_path, run_cli):
    stamps: dict[int, list[float]] = {}

    def responder(request):
        stamps.setdefault(request["seed"], []).append(time.monotonic())
        return add_answer(request)

    with FaultServer(responder, {"429-retry": 1.0}, max_faults_per_request=1, retry_after="1") as server:
        # The fault is decided before the responder runs, so stamp faults too.
        original = server._serve_fault

        def stamped(handler, fault, request):
            stamps.setdefault(request["seed"], []).append(time.monotonic())
            original(handler, fault, request)

        server._serve_fault = stamped
        code, _, err = run(run_cli, server, tmp_path, limit=1, samples=2)
        assert code == 0, err
    for times in stamps.values():
        assert len(times) == 2 and times[1] - times[0] >= 0.9


def test_faults_that_persist_become_error_rows_excluded_from_accuracy(tmp_path, run_cli):
    from ttc_bench.adapters import get_family

    # Every request for item 0 fails (a poisoned prompt); the other items never do.
    item0 = get_family("arithmetic")().items(0, "add-1d", 1)[0]
    first_item = lambda request: request["messages"][0]["content"] == item0.messages[0]["content"]
    with FaultServer(add_answer, {"429-retry": 0.5, "bad-json": 0.5}, when=first_item, retry_after="0") as server:
        code, out, err = run(run_cli, server, tmp_path, "--retry-window", "2", limit=3, samples=2)
        assert code == 0, err
        rows = rows_of(tmp_path)
        errored = [r for r in rows if r["error"]]
        assert {r["item"] for r in errored} == {item0.id} and len(errored) == 2
        for r in errored:
            assert r["attempts"] >= 3 and r["error"].startswith(f"gave up after {r['attempts']} attempts")
            assert "RateLimitError 429" in r["error"] or "unreadable response (application/json" in r["error"]
            assert r["correct"] is False and r["answer"] is None
        group = overall(summary_of(tmp_path))
        assert group["errors"] == 2 and group["samples_scored"] == 4
        assert group["pass@1"]["mean"] == 1.0  # errors are excluded, not counted wrong
        assert group["coverage"] < 1.0
        assert "2 errors" in out
        # The endpoint recovers: a re-run requests the two errored samples only, and fixes them.
        server.faults = {}
        before = len(server.chat_requests())
        code, out, err = run(run_cli, server, tmp_path, limit=3, samples=2)
        assert code == 0, err
        assert len(server.chat_requests()) - before == 2
    assert overall(summary_of(tmp_path))["errors"] == 0
    assert all(r["correct"] for r in rows_of(tmp_path)[-2:])


@pytest.mark.parametrize("status", ["400", "422"])
def test_per_request_4xx_is_an_error_row_at_once(tmp_path, run_cli, status):
    served = {"n": 0}
    lock = threading.Lock()

    def responder(request):
        with lock:
            served["n"] += 1
            first = served["n"] == 1  # the first request of the run succeeds (else the run stops)
        if not first and ("Compute 1 +" in request["messages"][0]["content"] or request["seed"] % 3 == 0):
            return Fault(int(status), body='{"error": {"message": "prompt is too long for this model"}}')
        return add_answer(request)

    with FaultServer(responder) as server:
        code, _, err = run(run_cli, server, tmp_path, samples=3)
        assert code == 0, err
    rows = rows_of(tmp_path)
    errored = [r for r in rows if r["error"]]
    assert errored and len(rows) == 9
    for r in errored:
        assert r["attempts"] == 1 and status in r["error"] and "prompt is too long" in r["error"]
    assert overall(summary_of(tmp_path))["pass@1"]["mean"] == 1.0


@pytest.mark.parametrize("status", [400, 422])
def test_a_4xx_on_the_first_request_stops_the_run_with_one_line(tmp_path, run_cli, status):
    """A refusal of the very first request of a task and budget will repeat for every sample:
    the run stops at once instead of writing identical error rows."""
    body = '{"error": {"message": "Unsupported value: \'temperature\' does not support 0.7", "param": "temperature"}}'
    with FaultServer(lambda request: Fault(status, body=body)) as server:
        code, out, err = run(run_cli, server, tmp_path, limit=8, samples=4)
        requests = len(server.chat_requests())
    assert code == 2 and requests == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "refused the first arithmetic request" in err and "drop --temperature" in err


@pytest.mark.parametrize("status, words", [(401, "API key was rejected"), (403, "forbidden"), (404, "404 for model")])
def test_permanent_endpoint_fault_mid_run_stops_at_once_with_one_line(tmp_path, run_cli, status, words):
    # The key is revoked (or the model removed) after some samples are done.
    served = {"n": 0}
    lock = threading.Lock()

    def responder(request):
        with lock:
            served["n"] += 1
            refused = served["n"] > 5
        return Fault(status) if refused else add_answer(request)

    with FaultServer(responder) as server:
        code, out, err = run(run_cli, server, tmp_path, limit=8, samples=4)
        requests = len(server.chat_requests())
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err
    assert "Traceback" not in err + out
    # At once: at most the requests already in flight (concurrency 4) follow the first refusal.
    assert requests <= 6 + 4
    rows = rows_of(tmp_path)
    assert rows and all(r["error"] is None and r["correct"] for r in rows)


def test_no_usage_is_estimated_and_flagged(tmp_path, run_cli):
    with FaultServer(add_answer, {"no-usage": 1.0}) as server:
        code, _, err = run(run_cli, server, tmp_path)
        assert code == 0, err
    for r in rows_of(tmp_path):
        assert r["error"] is None and r["correct"] and r["attempts"] == 1
        # Estimated from the text (about 4 characters per token), never silently zero.
        assert r["completion_tokens"] == -(-len(r["response"]) // 4) and r["prompt_tokens"] > 0
        assert r["reasoning_tokens_estimated"] is True


def test_null_content_is_an_empty_answer_not_an_error(tmp_path, run_cli):
    with FaultServer(add_answer, {"null-content": 1.0}) as server:
        code, _, err = run(run_cli, server, tmp_path)
        assert code == 0, err
    rows = rows_of(tmp_path)
    assert all(r["error"] is None and r["response"] == "" and not r["parse_ok"] and not r["correct"] for r in rows)
    group = overall(summary_of(tmp_path))
    assert group["errors"] == 0 and group["parse_failure_rate"] == 1.0


def test_wrong_content_type_with_a_json_body_is_read(tmp_path, run_cli):
    with FaultServer(add_answer, {"text-json": 1.0}) as server:
        code, _, err = run(run_cli, server, tmp_path)
        assert code == 0, err
    assert all(r["correct"] and r["attempts"] == 1 for r in rows_of(tmp_path))


def test_five_megabyte_answer_is_stored_whole_and_scored(tmp_path, run_cli):
    with FaultServer(add_answer, {"huge": 1.0}) as server:
        started = time.monotonic()
        code, _, err = run(run_cli, server, tmp_path, limit=2, samples=1)
        elapsed = time.monotonic() - started
        assert code == 0, err
    rows = rows_of(tmp_path)
    assert len(rows) == 2
    for r in rows:
        assert r["error"] is None and r["correct"] and len(r["response"]) > 5 * 1024 * 1024
    assert elapsed < 30


def test_invalid_utf8_keeps_the_answer(tmp_path, run_cli):
    with FaultServer(add_answer, {"bad-utf8": 1.0}) as server:
        code, _, err = run(run_cli, server, tmp_path)
        assert code == 0, err
    for r in rows_of(tmp_path):
        assert r["error"] is None and r["correct"] and r["attempts"] == 1 and "\ufffd" in r["response"]


def test_lone_surrogate_escapes_are_stored_as_valid_utf8(tmp_path, run_cli):
    # json.dumps writes "\ud800" as an escape: valid JSON, but no UTF-8 file can hold it.
    with FaultServer(lambda request: "broken \ud800 text " + add_answer(request)) as server:
        code, _, err = run(run_cli, server, tmp_path)
        assert code == 0, err
    raw = (run_dir(tmp_path) / "samples.jsonl").read_bytes()
    raw.decode("utf-8")  # strict: raises if anything invalid was written
    assert all(r["correct"] and "\ufffd" in r["response"] for r in rows_of(tmp_path))


def test_n_parameter_path_retries_a_short_choice_list(tmp_path, run_cli):
    with FaultServer(add_answer, {"no-choices": 1.0}, max_faults_per_request=1) as server:
        code, _, err = run(run_cli, server, tmp_path, "--n-param", samples=3)
        assert code == 0, err
        # The first sample of the run goes alone (the fail-fast probe), the other two of its
        # item as one n=2 request; every request meets the fault once.
        assert len(server.chat_requests()) == 2 * (2 + 3 - 1)
    rows = rows_of(tmp_path)
    assert len(rows) == 9 and all(r["correct"] and r["attempts"] == 2 for r in rows)


def test_a_rate_limit_storm_is_waited_out_with_a_run_wide_pause(tmp_path, run_cli):
    """Every request meets 429 for a few seconds, then the endpoint recovers: the retry
    window outlasts the storm, so every sample succeeds, and the run-wide pause keeps the
    workers from hammering the endpoint meanwhile."""
    storm_s = 4.0
    start = {}
    lock = threading.Lock()

    def in_storm(request):
        with lock:
            start.setdefault("t", time.monotonic())
        return time.monotonic() - start["t"] < storm_s

    with FaultServer(add_answer, {"429": 1.0}, when=in_storm) as server:
        code, out, err = run(run_cli, server, tmp_path, limit=4, samples=3)
        assert code == 0, err
        during = server.served["429"]
    rows = rows_of(tmp_path)
    assert len(rows) == 12 and all(r["error"] is None and r["correct"] for r in rows)
    # Backoff doubling from 0.5 s across all workers: a handful of requests, not a flood.
    assert during <= 16, during
