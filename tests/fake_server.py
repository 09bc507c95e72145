"""A scripted OpenAI-compatible HTTP server on 127.0.0.1 for tests (never shipped).

``FakeServer(responder)`` serves ``/v1/models`` and ``/v1/chat/completions``. The responder
gets the parsed request body and returns either a content string, a dict with
``content``/``finish_reason``/``usage``/``reasoning_content``/``message`` overrides, or a
:class:`Fault` (status code, headers, raw body). Every chat request is recorded.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class Fault:
    status: int
    body: bytes | str = b'{"error": {"message": "injected fault"}}'
    headers: dict[str, str] = field(default_factory=dict)


def count_tokens(text: str) -> int:
    return max(1, len(text.split())) if text else 0


def completion_body(request: dict, content: str, finish_reason: str = "stop", usage: dict | None = None, **message_extra) -> dict:
    prompt_text = " ".join(str(m.get("content", "")) for m in request.get("messages", []))
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": request.get("model", "fake"),
        # Like vLLM, n choices when the request asks for n.
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": content, **message_extra},
                "finish_reason": finish_reason,
            }
            for i in range(request.get("n") or 1)
        ],
        "usage": usage
        if usage is not None
        else {
            "prompt_tokens": count_tokens(prompt_text),
            "completion_tokens": count_tokens(content),
            "total_tokens": count_tokens(prompt_text) + count_tokens(content),
        },
    }


class FakeServer:
    def __init__(self, responder: Callable[[dict], Any], models_status: int = 200, required_key: str | None = None,
                 models: tuple[str, ...] = ("fake-model",)):
        self.responder = responder
        self.models = models
        self.models_status = models_status
        self.required_key = required_key
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                return

            def _send(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self) -> bool:
                if server.required_key is None:
                    return True
                if self.headers.get("Authorization") == f"Bearer {server.required_key}":
                    return True
                self._send(401, b'{"error": {"message": "invalid api key"}}')
                return False

            def do_GET(self):
                if not self._authorized():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    body = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]})
                    self._send(server.models_status, body.encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                if not self._authorized():
                    return
                with server.lock:
                    server.requests.append(request)
                reply = server.responder(request)
                if isinstance(reply, Fault):
                    body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                    self._send(reply.status, body, reply.headers)
                    return
                if isinstance(reply, str):
                    reply = {"content": reply}
                body = completion_body(
                    request,
                    reply.get("content", ""),
                    reply.get("finish_reason", "stop"),
                    reply.get("usage"),
                    **reply.get("message", {}),
                )
                self._send(200, json.dumps(body).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def chat_requests(self) -> list[dict]:
        with self.lock:
            return list(self.requests)

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
