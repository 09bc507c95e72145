"""Reasoning budgets: parse ``kind:value`` strings and map them to request parameters.

One budget spec covers every endpoint flavour; :func:`request_params` says what a budget
means for a flavour and refuses combinations the flavour cannot honour before any request
is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UserError

EFFORT_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh")
API_FLAVOURS = ("openai", "vllm", "anthropic-compat", "gemini-compat", "generic")
BUDGET_SYNTAX = "tokens:N, forced:N[:min=M], effort:LEVEL or thinking:N"

# Room left for the visible answer when a thinking budget caps only the reasoning.
THINKING_ANSWER_ALLOWANCE = 1024

_FORMS = {
    "tokens": re.compile(r"tokens:(\d+)"),
    "forced": re.compile(r"forced:(\d+)(?::min=(\d+))?"),
    "thinking": re.compile(r"thinking:(\d+)"),
    "effort": re.compile(r"effort:([a-z]+)"),
}


@dataclass(frozen=True)
class Budget:
    kind: str  # tokens | forced | thinking | effort
    tokens: int | None = None  # the token figure for tokens/forced/thinking
    effort: str | None = None
    min_tokens: int | None = None  # forced only: s1-style "Wait" extension up to this many

    @property
    def label(self) -> str:
        if self.kind == "effort":
            return f"effort:{self.effort}"
        if self.kind == "forced" and self.min_tokens:
            return f"forced:{self.tokens}:min={self.min_tokens}"
        return f"{self.kind}:{self.tokens}"

    @property
    def requested_tokens(self) -> int | None:
        """The reasoning/completion token figure the user asked for (None for effort)."""
        return self.tokens


def parse_budget(text: str) -> Budget:
    raw = text.strip().lower()
    for kind, form in _FORMS.items():
        match = form.fullmatch(raw)
        if not match:
            continue
        if kind == "effort":
            level = match.group(1)
            if level not in EFFORT_LEVELS:
                raise UserError(
                    f"bad budget {text!r}: effort must be one of {', '.join(EFFORT_LEVELS)}"
                )
            return Budget("effort", effort=level)
        tokens = int(match.group(1))
        if tokens <= 0:
            raise UserError(f"bad budget {text!r}: the token count must be positive")
        minimum = int(match.group(2)) if kind == "forced" and match.group(2) else None
        if minimum is not None and not 0 < minimum <= tokens:
            raise UserError(f"bad budget {text!r}: min must be between 1 and the budget {tokens}")
        return Budget(kind, tokens=tokens, min_tokens=minimum)
    raise UserError(f"bad budget {text!r}: expected {BUDGET_SYNTAX}")


def parse_budgets(texts: list[str]) -> list[Budget]:
    budgets = [parse_budget(t) for t in texts]
    labels = [b.label for b in budgets]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise UserError(f"budget {duplicates[0]} is listed twice")
    if not budgets:
        raise UserError(f"no budgets given; use e.g. --budgets tokens:256 forced:512 ({BUDGET_SYNTAX})")
    return budgets


def max_tokens_key(api: str) -> str:
    # OpenAI's reasoning models reject max_tokens; other servers know only max_tokens.
    return "max_completion_tokens" if api == "openai" else "max_tokens"


def check_supported(budget: Budget, api: str) -> None:
    if api not in API_FLAVOURS:
        raise UserError(f"unknown --api {api!r}; choose one of {', '.join(API_FLAVOURS)}")
    if budget.kind == "effort" and api not in ("openai", "vllm"):
        raise UserError(
            f"budget {budget.label} needs an endpoint that takes reasoning_effort "
            f"(--api openai or vllm), not --api {api}; use tokens:N or forced:N instead"
        )
    if budget.kind == "thinking" and api not in ("anthropic-compat", "gemini-compat", "vllm"):
        raise UserError(
            f"budget {budget.label} needs a provider thinking budget "
            f"(--api anthropic-compat, gemini-compat or vllm), not --api {api}; "
            "use forced:N for client-side budget forcing"
        )


def request_params(budget: Budget, api: str, answer_tokens: int) -> dict:
    """Keyword arguments for ``chat.completions.create`` that implement ``budget``.

    For ``forced`` budgets this is the first (reasoning) turn; the follow-up turn is
    built by the budget-forcing loop in models/generation.py.
    """
    check_supported(budget, api)
    cap = max_tokens_key(api)
    if budget.kind in ("tokens", "forced"):
        return {cap: budget.tokens}
    if budget.kind == "effort":
        return {"reasoning_effort": budget.effort}
    # thinking: the provider caps the reasoning; max tokens must leave room for the answer.
    total = budget.tokens + max(answer_tokens, THINKING_ANSWER_ALLOWANCE)
    if api == "anthropic-compat":
        extra = {"thinking": {"type": "enabled", "budget_tokens": budget.tokens}}
    elif api == "gemini-compat":
        extra = {"extra_body": {"google": {"thinking_config": {"thinking_budget": budget.tokens, "include_thoughts": True}}}}
    else:  # vllm serving Qwen3-style templates
        extra = {
            "chat_template_kwargs": {"enable_thinking": True},
            "thinking_token_budget": budget.tokens,
        }
    return {cap: total, "extra_body": extra}
