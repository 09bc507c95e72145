"""Plumbing shared by the provider emulations: a threaded HTTP server on 127.0.0.1 that
routes (method, path) to handlers and records every request.

An emulation subclasses :class:`EmulatedServer` and registers routes in ``routes()``;
a handler gets a :class:`Request` and returns a :class:`Reply`. Nothing here encodes any
provider's rules: those live in the provider modules, each cited.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, raw bytes when not JSON, None when empty
    raw: bytes = b""
    match: re.Match | None = None  # the route's regex match (path parameters)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def json_reply(body: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, body, dict(headers))


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


Handler = Callable[[Request], Reply]


class EmulatedServer:
    """Base of every emulation: ``with Server(...) as s: s.base_url`` serves on 127.0.0.1.

    ``requests`` holds every request received, in order (including refused ones), so tests
    can assert what the client sent. ``api_prefix`` is the path the client's base URL ends
    with (``/v1`` for OpenAI-style servers).
    """

    api_prefix = "/v1"

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern, Handler]] = []
        self.routes()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                return

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = raw
                parts = urlsplit(self.path)
                request = Request(
                    method, parts.path, parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()}, body, raw,
                )
                with server.lock:
                    server.requests.append(request)
                reply = server.dispatch(request)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = reply.body
                if isinstance(body, (dict, list)):
                    data = json.dumps(body).encode()
                elif isinstance(body, str):
                    data = body.encode()
                else:
                    data = body or b""
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_DELETE(self):
                self._serve("DELETE")

        self.httpd = _QuietHTTPServer(("127.0.0.1", 0), _Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    # ---- for subclasses ---------------------------------------------------------------

    def routes(self) -> None:
        """Register routes with :meth:`route`."""

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` is a regex matched against the whole path."""
        self._routes.append((method, re.compile(pattern), handler))

    def not_found(self, request: Request) -> Reply:
        return json_reply({"error": {"message": f"no route for {request.method} {request.path}"}}, 404)

    def dispatch(self, request: Request) -> Reply:
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                request.match = match
                return handler(request)
        return self.not_found(request)

    # ---- for tests --------------------------------------------------------------------

    @property
    def origin(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def base_url(self) -> str:
        return self.origin + self.api_prefix

    def received(self, method: str | None = None, path_suffix: str | None = None) -> list[Request]:
        with self.lock:
            found = list(self.requests)
        return [
            r for r in found
            if (method is None or r.method == method) and (path_suffix is None or r.path.endswith(path_suffix))
        ]

    def chat_bodies(self) -> list[dict]:
        """Bodies of every POST to a chat endpoint (whatever the provider calls it)."""
        return [r.body for r in self.received("POST") if isinstance(r.body, dict) and "messages" in r.body]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
