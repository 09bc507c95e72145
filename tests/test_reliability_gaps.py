"""The rows of docs/reliability.md that had no test: absurd usage counts, the same refusal
twenty times, a TLS mismatch, counts beyond their bounds, memory flat in --limit, the
rate-limit pause in the progress line, and fewer choices than ``n`` at run time."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time

import pytest

from fake_server import Fault, FakeServer, completion_body
from fault_server import FaultServer
from test_bad_input import assert_one_line_error
from test_run_fake import add_answer, base_args, rows_of, run_dir


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 5, "completion_tokens": 2**64 - 1, "total_tokens": 2**64 + 4},
    {"prompt_tokens": -3, "completion_tokens": "many", "total_tokens": None},
    {"prompt_tokens": 5, "completion_tokens": 10**13, "total_tokens": 10**13 + 5,
     "completion_tokens_details": {"reasoning_tokens": 2**63}},
], ids=["2^64-1", "negative-and-text", "above-10^12"])
def test_absurd_usage_counts_are_treated_as_missing_and_never_overflow(tmp_path, run_cli, usage):
    def absurd(request):
        return {"content": add_answer(request), "usage": usage}

    with FakeServer(absurd) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "2")
    assert code == 0, err
    rows = rows_of(tmp_path)
    assert len(rows) == 6 and all(r["error"] is None and r["correct"] for r in rows)
    for row in rows:
        # Missing, so estimated from the text and flagged: never the absurd figure.
        assert row["completion_tokens"] is None or 0 < row["completion_tokens"] < 10**6
        assert row["prompt_tokens"] is None or 0 <= row["prompt_tokens"] < 10**6
        assert row["reasoning_tokens"] is None or row["reasoning_tokens"] < 10**6
    # A later report of the same folder reads them back without crashing.
    code, out, err = run_cli("report", run_dir(tmp_path))
    assert code == 0, err
    summary = json.loads((run_dir(tmp_path) / "summary.json").read_text())
    assert all(g["tokens"]["mean"] < 10**6 for g in summary["groups"] if g.get("tokens"))


def test_the_same_refusal_twenty_times_stops_the_run_and_keeps_what_was_saved(tmp_path, run_cli):
    """The first requests succeed (the fail-fast probe passes), then the endpoint refuses
    every request with the same 400: the run stops after 20 in a row, not after 300."""
    answered = {"n": 0}
    lock = threading.Lock()

    def turns_sour(request):
        with lock:
            answered["n"] += 1
            if answered["n"] <= 4:
                return add_answer(request)
        return Fault(400, b'{"error": {"message": "prompt is too long for this deployment", "type": "invalid_request_error"}}')

    with FakeServer(turns_sour) as server:
        args = [a for a in base_args(server, tmp_path) if a != "3"]
        args[args.index("--limit") + 1 :] = ["300", *args[args.index("--limit") + 1 :]]
        code, out, err = run_cli(*args, "--budgets", "tokens:64", "--concurrency", "1")
        sent = len(server.chat_requests())
    assert_one_line_error(code, out, err, "refused 20 requests in a row")
    assert "prompt is too long" in err
    assert sent <= 4 + 20 + 2, sent
    rows = rows_of(tmp_path)
    good = [r for r in rows if r["error"] is None]
    assert len(good) == 4 and all(r["correct"] for r in good)


def test_https_to_a_plain_http_server_is_named_a_tls_failure(tmp_path, run_cli):
    with FakeServer(add_answer) as server:
        url = server.base_url.replace("http://", "https://")
        code, out, err = run_cli("run", "--model", "fake-model", "--base-url", url, "--out", tmp_path, "--no-progress",
                                 "--tasks", "arithmetic:add-1d", "--limit", "1", "--budgets", "tokens:8")
        assert server.chat_requests() == []
    assert_one_line_error(code, out, err, "TLS handshake")
    assert "scheme" in err


@pytest.mark.parametrize("flag, value, words", [
    ("--limit", "100000000", "--limit must be at most 10,000,000"),
    ("--samples", "100001", "--samples must be at most 100,000"),
])
def test_counts_beyond_their_bounds_are_one_line_errors(tmp_path, run_cli, flag, value, words):
    code, out, err = run_cli("run", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--out", tmp_path,
                             "--tasks", "arithmetic:add-1d", "--budgets", "tokens:8", flag, value)
    assert_one_line_error(code, out, err, words)
    assert not any(tmp_path.iterdir())


_MEASURE = (
    "import resource, sys\n"
    "from ttc_bench.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _peak_kb(server, out, limit: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, "run", "--model", "fake-model", "--base-url", server.base_url, "--out", str(out),
         "--no-progress", "--tasks", "arithmetic:add-1d", "--budgets", "tokens:8", "--concurrency", "1", "--limit", limit],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2 and "key was rejected (401)" in proc.stderr, proc.stderr
    return int(re.search(r"MAXRSS_KB (\d+)", proc.stderr).group(1))


def test_memory_does_not_grow_with_limit(tmp_path):
    """The same work (60 answered requests, then a refused key stops the run) with --limit
    100 and --limit 10,000,000: the plan is lazy, so peak memory is the same."""
    answered = {"n": 0}
    lock = threading.Lock()

    def then_revoked(request):
        with lock:
            answered["n"] += 1
            if answered["n"] > 60:
                return Fault(401, b'{"error": {"message": "Invalid API key"}}')
        return add_answer(request)

    peaks = {}
    for limit in ("100", "10000000"):
        answered["n"] = 0
        with FakeServer(then_revoked) as server:
            peaks[limit] = _peak_kb(server, tmp_path / limit, limit)
            assert len(server.chat_requests()) == 61
    assert peaks["10000000"] < peaks["100"] + 20 * 1024, peaks


def test_the_rate_limit_pause_is_shown_in_the_progress_line(tmp_path, run_cli, monkeypatch):
    from ttc_bench import progress

    monkeypatch.setattr(progress, "LINE_INTERVAL_S", 0.2)
    start = {}
    lock = threading.Lock()

    def in_storm(request):
        with lock:
            start.setdefault("t", time.monotonic())
        return time.monotonic() - start["t"] < 3.0

    with FaultServer(add_answer, {"429-retry": 1.0}, when=in_storm, retry_after="2") as server:
        args = [a for a in base_args(server, tmp_path) if a != "--no-progress"]
        code, out, err = run_cli(*args, "--budgets", "tokens:64", "--samples", "2")
    assert code == 0, err
    assert re.search(r"rate limited: pausing \d+ s", err), err
    rows = rows_of(tmp_path)
    assert len(rows) == 6 and all(r["error"] is None for r in rows)


def test_fewer_choices_than_n_at_run_time_falls_back_to_single_requests(tmp_path, run_cli):
    """A generic server that answers an ``n`` request with one choice (as Ollama does, and
    a proxy in front of vLLM may): never retried, one warning, single requests after."""

    def one_choice(request):
        if (request.get("n") or 1) > 1:
            body = completion_body({**request, "n": 1}, add_answer(request))
            return Fault(200, json.dumps(body))
        return add_answer(request)

    with FakeServer(one_choice) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "3", "--n-param")
        requests = server.chat_requests()
    assert code == 0, err
    rows = rows_of(tmp_path)
    assert len(rows) == 9 and all(r["error"] is None and r["correct"] for r in rows)
    assert len([line for line in out.splitlines() if line.startswith("warning:") and "does not serve n" in line]) == 1, out
    with_n = [r for r in requests if (r.get("n") or 1) > 1]
    assert len(with_n) <= 1 + 1  # the first n request, perhaps one in flight: never retried
    assert len(requests) <= len(with_n) + 9


def test_an_overlong_line_and_counts_above_the_bound_are_skipped_and_counted(tmp_path, run_cli, monkeypatch):
    """A damaged samples.jsonl: one "line" longer than the line bound (read in bounded
    pieces, never whole) and one row whose token count is above 10^12."""
    from test_report import _make_run
    from ttc_bench import store

    monkeypatch.setattr(store, "MAX_LINE_BYTES", 4096)
    run = _make_run(tmp_path / "run")
    good = json.loads((run / "samples.jsonl").read_text().splitlines()[0])
    with open(run / "samples.jsonl", "a") as fh:
        fh.write("x" * 50_000 + "\n")
        fh.write(json.dumps({**good, "key": "huge-count", "sample": 99, "completion_tokens": 10**13}) + "\n")
    code, out, err = run_cli("report", run)
    assert code == 0 and "Traceback" not in out + err, err
    assert json.loads((run / "summary.json").read_text())["rows_skipped"] == 2
    assert "2 rows of samples.jsonl could not be read as samples and were skipped" in out


def test_profile_detection_on_a_silent_server_waits_no_longer_than_the_preflight_bound(tmp_path, run_cli):
    """--api auto asks the server what it is (GET /models, then Ollama's /api/version):
    a server that accepts the connection and never answers fails within --timeout, with
    the line naming the wait, instead of one wait per question."""
    from test_hostile import _Server

    stop = threading.Event()
    with _Server(get=lambda handler: stop.wait(30)) as server:
        started = time.monotonic()
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:8", "--timeout", "2")
        elapsed = time.monotonic() - started
        stop.set()
    assert_one_line_error(code, out, err, "did not answer within 2 s")
    assert elapsed < 8, elapsed
