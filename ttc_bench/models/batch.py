"""Batch inference formats and the OpenAI Batch API.

One JSONL format serves every offline engine (sources below):

- input line: ``{"custom_id", "method": "POST", "url": "/v1/chat/completions", "body"}``,
  the body being exactly what the live endpoint would be sent (OpenAI Batch guide,
  https://platform.openai.com/docs/guides/batch, "Preparing your batch file"; vLLM
  vllm/entrypoints/openai/run_batch.py ``BatchRequestInput``: custom_id, method, url, body
  validated as a ChatCompletionRequest when url is /v1/chat/completions);
- output line: ``{"id", "custom_id", "response": {"status_code", "request_id", "body"},
  "error"}`` (openai-openapi ``BatchRequestOutput``; vLLM ``BatchRequestOutput`` /
  ``BatchResponseData``). OpenAI writes failed requests to a separate error file, either
  as a response with a 4xx/5xx status and an error body, or as ``response: null`` with
  ``error: {code, message}`` (expired requests: code ``batch_expired``); vLLM writes
  everything to one file and puts a failure's message in ``error`` (a string, or an
  ErrorResponse object) beside ``response.status_code``.

:class:`BatchAPI` holds what ttc-bench knows of a provider's Batch API (OpenAI first);
:class:`BatchClient` speaks it: files upload/content, batches create/retrieve/list.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .failures import RETRY_STATUS, error_message
from .profiles import Profile
from .urls import join, redact_url

CHAT_URL = "/v1/chat/completions"
COMPLETIONS_URL = "/v1/completions"


@dataclass(frozen=True)
class BatchAPI:
    endpoint: str  # the batches' "endpoint" (one per batch)
    completion_window: str
    price_factor: float  # batch price / live price
    max_requests: int  # requests per batch
    max_bytes: int  # bytes per input file
    source: str


# OpenAI: batch_create_params.py (openai-python): completion_window "Currently only 24h is
# supported"; "The file can contain up to 50,000 requests, and can be up to 200 MB in size".
# Price: "50% cost discount compared to synchronous APIs" (Batch guide, Overview).
BATCH_APIS: dict[str, BatchAPI] = {
    "openai": BatchAPI(CHAT_URL, "24h", 0.5, 50_000, 200 * 1024 * 1024,
                       "https://platform.openai.com/docs/guides/batch"),
}


def batch_api(profile: Profile) -> BatchAPI:
    """The Batch API of a profile's provider; one line when it has none."""
    found = BATCH_APIS.get(profile.name)
    if found is None:
        raise UserError(
            f"--batch: {profile.title} has no Batch API ttc-bench drives (only {', '.join(BATCH_APIS)}); "
            "write the requests with `ttc-bench export-requests` and run them offline (docs/scale.md)"
        )
    return found


def request_url(path: str, replace_path: bool) -> str:
    """The batch line's url for a request ChatClient would POST to ``path``."""
    if not replace_path and path.strip("/") == "chat/completions":
        return CHAT_URL
    if not replace_path and path.strip("/") == "completions":
        return COMPLETIONS_URL
    raise UserError(
        f"a request to {path!r} cannot be written as a batch line (batch engines serve {CHAT_URL}); "
        "this profile's budget forcing is live-only: use tokens:N or thinking:N"
    )


def input_line(custom_id: str, url: str, body: dict) -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": url, "body": body}


@dataclass
class Result:
    """One output line: the response body of a success, or why it failed."""

    custom_id: str
    body: dict | None  # the chat completion (status 200)
    error: str | None
    status: int | None
    code: str | None = None  # the engine's error code (batch_expired ...)

    @property
    def transient(self) -> bool:
        """Worth sending again: expired or cancelled before it ran, rate limited, a 5xx."""
        if self.body is not None:
            return False
        if self.code in ("batch_expired", "batch_cancelled"):
            return True
        return self.status is None or self.status in RETRY_STATUS or self.status >= 500


class BadLine(ValueError):
    """An output line that is not a batch result."""


