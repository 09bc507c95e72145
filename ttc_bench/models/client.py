"""OpenAI-compatible async chat client: retries, usage accounting, reasoning extraction.

One client path serves every endpoint, the embedded llama.cpp server included. The API
key is read from the environment at construction and kept only in memory.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

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


def redact_url(url: str) -> str:
    """The URL with any user:password@ credentials replaced, safe to store and print."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))


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


def _retry_after_seconds(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, (openai.APIConnectionError, openai.APITimeoutError)):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUS or exc.status_code >= 500
    # Malformed bodies (bad JSON, missing fields) are usually a proxy hiccup.
    return isinstance(exc, (openai.APIResponseValidationError, ValueError, KeyError, TypeError))


def _describe(exc: BaseException) -> str:
    status = _status(exc)
    text = f"{type(exc).__name__}"
    if status:
        text += f" {status}"
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{text}: {message[:200]}" if message else text


class _BackoffWait:
    """Exponential backoff with full jitter that honours Retry-After (capped)."""

    def __init__(self, base_s: float, cap_s: float):
        self.base_s, self.cap_s = base_s, cap_s

    def __call__(self, retry_state) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hinted = _retry_after_seconds(exc) if exc else None
        if hinted is not None:
            return min(hinted, self.cap_s)
        ceiling = min(self.cap_s, self.base_s * 2 ** (retry_state.attempt_number - 1))
        return random.uniform(0, ceiling)


class ChatClient:
    """Chat completions against one endpoint with retries; returns :class:`Completion`."""

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
        self._load = [0] * len(self._replicas)

    async def close(self) -> None:
        await self._http.aclose()

    def _pick_replica(self) -> int:
        return min(range(len(self._replicas)), key=self._load.__getitem__)

    async def _create(self, messages: list[dict], params: dict):
        import openai

        replica = self._pick_replica()
        self._load[replica] += 1
        try:
            async with self.limiter:
                response = await self._replicas[replica].chat.completions.create(
                    model=self.endpoint.model, messages=messages, **params
                )
        except openai.RateLimitError:
            self.limiter.on_rate_limited()
            raise
        finally:
            self._load[replica] -= 1
        self.limiter.on_success()
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
                await replica.models.list()
        except (openai.APIConnectionError, openai.APITimeoutError) as exc:
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

        Usage is reported for the whole request, so per-choice completion tokens are the
        request's total split evenly (flagged ``tokens_split``).
        """
        from tenacity import AsyncRetrying, RetryError, retry_if_exception, stop_after_attempt, stop_after_delay

        attempts = 0
        if n > 1:
            params = {**params, "n": n}

        def count_retry(state) -> None:
            self.retries += 1

        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(lambda e: _is_transient(e) and self._fatal(e) is None),
                stop=stop_after_attempt(self.max_attempts) | stop_after_delay(self.max_wait_s),
                wait=self._wait,
                before_sleep=count_retry,
                reraise=False,
            ):
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    started = time.perf_counter()
                    response = await self._create(messages, params)
                    completions = self._read(response, time.perf_counter() - started, attempts, n)
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise SampleError(f"gave up after {attempts} attempts: {_describe(last)}", attempts) from None
        except Exception as exc:  # non-transient: fatal for the run, or an error for this sample
            fatal = self._fatal(exc)
            if fatal is not None:
                raise fatal from None
            raise SampleError(_describe(exc), attempts) from None
        return completions

    def _read(self, response, latency_s: float, attempts: int, n: int) -> list[Completion]:
        choices = getattr(response, "choices", None)
        if not choices or len(choices) < n:
            raise ValueError(f"response has {len(choices or [])} choices, expected {n}")
        usage = response.usage
        prompt_tokens = int(getattr(usage, "prompt_tokens", None) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", None) or 0)
        details = getattr(usage, "completion_tokens_details", None)
        reported_reasoning = getattr(details, "reasoning_tokens", None) if details else None
        return [
            self._read_choice(choice, prompt_tokens, completion_tokens, reported_reasoning, latency_s, attempts, n)
            for choice in sorted(choices, key=lambda c: c.index or 0)[:n]
        ]

    @staticmethod
    def _read_choice(choice, prompt_tokens, completion_tokens, reported_reasoning, latency_s, attempts, n) -> Completion:
        message = choice.message
        content = (message.content if message is not None else None) or ""
        extra = (message.model_extra if message is not None else None) or {}
        reasoning = extra.get("reasoning_content") or extra.get("reasoning")
        think, answer, unclosed = split_think(content)
        if think is not None:
            reasoning = (reasoning + "\n" + think) if reasoning else think
            content = answer
        estimated = n > 1
        if reported_reasoning is None:
            reasoning_tokens = round(len(reasoning) / CHARS_PER_TOKEN) if reasoning else 0
            estimated = estimated or bool(reasoning)
        else:
            reasoning_tokens = round(reported_reasoning / n)
        return Completion(
            content=content,
            reasoning=reasoning or None,
            finish_reason=choice.finish_reason,
            prompt_tokens=round(prompt_tokens / n),
            completion_tokens=round(completion_tokens / n),
            reasoning_tokens=int(reasoning_tokens),
            reasoning_tokens_estimated=estimated,
            think_unclosed=unclosed,
            latency_s=latency_s,
            attempts=attempts,
        )
