"""OpenAI-compatible async chat client: retries, usage accounting, reasoning extraction.

One client path serves every endpoint, the embedded llama.cpp server included. The API
key is read from the environment at construction and kept only in memory.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import random
import time
from dataclasses import dataclass
from datetime import timezone
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .. import __version__
from ..errors import UserError
from .limiter import AdaptiveLimiter

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
# Statuses after which no further request can succeed: the run stops.
FATAL_STATUS = {401: "the API key was rejected", 403: "access is forbidden", 404: "not found"}
# Rough characters per token, used only when an endpoint reports no reasoning-token count.
CHARS_PER_TOKEN = 4.0


class EndpointError(UserError):
    """The endpoint cannot serve this run at all (unreachable, bad key, unknown model)."""


class SampleError(Exception):
    """A request that finally failed; stored on the sample row, not counted as wrong."""

    def __init__(self, reason: str, attempts: int):
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


# Query parameters that carry credentials on some hosted APIs (Azure ``api-key``, Gemini
# ``key``, signed URLs): their values are redacted like user:password@ credentials.
SECRET_QUERY_KEYS = frozenset({
    "key", "api_key", "api-key", "apikey", "token", "access_token", "auth", "password", "secret",
    "sig", "signature", "x-api-key",
})


def redact_url(url: str) -> str:
    """The URL with user:password@ credentials and secret query values replaced, safe to
    store and print."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        # Unparseable: keep only what cannot hold a credential.
        return url.split("@")[-1].split("?")[0] if "@" in url or "?" in url else url
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _url_secrets(url: str) -> list[str]:
    """The credential strings a URL carries, in every form they may be echoed back: the
    password (as written and decoded), the Basic auth token httpx builds from
    user:password, and secret query values."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if parts.password:
        user, password = unquote(parts.username or ""), unquote(parts.password)
        found += [parts.password, password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() in SECRET_QUERY_KEYS and v]
    return found


@dataclass(frozen=True)
class Endpoint:
    base_urls: tuple[str, ...]  # replicas serving the same model, shared by load
    model: str
    api: str = "generic"
    api_key_env: str | None = "OPENAI_API_KEY"
    # Stable name for cache keys (the embedded server's port changes every run).
    identity: str | None = None
    timeout_s: float = 600.0

    @property
    def public_url(self) -> str:
        return " ".join(redact_url(url) for url in self.base_urls)

    @property
    def cache_identity(self) -> str:
        return self.identity or self.public_url


@dataclass
class Completion:
    content: str
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    reasoning_tokens_estimated: bool
    think_unclosed: bool
    latency_s: float
    attempts: int
    # The endpoint sent no usage figures: the token counts are estimated from the text.
    usage_estimated: bool = False


def split_think(content: str) -> tuple[str | None, str, bool]:
    """Split ``<think>...</think>`` reasoning from the answer: (reasoning, answer, unclosed)."""
    low = content.lower()
    start = low.find("<think>")
    if start < 0:
        # Some templates put the opening tag in the prompt, so only the close appears.
        end = low.find("</think>")
        if end < 0:
            return None, content, False
        return content[:end].strip(), content[end + len("</think>") :].strip(), False
    end = low.find("</think>", start)
    if end < 0:
        return content[start + len("<think>") :].strip(), content[:start].strip(), True
    reasoning = content[start + len("<think>") : end].strip()
    answer = (content[:start] + content[end + len("</think>") :]).strip()
    return reasoning, answer, False


class MalformedResponse(Exception):
    """A 2xx answer that cannot be read (bad JSON, an HTML error page, no choices).

    Seen from proxies and overloaded gateways mid-incident, so it is retried like a 5xx;
    if it persists the sample is stored as an error with this reason.
    """


class AttemptTimeout(Exception):
    """One attempt took longer than the request timeout in total.

    httpx's read timeout is per read, so a server trickling a byte at a time would never
    trip it; this bounds the whole attempt.
    """


def _retry_after_seconds(exc: BaseException) -> float | None:
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


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError, MalformedResponse, AttemptTimeout)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    return isinstance(exc, openai.APIResponseValidationError)


def _describe(exc: BaseException) -> str:
    status = _status(exc)
    text = f"{type(exc).__name__}"
    if status:
        text += f" {status}"
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{text}: {message[:200]}" if message else text


def _clean_text(value) -> str:
    """Message text as a str that can always be written as UTF-8.

    Content may be null, a list of parts, or (from a broken server) hold lone surrogates
    via JSON ``\\ud800`` escapes, which no UTF-8 file or console accepts.
    """
    if value is None:
        return ""
    if isinstance(value, dict):  # one part, or a provider's structured reasoning
        value = [value]
    if isinstance(value, list):  # content parts: [{"type": "text", "text": ...}, ...]
        value = "".join(str(part.get("text") or "") if isinstance(part, dict) else str(part) for part in value)
    elif not isinstance(value, str):
        value = str(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates become U+FFFD; a split pair is joined again.
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return value


def _count(value) -> int | None:
    """A usage figure if it is a sane count, else None (then it is estimated)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return int(value)


