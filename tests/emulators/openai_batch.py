"""Emulation of OpenAI's Batch API (Files + Batches) over the chat emulation of openai_api.py:
batch lines are executed by the same chat handler live requests reach, so a batch run and a
live run of the same plan get the same answers.

Sources, cited at each rule: the Batch guide https://platform.openai.com/docs/guides/batch
("guide"); openai-python src/openai/types/batch.py, batch_create_params.py,
batch_request_counts.py, batch_error.py, file_object.py ("types"); the OpenAPI
``BatchRequestOutput`` schema (openai-openapi, as generated in docs.rs openai-struct
models/batch_request_output.rs: "response ... nullable", "error: For requests that failed
with a non-HTTP error"). Error codes of input-file validation are this emulation's own
names (the guide documents the ``errors`` list, not the codes).

Faults for tests: ``hold`` keeps every batch in_progress until ``release()``;
``expire_after=[N, ...]`` makes the k-th batch created run N requests and then expire
(None or a short list: the batch runs whole); ``fail(body) -> status|None`` fails chosen
requests with that HTTP status. ``creates``/``uploads`` count calls.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid

from .base import Reply, Request, json_reply
from .openai_api import OpenAIServer, error

# batch_create_params.py: "The file can contain up to 50,000 requests, and can be up to 200 MB".
MAX_REQUESTS = 50_000
MAX_BYTES = 200 * 1024 * 1024
# batch_create_params.py: endpoint Literal; completion_window Literal["24h"].
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/completions")
WINDOW_S = 24 * 3600
TERMINAL = ("completed", "expired", "failed", "cancelled")


class OpenAIBatchServer(OpenAIServer):
    def __init__(self, model: str = OpenAIServer.DEFAULT_MODEL, *, hold: bool = False,
                 expire_after: list[int | None] = (), fail=None, **options):
        self.files: dict[str, dict] = {}  # id -> {"object": FileObject, "content": bytes}
        self.batches: dict[str, dict] = {}
        self.creates = 0
        self.uploads = 0
        self._held = threading.Event()
        if hold:
            self._held.set()
        self.expire_after = list(expire_after)
        self.fail = fail
        self._ids = itertools.count(1)
        super().__init__(model, **options)

    def release(self) -> None:
        self._held.clear()

    def routes(self) -> None:
        super().routes()
        self.route("POST", r"/v1/files", self.upload)
        self.route("GET", r"/v1/files/(?P<id>[^/]+)", self.file_object)
        self.route("GET", r"/v1/files/(?P<id>[^/]+)/content", self.file_content)
        self.route("POST", r"/v1/batches", self.create)
        self.route("GET", r"/v1/batches", self.list_batches)
        self.route("GET", r"/v1/batches/(?P<id>[^/]+)", self.retrieve)
        self.route("POST", r"/v1/batches/(?P<id>[^/]+)/cancel", self.cancel)

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):06d}{uuid.uuid4().hex[:8]}"

    # ---- files ----------------------------------------------------------------------------

    def _file(self, content: bytes, filename: str, purpose: str) -> str:
        # types FileObject: id, bytes, created_at, filename, object "file", purpose, status.
        file_id = self._id("file")
        self.files[file_id] = {"object": {"id": file_id, "object": "file", "bytes": len(content), "created_at": int(time.time()),
                                          "filename": filename, "purpose": purpose, "status": "processed"},
                               "content": content}
        return file_id

    def upload(self, request: Request) -> Reply:
        """POST /v1/files, multipart/form-data with ``purpose`` and ``file`` (guide, "Upload your
        batch input file": ``-F purpose="batch" -F file="@batchinput.jsonl"``)."""
        refused = self.auth(request)
        if refused:
            return refused
        fields = _multipart(request)
        if fields is None or "file" not in fields:
            return error(400, "Missing required parameter: 'file'.", param="file")
        purpose = fields.get("purpose", (None, b""))[1].decode()
        if purpose not in ("batch", "fine-tune", "assistants", "vision", "user_data"):
            return error(400, f"Invalid value for purpose: {purpose!r}.", param="purpose")
        filename, content = fields["file"]
        if purpose == "batch" and len(content) > MAX_BYTES:
            return error(400, "File is too large: batch input files can be up to 200 MB.", param="file")
        with self.lock:
            self.uploads += 1
            return json_reply(self.files[self._file(content, filename or "upload.jsonl", purpose)]["object"])

    def file_object(self, request: Request) -> Reply:
        found = self.files.get(request.match.group("id"))
        return self.auth(request) or (json_reply(found["object"]) if found else error(404, "No such File object", code="file_not_found"))

    def file_content(self, request: Request) -> Reply:
        """GET /v1/files/{id}/content: the raw file (guide, "Retrieve the results")."""
        refused = self.auth(request)
        if refused:
            return refused
        found = self.files.get(request.match.group("id"))
        if not found:
            return error(404, "No such File object", code="file_not_found")
        return Reply(200, found["content"], content_type="application/octet-stream")

    # ---- batches ---------------------------------------------------------------------------

    def create(self, request: Request) -> Reply:
        """POST /v1/batches (batch_create_params.py): input_file_id, endpoint, completion_window
        required; metadata optional (types Batch.metadata: "16 key-value pairs ... Keys ... 64
        characters. Values ... 512 characters")."""
        refused = self.auth(request)
        if refused:
            return refused
        body = request.body if isinstance(request.body, dict) else {}
        for name in ("input_file_id", "endpoint", "completion_window"):
            if not body.get(name):
                return error(400, f"Missing required parameter: '{name}'.", param=name)
        if body["endpoint"] not in ENDPOINTS:
            return error(400, f"Invalid value for endpoint: {body['endpoint']!r}.", param="endpoint")
        if body["completion_window"] != "24h":
            return error(400, "Invalid value for completion_window: only '24h' is supported.", param="completion_window")
        found = self.files.get(body["input_file_id"])
        if not found:
            return error(404, f"No such File object: {body['input_file_id']}", param="input_file_id")
        if found["object"]["purpose"] != "batch":
            return error(400, "The input file must be uploaded with purpose 'batch'.", param="input_file_id")
        metadata = body.get("metadata") or {}
        if len(metadata) > 16 or any(len(k) > 64 or not isinstance(v, str) or len(v) > 512 for k, v in metadata.items()):
            return error(400, "Invalid metadata: at most 16 pairs, keys up to 64 and values up to 512 characters.", param="metadata")
        now = int(time.time())
        with self.lock:
            self.creates += 1
            batch_id = self._id("batch")
            # The Batch object right after creation (guide, "Create the batch": status
            # "validating", request_counts all 0, expires_at = created_at + the window).
            self.batches[batch_id] = {
                "id": batch_id, "object": "batch", "endpoint": body["endpoint"], "errors": None,
                "input_file_id": body["input_file_id"], "completion_window": "24h", "status": "validating",
                "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": None,
                "expires_at": now + WINDOW_S, "finalizing_at": None, "completed_at": None, "failed_at": None,
                "expired_at": None, "cancelling_at": None, "cancelled_at": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": metadata or None,
            }
            return json_reply(_view(self.batches[batch_id]))

    def list_batches(self, request: Request) -> Reply:
        """GET /v1/batches?limit=&after= (guide, "Get a list of all batches": "use the limit and
        after parameters to paginate"); newest first, cursor page {data, first_id, last_id, has_more}."""
        refused = self.auth(request)
        if refused:
            return refused
        limit = int((request.query.get("limit") or ["20"])[0])
        after = (request.query.get("after") or [None])[0]
        with self.lock:
            ordered = sorted(self.batches.values(), key=lambda b: b["id"], reverse=True)
        if after is not None:
            ordered = ordered[[b["id"] for b in ordered].index(after) + 1:] if after in self.batches else []
        page = [_view(b) for b in ordered[:limit]]
        return json_reply({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                           "last_id": page[-1]["id"] if page else None, "has_more": len(ordered) > limit})

    def _on_batch(self, request: Request, change) -> Reply:
        """``change(batch)`` under the lock for an authorised request naming a known batch;
        it returns a refusal or None, then the Batch object is the answer."""
        refused = self.auth(request)
        if refused:
            return refused
        with self.lock:
            batch = self.batches.get(request.match.group("id"))
            if batch is None:
                return error(404, f"No batch found with id '{request.match.group('id')}'.")
            return change(batch) or json_reply(_view(batch))

    def retrieve(self, request: Request) -> Reply:
        """GET /v1/batches/{id}: the Batch object. Each retrieve moves an unfinished batch one
        step along the guide's status table: validating -> in_progress (or failed: "the input
        file has failed the validation process") -> finalizing -> completed; cancelling ->
        cancelled; in_progress -> expired when ``expire_after`` cuts it short."""
        return self._on_batch(request, self._step)

    def cancel(self, request: Request) -> Reply:
        """POST /v1/batches/{id}/cancel: "cancelling until in-flight requests are complete (up to
        10 minutes), after which the status will change to cancelled" (guide, "Cancel a batch")."""

        def start(batch: dict) -> Reply | None:
            if batch["status"] in TERMINAL:
                return error(400, f"Cannot cancel a batch with status '{batch['status']}'.")
            batch.update(status="cancelling", cancelling_at=int(time.time()))
            return None

        return self._on_batch(request, start)

    # ---- the batch's progress --------------------------------------------------------------

    def _step(self, batch: dict) -> None:
        now = int(time.time())
        status = batch["status"]
        if status == "validating":
            lines, problems = self._validate(batch)
            if problems:
                # types Batch.errors: {object: "list", data: [BatchError{code, line, message, param}]}.
                batch.update(status="failed", failed_at=now, errors={"object": "list", "data": problems[:100]})
            else:
                batch["_lines"] = lines
                batch["request_counts"]["total"] = len(lines)
                batch.update(status="in_progress", in_progress_at=now)
        elif status == "in_progress" and not self._held.is_set():
            expired = self._run(batch)  # the requests run while the client waits between polls
            batch.update(status="expired", expired_at=now) if expired else batch.update(status="finalizing", finalizing_at=now)
        elif status == "finalizing":
            batch.update(status="completed", completed_at=now)
        elif status == "cancelling":
            # Requests not yet run are not run (the guide: "unfinished requests ... are cancelled").
            self._write_results(batch, batch.get("_done", []), [])
            batch.update(status="cancelled", cancelled_at=now)

    def _validate(self, batch: dict) -> tuple[list[dict], list[dict]]:
        """The input file's lines, or why it fails validation (guide, "Preparing your batch file":
        each line has a unique custom_id, method POST, the batch's url, a body; "each input file
        can only include requests to a single model"; at most 50,000 requests)."""
        content = self.files[batch["input_file_id"]]["content"]
        lines, problems, seen, models = [], [], set(), set()
        for number, text in enumerate(content.splitlines(), 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except ValueError:
                problems.append({"code": "invalid_json_line", "line": number, "message": "This line is not valid JSON.", "param": None})
                continue
            if not isinstance(line, dict) or not isinstance(line.get("custom_id"), str) or not isinstance(line.get("body"), dict):
                problems.append({"code": "invalid_request", "line": number, "message": "A line needs custom_id and body.", "param": None})
                continue
            if line["custom_id"] in seen:
                problems.append({"code": "duplicate_custom_id", "line": number,
                                 "message": f"The custom_id {line['custom_id']!r} is used more than once.", "param": "custom_id"})
            if line.get("method") != "POST" or line.get("url") != batch["endpoint"]:
                problems.append({"code": "invalid_url", "line": number,
                                 "message": f"method must be POST and url {batch['endpoint']}.", "param": "url"})
            seen.add(line["custom_id"])
            models.add(line["body"].get("model"))
            lines.append(line)
        if len(models) > 1:
            problems.append({"code": "mismatched_model", "line": None,
                             "message": "All requests in a batch must use the same model.", "param": "body.model"})
        if len(lines) > MAX_REQUESTS:
            problems.append({"code": "too_many_requests", "line": None,
                             "message": f"A batch may include up to {MAX_REQUESTS} requests.", "param": None})
        return lines, problems

    def _run(self, batch: dict) -> bool:
        """Execute the lines through the chat handler; True when ``expire_after`` cut it short.
        Output lines: {"id", "custom_id", "response": {"status_code", "request_id", "body"},
        "error": null}; failed requests go to the error file (guide, "Retrieve the results");
        expired ones as ``response: null, error: {code: batch_expired}`` (guide, "Batch expiration")."""
        done, failed = [], []
        lines = batch.pop("_lines")
        order = sorted(self.batches).index(batch["id"])
        limit = self.expire_after[order] if order < len(self.expire_after) else None
        cut = len(lines) if limit is None else min(limit, len(lines))
        for line in lines[:cut]:
            status = self.fail(line["body"]) if self.fail else None
            if status is not None:
                reply = error(status, "The server had an error while processing your request.", type_="server_error")
            else:
                reply = self.chat(Request("POST", batch["endpoint"], {}, {"authorization": f"Bearer {self.api_key}"}, line["body"]))
            record = {"id": self._id("batch_req"), "custom_id": line["custom_id"],
                      "response": {"status_code": reply.status, "request_id": self._id("req"), "body": reply.body},
                      "error": None}
            (done if reply.status == 200 else failed).append(record)
        for line in lines[cut:]:
            failed.append({"id": self._id("batch_req"), "custom_id": line["custom_id"], "response": None,
                           "error": {"code": "batch_expired",
                                     "message": "This request could not be executed before the completion window expired."}})
        batch["_done"] = done
        self._write_results(batch, done, failed)
        return cut < len(lines)

    def _write_results(self, batch: dict, done: list[dict], failed: list[dict]) -> None:
        # "the output line order may not match the input line order" (guide): reversed here, so
        # a client relying on order fails the tests.
        batch["request_counts"].update(completed=len(done), failed=len(failed))
        if done and not batch["output_file_id"]:
            text = "".join(json.dumps(r) + "\n" for r in reversed(done)).encode()
            batch["output_file_id"] = self._file(text, f"{batch['id']}_output.jsonl", "batch_output")
        if failed and not batch["error_file_id"]:
            text = "".join(json.dumps(r) + "\n" for r in reversed(failed)).encode()
            batch["error_file_id"] = self._file(text, f"{batch['id']}_error.jsonl", "batch_output")



def _view(batch: dict) -> dict:
    """The Batch object as the API returns it (without this emulation's bookkeeping)."""
    return json.loads(json.dumps({k: v for k, v in batch.items() if not k.startswith("_")}))


def _multipart(request: Request) -> dict[str, tuple[str | None, bytes]] | None:
    """name -> (filename, bytes) of a multipart/form-data body (RFC 7578)."""
    content_type = request.header("content-type") or ""
    if "boundary=" not in content_type:
        return None
    boundary = content_type.split("boundary=", 1)[1].split(";")[0].strip('"').encode()
    fields = {}
    for part in request.raw.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        disposition = next((h for h in head.decode("utf-8", "replace").split("\r\n") if h.lower().startswith("content-disposition")), "")
        params = dict(p.strip().split("=", 1) for p in disposition.split(";")[1:] if "=" in p)
        name = params.get("name", "").strip('"')
        filename = params["filename"].strip('"') if "filename" in params else None
        fields[name] = (filename, data[:-2] if data.endswith(b"\r\n") else data)
    return fields
