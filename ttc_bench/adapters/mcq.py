"""Multiple choice: a built-in offline set with close distractors, or a dataset.

Options (keys of the task's table in a suite; all optional)
-----------------------------------------------------------
``preset``
    ``"gpqa-diamond"``, ``"mmlu"``, ``"mmlu-pro"`` or ``"arc-challenge"``: a Hugging Face Hub
    dataset with a known column layout. Only the split used is downloaded, once, into the
    Hugging Face cache (see ``mcq_hub``). With ``HF_HUB_OFFLINE=1`` or an unreachable Hub the
    cached copy is used; if there is none, one line within seconds says where to download
    the file and how to set ``path``.
``path``
    A local ``.json``/``.jsonl``/``.csv``/``.parquet`` file (in a suite file, relative to the
    suite file's folder). With ``preset``, the file is read with that preset's columns (an
    offline copy of the dataset, in any of the formats it is published in); without, with
    ``columns``. CSV cells are always text: "None", "nan" and "N/A" are options like any
    other (only the mmlu-pro preset drops "N/A", its padding, as MMLU-Pro's own evaluator
    does). JSON may be an array, JSON Lines, or ``{"data": [...]}``.
``header``
    ``false`` for a CSV file without a header line, such as the original MMLU release
    (``data/test/<subject>_test.csv``: question, A, B, C, D, answer letter). Columns are then
    positions, 1 being the first: with ``preset = "mmlu"`` that layout is known (and the
    subject is taken from the file name); without ``columns`` the first column is the
    question, the last the answer and those between the options.
``skip_bad_rows``
    ``true``: rows that cannot be read or checked are skipped and counted (``skipped_rows``,
    ``dataset_info()``) instead of failing the run with the first one.
``revision``
    A Hub branch, tag or commit to read a preset at (default: the latest).
``columns``
    How a local file keeps its questions (default ``{question = "question", choices =
    "choices", answer = "answer"}``)::

        question = "q"                  # the question text (default "question")
        # exactly one option layout:
        choices = "opts"                # one column holding a list of option texts, or a
                                        #   {text = [...], label = [...]} table (ARC style)
        options = ["A", "B", "C", "D"]  # one column per option, in order
        correct = "right"               # GPQA style: the correct text ...
        incorrect = ["w1", "w2", "w3"]  # ... and the wrong ones (no answer column then)
        answer = "ans"                  # which option is right (not with correct)
        answer_format = "auto"          # auto | letter | index | text
        subject = "topic"               # optional, recorded in each item's meta
        id = "qid"                      # optional, the row's own id, recorded in its meta

    ``answer`` under ``auto``: when the choices carry labels, the label ("C", "3"); else an
    integer is a 0-based index and a string is a letter ("B", "(b)"), a 0-based index
    ("2") or the exact text of the correct option. A string that reads two ways naming
    different options is an error asking for ``answer_format``. Empty options (padding) and
    repeated texts are dropped. A CSV cell may hold a list for ``choices`` as JSON, or as the
    Python/numpy repr that ``Dataset.to_csv`` writes.
``split``, ``subset`` (alias ``config``)
    Override a preset's Hub split/config (e.g. ``subset = "abstract_algebra"`` for MMLU).
``shuffle``
    ``true`` (default): every sample sees the options in its own order (see below).

Without ``preset`` and ``path`` the built-in arithmetic set is used (levels easy, medium,
hard); with a dataset there is one level, ``all``, whose item i is row ``perm[i]`` of a
permutation of all rows seeded by ``(seed, task, level)``, so ``--limit`` never changes one.

Where an item comes from: ``item.meta["source"]`` is a dict ``{dataset, preset, config,
split, revision, id, row, line}``: the Hub dataset id (or the local file), the commit read
(or ``sha256:...`` of the local file), the row's own id (ARC ``id``, GPQA ``Record ID``,
MMLU-Pro ``question_id``, MMLU ``<subject>/<k>``: the k-th question of that subject, 0-based,
which names the same question in cais/mmlu and in the original CSVs), ``row`` its 0-based
position in the file or split, ``line`` the line it starts on (local CSV/JSON Lines).
:func:`source_label` renders it in one line.

Option order: ``item.messages`` shows the options in the dataset's order (GPQA's correct
text is placed at a position fixed by the question), and so does sample 0, so one-sample
runs match the usual presentation. Sample j >= 1 of an item sees them permuted by an RNG
seeded from ``sha256(item id, j)``, recorded as
``prompt.meta["order"]`` (``order[k]`` = original index of the option shown as letter k).
``item.gold`` and parsed answers are ORIGINAL letters, so votes count the same underlying
option whatever letter each sample saw it under. This cancels the position bias that
otherwise inflates agreement between samples.

Answer extraction (which option a reply chooses): see ``mcq_extract``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UserError
from .base import Item, Level, Options, Prompt, TaskAdapter, Verdict, item_id, item_rng, level_table
from .mcq_datasets import LETTERS, PRESETS, Loaded, Row, Source, load_rows, make_source
from .mcq_extract import shown_choice

INSTRUCTION = "Think step by step, then finish with a line 'Answer: X' where X is the letter of your choice."

# ---- the built-in set ---------------------------------------------------------------


@dataclass(frozen=True)
class McqLevel(Level):
    op: str  # "+" or "*"
    a_digits: int
    b_digits: int
    option_count: int
    # Distractors keep this many leading and trailing digits of the correct value and
    # differ from it in at most max_diff digits, so no magnitude or last-digit check
    # rules them out.
    frozen_head: int
    frozen_tail: int
    max_diff: int


LEVELS: dict[str, McqLevel] = level_table(
    McqLevel("easy", "two-digit sum, 4 options off by a carry or a swapped digit", "+", 2, 2, 4, 0, 0, 2),
    McqLevel("medium", "3-digit x 2-digit product, 4 close options (same first and last digit)", "*", 3, 2, 4, 1, 1, 2),
    McqLevel("hard", "4-digit x 4-digit product, 6 options differing in one or two middle digits", "*", 4, 4, 6, 2, 1, 2),
)


def _number(rng: random.Random, digits: int) -> int:
    return rng.randint(10 ** (digits - 1), 10**digits - 1)


def _perturb(rng: random.Random, value: int, frozen_head: int, frozen_tail: int) -> int:
    """One slip a person makes in long arithmetic, away from the frozen leading/trailing digits.

    Frozen digits keep distractors "close": a last-digit or magnitude check cannot rule them out.
    """
    digits = list(str(value))
    positions = range(frozen_head, len(digits) - frozen_tail)
    if not positions:
        return value
    pos = rng.choice(positions)
    power = 10 ** (len(digits) - 1 - pos)
    kind = rng.random()
    if kind < 0.4:  # a dropped or extra carry
        return value + rng.choice((-1, 1)) * power
    if kind < 0.7 and pos + 1 < len(digits) - frozen_tail:  # two neighbouring digits swapped
        digits[pos], digits[pos + 1] = digits[pos + 1], digits[pos]
        return int("".join(digits))
    digits[pos] = str((int(digits[pos]) + rng.choice((-2, -1, 1, 2))) % 10)  # one digit misread
    return int("".join(digits))


def _differing_digits(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b))


def close_distractors(rng: random.Random, correct: int, count: int, level: McqLevel) -> list[int]:
    """``count`` distinct wrong values as long as ``correct``, each a slip away from another option.

    Perturbing a random option (not always the correct one) keeps the correct value from
    being the obvious "centre" every distractor was derived from.
    """
    head, tail_, max_diff = level.frozen_head, level.frozen_tail, level.max_diff
    text = str(correct)
    chosen: list[int] = []
    for _ in range(2000):  # ample: there are always far more candidates than needed
        if len(chosen) == count:
            return chosen
        base = rng.choice([correct, *chosen])
        candidate = _perturb(rng, base, head, tail_)
        shown = str(candidate)
        if (
            candidate > 0
            and len(shown) == len(text)
            and candidate != correct
            and candidate not in chosen
            and shown[:head] == text[:head]
            and shown[len(shown) - tail_ :] == text[len(text) - tail_ :]
            and _differing_digits(shown, text) <= max_diff
        ):
            chosen.append(candidate)
    # Unreachable for the shipped levels; kept so a new level can never loop forever.
    step = 10 if tail_ else 1
    offset = step
    while len(chosen) < count:
        if correct + offset not in chosen:
            chosen.append(correct + offset)
        offset += step
    return chosen


def generated_question(seed: int, task: str, level: str, index: int) -> tuple[str, list[str], int, str]:
    """(question, option texts, index of the correct one, expression) for one built-in item."""
    spec = LEVELS[level]
    rng = item_rng(seed, task, level, index)
    a, b = _number(rng, spec.a_digits), _number(rng, spec.b_digits)
    correct = a + b if spec.op == "+" else a * b
    values = close_distractors(rng, correct, spec.option_count - 1, spec)
    answer = rng.randrange(spec.option_count)  # the correct option's place in the unshuffled list
    values.insert(answer, correct)
    expression = f"{a} {spec.op} {b}"
    return f"What is {expression}?", [f"{value:,}" for value in values], answer, expression


# ---- prompts ------------------------------------------------------------------------


def render(question: str, options: list[str]) -> list[dict[str, str]]:
    lines = [f"({LETTERS[i]}) {option}" for i, option in enumerate(options)]
    content = f"{question}\n\n" + "\n".join(lines) + f"\n\n{INSTRUCTION}"
    return [{"role": "user", "content": content}]


def sample_order(item_key: str, sample: int, count: int) -> list[int]:
    """A permutation of range(count) fixed by (item, sample); sha256 so it survives restarts."""
    digest = hashlib.sha256(f"{item_key}/sample/{sample}".encode()).digest()
    order = list(range(count))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


# ---- the family ---------------------------------------------------------------------


@dataclass(frozen=True)
class McqOptions(Options):
    """The options of an mcq task (see the module docstring), checked once; ``source`` is
    where the questions come from, None for the built-in set."""

    preset: str | None = None
    path: str | None = None
    columns: Mapping[str, Any] | None = None  # read by mcq_columns.parse_columns
    split: str | None = None
    subset: str | None = None  # also accepted as config, the Hub's own word
    revision: str | None = None
    header: bool = True
    skip_bad_rows: bool = False
    shuffle: bool = True
    source: Source | None = field(init=False, default=None, repr=False, compare=False)

    @classmethod
    def parse(cls, task: str, family: str, table: Mapping[str, Any]) -> McqOptions:
        table = dict(table)
        if "config" in table:
            config, subset = table.pop("config"), table.get("subset")
            if subset is not None and config is not None and subset != config:
                raise UserError(f"mcq: subset {subset!r} and config {config!r} disagree; give one")
            table["subset"] = subset if subset is not None else config
        return super().parse(task, family, table)

    def __post_init__(self) -> None:
        if not isinstance(self.shuffle, bool):
            raise UserError(f"mcq option shuffle must be true or false, got {self.shuffle!r}")
        object.__setattr__(self, "source", self._source())

    def _source(self) -> Source | None:
        if self.preset is None and self.path is None:
            unset = (("columns", self.columns), ("split", self.split), ("subset", self.subset), ("revision", self.revision))
            given = [key for key, value in unset if value is not None]
            defaults = (("header", self.header, True), ("skip_bad_rows", self.skip_bad_rows, False))
            given += [key for key, value, default in defaults if value is not default]
            if given:
                raise UserError(f"mcq: {'/'.join(given)} need a dataset: add preset ({', '.join(PRESETS)}) or path")
            return None
        return make_source(self.preset, self.path, self.columns, self.split, self.subset, self.revision,
                           self.header, self.skip_bad_rows)


class MultipleChoice(TaskAdapter):
    name = "mcq"
    summary = "multiple choice: built-in arithmetic with close distractors, or GPQA/MMLU/MMLU-Pro/ARC/local files"
    levels = LEVELS
    level_hint = ("; GPQA, MMLU, MMLU-Pro and ARC are not levels: set preset = \"gpqa-diamond\" (or mmlu, mmlu-pro, "
                  "arc-challenge) in a suite's [[tasks]] (README: Concepts)")
    default_levels = ("easy", "medium", "hard")
    answer_tokens = 16
    answer_cue = "Time is up, so here is my final answer.\nAnswer:"
    options_type = McqOptions
    options: McqOptions
    # No gold-free checker: whether an option is right is exactly what the gold says.
    has_checker = False

    def __init__(self, task: str | None = None, options: Mapping[str, Any] | McqOptions | None = None):
        super().__init__(task, options)
        self.source = self.options.source
        if self.source is not None:
            origin = self.source.preset or self.source.path.name  # type: ignore[union-attr]
            # Instance attributes: the level list follows this task's configuration.
            self.levels = level_table(Level("all", f"every question of {origin}, in a seeded random order"))
            self.default_levels = ("all",)
        self._loaded: Loaded | None = None
        self._perms: dict[tuple[int, str], list[int]] = {}

    # -- datasets
    def rows(self) -> list[Row]:
        """The dataset, loaded and checked on first use, then kept for this adapter's life."""
        return self._dataset().rows

    def _dataset(self) -> Loaded:
        if self._loaded is None:
            assert self.source is not None
            self._loaded = load_rows(self.source)
        return self._loaded

    @property
    def skipped_rows(self) -> int:
        """Rows left out by ``skip_bad_rows`` (0 for the built-in set; loads the dataset)."""
        return 0 if self.source is None else len(self._dataset().skipped)

    def dataset_info(self) -> dict[str, Any] | None:
        """What the task read, for manifests and reports: the source (dataset, preset, config,
        split, revision), how many rows were used and skipped, and why the first few were."""
        if self.source is None:
            return None
        loaded = self._dataset()
        return {**loaded.origin, "rows": len(loaded.rows), "skipped_rows": len(loaded.skipped), "skipped": loaded.skipped[:20]}

    def available(self, level: str) -> int | None:
        self.check_level(level)
        return None if self.source is None else len(self.rows())

    def _row_for(self, seed: int, level: str, index: int) -> Row:
        rows = self.rows()
        if not 0 <= index < len(rows):
            raise UserError(
                f"task {self.task!r} has {len(rows)} questions; ask for at most {len(rows)} items (items / --limit)"
            )
        key = (seed, level)
        if key not in self._perms:
            perm = list(range(len(rows)))
            item_rng(seed, self.task, level, -1).shuffle(perm)
            self._perms[key] = perm
        return rows[self._perms[key][index]]

    # -- items
    def item(self, seed: int, level: str, index: int) -> Item:
        self.check_level(level)
        if self.source is None:
            question, options, answer, expression = generated_question(seed, self.task, level, index)
            source = {"dataset": "generated", "preset": None, "config": None, "split": None, "revision": None,
                      "id": expression, "row": None, "line": None}
            meta: dict[str, Any] = {"source": source, "expression": expression}
        else:
            row = self._row_for(seed, level, index)
            question, options, answer = row.question, list(row.options), row.answer
            meta = {"source": self._dataset().source_meta(row), "row": row.index, "subject": row.subject}
        meta.update(question=question, options=options, answer_index=answer)
        return Item(
            id=item_id(self.task, level, index),
            task=self.task,
            level=level,
            messages=render(question, options),
            gold=LETTERS[answer],
            meta=meta,
        )

    def prompt(self, item: Item, sample: int) -> Prompt:
        options = item.meta["options"]
        # Sample 0 sees the canonical order (as published results do, and as `show` prints
        # next to the gold letter); the others each see their own permutation.
        if not self.options.shuffle or sample == 0:
            return Prompt(item.messages, meta={"order": list(range(len(options)))})
        order = sample_order(item.id, sample, len(options))
        return Prompt(render(item.meta["question"], [options[i] for i in order]), meta={"order": order})

    def parse(self, text: str, item: Item, prompt: Prompt) -> str | None:
        options = item.meta["options"]
        order = prompt.meta.get("order") or list(range(len(options)))
        shown = shown_choice(text, [options[i] for i in order])
        return None if shown is None else LETTERS[order[shown]]

    def verify(self, item: Item, answer: str) -> Verdict:
        correct = answer == item.gold
        return Verdict(correct, float(correct))


def source_label(item: Item) -> str | None:
    """One line naming where a dataset item comes from, e.g. ``allenai/ai2_arc
    ARC-Challenge/test @ 210d026 row 17, id Mercury_7175875``; None for generated items."""
    source = item.meta.get("source")
    if not isinstance(source, dict) or source.get("dataset") in (None, "generated"):
        return None
    parts = [str(source["dataset"])]
    part = "/".join(str(source[key]) for key in ("config", "split") if source.get(key))
    if part:
        parts.append(part)
    if source.get("revision"):
        revision = str(source["revision"])
        parts.append(f"@ {revision if revision.startswith('sha256:') else revision[:12]}")
    place = f"line {source['line']}" if source.get("line") else f"row {source['row']}" if source.get("row") is not None else ""
    ident = f"id {source['id']}" if source.get("id") is not None else ""
    tail_ = ", ".join(part for part in (place, ident) if part)
    return " ".join(parts) + (f" {tail_}" if tail_ else "")