def read_result(line: bytes | str) -> Result:
    """A batch output (or error file) line, in OpenAI's or vLLM's shape."""
    try:
        data = json.loads(line)
    except ValueError:
        raise BadLine("not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
        raise BadLine("no custom_id")
    custom_id, response, error = data["custom_id"], data.get("response"), data.get("error")
    status = response.get("status_code") if isinstance(response, dict) else None
    body = response.get("body") if isinstance(response, dict) else None
    if error is None and status == 200 and isinstance(body, dict):
        return Result(custom_id, body, None, 200)
    code = None
    if isinstance(error, dict):
        # OpenAI: {code, message}; vLLM: an ErrorResponse {"error": {message, type, code}}.
        inner = error.get("error") if isinstance(error.get("error"), dict) else error
        code = inner.get("code") if isinstance(inner.get("code"), str) else None
        message = str(inner.get("message") or code or "failed")
    elif isinstance(error, str):
        message = error
    else:
        message = error_message(body, f"status {status}") if body is not None else f"status {status}, no body"
    prefix = f"{status} " if isinstance(status, int) else ""
    return Result(custom_id, None, f"batch: {prefix}{message}"[:500], status if isinstance(status, int) else None, code)


# ---- the OpenAI Batch API ------------------------------------------------------------------

POLL_FIRST_S = 1.0
POLL_MAX_S = 60.0
ATTEMPTS = 6  # per Batch API call, for transient failures


class BatchClient:
    """The Files and Batches endpoints under a base URL (``https://api.openai.com/v1``):
    POST /files (multipart, purpose=batch), GET /files/{id}/content, POST /batches,
    GET /batches/{id}, GET /batches?limit=&after= (openai-python resources/files.py and
    resources/batches.py)."""

    def __init__(self, base_url: str, api_key_env: str | None, timeout_s: float = 600.0):
        import httpx

        key = os.environ.get(api_key_env) if api_key_env else None
        self.base_url = base_url
        self.where = redact_url(base_url)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=10.0), follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs) -> Any:
        """One Batch API call with retries of transient failures; one line otherwise."""
        import httpx

        url = join(self.base_url, path)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = self._http.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                if attempt == ATTEMPTS:
                    raise UserError(f"{self.where}: {method} /{path} failed ({type(exc).__name__}); the batch state is kept, re-run to resume") from None
                time.sleep(min(30.0, 2.0 ** attempt))
                continue
            if response.status_code < 400:
                return response
            if response.status_code in RETRY_STATUS and attempt < ATTEMPTS:
                time.sleep(min(30.0, 2.0 ** attempt))
                continue
            message = error_message(_json_or_none(response), response.text[:200])
            raise UserError(f"{self.where}: {method} /{path} answered {response.status_code}: {message[:300]}")
        raise AssertionError("unreachable")

    def upload(self, path: Path) -> str:
        with open(path, "rb") as fh:
            response = self._call("POST", "files", data={"purpose": "batch"}, files={"file": (path.name, fh, "application/jsonl")})
        return response.json()["id"]

    def create(self, input_file_id: str, api: BatchAPI, metadata: dict[str, str]) -> dict:
        body = {"input_file_id": input_file_id, "endpoint": api.endpoint,
                "completion_window": api.completion_window, "metadata": metadata}
        return self._call("POST", "batches", json=body).json()

    def retrieve(self, batch_id: str) -> dict:
        return self._call("GET", f"batches/{batch_id}").json()

    def find(self, metadata_key: str, value: str, pages: int = 20) -> dict | None:
        """The newest batch whose metadata holds ``metadata_key: value`` (a submission whose
        answer was lost to a crash), looking through at most ``pages`` pages of the list."""
        after = None
        for _ in range(pages):
            params = {"limit": 100, **({"after": after} if after else {})}
            page = self._call("GET", "batches", params=params).json()
            for batch in page.get("data") or []:
                if (batch.get("metadata") or {}).get(metadata_key) == value:
                    return batch
            if not page.get("has_more") or not page.get("data"):
                return None
            after = page["data"][-1]["id"]
        return None

    def download(self, file_id: str, dest: Path) -> None:
        """The file's content streamed into ``dest``, whole or not at all."""
        import httpx

        url = join(self.base_url, f"files/{file_id}/content")
        tmp = dest.with_name(f"{dest.name}.{os.getpid()}.part")
        try:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    with self._http.stream("GET", url) as response, open(tmp, "wb") as out:
                        if response.status_code < 400:
                            for chunk in response.iter_bytes(1 << 20):
                                out.write(chunk)
                            os.replace(tmp, dest)
                            return
                        status = response.status_code
                        response.read()
                        detail = error_message(_json_or_none(response), response.text[:200])
                except httpx.HTTPError as exc:
                    status, detail = None, type(exc).__name__
                if (status is not None and status not in RETRY_STATUS) or attempt == ATTEMPTS:
                    raise UserError(f"{self.where}: downloading batch file {file_id} failed ({status or ''} {detail[:200]}); "
                                    "re-run to try again")
                time.sleep(min(30.0, 2.0 ** attempt))
        finally:
            tmp.unlink(missing_ok=True)


def _json_or_none(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
