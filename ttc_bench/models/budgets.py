"""Reasoning budgets: parse ``kind:value`` strings.

What a budget means for a provider (the request fields, what is refused) is in
models/request.py, from the provider's profile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UserError

EFFORT_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# Token figures above this are refused: no endpoint serves them, and they would overflow
# the fixed-width integers servers and numpy use.
MAX_BUDGET_TOKENS = 10_000_000
BUDGET_SYNTAX = "tokens:N, forced:N[:min=M], effort:LEVEL or thinking:N"

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
        digits = match.group(1)
        tokens = int(digits) if len(digits) <= 12 else MAX_BUDGET_TOKENS + 1
        if not 0 < tokens <= MAX_BUDGET_TOKENS:
            raise UserError(f"bad budget {text!r}: the token count must be between 1 and {MAX_BUDGET_TOKENS:,}")
        minimum = int(match.group(2)[:13]) if kind == "forced" and match.group(2) else None
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
