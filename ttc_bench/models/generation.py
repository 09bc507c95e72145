"""Samples at one budget: a single request, n choices of one request, or client-side
budget forcing over turns.

``forced:N`` works on any chat endpoint: the model reasons for at most N tokens; if it is
cut off, a follow-up turn asks for the final answer now. With ``min=M`` (s1-style), a
model that stops before M reasoning tokens is told to "Wait" and keep checking, within N.
Every turn's tokens are counted.
"""

from __future__ import annotations

from dataclasses import dataclass

from .budgets import Budget, max_tokens_key, request_params
from .client import ChatClient, Completion

WAIT_PROMPT = "Wait. Before answering, check your reasoning once more."


@dataclass
class Generation:
    """What a budget produced for one sample, summed over every turn it took."""

    text: str  # the visible text all turns produced (for the record)
    answer_text: str  # the final turn's content: the only place an answer is parsed from
    reasoning: str | None
    finish_reason: str | None
    truncated: bool
    forced_answer: bool  # budget forcing had to ask for the answer
    turns: int
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    reasoning_tokens_estimated: bool
    usage_estimated: bool  # the endpoint reported no usage: token counts are estimates
    latency_s: float
    attempts: int


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
        completion_tokens=c.completion_tokens,
        reasoning_tokens=c.reasoning_tokens,
        reasoning_tokens_estimated=c.reasoning_tokens_estimated,
        usage_estimated=c.usage_estimated,
        latency_s=c.latency_s,
        attempts=c.attempts,
    )


async def generate(
    client: ChatClient,
    messages: list[dict],
    budget: Budget,
    *,
    sampling: dict,
    answer_tokens: int,
    final_answer_request: str,
) -> Generation:
    api = client.endpoint.api
    params = {**sampling, **request_params(budget, api, answer_tokens)}
    if budget.kind != "forced":
        return _single(await client.complete(messages, params))
    return await _forced(client, messages, budget, sampling, answer_tokens, final_answer_request)


async def generate_n(client: ChatClient, messages: list[dict], budget: Budget, *, sampling: dict, n: int, answer_tokens: int) -> list[Generation]:
    """``n`` samples from one request with the ``n`` parameter (not for forced budgets)."""
    params = {**sampling, **request_params(budget, client.endpoint.api, answer_tokens)}
    return [_single(c) for c in await client.complete_n(messages, params, n)]


async def _forced(client, messages, budget, sampling, answer_tokens, final_answer_request) -> Generation:
    cap = max_tokens_key(client.endpoint.api)
    conversation = list(messages)
    turns: list[Completion] = []
    thought = 0  # reasoning-phase tokens so far
    cut = False
    while True:
        c = await client.complete(conversation, {**sampling, cap: budget.tokens - thought})
        turns.append(c)
        thought += c.completion_tokens
        cut = _cut_off(c)
        conversation += [{"role": "assistant", "content": c.content}]
        wants_more = budget.min_tokens is not None and thought < budget.min_tokens
        if cut or not wants_more or thought >= budget.tokens:
            break
        conversation += [{"role": "user", "content": WAIT_PROMPT}]
    final = turns[-1]
    if cut:
        conversation += [{"role": "user", "content": final_answer_request}]
        final = await client.complete(conversation, {**sampling, cap: answer_tokens})
        turns.append(final)
    reasoning_parts = [c.reasoning for c in turns if c.reasoning]
    return Generation(
        text="\n\n".join(c.content for c in turns),
        answer_text=final.content,
        reasoning="\n\n".join(reasoning_parts) or None,
        finish_reason=final.finish_reason,
        truncated=cut,
        forced_answer=cut,
        turns=len(turns),
        prompt_tokens=sum(c.prompt_tokens for c in turns),
        completion_tokens=sum(c.completion_tokens for c in turns),
        # The thinking turns are the reasoning; the forced answer turn is not.
        reasoning_tokens=thought,
        reasoning_tokens_estimated=False,
        usage_estimated=any(c.usage_estimated for c in turns),
        latency_s=sum(c.latency_s for c in turns),
        attempts=sum(c.attempts for c in turns),
    )
