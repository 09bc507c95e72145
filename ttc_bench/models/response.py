"""A provider's JSON answer into :class:`Completion` objects, as its profile says to read it.

Reasoning text comes back in a field (``reasoning_content`` on DeepSeek, SGLang, llama.cpp
and older vLLM; ``reasoning`` on vLLM >= 0.16 and Ollama), between ``<think>`` tags in the
content (servers without a reasoning parser), as summaries between ``<thought>`` tags in
the content (Gemini), or not at all (OpenAI, Anthropic). Reasoning-token counts come back
in ``usage.completion_tokens_details.reasoning_tokens``, in ``usage.reasoning_tokens``
(SGLang), as ``total - prompt - completion`` (Gemini, whose completion count leaves the
thoughts out), or not at all. A count that cannot be known is None, never 0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .profiles import Profile

# Rough characters per token, used only when an endpoint reports no token count.
CHARS_PER_TOKEN = 4.0
SNIPPET_CHARS = 120


@dataclass
class Completion:
    content: str  # the visible answer, reasoning removed
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int  # every generated token, reasoning included
    reasoning_tokens: int | None  # None: the provider hides the reasoning and does not count it
    reasoning_tokens_estimated: bool
    think_unclosed: bool
    latency_s: float
    attempts: int
    # The endpoint sent no usage figures: the token counts are estimated from the text.
    usage_estimated: bool = False
    # The provider's completion count left the reasoning out; it was added back here.
    reasoning_added: bool = False


class MalformedResponse(Exception):
    """A 2xx answer that cannot be read (bad JSON, an HTML error page, no choices).

    Seen from proxies and overloaded gateways mid-incident, so it is retried like a 5xx;
    if it persists the sample is stored as an error with this reason.
    """


class FewerChoices(Exception):
    """An ``n`` request answered with fewer choices than asked: the server ignores n."""

    def __init__(self, got: int, wanted: int):
        super().__init__(f"asked for {wanted} choices, got {got}")
        self.got, self.wanted = got, wanted


def split_tagged(content: str, open_tag: str, close_tag: str) -> tuple[str | None, str, bool]:
    """Split ``<tag>...</tag>`` text from the rest: (tagged text, rest, unclosed)."""
    low = content.lower()
    start = low.find(open_tag)
    if start < 0:
        # Some templates put the opening tag in the prompt, so only the close appears.
        end = low.find(close_tag)
        if end < 0:
            return None, content, False
        return content[:end].strip(), content[end + len(close_tag):].strip(), False
    end = low.find(close_tag, start)
    if end < 0:
        return content[start + len(open_tag):].strip(), content[:start].strip(), True
    tagged = content[start + len(open_tag): end].strip()
    rest = (content[:start] + content[end + len(close_tag):]).strip()
    return tagged, rest, False


def split_think(content: str) -> tuple[str | None, str, bool]:
    return split_tagged(content, "<think>", "</think>")


def clean_text(value) -> str:
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


# A usage figure above this is not a count but a broken server (2^64-1 was seen); it is
# treated as missing so it can never overflow the scoring arithmetic.
MAX_COUNT = 10**12


def count(value) -> int | None:
    """A usage figure if it is a sane count, else None (then it is estimated)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or not 0 <= value <= MAX_COUNT:
        return None
    return int(value)


def estimate_tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def decode_body(raw: bytes, content_type: str | None) -> dict:
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
    found = len(choices) if isinstance(choices, list) else 0
    return f"response has {found} readable choices, expected {n}"


def _text_of(choice: dict) -> tuple[str, str | None] | None:
    """(content, reasoning field) of a chat choice or a completions-endpoint choice."""
    message = choice.get("message")
    if isinstance(message, dict):
        reasoning = clean_text(message.get("reasoning_content")) or clean_text(message.get("reasoning")) or None
        return clean_text(message.get("content")), reasoning
    if isinstance(choice.get("text"), str):
        return clean_text(choice["text"]), None
    return None


