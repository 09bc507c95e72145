"""A fault-injecting OpenAI-compatible server on 127.0.0.1 for the reliability tests.

``FaultServer(responder, faults={"503": 0.3, "drop": 0.1})`` answers chat requests with
the responder's content, except that each request meets one of the named faults with the
given probability (rolled from a seeded RNG). ``max_faults_per_request`` caps how many
faults one logical request (same body) can meet, so a "transient" fault really is
transient and a test can demand that every sample finally succeeds; ``when`` limits
faults to the requests it accepts (e.g. one item only).

Faults (``FAULTS``):

=================  ====================================================================
``429``            429 Too Many Requests without Retry-After
``429-retry``      429 with ``Retry-After: <retry_after>``
``500/502/503``    that status with a JSON error body
``hang``           no answer for ``hang_s`` (longer than the client timeout)
``trickle``        200 headers, then the body one byte every 0.2 s (no read ever idles
                   long enough for a per-read timeout)
``drop``           200 headers and half the body, then the connection is closed
``bad-json``       200, ``application/json``, a truncated JSON document
``html``           200 with ``text/html`` and a proxy's error page (wrong content type)
``text-json``      200 with ``text/plain`` but a valid completion body
``no-choices``     200 with ``choices: []``
``null-content``   200 with ``message.content: null``
``no-usage``       200, a correct answer, no ``usage`` object
``huge``           200, a correct answer after ``huge_bytes`` (5 MB) of filler
``bad-utf8``       200, a correct answer with invalid UTF-8 bytes in the content
``400``            400 (a per-request problem such as context length)
``401/403/404``    the endpoint refuses the key / the model
``echo-key``       400 whose message echoes the request's Authorization header
``echo-key-ok``    200, a correct answer whose content and reasoning echo the Authorization
                   header
=================  ====================================================================

Built on tests/fake_server.py (same completion body, same Fault type for scripted
replies); the responder may also return a :class:`fake_server.Fault` itself.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from fake_server import Fault, completion_body

TRANSIENT_STATUS = ("429", "429-retry", "500", "502", "503")
FAULTS = (
    *TRANSIENT_STATUS, "hang", "trickle", "drop", "bad-json", "html", "text-json", "no-choices", "null-content",
    "no-usage", "huge", "bad-utf8", "400", "401", "403", "404", "echo-key", "echo-key-ok",
)
HUGE_BYTES = 5 * 1024 * 1024


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Clients killed mid-request (kill -9, Ctrl-C tests) are expected here, not errors.
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def spare_first(group=lambda request: request.get("max_tokens") or request.get("max_completion_tokens")):
    """A ``when`` predicate that spares the first request of each group (by default, each
    budget's token cap). ttc-bench sends the first request of a task and budget alone and
    stops the run if it meets a 4xx (that refusal would repeat), so tests of per-sample
    faults keep it clean."""
    seen: set = set()
    lock = threading.Lock()

    def when(request: dict) -> bool:
        key = json.dumps(group(request), sort_keys=True, default=str)
        with lock:
            if key in seen:
                return True
            seen.add(key)
            return False

    return when


def request_identity(request: dict) -> str:
    """One logical request: retries of it send the same body."""
    return json.dumps(request, sort_keys=True)


class FaultServer:
    def __init__(
        self,
        responder: Callable[[dict], Any],
        faults: dict[str, float] | None = None,
        *,
        seed: int = 0,
        max_faults_per_request: int | None = None,
        when: Callable[[dict], bool] | None = None,
        latency_s: float = 0.0,
        hang_s: float = 30.0,
        retry_after: str = "1",
        huge_bytes: int = HUGE_BYTES,
        required_key: str | None = None,
    ):
        unknown = set(faults or {}) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; known: {FAULTS}")
        if sum((faults or {}).values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        self.responder = responder
        self.faults = dict(faults or {})
        self.max_faults = max_faults_per_request
        self.when = when
        self.latency_s = latency_s
        self.hang_s = hang_s
        self.retry_after = retry_after
        self.huge_bytes = huge_bytes
        self.required_key = required_key
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.requests: list[dict] = []  # every chat request, in arrival order
        self.auth_headers: list[str | None] = []
        self.served: Counter[str] = Counter()  # fault name -> times served
        self.faults_by_request: Counter[str] = Counter()  # request identity -> faults served
        self.handled = 0  # chat requests fully handled (answer sent or fault done)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                return

            def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self) -> bool:
                if server.required_key is None or self.headers.get("Authorization") == f"Bearer {server.required_key}":
                    return True
                self._send(401, b'{"error": {"message": "invalid api key"}}')
                return False

            def do_GET(self):
                if not self._authorized():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    body = json.dumps({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
                    self._send(200, body.encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                try:
                    request = json.loads(self.rfile.read(length))
                except ValueError:  # a client killed while sending: not a request
                    request = None
                if not isinstance(request, dict) or "messages" not in request:
                    self.close_connection = True
                    self._send(400, b'{"error": {"message": "unreadable request"}}')
                    return
                with server.lock:
                    server.requests.append(request)
                    server.auth_headers.append(self.headers.get("Authorization"))
                if not self._authorized():
                    return
                if server.latency_s:
                    time.sleep(server.latency_s)
                fault = server._pick(request)
                try:
                    if fault is None:
                        reply = server.responder(request)
                        if isinstance(reply, Fault):
                            body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                            self._send(reply.status, body, headers=reply.headers)
                        else:
                            self._send(200, json.dumps(server._body(request, reply)).encode())
                    else:
                        server._serve_fault(self, fault, request)
                finally:
                    with server.lock:
                        server.handled += 1

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # ---- fault choice -------------------------------------------------------------

    def _pick(self, request: dict) -> str | None:
        if not self.faults or (self.when is not None and not self.when(request)):
            return None
        identity = request_identity(request)
        with self.lock:
            roll = self.rng.random()
            if self.max_faults is not None and self.faults_by_request[identity] >= self.max_faults:
                return None
            edge = 0.0
            for name, rate in self.faults.items():
                edge += rate
                if roll < edge:
                    self.served[name] += 1
                    self.faults_by_request[identity] += 1
                    return name
        return None

    # ---- bodies -------------------------------------------------------------------

    def _body(self, request: dict, reply: Any) -> dict:
        if isinstance(reply, str):
            reply = {"content": reply}
        return completion_body(
            request, reply.get("content", ""), reply.get("finish_reason", "stop"), reply.get("usage"), **reply.get("message", {})
        )

    def _content(self, request: dict) -> str:
        reply = self.responder(request)
        return reply if isinstance(reply, str) else reply.get("content", "")

    def _serve_fault(self, handler, fault: str, request: dict) -> None:
        error = lambda message: json.dumps({"error": {"message": message}}).encode()
        if fault == "429":
            handler._send(429, error("rate limited"))
        elif fault == "429-retry":
            handler._send(429, error("rate limited"), headers={"Retry-After": self.retry_after})
        elif fault in ("500", "502", "503"):
            handler._send(int(fault), error(f"injected {fault}"))
        elif fault in ("400", "401", "403", "404"):
            handler._send(int(fault), error(f"injected {fault}"))
        elif fault == "echo-key":
            handler._send(400, error(f"bad request from {handler.headers.get('Authorization')}"))
        elif fault == "echo-key-ok":
            auth = handler.headers.get("Authorization")
            reply = {"content": f"you sent {auth}. " + self.responder(request), "message": {"reasoning_content": f"key {auth}"}}
            handler._send(200, json.dumps(self._body(request, reply)).encode())
        elif fault == "hang":
            # Wait past the client's timeout (or until the server stops), then answer into
            # a connection the client has given up on.
            self.stopping.wait(self.hang_s)
            handler.close_connection = True
            try:
                handler._send(200, json.dumps(self._body(request, self.responder(request))).encode())
            except OSError:
                pass
        elif fault == "trickle":
            body = json.dumps(self._body(request, self.responder(request))).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.close_connection = True
            try:
                for i in range(len(body)):
                    if self.stopping.wait(0.2):
                        return
                    handler.wfile.write(body[i : i + 1])
                    handler.wfile.flush()
            except OSError:
                pass  # the client gave up, as it should
        elif fault == "drop":
            body = json.dumps(self._body(request, self.responder(request))).encode()
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True  # the socket closes with the body half sent
        elif fault == "bad-json":
            body = json.dumps(self._body(request, self.responder(request))).encode()
            handler._send(200, body[: len(body) * 2 // 3])
        elif fault == "html":
            handler._send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
        elif fault == "text-json":
            handler._send(200, json.dumps(self._body(request, self.responder(request))).encode(), content_type="text/plain")
        elif fault == "no-choices":
            body = self._body(request, "")
            body["choices"] = []
            handler._send(200, json.dumps(body).encode())
        elif fault == "null-content":
            body = self._body(request, "")
            for choice in body["choices"]:
                choice["message"]["content"] = None
            handler._send(200, json.dumps(body).encode())
        elif fault == "no-usage":
            body = self._body(request, self.responder(request))
            del body["usage"]
            handler._send(200, json.dumps(body).encode())
        elif fault == "huge":
            filler = ("thinking " * (self.huge_bytes // 9 + 1))[: self.huge_bytes]
            body = self._body(request, filler + self._content(request))
            handler._send(200, json.dumps(body).encode())
        elif fault == "bad-utf8":
            marker = "@@BAD@@"
            body = self._body(request, f"odd bytes {marker} then: " + self._content(request))
            raw = json.dumps(body, ensure_ascii=False).encode().replace(marker.encode(), b"\xff\xfe\xc3(")
            handler._send(200, raw)
        else:  # pragma: no cover - guarded in __init__
            raise AssertionError(fault)

    # ---- lifecycle ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def chat_requests(self) -> list[dict]:
        with self.lock:
            return list(self.requests)

    def total_faults(self) -> int:
        with self.lock:
            return sum(self.served.values())

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
