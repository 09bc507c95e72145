"""The column map of an MCQ table and the checks that turn one row's cells into a Row.

A :class:`ColumnMap` says where a table keeps the question, the options and the answer;
:func:`row_from_cells` applies it to one row and raises :class:`RowError` (a reason without a
location: the loader adds the file, line and row id) when the row cannot be one question.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UserError
from .mcq_formats import parse_list_cell

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ANSWER_FORMATS = ("auto", "letter", "index", "text")
COLUMN_KEYS = ("question", "choices", "options", "correct", "incorrect", "answer", "answer_format", "subject", "id")


@dataclass(frozen=True)
class ColumnMap:
    """Where a table keeps the parts of a question (see the mcq module docstring)."""

    question: str = "question"
    choices: str | None = None  # one column: a list of option texts, or {text: [...], label: [...]}
    options: tuple[str, ...] = ()  # one column per option, in order A, B, C...
    correct: str | None = None  # GPQA style: the correct option's text ...
    incorrect: tuple[str, ...] = ()  # ... and one column per wrong option
    answer: str | None = None  # letter, 0-based index, label or option text (see answer_format)
    answer_format: str = "auto"
    subject: str | None = None  # optional; recorded in the item's meta
    id: str | None = None  # the row's own id (ARC "id", GPQA "Record ID"), recorded in meta
    # Presets name optional columns (subject, id, a cross-check) that copies may lack;
    # users' maps are strict.
    optional: tuple[str, ...] = ()
    padding: tuple[str, ...] = ()  # option texts that mean "no option here" (MMLU-Pro: "N/A")
    answer_index: str | None = None  # a second answer column that must agree (MMLU-Pro)

    def required(self) -> list[str]:
        names = [self.question, self.choices, *self.options, self.correct, *self.incorrect, self.answer, self.subject, self.id]
        return [name for name in names if name and name not in self.optional]


@dataclass(frozen=True)
class Row:
    question: str
    options: tuple[str, ...]
    answer: int  # index into options
    subject: str | None = None
    source_id: str | None = None  # the dataset's own id of the row, when it has one
    index: int = 0  # 0-based position in the file or split
    line: int | None = None  # 1-based line it starts on (CSV, JSON Lines)


# ---- the columns option -----------------------------------------------------------


def _column(value: Any, key: str, header: bool) -> str:
    if header and isinstance(value, str) and value:
        return value
    if not header and isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)
    if header:
        hint = "; positions (1, 2, ...) need header = false" if isinstance(value, int) else ""
        raise UserError(f"mcq columns.{key} must be a column name from the header line, got {value!r}{hint}")
    raise UserError(f"mcq columns.{key}: with header = false, columns are positions (1 is the first column), got {value!r}")


def _columns(value: Any, key: str, header: bool) -> tuple[str, ...]:
    if isinstance(value, str | int):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise UserError(f"mcq columns.{key} must be a list of columns, got {value!r}")
    return tuple(_column(item, key, header) for item in value)


def parse_columns(raw: Any, header: bool = True) -> ColumnMap:
    """A user's ``columns`` table -> ColumnMap, with the layout rules checked."""
    if not isinstance(raw, Mapping):
        raise UserError(f"mcq option columns must be a table such as {{question = \"q\", choices = \"opts\", answer = \"a\"}}, got {raw!r}")
    unknown = sorted(set(raw) - set(COLUMN_KEYS))
    if unknown:
        raise UserError(f"mcq columns: unknown key(s) {', '.join(unknown)}; known: {', '.join(COLUMN_KEYS)}")
    layouts = [key for key in ("choices", "options", "correct") if key in raw]
    if len(layouts) != 1:
        raise UserError(
            "mcq columns must give exactly one of choices (a list column), options (one column per option) "
            f"or correct + incorrect (GPQA style); got {', '.join(layouts) or 'none'}"
        )
    answer_format = raw.get("answer_format", "auto")
    if answer_format not in ANSWER_FORMATS:
        raise UserError(f"mcq columns.answer_format must be one of {', '.join(ANSWER_FORMATS)}, got {answer_format!r}")
    one = {key: _column(raw[key], key, header) for key in ("choices", "correct", "answer", "subject", "id") if key in raw}
    many = {key: _columns(raw[key], key, header) for key in ("options", "incorrect") if key in raw}
    question = _column(raw.get("question", "question" if header else 1), "question", header)
    columns = ColumnMap(question=question, answer_format=answer_format, **one, **many)
    if columns.correct:
        if not columns.incorrect or columns.answer:
            raise UserError("mcq columns: correct needs incorrect (a list of columns) and no answer column")
    elif not columns.answer:
        raise UserError("mcq columns: answer (the column naming the correct option) is required")
    return columns


# ---- one row --------------------------------------------------------------------------


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def cell_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


class RowError(ValueError):
    """A problem in one row; load_rows adds where it is."""


def row_from_cells(columns: ColumnMap, cells: dict[str, Any], default_subject: str | None = None, text_cells: bool = False) -> Row:
    question = cells[columns.question]
    if is_blank(question):
        raise RowError(f"column {columns.question!r} is empty")
    options, labels, correct = _options(columns, cells)
    if correct is None:
        correct = resolve_answer(cells[columns.answer], options, labels, columns.answer_format, text_cells)
        _check_answer_index(columns, cells, correct)
    options, correct = _drop_padding_and_duplicates(options, correct, columns.padding)
    if len(options) < 2:
        raise RowError(f"has {len(options)} usable option(s); a question needs at least 2")
    if len(options) > len(LETTERS):
        raise RowError(f"has {len(options)} options; at most {len(LETTERS)} are supported")
    subject = cells.get(columns.subject) if columns.subject else default_subject
    return Row(cell_text(question), tuple(options), correct, None if is_blank(subject) else cell_text(subject))


