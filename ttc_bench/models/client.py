"""The transport: POST a JSON body to an endpoint with retries, bounded concurrency and a
fail-fast preflight; what the body holds and how the answer reads is the profile's
business (models/request.py, models/response.py).

One client path serves every endpoint, the embedded llama.cpp server included. The API
key is read from the environment at construction and kept only in memory; every text
that leaves the client (error reasons, model output) has it scrubbed.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..version import __version__
from .failures import (
    FATAL_MARKERS, FATAL_STATUS, MAX_ATTEMPTS, MAX_RESPONSE_BYTES, N_REFUSAL, REDIRECTS, AttemptTimeout, BackoffWait,
    EndpointError, NotServingN, SampleError, TooLarge, describe, error_message, is_transient, retry_after_seconds,
    status_error, status_of,
)
from .limiter import AdaptiveLimiter
from .profiles import Profile
from .response import Completion, FewerChoices, decode_body, read_choices
from .urls import join, redact_url, url_secrets


@dataclass(frozen=True)
class Endpoint:
    base_urls: tuple[str, ...]  # replicas serving the same model, shared by load
    model: str
    profile: Profile
    api_key_env: str | None = "OPENAI_API_KEY"
    # Stable name for cache keys (the embedded server's port changes every run).
    identity: str | None = None
    timeout_s: float = 600.0
    # The model's chat template, for continuing through the completions endpoint.
    chat_template: Any = field(default=None, compare=False)

    @property
    def public_url(self) -> str:
        return " ".join(redact_url(url) for url in self.base_urls)

    @property
    def cache_identity(self) -> str:
        return self.identity or self.public_url


class ChatClient:
    """Requests to one endpoint with retries; returns :class:`Completion` objects.

    Failure classes (docs/reliability.md):
    - transient (retried with backoff, then an error row): 408/409/429/5xx, timeouts,
      connection errors incl. a body cut off mid-way, unreadable 2xx bodies, no choices;
    - per sample (an error row at once): any other 4xx, e.g. 400 context too long;
    - fatal for the run (:class:`EndpointError`): 401, 403, 404, and errors whose text says
      the cause repeats (an empty account, a daily quota).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        concurrency: int = 8,
        retry_window_s: float = 300.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
    ):
        import httpx

        self.endpoint = endpoint
        self.profile = endpoint.profile
        self.retry_window_s = retry_window_s
        self._wait = BackoffWait(backoff_base_s, backoff_cap_s)
        self.limiter = AdaptiveLimiter(concurrency)
        self.retries = 0  # transient failures retried over the client's life
        self.n_served: bool | None = None  # None until an n request shows whether n works
        api_key = os.environ.get(endpoint.api_key_env) if endpoint.api_key_env else None
        # Strings that must never leave the client inside an error reason or a stored
        # answer (a server may echo the key or the URL back).
        secrets = [api_key or ""] + [s for url in endpoint.base_urls for s in url_secrets(url)]
        self._secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4),
            timeout=httpx.Timeout(endpoint.timeout_s, connect=10.0),
            follow_redirects=False,
        )
        self._http.headers.update(self.auth_headers(api_key))
        self._load = [0] * len(endpoint.base_urls)
        self._urls: dict[tuple[int, tuple[str, bool]], str] = {}

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        """Only the headers a server reads: auth as the profile documents it, the content
        type and who calls."""
        headers = {"Accept": "application/json", "User-Agent": f"ttc-bench/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
            if self.profile.auth == "x-api-key":
                headers["x-api-key"] = api_key
        headers.update(dict(self.profile.preflight_headers))
        return headers

    async def close(self) -> None:
        await self._http.aclose()

    def scrub(self, text: str) -> str:
        """``text`` with the API key and URL credentials replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _pick_replica(self) -> int:
        return min(range(len(self._load)), key=self._load.__getitem__)

    # ---- one attempt -----------------------------------------------------------------------

    async def _post(self, url: str, body: dict) -> tuple[bytes, str | None]:
        """POST with the shared httpx pool; the body of a 2xx answer, or an exception."""
        import httpx
        import openai

        try:
            async with self._http.stream("POST", url, json=body) as response:
                raw = bytearray()
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) > MAX_RESPONSE_BYTES:
                        raise TooLarge(f"answer larger than {MAX_RESPONSE_BYTES // 2**20} MB; stopped reading")
        except httpx.TimeoutException as exc:
            raise openai.APITimeoutError(request=exc.request) from None
        except httpx.TransportError as exc:
            raise openai.APIConnectionError(message=f"{type(exc).__name__}: {exc}", request=exc.request) from None
        if response.status_code in REDIRECTS:
            target = redact_url(response.headers.get("location", "another URL"))
            raise EndpointError(
                f"{redact_url(url)} redirects ({response.status_code}) to {target}; use that address in --base-url"
            )
        if response.status_code >= 400:
            raise status_error(response, bytes(raw))
        return bytes(raw), response.headers.get("content-type")

    def _url(self, replica: int, where: tuple[str, bool]) -> str:
        url = self._urls.get((replica, where))
        if url is None:
            url = self._urls[(replica, where)] = join(self.endpoint.base_urls[replica], where[0], replace_path=where[1])
        return url

    async def _attempt(self, where: tuple[str, bool], body: dict, n: int, attempt: int, prompt_chars: int) -> list[Completion]:
        import openai

        started = time.perf_counter()
        replica = self._pick_replica()
        self._load[replica] += 1
        try:
            async with self.limiter:
                try:
                    async with asyncio.timeout(self.endpoint.timeout_s):
                        raw, content_type = await self._post(self._url(replica, where), body)
                except TimeoutError:
                    raise AttemptTimeout(f"no complete answer within {self.endpoint.timeout_s:g} s") from None
        except openai.RateLimitError as exc:
            self.limiter.on_rate_limited(retry_after_seconds(exc))
            raise
        finally:
            self._load[replica] -= 1
        data = decode_body(raw, content_type)
        self.limiter.on_success()
        completions = read_choices(
            self.profile, data, n, latency_s=time.perf_counter() - started, attempts=attempt, prompt_chars=prompt_chars,
        )
        for c in completions:  # a server may echo the key into its answer
            c.content, c.reasoning = self.scrub(c.content), self.scrub(c.reasoning) if c.reasoning else c.reasoning
        return completions

    # ---- classification ----------------------------------------------------------------------

    def _fatal(self, exc: BaseException) -> EndpointError | None:
        if isinstance(exc, EndpointError):
            return exc
        import json

        status = status_of(exc)
        body = getattr(exc, "body", None)
        message = self.scrub(error_message(body, str(exc)))
        where = self.endpoint.public_url
        # The markers are error types and codes as much as words: search the whole body.
        blob = f"{exc} {json.dumps(body, default=str)}".lower()
        if status is not None and any(marker.lower() in blob for marker in FATAL_MARKERS):
            return EndpointError(f"{where} refuses every request ({status}: {message[:200]}); fix the account or key and re-run")
        if status not in FATAL_STATUS:
            return None
        if status == 404:
            return EndpointError(
                f"{where} answered 404 for model {self.endpoint.model!r}: check --model and --base-url (it usually ends in /v1)"
            )
        hint = f"set ${self.endpoint.api_key_env}" if self.endpoint.api_key_env else "pass --api-key-env"
        return EndpointError(f"{where}: {FATAL_STATUS[status]} ({status}); {hint} to a valid key")

    def _retryable(self, exc: BaseException) -> bool:
        return is_transient(exc) and self._fatal(exc) is None

    def _give_up(self, exc: BaseException, attempts: int) -> Exception:
        """The exception that ends a request: fatal for the run, or an error row."""
        fatal = self._fatal(exc)
        if fatal is not None:
            return fatal
        if isinstance(exc, FewerChoices):
            return NotServingN(str(exc))
        prefix = f"gave up after {attempts} attempts: " if attempts > 1 and self._retryable(exc) else ""
        return SampleError(self.scrub(prefix + describe(exc)), attempts, status_of(exc))

    # ---- requests ------------------------------------------------------------------------------

    async def request(
        self, body: dict, *, n: int = 1, path: str = "chat/completions", replace_path: bool = False,
    ) -> list[Completion]:
        """POST ``body`` (model added) to ``path`` under the base URL, with retries; raises
        SampleError (an error row), NotServingN, or EndpointError (the run stops)."""
        body = {"model": self.endpoint.model, **body}
        if n > 1:
            body["n"] = n
        url = (path, replace_path)
        chars = prompt_chars(body)
        # Most requests succeed at once: the first attempt skips the retry machinery, whose
        # per-attempt bookkeeping is a measurable share of the runner's overhead.
        try:
            return await self._attempt(url, body, n, 1, chars)
        except Exception as exc:
            if n > 1 and self._refuses_n(exc):
                raise NotServingN(str(exc)) from None
            if not self._retryable(exc) or self.retry_window_s <= 0:
                raise self._give_up(exc, 1) from None
            first_failure = exc
        return await self._retry(url, body, n, first_failure, chars)

    def _refuses_n(self, exc: BaseException) -> bool:
        """The server's documented refusal of n (a 4xx or, on older llama.cpp, a 500 whose
        message says so) is not a transient fault: it would fail every retry."""
        if isinstance(exc, FewerChoices):
            return True
        status = status_of(exc)
        return status is not None and 400 <= status < 600 and bool(N_REFUSAL.search(str(exc)))

    async def _retry(self, url: tuple[str, bool], body: dict, n: int, first_failure: BaseException, prompt_chars: int) -> list[Completion]:
        """Attempts after the first one failed transiently (tenacity), until the retry window
        has passed: a storm shorter than the window costs time, never samples."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay

        def count_retry(state) -> None:
            self.retries += 1

        count_retry(None)
        await asyncio.sleep(self._wait.delay(first_failure, 1))
        attempts = 1
        last: BaseException = first_failure
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(self._retryable),
                stop=stop_after_delay(self.retry_window_s) | stop_after_attempt(MAX_ATTEMPTS),
                # tenacity numbers these attempts from 1; they are the request's 2nd, 3rd, ...
                wait=lambda state: self._wait.delay(state.outcome.exception(), state.attempt_number + 1),
                before_sleep=count_retry,
                reraise=True,
            ):
                with attempt:
                    attempts = attempt.retry_state.attempt_number + 1
                    try:
                        return await self._attempt(url, body, n, attempts, prompt_chars)
                    except Exception as exc:
                        last = exc
                        raise
        except Exception:
            if n > 1 and self._refuses_n(last):
                raise NotServingN(str(last)) from None
            raise self._give_up(last, attempts) from None
        raise self._give_up(last, attempts)  # unreachable: tenacity returns or raises

    # ---- preflight -------------------------------------------------------------------------------

    async def get_json(self, url: str, timeout_s: float, params=None) -> tuple[int, Any]:
        """GET with a short bound (the preflight must not hang on a silent server), with the
        headers the profile's preflight documents (Anthropic's Models API: x-api-key only)."""
        import json

        import httpx

        headers = dict(self._http.headers)
        if self.profile.auth == "x-api-key":
            headers.pop("authorization", None)
        async with httpx.AsyncClient(headers=headers, follow_redirects=False) as http:
            response = await http.get(url, params=params, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)))
        try:
            body = json.loads(response.content) if response.content else None
        except ValueError:
            body = None
        return response.status_code, body


def prompt_chars(body: dict) -> int:
    from .response import clean_text

    if "prompt" in body:
        return len(str(body["prompt"]))
    return sum(len(clean_text(m.get("content"))) for m in body.get("messages") or [] if isinstance(m, dict))
