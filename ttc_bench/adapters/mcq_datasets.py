"""Multiple-choice datasets for the mcq family: presets, column mappings, loading, row checks.

A dataset is turned into a list of :class:`Row` (question, option texts, index of the
correct option, subject) once, when it is first needed. Every row is checked then, so a bad
answer value fails the run up front with the row number instead of surfacing mid-run.

The ``datasets`` library is imported inside :func:`load_rows` only: importing it costs
about a second, which every CLI start-up would otherwise pay.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import UserError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ANSWER_FORMATS = ("auto", "letter", "index", "text")
FILE_FORMATS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}
COLUMN_KEYS = ("question", "choices", "options", "correct", "incorrect", "answer", "answer_format", "subject")


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
    # Presets name a subject column that copies of the data may lack; users' maps are strict.
    subject_required: bool = True

    def required(self) -> list[str]:
        names = [self.question, self.choices, *self.options, self.correct, *self.incorrect, self.answer]
        if self.subject and self.subject_required:
            names.append(self.subject)
        return [name for name in names if name]


@dataclass(frozen=True)
class Preset:
    hub_id: str
    config: str | None
    split: str
    columns: ColumnMap


PRESETS: dict[str, Preset] = {
    "gpqa-diamond": Preset(
        "Idavidrein/gpqa",
        "gpqa_diamond",
        "train",
        ColumnMap(
            question="Question",
            correct="Correct Answer",
            incorrect=("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"),
            subject="High-level domain",
            subject_required=False,
        ),
    ),
    "mmlu": Preset(
        "cais/mmlu",
        "all",
        "test",
        ColumnMap(choices="choices", answer="answer", answer_format="index", subject="subject", subject_required=False),
    ),
    "mmlu-pro": Preset(
        "TIGER-Lab/MMLU-Pro",
        None,
        "test",
        ColumnMap(choices="options", answer="answer", answer_format="letter", subject="category", subject_required=False),
    ),
    "arc-challenge": Preset(
        "allenai/ai2_arc",
        "ARC-Challenge",
        "test",
        # choices is {text: [...], label: [...]}; answerKey names a label ("C" or "3").
        ColumnMap(choices="choices", answer="answerKey"),
    ),
}


@dataclass(frozen=True)
class Row:
    question: str
    options: tuple[str, ...]
    answer: int  # index into options
    subject: str | None = None


@dataclass(frozen=True)
class Source:
    """Where the rows come from: a local file or a Hub dataset, plus the column map."""

    columns: ColumnMap
    path: Path | None = None
    hub_id: str | None = None
    config: str | None = None
    split: str | None = None
    preset: str | None = None

    def describe(self) -> str:
        if self.path is not None:
            return str(self.path)
        return f"{self.hub_id} ({'config ' + self.config + ', ' if self.config else ''}split {self.split})"


# ---- configuration --------------------------------------------------------------------


def _name(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise UserError(f"mcq columns.{key} must be a column name (a non-empty string), got {value!r}")
    return value


def _names(value: Any, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not value:
        raise UserError(f"mcq columns.{key} must be a list of column names, got {value!r}")
    return tuple(_name(item, key) for item in value)


def parse_columns(raw: Any) -> ColumnMap:
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
    columns = ColumnMap(
        question=_name(raw.get("question", "question"), "question"),
        choices=_name(raw["choices"], "choices") if "choices" in raw else None,
        options=_names(raw["options"], "options") if "options" in raw else (),
        correct=_name(raw["correct"], "correct") if "correct" in raw else None,
        incorrect=_names(raw["incorrect"], "incorrect") if "incorrect" in raw else (),
        answer=_name(raw["answer"], "answer") if "answer" in raw else None,
        answer_format=answer_format,
        subject=_name(raw["subject"], "subject") if "subject" in raw else None,
    )
    if columns.correct:
        if not columns.incorrect or columns.answer:
            raise UserError("mcq columns: correct needs incorrect (a list of columns) and no answer column")
    elif not columns.answer:
        raise UserError("mcq columns: answer (the column naming the correct option) is required")
    return columns


DEFAULT_FILE_COLUMNS = ColumnMap(choices="choices", answer="answer")


def make_source(preset: str | None, path: Any, columns: Any, split: Any, config: Any) -> Source:
    """Checks what is cheap to check now (names, file existence); the data loads later."""
    if preset is not None and preset not in PRESETS:
        raise UserError(f"mcq: unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if preset is not None and columns is not None:
        raise UserError("mcq: give either preset or columns, not both (a preset fixes the columns)")
    for key, value in (("split", split), ("subset", config)):
        if value is not None and not (isinstance(value, str) and value):
            raise UserError(f"mcq option {key} must be a non-empty string, got {value!r}")
    if path is None:
        if columns is not None:
            raise UserError("mcq: columns applies to a local file; add path = \"data.jsonl\"")
        info = PRESETS[preset]
        return Source(info.columns, hub_id=info.hub_id, config=config or info.config, split=split or info.split, preset=preset)
    if split is not None or config is not None:
        raise UserError("mcq: split and subset select part of a Hub dataset; a local path is read whole, drop them")
    file = _check_file(path)
    mapping = PRESETS[preset].columns if preset else (parse_columns(columns) if columns is not None else DEFAULT_FILE_COLUMNS)
    return Source(mapping, path=file, preset=preset)


def _check_file(path: Any) -> Path:
    if not isinstance(path, str | Path) or not str(path):
        raise UserError(f"mcq option path must be a file name, got {path!r}")
    file = Path(path).expanduser()
    if file.suffix.lower() not in FILE_FORMATS:
        raise UserError(f"mcq: cannot read {file.name!r}; path must end in {', '.join(FILE_FORMATS)}")
    if not file.is_file():
        raise UserError(f"mcq: dataset file {str(file)!r} not found (relative paths start at {Path.cwd()})")
    return file


# ---- loading --------------------------------------------------------------------------


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _load_table(source: Source) -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise UserError("mcq datasets need the 'datasets' package: pip install datasets") from exc
    if source.path is not None:
        kind = FILE_FORMATS[source.path.suffix.lower()]
        try:
            return _quietly(datasets, lambda: datasets.load_dataset(kind, data_files=str(source.path), split="train"))
        except Exception as exc:  # any parse error in the user's file is a user error
            raise UserError(f"mcq: could not read {source.path} as {kind}: {_one_line(exc)}") from exc
    try:
        return datasets.load_dataset(source.hub_id, source.config, split=source.split)
    except Exception as exc:  # offline, gated, renamed...: the datasets library raises many types
        raise UserError(
            f"mcq: could not load dataset {source.describe()} ({_one_line(exc, 120)}); check network access "
            "and HF_TOKEN (gated datasets need their terms accepted), or set path = \"...\" to a local copy"
        ) from exc


def _quietly(datasets: Any, load: Any) -> Any:
    """Local files load in well under a second: their progress bars would only be noise,
    and a failure is reported by us in one line, not also logged by the library."""
    was_enabled = datasets.is_progress_bar_enabled()
    level = datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)
    try:
        return load()
    finally:
        datasets.logging.set_verbosity(level)
        if was_enabled:
            datasets.enable_progress_bars()


def load_rows(source: Source) -> list[Row]:
    table = _load_table(source)
    present = list(table.column_names)
    columns = source.columns
    missing = [name for name in columns.required() if name not in present]
    if missing:
        raise UserError(
            f"mcq: {source.describe()} has no column {missing[0]!r}; columns present: {', '.join(present)}"
        )
    if columns.subject and columns.subject not in present:  # a preset's optional subject
        columns = replace(columns, subject=None)
    data = table.select_columns(columns.required() + ([columns.subject] if columns.subject else [])).to_dict()
    count = len(table)
    if count == 0:
        raise UserError(f"mcq: {source.describe()} holds no rows")
    return [_row(columns, {name: values[i] for name, values in data.items()}, i, source) for i in range(count)]


# ---- one row --------------------------------------------------------------------------


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else str(value)


class RowError(ValueError):
    """A problem in one row; load_rows adds where it is."""


def _row(columns: ColumnMap, cells: dict[str, Any], index: int, source: Source) -> Row:
    try:
        question = cells[columns.question]
        if _is_blank(question):
            raise RowError(f"column {columns.question!r} is empty")
        options, labels, correct = _options(columns, cells)
        if correct is None:
            correct = resolve_answer(cells[columns.answer], options, labels, columns.answer_format)
        options, correct = _drop_blank_and_duplicates(options, correct)
        if len(options) < 2:
            raise RowError(f"has {len(options)} usable option(s); a question needs at least 2")
        if len(options) > len(LETTERS):
            raise RowError(f"has {len(options)} options; at most {len(LETTERS)} are supported")
    except RowError as exc:
        raise UserError(f"mcq: row {index} of {source.describe()}: {exc}") from None
    subject = cells.get(columns.subject) if columns.subject else None
    return Row(_text(question), tuple(options), correct, None if _is_blank(subject) else _text(subject))


def _options(columns: ColumnMap, cells: dict[str, Any]) -> tuple[list[Any], list[str] | None, int | None]:
    """(option cells, labels if the table names its options, correct index if known already)."""
    if columns.correct:
        if _is_blank(cells[columns.correct]):
            raise RowError(f"column {columns.correct!r} (the correct answer) is empty")
        options = [cells[name] for name in columns.incorrect]
        # The file keeps the correct text apart; put it at a place fixed by the question so
        # the unshuffled order (shuffle = false) does not always have it first.
        place = _stable_int(_text(cells[columns.question])) % (len(options) + 1)
        options.insert(place, cells[columns.correct])
        return options, None, place
    if columns.options:
        return [cells[name] for name in columns.options], None, None
    value = cells[columns.choices]
    if isinstance(value, str) and value.lstrip().startswith("["):
        # CSV cannot hold lists: accept a JSON list written into the cell.
        try:
            value = json.loads(value)
        except ValueError:
            pass
    if isinstance(value, Mapping):  # ARC: {"text": [...], "label": [...]}
        if "text" not in value:
            raise RowError(f"column {columns.choices!r} is a table without a 'text' list")
        texts, labels = list(value["text"] or []), value.get("label")
        labels = [_text(label) for label in labels] if labels else None
        if labels is not None and len(labels) != len(texts):
            raise RowError(f"column {columns.choices!r} has {len(texts)} texts but {len(labels)} labels")
        return texts, labels, None
    if not isinstance(value, list | tuple):
        raise RowError(f"column {columns.choices!r} must hold a list of options, got {type(value).__name__}")
    return list(value), None, None


_LETTER_VALUE = re.compile(r"\(?([A-Za-z])\)?\.?")


def resolve_answer(value: Any, options: list[Any], labels: list[str] | None, answer_format: str) -> int:
    """The index of the option an answer cell names.

    ``auto``: a label when the choices carry labels (ARC); else an integer is a 0-based index
    and a string is a letter ("B", "(b)"), a 0-based index ("2") or an option's exact text.
    A string that reads two ways naming different options (options "1","2","3", answer "2")
    is rejected: set ``answer_format`` to say which reading is meant.
    """
    shown = _preview(value)
    if _is_blank(value) or isinstance(value, bool):
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
        index = _as_index(value)
        if index is not None:
            readings["index"] = index
    if answer_format in ("auto", "letter") and isinstance(value, str):
        match = _LETTER_VALUE.fullmatch(value.strip())
        if match:
            readings["letter"] = LETTERS.index(match.group(1).upper())
    # An integer cell is an index under auto; only an explicit "text" compares it as text.
    if answer_format == "text" or (answer_format == "auto" and isinstance(value, str)):
        wanted = _text(value)
        for i, option in enumerate(options):
            if not _is_blank(option) and _text(option) == wanted:
                readings["text"] = i
                break
    if not readings:
        expected = {"auto": "a letter, 0-based index or option text", "letter": "a letter", "index": "a 0-based index", "text": "an option's exact text"}
        raise RowError(f"answer {shown} is not {expected[answer_format]}")
    # Only readings that name a real option compete: "z" with 6 options is the text "z".
    usable = {kind: i for kind, i in readings.items() if 0 <= i < count and not _is_blank(options[i])}
    if not usable:
        last = LETTERS[min(count, len(LETTERS)) - 1]
        raise RowError(f"answer {shown} is out of range for {count} options (A-{last}, 0-{count - 1}) or names an empty one")
    if len(set(usable.values())) > 1:
        raise RowError(f"answer {shown} is ambiguous ({', '.join(usable)}); set columns.answer_format")
    return next(iter(usable.values()))


def _as_index(value: Any) -> int | None:
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


def _drop_blank_and_duplicates(options: list[Any], correct: int) -> tuple[list[str], int]:
    """Removes padding (None, "", NaN) and repeated texts so that exactly one option is right."""
    correct_text = _text(options[correct])
    kept: list[str] = []
    seen = {correct_text}
    new_correct = -1
    for i, option in enumerate(options):
        if i == correct:
            new_correct = len(kept)
            kept.append(correct_text)
        elif not _is_blank(option) and _text(option) not in seen:
            seen.add(_text(option))
            kept.append(_text(option))
    return kept, new_correct