def _estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


SNIPPET_CHARS = 120


def _decode_body(raw: bytes, content_type: str | None) -> dict:
    """The JSON object of a 2xx answer, whatever its declared content type.

    Invalid UTF-8 (a server cutting a multi-byte character) must not cost the sample: the
    undecodable bytes become U+FFFD and the rest of the answer is kept.
    """
    text = raw.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        kind = (content_type or "no content type").split(";")[0].strip()
        snippet = " ".join(text[:SNIPPET_CHARS].split())
        raise MalformedResponse(f"unreadable response ({kind}, {len(raw)} bytes): {snippet!r}")
    return data


def _no_choices(data: dict, n: int) -> str:
    error = data.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else error
        return f"error in a 2xx response: {str(message)[:200]}"
    choices = data.get("choices")
    count = len(choices) if isinstance(choices, list) else 0
    return f"response has {count} readable choices, expected {n}"


class _BackoffWait:
    """Exponential backoff with full jitter that honours Retry-After (capped)."""

    def __init__(self, base_s: float, cap_s: float):
        self.base_s, self.cap_s = base_s, cap_s

    def delay(self, exc: BaseException | None, failed_attempt: int) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` failed with ``exc``."""
        hinted = _retry_after_seconds(exc) if exc else None
        if hinted is not None:
            return min(hinted, self.cap_s)
        ceiling = min(self.cap_s, self.base_s * 2 ** (failed_attempt - 1))
        return random.uniform(0, ceiling)


def _status_error(response) -> Exception:
    """The openai exception the SDK would raise for this HTTP error response."""
    import openai

    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("error", body) if isinstance(body, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else None
    text = f"Error code: {response.status_code} - {message or response.text[:200]}"
    kinds = {
        400: openai.BadRequestError, 401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
        404: openai.NotFoundError, 409: openai.ConflictError, 422: openai.UnprocessableEntityError,
        429: openai.RateLimitError,
    }
    kind = kinds.get(response.status_code) or (openai.InternalServerError if response.status_code >= 500 else openai.APIStatusError)
    return kind(text, response=response, body=body)


def _request_body(model: str, messages: list[dict], params: dict) -> dict:
    """The JSON body of a chat completion; ``extra_body`` keys merge into the top level, as
    the SDK does."""
    body = {"model": model, "messages": messages, **params}
    extra = body.pop("extra_body", None)
    if extra:
        body.update(extra)
    return body


class ChatClient:
    """Chat completions against one endpoint with retries; returns :class:`Completion`.

    Failure classes (docs/reliability.md):
    - transient (retried with backoff, then an error row): 408/409/429/5xx, timeouts,
      connection errors incl. a body cut off mid-way, unreadable 2xx bodies, no choices;
    - per sample (an error row at once): any other 4xx, e.g. 400 context too long;
    - fatal for the run (:class:`EndpointError`): 401, 403, 404.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        concurrency: int = 8,
        max_attempts: int = 6,
        max_wait_s: float = 300.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 30.0,
    ):
        import httpx
        import openai

        self.endpoint = endpoint
        self.max_attempts = max_attempts
        self.max_wait_s = max_wait_s
        self._wait = _BackoffWait(backoff_base_s, backoff_cap_s)
        self.limiter = AdaptiveLimiter(concurrency)
        self.retries = 0  # transient failures retried over the client's life
        api_key = "not-needed"
        if endpoint.api_key_env:
            api_key = os.environ.get(endpoint.api_key_env) or api_key
        # Strings that must never leave the client inside an error reason (a server may
        # echo the Authorization header or the URL back in its error message).
        secrets = [api_key if api_key != "not-needed" else ""]
        secrets += [s for url in endpoint.base_urls for s in _url_secrets(url)]
        self._secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=concurrency + 4, max_keepalive_connections=concurrency + 4),
            timeout=httpx.Timeout(endpoint.timeout_s, connect=10.0),
        )
        # Retries are ours (tenacity), so the SDK's own are off. One SDK client per replica,
        # all sharing one connection pool.
        self._replicas = [
            openai.AsyncOpenAI(base_url=url, api_key=api_key, max_retries=0, http_client=self._http, timeout=endpoint.timeout_s)
            for url in endpoint.base_urls
        ]
        self._urls = [f"{str(sdk.base_url).rstrip('/')}/chat/completions" for sdk in self._replicas]
        # Only the headers a server reads: the SDK's own auth header (sentinels dropped), the
        # content type and who calls. Its telemetry headers cost measurable CPU per request.
        sdk = self._replicas[0]
        self._http.headers.update(
            {
                "Accept": "application/json",
                "User-Agent": f"ttc-bench/{__version__} {sdk.user_agent}",
                **{k: v for k, v in sdk.auth_headers.items() if isinstance(v, str)},
            }
        )
        self._load = [0] * len(self._replicas)

    async def close(self) -> None:
        await self._http.aclose()

    def scrub(self, text: str) -> str:
        """``text`` with the API key and URL credentials replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _pick_replica(self) -> int:
        return min(range(len(self._replicas)), key=self._load.__getitem__)

    async def _create(self, messages: list[dict], params: dict) -> dict:
        """One attempt: the decoded JSON body of a 2xx answer, or an exception."""
        import openai

        replica = self._pick_replica()
        self._load[replica] += 1
        try:
            async with self.limiter:
                try:
                    async with asyncio.timeout(self.endpoint.timeout_s):
                        raw = await self._post(replica, _request_body(self.endpoint.model, messages, params))
                except TimeoutError:
                    raise AttemptTimeout(f"no complete answer within {self.endpoint.timeout_s:g} s") from None
        except openai.RateLimitError:
            self.limiter.on_rate_limited()
            raise
        finally:
            self._load[replica] -= 1
        data = _decode_body(raw.content, raw.headers.get("content-type"))
        self.limiter.on_success()
        return data

    async def _post(self, replica: int, body: dict):
        """POST a chat completion with the shared httpx pool.

        The SDK client supplies the URL and headers (auth, user agent) and its exception
        types, so retry decisions read the same as for the SDK; its per-request typed
        transform and option models are skipped: they cost more CPU than the rest of a
        sample (benchmarks/runner_overhead.py).
        """
        import httpx
        import openai

        try:
            response = await self._http.post(self._urls[replica], json=body)
        except httpx.TimeoutException as exc:
            raise openai.APITimeoutError(request=exc.request) from None
        except httpx.TransportError as exc:
            raise openai.APIConnectionError(message=f"{type(exc).__name__}: {exc}", request=exc.request) from None
        if response.status_code >= 400:
            raise _status_error(response)
        return response

    def _fatal(self, exc: BaseException) -> EndpointError | None:
        status = _status(exc)
        if status not in FATAL_STATUS:
            return None
        where = self.endpoint.public_url
        if status == 404:
            return EndpointError(
                f"{where} answered 404 for model {self.endpoint.model!r}: check --model and --base-url (it usually ends in /v1)"
            )
        hint = f"set ${self.endpoint.api_key_env}" if self.endpoint.api_key_env else "pass --api-key-env"
        return EndpointError(f"{where}: {FATAL_STATUS[status]} ({status}); {hint} to a valid key")

    async def preflight(self) -> None:
        """Fail fast, before any sample, when the endpoint is unreachable or refuses the key."""
        import openai

        try:
            for replica in self._replicas:
                async with asyncio.timeout(self.endpoint.timeout_s + 10.0):
                    # Raw: only the status matters; a server whose /models body is odd is fine.
                    await replica.models.with_raw_response.list()
        except (openai.APIConnectionError, openai.APITimeoutError, TimeoutError) as exc:
            raise EndpointError(
                f"cannot reach {self.endpoint.public_url} ({type(exc).__name__}); "
                "check --base-url and that the server is running"
            ) from None
        except openai.APIStatusError as exc:
            fatal = self._fatal(exc)
            # Many servers do not implement /models (404 there says nothing about the model).
            if fatal is not None and exc.status_code != 404:
                raise fatal from None

    async def complete(self, messages: list[dict], params: dict) -> Completion:
        """One chat completion with retries; raises SampleError or EndpointError when it gives up."""
        return (await self.complete_n(messages, params, 1))[0]

    async def complete_n(self, messages: list[dict], params: dict, n: int) -> list[Completion]:
        """``n`` choices from one request (the ``n`` parameter) with retries.

        Usage is reported for the whole request, so per-choice token counts are the
        request's totals split evenly (flagged as estimated).
        """
        if n > 1:
            params = {**params, "n": n}
        # Most requests succeed at once: the first attempt skips the retry machinery, whose
        # per-attempt bookkeeping is a measurable share of the runner's overhead.
        try:
            return await self._attempt(messages, params, n, 1)
        except Exception as exc:
            if not self._retryable(exc) or self.max_attempts <= 1:
                raise self._give_up(exc, 1) from None
            first_failure = exc
        return await self._retry(messages, params, n, first_failure)

    async def _attempt(self, messages: list[dict], params: dict, n: int, attempt: int) -> list[Completion]:
        started = time.perf_counter()
        data = await self._create(messages, params)
        return self._read(data, time.perf_counter() - started, attempt, n, messages)

    def _retryable(self, exc: BaseException) -> bool:
        return _is_transient(exc) and self._fatal(exc) is None

    def _give_up(self, exc: BaseException, attempts: int) -> Exception:
        """The exception that ends a sample: fatal for the run, or an error row."""
        fatal = self._fatal(exc)
        if fatal is not None:
            return fatal
        if attempts > 1 and self._retryable(exc):
            return SampleError(self.scrub(f"gave up after {attempts} attempts: {_describe(exc)}"), attempts)
        return SampleError(self.scrub(_describe(exc)), attempts)

    async def _retry(self, messages: list[dict], params: dict, n: int, first_failure: BaseException) -> list[Completion]:
        """Attempts 2..max_attempts (tenacity), after the first one failed transiently."""
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
                stop=stop_after_attempt(self.max_attempts - 1) | stop_after_delay(self.max_wait_s),
                # tenacity numbers these attempts from 1; they are the request's 2nd, 3rd, ...
                wait=lambda state: self._wait.delay(state.outcome.exception(), state.attempt_number + 1),
                before_sleep=count_retry,
                reraise=True,
            ):
                with attempt:
                    attempts = attempt.retry_state.attempt_number + 1
                    try:
                        return await self._attempt(messages, params, n, attempts)
                    except Exception as exc:
                        last = exc
                        raise
        except Exception:
            raise self._give_up(last, attempts) from None
        raise self._give_up(last, attempts)  # unreachable: tenacity returns or raises

    def _read(self, data: dict, latency_s: float, attempts: int, n: int, messages: list[dict] | None = None) -> list[Completion]:
        """Completions from a decoded body; MalformedResponse when it holds no usable choice."""
        choices = data.get("choices")
        picked = sorted(
            (c for c in (choices if isinstance(choices, list) else []) if isinstance(c, dict) and isinstance(c.get("message"), dict)),
            key=lambda c: c["index"] if isinstance(c.get("index"), int) else 0,
        )[:n]
        if len(picked) < n:
            raise MalformedResponse(_no_choices(data, n))
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        prompt_tokens = _count(usage.get("prompt_tokens"))
        completion_tokens = _count(usage.get("completion_tokens"))
        details = usage.get("completion_tokens_details")
        reported_reasoning = _count(details.get("reasoning_tokens")) if isinstance(details, dict) else None
        # Missing usage must not turn into "0 tokens spent" on the compute axis: estimate
        # from the text and flag the figures as estimated.
        usage_estimated = prompt_tokens is None or completion_tokens is None
        if prompt_tokens is None:
            prompt_chars = sum(len(_clean_text(m.get("content"))) for m in messages or [] if isinstance(m, dict))
            prompt_tokens = _estimate_tokens(prompt_chars)
        return [
            self._read_choice(choice, prompt_tokens, completion_tokens, reported_reasoning, latency_s, attempts, n, usage_estimated)
            for choice in picked
        ]

    @staticmethod
    def _read_choice(choice: dict, prompt_tokens, completion_tokens, reported_reasoning, latency_s, attempts, n, usage_estimated=False) -> Completion:
        message = choice["message"]
        # null content is the model's (empty) answer, e.g. a reasoning model that spent the
        # whole budget thinking: it is scored as unparsed, not as a failed request.
        content = _clean_text(message.get("content"))
        reasoning = _clean_text(message.get("reasoning_content")) or _clean_text(message.get("reasoning")) or None
        if completion_tokens is None:
            completion_tokens = _estimate_tokens(len(content) + len(reasoning or "")) * n
        think, answer, unclosed = split_think(content)
        if think is not None:
            reasoning = (reasoning + "\n" + think) if reasoning else think
            content = answer
        estimated = n > 1 or usage_estimated
        if reported_reasoning is None:
            reasoning_tokens = round(len(reasoning) / CHARS_PER_TOKEN) if reasoning else 0
            estimated = estimated or bool(reasoning)
        else:
            reasoning_tokens = round(reported_reasoning / n)
        finish_reason = choice.get("finish_reason")
        return Completion(
            content=content,
            reasoning=reasoning or None,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
            prompt_tokens=round(prompt_tokens / n),
            completion_tokens=round(completion_tokens / n),
            reasoning_tokens=int(reasoning_tokens),
            reasoning_tokens_estimated=estimated,
            think_unclosed=unclosed,
            latency_s=latency_s,
            attempts=attempts,
            usage_estimated=usage_estimated,
        )
