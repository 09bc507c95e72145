"""Samples at one budget: a single request, n choices of one request, or budget forcing.

``forced:N`` (s1, arXiv 2501.19393; Qwen3's client-side thinking budget) lets the model
think for at most N tokens. If it is cut off, the *same* assistant message is continued
with the reasoning so far, the end-of-thinking delimiter and a short "answer now" cue,
through the server's own continuation mechanism (the profile's): vLLM/SGLang
``continue_final_message``, a prefill on llama.cpp and Ollama, DeepSeek's prefix
completion, or the completions endpoint with the model's own chat template. A model that
reasons visibly, without a thinking channel, is continued the same way after its text.
With ``min=M`` a model that stops thinking before M tokens has its end of thinking
replaced by "Wait" and keeps thinking in the same message.

Thinking tokens, answer tokens and the prompt tokens read again by each continuation are
counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..budgets import Budget
from .client import ChatClient
from .failures import SampleError
from .response import Completion

WAIT = "Wait"
# s1 appends "Wait" a few times at most; the token budget bounds it too.
MAX_WAITS = 8


@dataclass
class Generation:
    """What a budget produced for one sample, summed over every request it took."""

    text: str  # the visible text of the sample, for the record
    answer_text: str  # the only place an answer is parsed from
    reasoning: str | None
    finish_reason: str | None
    truncated: bool  # the reasoning was cut off by the budget
    forced_answer: bool  # budget forcing had to ask for the answer
    turns: int  # requests made
    prompt_tokens: int  # the first request's prompt
    reread_tokens: int  # prompt tokens of continuation requests: the context read again
    completion_tokens: int  # every generated token: thinking + answer
    reasoning_tokens: int | None  # None: hidden and not counted by the provider
    reasoning_tokens_estimated: bool
    usage_estimated: bool  # the endpoint reported no usage: token counts are estimates
    latency_s: float
    attempts: int
    # The provider counts reasoning outside completion_tokens (Gemini): it was added back.
    reasoning_added: bool = False


def _cut_off(c: Completion) -> bool:
    return c.finish_reason == "length" or c.think_unclosed


def _single(c: Completion) -> Generation:
    return Generation(
        text=c.content,
        answer_text=c.content,
        reasoning=c.reasoning,
        finish_reason=c.finish_reason,
        truncated=_cut_off(c),
        forced_answer=False,
        turns=1,
        prompt_tokens=c.prompt_tokens,
        reread_tokens=0,
        completion_tokens=c.completion_tokens,
        reasoning_tokens=c.reasoning_tokens,
        reasoning_tokens_estimated=c.reasoning_tokens_estimated,
        usage_estimated=c.usage_estimated,
        latency_s=c.latency_s,
        attempts=c.attempts,
        reasoning_added=c.reasoning_added,
    )


def seed_fields(client: ChatClient, seed: int, n: int = 1) -> dict:
    profile = client.profile
    if not profile.seed or (n > 1 and not profile.seed_with_n):
        return {}
    return {"seed": seed}


async def generate(
    client: ChatClient, messages: list[dict], budget: Budget, fields: dict, *,
    sampling: dict, seed: int, cue: str, answer_tokens: int,
) -> Generation:
    """One sample: ``fields`` are the first request's fields (models/request.py)."""
    body = {"messages": messages, **fields, **seed_fields(client, seed)}
    if budget.kind != "forced":
        return _single((await client.request(body))[0])
    forcing = _Forcing(client, messages, budget, sampling, seed, cue, answer_tokens)
    return await forcing.run(body)


async def generate_n(client: ChatClient, messages: list[dict], fields: dict, *, seed: int, n: int) -> list[Generation]:
    """``n`` samples from one request with the ``n`` parameter (not for forced budgets);
    raises NotServingN when the server refuses or ignores n."""
    body = {"messages": messages, **fields, **seed_fields(client, seed, n)}
    return [_single(c) for c in await client.request(body, n=n)]


