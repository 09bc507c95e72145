"""One sample: one answer to one item at one budget, a row of samples.jsonl.

The runner makes :class:`Sample` objects; the store writes and reads them; scoring, the
gate, the report and rescoring read their fields by name from here. A row of an older or
damaged file is read with :meth:`Sample.from_json`, which fills fields added since with
their defaults and raises :class:`BadRow` (one line saying which field) for a row that
cannot be a sample, so readers can skip and count it instead of crashing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any

# Version of the row format. 1: up to the provider-profile release; 2: reread_tokens,
# reasoning_added and source added, reasoning_tokens may be null (hidden and uncounted);
# 3: checked (the family's gold-free checker on the answer), and the fields of a
# strategy's own requests (strategy, parent, round, verdict; docs/strategies.md), null or 0
# on samples.
ROW_SCHEMA = 3
# The largest token or attempt count a row may hold: beyond it the row is damaged (it
# would overflow the scoring arithmetic).
MAX_COUNT = 10**12


class BadRow(ValueError):
    """A samples.jsonl row that cannot be read as a sample."""


@dataclass(slots=True)
class Sample:
    key: str
    task: str
    level: str
    item: str
    budget: str
    sample: int = 0  # the sample's index among its item's samples at this budget
    seed: int = 0
    run_id: str | None = None
    requested_tokens: int | None = None
    response: str | None = None
    reasoning: str | None = None
    answer: Any = None  # the normalized answer (what votes are counted on); None: unparsed
    gold: Any = None
    parse_ok: bool = False
    correct: bool = False
    partial: float = 0.0
    scores: dict | None = None  # family sub-scores (crossword letters/words ...)
    prompt_meta: dict | None = None  # what this sample was shown (the MCQ option order ...)
    source: dict | None = None  # where the item comes from (dataset, revision, row id)
    finish_reason: str | None = None
    truncated: bool = False
    forced_answer: bool = False
    turns: int = 0
    prompt_tokens: int = 0
    reread_tokens: int = 0  # prompt tokens read again by budget-forcing continuations
    completion_tokens: int = 0  # every generated token, reasoning included
    reasoning_tokens: int | None = 0  # None: hidden by the provider and not counted
    reasoning_tokens_estimated: bool = False
    usage_estimated: bool = False
    reasoning_added: bool = False  # the provider counted reasoning outside completion_tokens
    latency_s: float | None = None
    attempts: int = 0
    error: str | None = None  # not None: the request finally failed (not a wrong answer)
    cached: bool = False
    # The family's gold-free checker on ``answer``: True accepted, False rejected; None when
    # the family has no checker, the sample is unparsed, or the row predates checks.
    checked: bool | None = None
    # A strategy's own request (run folder strategies/samples.jsonl, docs/strategies.md):
    # which strategy ("selfverify", "revise"), the key of the row it builds on (a sample
    # holding the candidate judged; the reply revised), the revision round (1..R), and the
    # model's verdict on a judged candidate (``answer`` then holds the candidate). None or
    # 0 on the samples of the plan.
    strategy: str | None = None
    parent: str | None = None
    round: int = 0
    verdict: bool | None = None

    @property
    def scored(self) -> bool:
        """An answer (right, wrong or unparsed), not a failed request."""
        return self.error is None

    @property
    def vote(self) -> str | None:
        """What this sample votes for in a majority vote (None: it does not vote)."""
        return vote_key(self.answer)

    def to_json(self) -> dict:
        # Shallow on purpose: asdict deep-copies every nested dict, a measurable share of
        # writing and importing rows; nothing here mutates the values.
        return {name: getattr(self, name) for name in _NAMES}

    @classmethod
    def from_json(cls, row: dict) -> "Sample":
        """The sample a row holds; fields it lacks take their defaults. BadRow if a field
        has the wrong type or an impossible value."""
        if not isinstance(row, dict):
            raise BadRow("not a JSON object")
        for name, (kinds, required) in _CHECKS.items():
            value = row.get(name)
            if value is None:
                if required:
                    raise BadRow(f"no {name}")
                continue
            if value.__class__ not in kinds:
                raise BadRow(f"{name} is {type(value).__name__}, not {'/'.join(k.__name__ for k in kinds)}")
            if kinds is _COUNT and not 0 <= value <= MAX_COUNT:
                raise BadRow(f"{name} {value} is out of range")
        known = {k: v for k, v in row.items() if k in _FIELDS and v is not None}
        return cls(**known)


def vote_key(answer: Any) -> str | None:
    """The vote of an answer: the normalized answer text; a structured answer (a grid)
    votes by its JSON form."""
    if answer is None:
        return None
    return answer if answer.__class__ is str else json.dumps(answer, sort_keys=True)


_NAMES = tuple(f.name for f in fields(Sample))
_FIELDS = frozenset(_NAMES)
_TEXT = (str,)
_COUNT = (int,)
_FLAG = (bool,)
_NUMBER = (int, float)
# field -> (accepted types, required); the fields scoring, the gate and the report read.
_CHECKS = {
    "key": (_TEXT, True), "task": (_TEXT, True), "level": (_TEXT, True), "item": (_TEXT, True),
    "budget": (_TEXT, True), "sample": (_COUNT, False), "seed": (_COUNT, False),
    "correct": (_FLAG, False), "parse_ok": (_FLAG, False), "truncated": (_FLAG, False),
    "partial": (_NUMBER, False), "error": (_TEXT, False), "scores": ((dict,), False),
    "turns": (_COUNT, False), "attempts": (_COUNT, False), "prompt_tokens": (_COUNT, False),
    "reread_tokens": (_COUNT, False), "completion_tokens": (_COUNT, False), "reasoning_tokens": (_COUNT, False),
    "requested_tokens": (_COUNT, False), "latency_s": (_NUMBER, False), "checked": (_FLAG, False),
    "strategy": (_TEXT, False), "parent": (_TEXT, False), "round": (_COUNT, False), "verdict": (_FLAG, False),
}
