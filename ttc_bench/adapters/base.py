"""The task-adapter contract: Item, Prompt, Verdict, Check, Level, Options and TaskAdapter.

Every family (arithmetic, sudoku, crossword, mcq) subclasses :class:`TaskAdapter` in its
own module; ``registry`` lists them. Items are a pure function of
``(seed, task, level, index)`` so that ``--limit`` and re-runs never change an item.
This module imports nothing from the package: families import it, never the reverse.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from ..errors import UserError


@dataclass(frozen=True)
class Item:
    id: str
    task: str
    level: str
    messages: list[dict[str, str]]
    gold: str
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Prompt:
    """What one sample of an item is shown.

    ``meta`` records sample-specific presentation (e.g. the MCQ option permutation) on the
    sample row, so a vote can be mapped back to the underlying answer.
    """

    messages: list[dict[str, str]]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    correct: bool
    partial: float  # 0..1; equals float(correct) for families without partial credit
    # Family-specific figures stored on the sample row (e.g. crossword letters/words).
    scores: dict[str, float] = field(default_factory=dict)


# A checker names at most this many violations: enough for a model to act on, short
# enough to quote back in a revision prompt.
MAX_VIOLATIONS = 5


@dataclass(frozen=True)
class Check:
    """Whether an answer satisfies the task's own constraints, judged without the gold.

    ``violations`` are human-readable, with 1-based rows and columns ("row 3 holds two 5s",
    "column 2 'XQZ' is not a word"), at most :data:`MAX_VIOLATIONS` of them (the last one
    says how many more were left out); empty exactly when ``ok``.
    """

    ok: bool
    violations: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, violations: list[str]) -> Check:
        """The check for a full list of violations, capped at MAX_VIOLATIONS messages."""
        if len(violations) > MAX_VIOLATIONS:
            more = len(violations) - (MAX_VIOLATIONS - 1)
            violations = violations[: MAX_VIOLATIONS - 1] + [f"and {more} more violations"]
        return cls(not violations, violations)


@dataclass(frozen=True)
class Level:
    """One difficulty level of a family: its id and what it means (``ttc-bench tasks``).

    Families subclass it with the typed parameters their generator reads (sizes, digit
    counts, modes), so every family's level table holds the same kind of record.
    """

    id: str
    description: str

    def __str__(self) -> str:
        # A level reads as what it means wherever it is listed.
        return self.description


L = TypeVar("L", bound=Level)


def level_table(*levels: L) -> dict[str, L]:
    """A family's levels keyed by id, in listing order (the first is the easiest)."""
    table = {level.id: level for level in levels}
    assert len(table) == len(levels), "level ids must be distinct"
    return table


O = TypeVar("O", bound="Options")


@dataclass(frozen=True)
class Options:
    """A family's options: the extra keys of its task table in a suite, validated once.

    A family that takes options subclasses this with typed, defaulted fields and checks
    their values in ``__post_init__``; the base class takes none, so any key is rejected.
    """

    @classmethod
    def parse(cls: type[O], task: str, family: str, table: Mapping[str, Any]) -> O:
        unknown = sorted(set(table) - {f.name for f in fields(cls) if f.init})
        if unknown:
            raise UserError(f"task {task!r}: unknown option(s) {', '.join(unknown)} for family {family!r}")
        return cls(**table)


def item_rng(seed: int, task: str, level: str, index: int) -> random.Random:
    """A private RNG for one item, independent of Python's hash salt and iteration order."""
    digest = hashlib.sha256(f"{seed}/{task}/{level}/{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def item_id(task: str, level: str, index: int) -> str:
    return f"{task}/{level}/{index:04d}"


class TaskAdapter:
    """Base class of a task family.

    Subclasses set ``name``, ``summary``, ``levels`` (a :func:`level_table` of
    :class:`Level` records), ``default_levels``, ``answer_tokens`` (tokens a final answer
    needs, used when budget forcing asks for it) and ``answer_cue`` (the text budget
    forcing writes after the model's cut-off reasoning, which the model completes with its
    answer), and implement :meth:`item`, :meth:`parse` and :meth:`verify`. A family whose
    answers can be checked against the task's own constraints sets ``has_checker`` and
    implements :meth:`check`.

    ``options`` are the extra keys of the task's table in a suite, parsed into the
    family's ``options_type`` once, here; a family that takes none rejects any.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    levels: ClassVar[Mapping[str, Level]] = {}
    default_levels: ClassVar[tuple[str, ...]] = ()
    answer_tokens: ClassVar[int] = 32
    # Written into the model's own message after its cut-off reasoning (no trailing
    # whitespace: some servers refuse a prefill that ends in it).
    answer_cue: ClassVar[str] = "Time is up, so here is my final answer: <answer>"
    # Appended to the unknown-level error: where the other ways of choosing items are.
    level_hint: ClassVar[str] = ""
    options_type: ClassVar[type[Options]] = Options
    # Whether check() judges answers; strategies that need a checker refuse a family
    # without one instead of pretending.
    has_checker: ClassVar[bool] = False

    def __init__(self, task: str | None = None, options: Mapping[str, Any] | Options | None = None):
        self.task = task or self.name
        if isinstance(options, self.options_type):
            self.options: Options = options
        else:
            self.options = self.options_type.parse(self.task, self.name, dict(options or {}))

    def level_ids(self) -> list[str]:
        return list(self.levels)

    def check_level(self, level: str) -> str:
        if level not in self.level_ids():
            raise UserError(
                f"task {self.task!r} has no level {level!r}; levels: {', '.join(self.level_ids())}{self.level_hint}"
            )
        return level

    def item(self, seed: int, level: str, index: int) -> Item:
        """Item ``index`` of ``level``, the same for the same seed on any machine (every
        family implements it)."""
        raise NotImplementedError

    def items(self, seed: int, level: str, n: int) -> list[Item]:
        self.check_level(level)
        return [self.item(seed, level, i) for i in range(n)]

    def available(self, level: str) -> int | None:
        """How many items a level holds (None: unbounded, i.e. procedurally generated)."""
        return None

    def prompt(self, item: Item, sample: int) -> Prompt:
        return Prompt(item.messages)

    def parse(self, text: str, item: Item, prompt: Prompt) -> str | None:
        """The normalized answer in ``text`` (the key votes are counted on), or None."""
        raise NotImplementedError

    def verify(self, item: Item, answer: str) -> Verdict:
        """Whether a parsed answer is right against ``item.gold``, with partial credit (every
        family implements it)."""
        raise NotImplementedError

    def check(self, item: Item, answer: str) -> Check | None:
        """Whether a parsed answer satisfies the task's own constraints, never reading
        ``item.gold``; None when the family has no checker (``has_checker`` is False)."""
        return None

    def shown_answer(self, item: Item, answer: str) -> str:
        """A parsed answer as the prompt asks the model to write it inside the answer tags
        (what a judging prompt quotes back to the model)."""
        return answer

    def checked(self, item: Item, answer: str) -> bool | None:
        """A sample row's ``checked``: the checker's verdict on a parsed answer, or None
        without a checker. Stored with the sample (and by a rescore), so the selection
        strategies that read it need no pass of their own."""
        if not self.has_checker:
            return None
        found = self.check(item, answer)
        return None if found is None else found.ok