class _Forcing:
    """Budget forcing for one sample: the first request, "Wait" extensions, the answer."""

    def __init__(self, client, messages, budget, sampling, seed, cue, answer_tokens):
        self.client, self.messages, self.budget = client, messages, budget
        self.sampling = {k: v for k, v in sampling.items() if v is not None}
        self.seed, self.cue, self.answer_tokens = seed, cue, answer_tokens
        self.continuation = client.profile.continuation
        self.requests: list[Completion] = []

    async def run(self, body: dict) -> Generation:
        first = (await self.client.request(body))[0]
        self.requests.append(first)
        # A thinking channel (a reasoning field or <think> tags) or visible reasoning.
        self.thinking = first.reasoning is not None
        self.reasoning = (first.reasoning or "").strip()
        self.visible = first.content
        self.thought = self._thought(first)
        cut = _cut_off(first)
        final = first
        waits = 0
        while not cut and self.budget.min_tokens and self.thought < self.budget.min_tokens and waits < MAX_WAITS:
            room = self.budget.tokens - self.thought
            if room <= 0:
                break
            waits += 1
            final = await self._continue(self._prefix(open_=True), room)
            self._extend(final)
            cut = _cut_off(final)
        answer = final.content
        if cut:
            final = await self._continue(self._prefix(open_=False), self.answer_tokens)
            # vLLM's reasoning parsers file a continuation whose </think> is in the prompt
            # under reasoning: then that text is the answer.
            answer = self.cue + (final.content or final.reasoning or "")
        return self._generation(answer, final, cut)

    def _thought(self, c: Completion) -> int:
        if self.thinking:
            return c.reasoning_tokens or 0
        return c.completion_tokens

    def _prefix(self, *, open_: bool) -> str:
        """The assistant message so far, ending where the model is to continue."""
        if self.thinking:
            if open_:
                return f"<think>\n{self.reasoning}\n{WAIT}"
            if self.continuation.mechanism == "prefix":
                return self.cue  # the reasoning travels in reasoning_content
            return f"<think>\n{self.reasoning}\n</think>\n\n{self.cue}"
        text = self.visible.rstrip()
        return f"{text}\n{WAIT}" if open_ else f"{text}\n\n{self.cue}".lstrip()

    def _extend(self, c: Completion) -> None:
        """Fold a "Wait" continuation into the reasoning so far."""
        if self.thinking:
            self.reasoning = f"{self.reasoning}\n{WAIT}\n{(c.reasoning or '').strip()}".strip()
            self.thought += c.reasoning_tokens or 0
            self.visible = c.content
        else:
            self.visible = f"{self.visible.rstrip()}\n{WAIT}{c.content}"
            self.thought += c.completion_tokens

    async def _continue(self, prefix: str, cap: int) -> Completion:
        try:
            return await self._request_continuation(prefix, cap)
        except SampleError as exc:
            exc.continuation = True
            raise

    async def _request_continuation(self, prefix: str, cap: int) -> Completion:
        client, profile = self.client, self.client.profile
        fields = {**self.sampling, profile.token_cap: cap, **self.continuation.fields}
        fields.update({"seed": self.seed} if profile.seed else {})
        message = {"role": "assistant", "content": prefix}
        mechanism = self.continuation.mechanism
        if mechanism == "completions":
            prompt = client.endpoint.chat_template.continue_final([*self.messages, message])
            fields.pop("max_completion_tokens", None)
            c = (await client.request({"prompt": prompt, **fields, "max_tokens": cap}, path="completions"))[0]
        else:
            if mechanism == "prefix":
                message.update({"prefix": True, **({"reasoning_content": self.reasoning} if self.thinking else {})})
            path = self.continuation.path or ""
            c = (await client.request(
                {"messages": [*self.messages, message], **fields},
                path=f"{path.strip('/')}/chat/completions" if path else "chat/completions",
                replace_path=bool(path),
            ))[0]
        self.requests.append(c)
        return c

    def _generation(self, answer: str, final: Completion, cut: bool) -> Generation:
        first, later = self.requests[0], self.requests[1:]
        text = answer if self.thinking else (f"{self.visible.rstrip()}\n\n{answer}" if cut else self.visible)
        return Generation(
            text=text,
            answer_text=answer if self.thinking or cut else self.visible,
            reasoning=self.reasoning or None,
            finish_reason=final.finish_reason,
            truncated=cut,
            forced_answer=cut,
            turns=len(self.requests),
            prompt_tokens=first.prompt_tokens,
            reread_tokens=sum(c.prompt_tokens for c in later),
            completion_tokens=sum(c.completion_tokens for c in self.requests),
            reasoning_tokens=self.thought,
            reasoning_tokens_estimated=any(c.reasoning_tokens_estimated for c in self.requests) if self.thinking else False,
            usage_estimated=any(c.usage_estimated for c in self.requests),
            latency_s=sum(c.latency_s for c in self.requests),
            attempts=sum(c.attempts for c in self.requests),
            reasoning_added=any(c.reasoning_added for c in self.requests),
        )
