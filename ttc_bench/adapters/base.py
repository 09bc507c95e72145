"""The task-adapter contract, the Item/Verdict data model and shared answer extraction.

Every family (arithmetic, sudoku, crossword, mcq) subclasses :class:`TaskAdapter` and
registers itself with :func:`register`. Items are a pure function of
``(seed, task, level, index)`` so that ``--limit`` and re-runs never change an item.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import UserError

# Model output is untrusted: extraction looks at most at this many trailing characters,
# which keeps every parser linear and bounded on megabyte-sized outputs.
MAX_PARSE_CHARS = 20_000


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


def item_rng(seed: int, task: str, level: str, index: int) -> random.Random:
    """A private RNG for one item, independent of Python's hash salt and iteration order."""
    digest = hashlib.sha256(f"{seed}/{task}/{level}/{index}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def item_id(task: str, level: str, index: int) -> str:
    return f"{task}/{level}/{index:04d}"


class TaskAdapter:
    """Base class of a task family.

    Subclasses set ``name``, ``summary``, ``levels`` (level id -> what it means),
    ``answer_tokens`` (tokens a final answer needs, used when budget forcing asks for it)
    and ``answer_cue`` (the text budget forcing writes after the model's cut-off reasoning,
    which the model completes with its answer), and implement :meth:`item`, :meth:`parse`
    and :meth:`verify`.

    ``options`` are the extra keys of the task's table in a suite (e.g. an MCQ dataset);
    an adapter that takes none rejects any.
    """

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    levels: ClassVar[dict[str, str]] = {}
    default_levels: ClassVar[tuple[str, ...]] = ()
    answer_tokens: ClassVar[int] = 32
    # Written into the model's own message after its cut-off reasoning (no trailing
    # whitespace: some servers refuse a prefill that ends in it).
    answer_cue: ClassVar[str] = "Time is up, so here is my final answer: <answer>"

    def __init__(self, task: str | None = None, options: dict[str, Any] | None = None):
        self.task = task or self.name
        options = dict(options or {})
        self.configure(options)
        if options:
            raise UserError(
                f"task {self.task!r}: unknown option(s) {', '.join(sorted(options))} "
                f"for family {self.name!r}"
            )

    def configure(self, options: dict[str, Any]) -> None:
        """Consume (pop) the options this family understands; leftovers are rejected."""

    def level_ids(self) -> list[str]:
        return list(self.levels)

    def check_level(self, level: str) -> str:
        if level not in self.level_ids():
            raise UserError(
                f"task {self.task!r} has no level {level!r}; levels: {', '.join(self.level_ids())}"
            )
        return level

    def item(self, seed: int, level: str, index: int) -> Item:
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
        raise NotImplementedError


_REGISTRY: dict[str, type[TaskAdapter]] = {}


def register(cls: type[TaskAdapter]) -> type[TaskAdapter]:
    _REGISTRY[cls.name] = cls
    return cls


def families() -> dict[str, type[TaskAdapter]]:
    from . import load_all

    load_all()
    return dict(_REGISTRY)


def get_family(name: str) -> type[TaskAdapter]:
    known = families()
    if name not in known:
        raise UserError(f"unknown task family {name!r}; known: {', '.join(sorted(known))}")
    return known[name]


# ---- shared answer extraction -------------------------------------------------------
# All helpers use rfind or linear regexes on a bounded tail: no nested quantifiers.


def tail(text: str | None, limit: int = MAX_PARSE_CHARS) -> str:
    if not text:
        return ""
    return text[-limit:]


def last_tagged(text: str, tag: str = "answer") -> str | None:
    """Content of the last ``<tag>...</tag>``; an unclosed last tag runs to the end."""
    low = text.lower()
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    start = low.rfind(open_tag)
    if start < 0:
        return None
    end = low.find(close_tag, start)
    body = text[start + len(open_tag) : end if end >= 0 else len(text)]
    return body.strip()


def last_answer_line(text: str) -> str | None:
    """What follows the last "Answer:" (or "final answer:") up to the end of its line."""
    low = text.lower()
    pos = low.rfind("answer:")
    if pos < 0:
        return None
    # lstrip first so that "Answer:\n42" yields "42".
    line = text[pos + len("answer:") :].lstrip().split("\n", 1)[0].strip()
    return line or None


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*-?\d+)?")


def last_number(text: str) -> str | None:
    """The last number-looking token: integers, thousands separators, decimals, fractions."""
    last = None
    for match in _NUMBER.finditer(text):
        last = match.group(0)
    return last


def strip_markup(text: str) -> str:
    """Drop the LaTeX/markdown wrappers models put around answers ($, **, \\boxed{...})."""
    out = text.strip()
    boxed = out.rfind("\\boxed{")
    if boxed >= 0:
        inner = out[boxed + len("\\boxed{") :]
        depth, end = 1, len(inner)
        for i, ch in enumerate(inner):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        out = inner[:end]
    for wrapper in ("$", "**", "`"):
        out = out.replace(wrapper, "")
    return out.strip().rstrip(".").strip()


def data_file(name: str):
    """A file shipped in the project's tasks/ folder (installed as the ttc_bench.tasks package)."""
    from importlib.resources import files

    try:
        return files("ttc_bench.tasks").joinpath(name)
    except ModuleNotFoundError:  # running from a source tree that is not installed
        from pathlib import Path

        return Path(__file__).resolve().parents[2] / "tasks" / name