def _check_answer_index(columns: ColumnMap, cells: dict[str, Any], correct: int) -> None:
    if not columns.answer_index or is_blank(cells.get(columns.answer_index)):
        return
    index = as_index(cells[columns.answer_index])
    if index != correct:
        raise RowError(f"answer {_preview(cells[columns.answer])} and {columns.answer_index} {_preview(cells[columns.answer_index])} disagree")


def _options(columns: ColumnMap, cells: dict[str, Any]) -> tuple[list[Any], list[str] | None, int | None]:
    """(option cells, labels if the table names its options, correct index if known already)."""
    if columns.correct:
        if is_blank(cells[columns.correct]):
            raise RowError(f"column {columns.correct!r} (the correct answer) is empty")
        options = [cells[name] for name in columns.incorrect]
        # The file keeps the correct text apart; put it at a place fixed by the question so
        # the unshuffled order (shuffle = false) does not always have it first.
        place = _stable_int(cell_text(cells[columns.question])) % (len(options) + 1)
        options.insert(place, cells[columns.correct])
        return options, None, place
    if columns.options:
        return [cells[name] for name in columns.options], None, None
    value = cells[columns.choices]
    if isinstance(value, str):
        # CSV cannot hold lists: a JSON list, or the repr Dataset.to_csv writes.
        parsed = parse_list_cell(value)
        if parsed is None:
            raise RowError(f"column {columns.choices!r} holds text that is not a list: {_preview(value)}")
        value = parsed
    if isinstance(value, Mapping):  # ARC: {"text": [...], "label": [...]}
        if "text" not in value:
            raise RowError(f"column {columns.choices!r} is a table without a 'text' list")
        texts, labels = list(value["text"] or []), value.get("label")
        labels = [cell_text(label) for label in labels] if labels else None
        if labels is not None and len(labels) != len(texts):
            raise RowError(f"column {columns.choices!r} has {len(texts)} texts but {len(labels)} labels")
        return texts, labels, None
    if not isinstance(value, list | tuple):
        raise RowError(f"column {columns.choices!r} must hold a list of options, got {type(value).__name__}")
    return list(value), None, None


_LETTER_VALUE = re.compile(r"\(?([A-Za-z])\)?\.?")


def resolve_answer(value: Any, options: list[Any], labels: list[str] | None, answer_format: str, text_cells: bool = False) -> int:
    """The index of the option an answer cell names.

    ``auto``: a label when the choices carry labels (ARC); else an integer is a 0-based index
    and a string is a letter ("B", "(b)"), a 0-based index ("2") or an option's exact text.
    A string that reads two ways naming different options (options "1","2","3", answer "2")
    is rejected: set ``answer_format`` to say which reading is meant. ``text_cells``: the
    table cannot hold numbers (CSV), so a cell of digits is the integer it spells.
    """
    shown = _preview(value)
    if text_cells and answer_format == "auto" and labels is None and isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if is_blank(value) or isinstance(value, bool):
        raise RowError(f"answer {shown} is not a letter, 0-based index or option text")
    count = len(options)
    if labels is not None and answer_format in ("auto", "text") and isinstance(value, str):
        label = value.strip()
        for candidate in (label, label.upper()):
            if candidate in labels:
                return labels.index(candidate)
        raise RowError(f"answer {shown} is not one of the labels {', '.join(labels)}")
    readings: dict[str, int] = {}
    if answer_format in ("auto", "index"):
        index = as_index(value)
        if index is not None:
            readings["index"] = index
    if answer_format in ("auto", "letter") and isinstance(value, str):
        match = _LETTER_VALUE.fullmatch(value.strip())
        if match:
            readings["letter"] = LETTERS.index(match.group(1).upper())
    # An integer cell is an index under auto; only an explicit "text" compares it as text.
    if answer_format == "text" or (answer_format == "auto" and isinstance(value, str)):
        wanted = cell_text(value)
        for i, option in enumerate(options):
            if not is_blank(option) and cell_text(option) == wanted:
                readings["text"] = i
                break
    if not readings:
        expected = {"auto": "a letter, 0-based index or option text", "letter": "a letter", "index": "a 0-based index", "text": "an option's exact text"}
        raise RowError(f"answer {shown} is not {expected[answer_format]}")
    # Only readings that name a real option compete: "z" with 6 options is the text "z".
    usable = {kind: i for kind, i in readings.items() if 0 <= i < count and not is_blank(options[i])}
    if not usable:
        last = LETTERS[min(count, len(LETTERS)) - 1]
        raise RowError(f"answer {shown} is out of range for {count} options (A-{last}, 0-{count - 1}) or names an empty one")
    if len(set(usable.values())) > 1:
        raise RowError(f"answer {shown} is ambiguous ({', '.join(usable)}); set columns.answer_format")
    return next(iter(usable.values()))


def as_index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    # numpy integers from parquet/pandas
    if hasattr(value, "__index__") and not isinstance(value, str):
        try:
            return int(value.__index__())
        except TypeError:
            return None
    return None


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _drop_padding_and_duplicates(options: list[Any], correct: int, padding: tuple[str, ...]) -> tuple[list[str], int]:
    """Removes padding (None, "", NaN, a preset's filler text such as MMLU-Pro's "N/A") and
    repeated texts so that exactly one option is right. The correct option always stays."""
    correct_text = cell_text(options[correct])
    kept: list[str] = []
    seen = {correct_text}
    new_correct = -1
    for i, option in enumerate(options):
        if i == correct:
            new_correct = len(kept)
            kept.append(correct_text)
        elif not is_blank(option) and cell_text(option) not in padding and cell_text(option) not in seen:
            seen.add(cell_text(option))
            kept.append(cell_text(option))
    return kept, new_correct