@dataclass
class _Usage:
    prompt: int | None
    completion: int | None
    reasoning: int | None
    added: bool  # reasoning added to completion (the provider counted it apart)


def _usage(profile: Profile, data: dict) -> _Usage:
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt, completion = count(usage.get("prompt_tokens")), count(usage.get("completion_tokens"))
    reasoning = None
    details = usage.get("completion_tokens_details")
    if isinstance(details, dict):
        reasoning = count(details.get("reasoning_tokens"))
    if reasoning is None and profile.reasoning_tokens_at == "usage":
        reasoning = count(usage.get("reasoning_tokens"))
    added = False
    if reasoning is None and profile.reasoning_tokens_at == "total":
        total = count(usage.get("total_tokens"))
        if None not in (total, prompt, completion) and total >= prompt + completion:
            reasoning = total - prompt - completion
    if reasoning is not None and not profile.completion_includes_reasoning and completion is not None:
        completion, added = completion + reasoning, True
    return _Usage(prompt, completion, reasoning, added)


def read_choices(profile: Profile, data: dict, n: int, *, latency_s: float, attempts: int, prompt_chars: int) -> list:
    """Completions from a decoded body: MalformedResponse when it holds no usable choice,
    FewerChoices when an n > 1 request got fewer than n."""
    choices = data.get("choices")
    picked = sorted(
        (c for c in (choices if isinstance(choices, list) else []) if isinstance(c, dict) and _text_of(c) is not None),
        key=lambda c: c["index"] if isinstance(c.get("index"), int) else 0,
    )[:n]
    if not picked:
        raise MalformedResponse(_no_choices(data, n))
    if len(picked) < n:
        raise FewerChoices(len(picked), n)
    usage = _usage(profile, data)
    # Missing usage must not turn into "0 tokens spent" on the compute axis: estimate
    # from the text and flag the figures as estimated.
    usage_estimated = usage.prompt is None or usage.completion is None
    prompt_tokens = usage.prompt if usage.prompt is not None else estimate_tokens(prompt_chars)
    return [_read_choice(profile, c, prompt_tokens, usage, n, latency_s, attempts, usage_estimated) for c in picked]


def _read_choice(profile: Profile, choice: dict, prompt_tokens: int, usage: _Usage, n: int, latency_s: float,
                 attempts: int, usage_estimated: bool) -> Completion:
    content, reasoning = _text_of(choice)
    think, answer, unclosed = split_think(content)
    if think is not None:
        reasoning = f"{reasoning}\n{think}" if reasoning else think
        content = answer
    if profile.thought_tags:
        # Thought summaries must never reach the answer parser.
        thought, answer, _ = split_tagged(content, *profile.thought_tags)
        if thought is not None:
            reasoning = f"{reasoning}\n{thought}" if reasoning else thought
            content = answer
    completion = usage.completion
    if completion is None:
        completion = estimate_tokens(len(content) + len(reasoning or "")) * n
    estimated = n > 1 or usage_estimated
    # A reported 0 beside reasoning text is a server that does not count (SGLang before
    # Dec 2025 always sent 0): estimate instead.
    if usage.reasoning is not None and not (usage.reasoning == 0 and reasoning):
        reasoning_tokens: int | None = round(usage.reasoning / n)
    elif reasoning:
        reasoning_tokens, estimated = min(estimate_tokens(len(reasoning)), round(completion / n)), True
    elif profile.hides_reasoning:
        reasoning_tokens, estimated = None, True  # hidden and not counted: unknown, not 0
    else:
        reasoning_tokens = 0
    finish_reason = choice.get("finish_reason")
    return Completion(
        content=content,
        reasoning=reasoning or None,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        prompt_tokens=round(prompt_tokens / n),
        completion_tokens=round(completion / n),
        reasoning_tokens=reasoning_tokens,
        reasoning_tokens_estimated=estimated,
        think_unclosed=unclosed,
        latency_s=latency_s,
        attempts=attempts,
        usage_estimated=usage_estimated,
        reasoning_added=usage.added,
    )
