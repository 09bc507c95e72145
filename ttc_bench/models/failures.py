"""How requests fail, and what each failure means: retried (transient), an error row (a
sample's own problem), or the end of the run (a cause that repeats for every request).
The exception types are the openai SDK's, so retry decisions read as they would there."""

from __future__ import annotations

import json
import math
import random
import re
import time
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

from ..errors import UserError
from .response import MalformedResponse

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
# Statuses after which no further request can succeed: the run stops.
FATAL_STATUS = {401: "the API key was rejected", 403: "access is forbidden", 404: "not found"}
# Error texts whose cause repeats for every request however often it is retried (an empty
# account, a daily quota, an invalid key): the run stops at once, with the provider's words.
FATAL_MARKERS = (
    "insufficient_quota",  # OpenAI 429 type/code
    "Insufficient Balance",  # DeepSeek 402
    "credit balance is too low",  # Anthropic 400
    "PerDay",  # Gemini 429 RESOURCE_EXHAUSTED with a per-day quotaId
    "API_KEY_INVALID",  # Gemini answers a bad key with 400
)
# A server's own words for "n > 1 is not served" (llama.cpp: "Only one completion choice is
# allowed" / "n_cmpl cannot be greater than the number of slots"; DeepSeek: "Invalid n value";
# Gemini 3: "Multiple candidates is not enabled").
N_REFUSAL = re.compile(r"completion choice|n_cmpl|invalid n value|multiple candidates|\bn\b must|\bn\b.*(only|support)", re.I)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# A safety net under the retry window (a server failing in microseconds).
MAX_ATTEMPTS = 1000
# Bytes of one answer beyond which it is an error row, not a memory hazard.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class EndpointError(UserError):
    """The endpoint cannot serve this run at all (unreachable, bad key, unknown model)."""


class SampleError(Exception):
    """A request that finally failed; stored on the sample row, not counted as wrong."""

    def __init__(self, reason: str, attempts: int, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
        self.status = status
        self.continuation = False  # set when a budget-forcing continuation was refused


class NotServingN(Exception):
    """The server refuses or ignores the ``n`` parameter: send single requests instead."""


class AttemptTimeout(Exception):
    """One attempt took longer than the request timeout in total.

    httpx's read timeout is per read, so a server trickling a byte at a time would never
    trip it; this bounds the whole attempt.
    """


class TooLarge(Exception):
    """An answer larger than MAX_RESPONSE_BYTES (an endless body): not retried."""


def retry_after_seconds(exc: BaseException) -> float | None:
    """The server's hint, from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            seconds = float(millis) / 1000
            if math.isfinite(seconds):
                return max(0.0, seconds)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def status_of(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def error_message(body: Any, fallback: str = "") -> str:
    """The provider's message from an error body: ``{"error": {"message"}}`` (OpenAI and
    most servers), ``[{"error": {...}}]`` (Gemini), ``{"message"}`` (DeepSeek 402), or
    ``{"error": "text"}`` (vLLM/SGLang 401)."""
    if isinstance(body, list) and body:
        body = body[0]
    if isinstance(body, dict):
        detail = body.get("error", body)
        if isinstance(detail, dict):
            return str(detail.get("message") or fallback)
        if isinstance(detail, str):
            return detail
    return fallback


def is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, MalformedResponse, AttemptTimeout)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return False


def describe(exc: BaseException) -> str:
    status = status_of(exc)
    text = f"{type(exc).__name__}"
    if status:
        text += f" {status}"
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{text}: {message[:300]}" if message else text


class BackoffWait:
    """Exponential backoff with full jitter that honours Retry-After (capped)."""

    def __init__(self, base_s: float, cap_s: float):
        self.base_s, self.cap_s = base_s, cap_s

    def delay(self, exc: BaseException | None, failed_attempt: int) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` failed with ``exc``."""
        hinted = retry_after_seconds(exc) if exc else None
        if hinted is not None:
            return min(hinted, self.cap_s)
        ceiling = min(self.cap_s, self.base_s * 2 ** (failed_attempt - 1))
        return random.uniform(0, ceiling)


def status_error(response, raw: bytes) -> Exception:
    """The openai exception the SDK would raise for this HTTP error response."""
    import json

    import openai

    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    text = raw[:300].decode("utf-8", "replace")
    message = f"Error code: {response.status_code} - {error_message(body, text)}"
    kinds = {
        400: openai.BadRequestError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
        404: openai.NotFoundError, 409: openai.ConflictError, 422: openai.UnprocessableEntityError,
        429: openai.RateLimitError,
    }
    kind = kinds.get(response.status_code) or (openai.InternalServerError if response.status_code >= 500 else openai.APIStatusError)
    return kind(message, response=response, body=body)


