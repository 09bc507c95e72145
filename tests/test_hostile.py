"""A hostile pass beyond the fault matrix (issue: reliability and security, second pass):
bounded counts and waits, a damaged samples file, redirects, query strings, SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fake_server import Fault, FakeServer
from test_bad_input import assert_one_line_error
from test_run_fake import add_answer, base_args, rows_of, run_dir


class _Server:
    """A raw HTTP server whose handler does whatever the test says (hang, redirect, stream)."""

    def __init__(self, get=None, post=None):
        outer = self
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                return

            def do_GET(self):
                outer.paths.append(self.path)
                (get or _models)(self)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.paths.append(self.path)
                post(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _models(handler):
    body = b'{"object": "list", "data": [{"id": "fake-model"}]}'
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize("suite, words", [
    ('budgets = [64]\n[[tasks]]\nfamily = "arithmetic"\n', "budgets must be a list of strings"),
    ('budgets = ["tokens:8"]\nn_parameter = "false"\n[[tasks]]\nfamily = "arithmetic"\n', "n_parameter must be true or false"),
    ('budgets = ["tokens:8"]\n[[tasks]]\nfamily = "arithmetic"\nitems = 1000000000\n', "must be at most"),
    ('budgets = ["tokens:99999999999999999999"]\n[[tasks]]\nfamily = "arithmetic"\n', "between 1 and"),
])
def test_malformed_suite_values_are_one_line_errors(tmp_path, run_cli, suite, words):
    path = tmp_path / "s.toml"
    path.write_text(suite)
    code, out, err = run_cli("run", "--suite", path, "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--out", tmp_path)
    assert_one_line_error(code, out, err, words)


@pytest.mark.parametrize("port", ["99999", "abc", "0"])
def test_bad_ports_are_one_line_errors(port):
    proc = subprocess.run([sys.executable, "-m", "ttc_bench.cli", "serve", "--port", port], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "port must be a number from 1 to 65535" in proc.stderr


def test_serve_refuses_a_port_another_server_holds():
    from ttc_bench.errors import UserError
    from ttc_bench.models.local import check_port_free

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with pytest.raises(UserError, match="already in use"):
            check_port_free(sock.getsockname()[1])


def test_a_run_where_every_sample_errored_exits_non_zero_with_one_line(tmp_path, run_cli):
    with FakeServer(lambda request: Fault(503)) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:8", "--retry-window", "0")
    assert code == 2 and err.count("\n") == 1 and "every one of the 12 samples failed" in err


def test_a_query_string_in_the_base_url_survives(tmp_path, run_cli):
    with FakeServer(add_answer) as server:
        seen = []
        handler = server.httpd.RequestHandlerClass
        original = handler.do_POST

        def do_post(self):
            seen.append(self.path)
            original(self)

        handler.do_POST = do_post
        code, out, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url + "?api-version=2024-06-01",
                                 "--out", tmp_path, "--no-progress", "--tasks", "arithmetic:add-1d", "--limit", "1",
                                 "--budgets", "tokens:8")
    assert code == 0, err
    assert seen and set(seen) == {"/v1/chat/completions?api-version=2024-06-01"}


@pytest.mark.parametrize("status", [301, 307])
def test_a_redirect_is_reported_as_such_not_retried(tmp_path, run_cli, status):
    def redirect(handler):
        handler.send_response(status)
        handler.send_header("Location", "https://elsewhere.example/v1/chat/completions")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with _Server(post=redirect) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:8")
        posts = [p for p in server.paths if p.endswith("/chat/completions")]
    assert code == 2 and err.count("\n") == 1 and f"redirects ({status})" in err and "elsewhere.example" in err
    assert len(posts) == 1


def test_a_models_endpoint_that_never_answers_fails_within_the_bound(tmp_path, run_cli):
    stop = threading.Event()
    with _Server(get=lambda handler: stop.wait(30)) as server:
        started = time.monotonic()
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:8", "--timeout", "1", "--api", "generic")
        elapsed = time.monotonic() - started
        stop.set()
    assert code == 2 and "did not answer GET /models within 1 s" in err
    assert elapsed < 10


def test_an_endless_body_becomes_an_error_row_with_bounded_memory(tmp_path, run_cli):
    def endless(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()  # no length: read until the connection closes
        chunk = b" " * (1 << 20)
        try:
            for _ in range(200):
                handler.wfile.write(chunk)
        except OSError:
            pass
        handler.close_connection = True

    spared = {"n": 0}

    def post(handler):
        spared["n"] += 1
        if spared["n"] == 1:  # the run's first request succeeds (a 4xx there would stop it)
            body = json.dumps({"choices": [{"index": 0, "message": {"content": "<answer>10</answer>"}, "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        else:
            endless(handler)

    with _Server(post=post) as server:
        code, out, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:8", "--limit", "2", "--concurrency", "1")
    assert code == 0, err
    errored = [r for r in rows_of(tmp_path) if r["error"]]
    assert errored and "larger than 64 MB" in errored[0]["error"]


def test_a_damaged_samples_file_is_refused_with_one_line(tmp_path, run_cli):
    folder = tmp_path / "run"
    folder.mkdir()
    with open(folder / "samples.jsonl", "wb") as fh:
        fh.write(b"\0" * (4 << 20) + b"\n" + b"not json\n")
    code, out, err = run_cli("report", folder)
    assert_one_line_error(code, out, err, "no readable sample rows (2 unreadable lines skipped)")


def test_sigterm_is_handled_like_ctrl_c_with_exit_143(tmp_path):
    def slow(request):
        time.sleep(0.3)
        return add_answer(request)

    with FakeServer(slow) as server:
        proc = subprocess.Popen([sys.executable, "-m", "ttc_bench.cli", *map(str, base_args(server, tmp_path)),
                                 "--budgets", "tokens:8", "--limit", "9", "--concurrency", "1"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert "terminated. finished samples are saved" in err and "Traceback" not in err
    assert rows_of(tmp_path)
