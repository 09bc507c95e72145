"""Reasoning budgets: one table of budget kinds, and ``kind:value`` labels parsed into
:class:`Budget`. Pure: everything that knows what a budget is (the runner, scoring,
fidelity, the report) reads it from here.

Adding a budget kind is one row in :data:`KINDS` plus its request mapping in
models/request.py (``budget_fields``) and the profiles that accept it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError

EFFORT_LEVELS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# Token figures above this are refused: no endpoint serves them, and they would overflow
# the fixed-width integers servers and numpy use.
MAX_BUDGET_TOKENS = 10_000_000


@dataclass(frozen=True)
class Kind:
    name: str
    syntax: str
    pattern: re.Pattern
    # The row field a budget of this kind caps (fidelity: requested vs used), and whether
    # its label carries a token figure.
    used_field: str
    has_tokens: bool
    meaning: str


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("tokens", "tokens:N", re.compile(r"tokens:(\d+)"), "completion_tokens", True,
             "at most N completion tokens (reasoning + answer)"),
        Kind("forced", "forced:N[:min=M]", re.compile(r"forced:(\d+)(?::min=(\d+))?"), "reasoning_tokens", True,
             "budget forcing: think at most N tokens, then answer in the same message"),
        Kind("thinking", "thinking:N", re.compile(r"thinking:(\d+)"), "reasoning_tokens", True,
             "the provider's thinking budget"),
        Kind("effort", "effort:LEVEL", re.compile(r"effort:([a-z]+)"), "reasoning_tokens", False,
             "the provider's reasoning_effort level"),
    )
}
KIND_ORDER = {name: i for i, name in enumerate(KINDS)}
BUDGET_SYNTAX = ", ".join(kind.syntax for kind in KINDS.values())


@dataclass(frozen=True)
class Budget:
    kind: str  # a key of KINDS
    tokens: int | None = None  # the token figure for kinds that have one
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

    @property
    def used_field(self) -> str:
        """The sample field holding what this budget caps."""
        return KINDS[self.kind].used_field

    def sort_key(self) -> tuple:
        """Tables list budgets by kind, then by size (effort levels in their own order)."""
        size = EFFORT_LEVELS.index(self.effort) if self.kind == "effort" else self.tokens or 0
        return (KIND_ORDER[self.kind], size)


def _tokens(digits: str, text: str) -> int:
    tokens = int(digits) if len(digits) <= 12 else MAX_BUDGET_TOKENS + 1
    if not 0 < tokens <= MAX_BUDGET_TOKENS:
        raise UserError(f"bad budget {text!r}: the token count must be between 1 and {MAX_BUDGET_TOKENS:,}")
    return tokens


def parse_budget(text: str) -> Budget:
    raw = text.strip().lower()
    for name, kind in KINDS.items():
        match = kind.pattern.fullmatch(raw)
        if not match:
            continue
        if not kind.has_tokens:
            level = match.group(1)
            if level not in EFFORT_LEVELS:
                raise UserError(f"bad budget {text!r}: effort must be one of {', '.join(EFFORT_LEVELS)}")
            return Budget(name, effort=level)
        tokens = _tokens(match.group(1), text)
        minimum = _tokens(match.group(2), text) if name == "forced" and match.group(2) else None
        if minimum is not None and not 0 < minimum <= tokens:
            raise UserError(f"bad budget {text!r}: min must be between 1 and the budget {tokens}")
        return Budget(name, tokens=tokens, min_tokens=minimum)
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


def budget_of(label: str) -> Budget | None:
    """The budget a stored label names, or None for a label this version cannot read
    (a run written by another tool)."""
    try:
        return parse_budget(label)
    except UserError:
        return None
