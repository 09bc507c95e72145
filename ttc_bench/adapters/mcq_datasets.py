"""Multiple-choice datasets for the mcq family: presets, column maps, loading, row checks.

A dataset is turned into :class:`Row` objects (question, option texts, index of the correct
option, subject, the row's own id) once, when first needed. Every row is checked then, so a
bad answer value fails the run up front, naming the file, the line or row and the row's id;
with ``skip_bad_rows`` such rows are skipped and counted instead.

Files are read by ``mcq_formats`` (our readers, for the reasons given there); a preset's
Hub split is fetched by ``mcq_hub`` (only that split, failing fast when the Hub is down).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import UserError
from .mcq_columns import LETTERS, ColumnMap, Row, RowError, cell_text, is_blank, parse_columns, row_from_cells
from .mcq_formats import FORMATS, Record, Table, looks_headerless, read_table
from .mcq_hub import HubRequest, fetch

__all__ = ["LETTERS", "PRESETS", "ColumnMap", "Loaded", "Row", "Source", "load_rows", "make_source"]


@dataclass(frozen=True)
class Preset:
    hub_id: str
    config: str | None
    split: str
    columns: ColumnMap
    files: tuple[str, ...]  # the split's files in the repo ({config}, {split} filled in)
    example: str  # today's file of the default split, named in the "use a local copy" hint
    headerless: ColumnMap | None = None  # positions in a headerless CSV release, if one exists


PRESETS: dict[str, Preset] = {
    # Idavidrein/gpqa README configs: gpqa_diamond -> gpqa_diamond.csv (one split, "train").
    "gpqa-diamond": Preset(
        "Idavidrein/gpqa",
        "gpqa_diamond",
        "train",
        ColumnMap(
            question="Question",
            correct="Correct Answer",
            incorrect=("Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"),
            subject="High-level domain",
            id="Record ID",
            optional=("High-level domain", "Record ID"),
        ),
        ("{config}.csv",),
        "gpqa_diamond.csv",
    ),
    # cais/mmlu README configs: all -> all/test-*; answer is a ClassLabel stored as 0-3.
    # The original release (hendrycks/test data/test/<subject>_test.csv) has no header:
    # question, A, B, C, D, answer letter; its subject is the file name.
    "mmlu": Preset(
        "cais/mmlu",
        "all",
        "test",
        ColumnMap(choices="choices", answer="answer", answer_format="index", subject="subject", optional=("subject",)),
        ("{config}/{split}-*",),
        "all/test-00000-of-00001.parquet",
        headerless=ColumnMap(question="1", options=("2", "3", "4", "5"), answer="6", answer_format="letter"),
    ),
    # TIGER-Lab/MMLU-Pro: default config, data/test-*; up to 10 options padded with "N/A",
    # which its evaluate_from_api.py preprocess() drops (options equal to "N/A").
    "mmlu-pro": Preset(
        "TIGER-Lab/MMLU-Pro",
        None,
        "test",
        ColumnMap(
            choices="options",
            answer="answer",
            answer_format="letter",
            subject="category",
            id="question_id",
            optional=("category", "question_id", "answer_index"),
            padding=("N/A",),
            answer_index="answer_index",
        ),
        ("data/{split}-*",),
        "data/test-00000-of-00001.parquet",
    ),
    # allenai/ai2_arc README configs: ARC-Challenge -> ARC-Challenge/test-*; answerKey names
    # a label, "A".."E" or "1".."5"; items have 3 to 5 choices.
    "arc-challenge": Preset(
        "allenai/ai2_arc",
        "ARC-Challenge",
        "test",
        ColumnMap(choices="choices", answer="answerKey", id="id", optional=("id",)),
        ("{config}/{split}-*",),
        "ARC-Challenge/test-00000-of-00001.parquet",
    ),
}


@dataclass(frozen=True)
class Source:
    """Where the rows come from: a local file or a Hub dataset, plus how to read them."""

    columns: ColumnMap | None  # None: a headerless file read as question, options..., answer
    path: Path | None = None
    hub_id: str | None = None
    config: str | None = None
    split: str | None = None
    preset: str | None = None
    revision: str | None = None  # a Hub revision to pin (branch, tag or commit)
    header: bool = True
    skip_bad: bool = False

    def describe(self) -> str:
        if self.path is not None:
            return str(self.path)
        parts = [part for part in (self.config, self.split) if part]
        return f"{self.hub_id} ({', '.join(parts)})" if parts else str(self.hub_id)


@dataclass
class Loaded:
    rows: list[Row]
    skipped: list[str] = field(default_factory=list)  # "line 7 (id x): why", one per skipped row
    origin: dict[str, Any] = field(default_factory=dict)  # dataset, preset, config, split, revision

    def source_meta(self, row: Row) -> dict[str, Any]:
        return {**self.origin, "id": row.source_id, "row": row.index, "line": row.line}


# ---- configuration --------------------------------------------------------------------


DEFAULT_FILE_COLUMNS = ColumnMap(choices="choices", answer="answer")


def make_source(
    preset: str | None,
    path: Any,
    columns: Any,
    split: Any,
    config: Any,
    revision: Any = None,
    header: Any = True,
    skip_bad: Any = False,
) -> Source:
    """Checks what is cheap to check now (names, file existence); the data loads later."""
    if preset is not None and preset not in PRESETS:
        raise UserError(f"mcq: unknown preset {preset!r}; presets: {', '.join(PRESETS)}")
    if preset is not None and columns is not None:
        raise UserError("mcq: give either preset or columns, not both (a preset fixes the columns)")
    for key, value in (("split", split), ("subset", config), ("revision", revision)):
        if value is not None and not (isinstance(value, str) and value):
            raise UserError(f"mcq option {key} must be a non-empty string, got {value!r}")
    for key, value in (("header", header), ("skip_bad_rows", skip_bad)):
        if not isinstance(value, bool):
            raise UserError(f"mcq option {key} must be true or false, got {value!r}")
    if path is None:
        if columns is not None:
            raise UserError("mcq: columns applies to a local file; add path = \"data.jsonl\"")
        if not header:
            raise UserError("mcq: header = false applies to a local CSV file; add path = \"data.csv\"")
        info = PRESETS[preset]
        return Source(
            info.columns, hub_id=info.hub_id, config=config or info.config, split=split or info.split,
            preset=preset, revision=revision, skip_bad=skip_bad,
        )
    if split is not None or config is not None or revision is not None:
        raise UserError("mcq: split, subset and revision select part of a Hub dataset; a local path is read whole, drop them")
    file = _check_file(path)
    if not header and file.suffix.lower() != ".csv":
        raise UserError(f"mcq: header = false applies to CSV files; {file.name} has its column names inside")
    return Source(_file_columns(preset, columns, header), path=file, preset=preset, header=header, skip_bad=skip_bad)


def _file_columns(preset: str | None, columns: Any, header: bool) -> ColumnMap | None:
    if columns is not None:
        return parse_columns(columns, header)
    if preset is None:
        return DEFAULT_FILE_COLUMNS if header else None  # None: question, options..., answer
    if header:
        return PRESETS[preset].columns
    positional = PRESETS[preset].headerless
    if positional is None:
        raise UserError(
            f"mcq: {preset} files have a header line; header = false reads headerless CSVs such as the original "
            "MMLU release (preset = \"mmlu\"), or give columns by position without a preset"
        )
    return positional


def _check_file(path: Any) -> Path:
    if not isinstance(path, str | Path) or not str(path):
        raise UserError(f"mcq option path must be a file name, got {path!r}")
    file = Path(path).expanduser()
    if file.suffix.lower() not in FORMATS:
        raise UserError(f"mcq: cannot read {file.name!r}; path must end in {', '.join(FORMATS)}")
    if not file.is_file():
        raise UserError(f"mcq: dataset file {str(file)!r} not found ({_where_to_look(file)})")
    return file


def _where_to_look(file: Path) -> str:
    """Where the path was looked for, and a near-miss name if the folder has one."""
    # The suite reader joins a relative path in a suite file to the suite's folder, so a
    # path arriving absolute usually came from a suite; a relative one is used as given.
    if file.is_absolute():
        base = f"a relative path in a suite file starts at the suite file's folder; looked in {file.parent}"
    else:
        base = f"relative to the working directory {Path.cwd()}"
    folder = file.parent if file.is_absolute() else Path.cwd() / file.parent
    if not folder.is_dir():
        return f"{base}; that folder does not exist"
    names = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in FORMATS)
    close = difflib.get_close_matches(file.name, names, n=1, cutoff=0.6)
    return f"{base}; did you mean {close[0]!r}?" if close else base


# ---- loading --------------------------------------------------------------------------


def load_rows(source: Source) -> Loaded:
    """The checked rows of a source, with what was skipped and where they came from."""
    tables, origin = _tables(source)
    columns = _resolve_columns(source, tables[0])
    rows: list[Row] = []
    skipped: list[str] = [f"{_place(source, table)} {why}" for table in tables for why in table.unreadable]
    subject = _subject_of_file(source.path) if source.preset == "mmlu" and columns.subject is None else None
    subject_counts: dict[str, int] = {}
    offset = 0
    for table in tables:
        for record in table.records:
            index = offset + record.row
            ident = _row_id(columns, record.cells, subject, source.preset, subject_counts)
            try:
                row = row_from_cells(columns, record.cells, subject, table.text_cells)
            except RowError as exc:
                reason = f"{_where(record, index, source)}{f' (id {ident})' if ident else ''}: {exc}"
                if not source.skip_bad:
                    raise UserError(f"mcq: {reason} (fix the row, or add skip_bad_rows = true to the task to skip such rows)") from None
                skipped.append(reason)
                continue
            rows.append(replace(row, source_id=ident, index=index, line=record.line if source.path is not None else None))
        offset += table.size
    if not rows:
        detail = f"; {len(skipped)} skipped, first: {skipped[0]}" if skipped else ""
        raise UserError(f"mcq: {source.describe()} holds no usable rows{detail}")
    return Loaded(rows, skipped, origin)


def _tables(source: Source) -> tuple[list[Table], dict[str, Any]]:
    if source.path is not None:
        table = read_table(source.path, header=source.header, skip_bad=source.skip_bad)
        return [table], {"dataset": str(source.path), "preset": source.preset, "config": None, "split": None, "revision": table.digest}
    preset = PRESETS[source.preset or ""]
    request = HubRequest(
        preset.hub_id,
        source.config,
        source.split or preset.split,
        tuple(pattern.format(config=source.config, split=source.split) for pattern in preset.files),
        source.revision,
        preset.example if (source.config, source.split) == (preset.config, preset.split) else "",
    )
    files = fetch(request)
    origin = {"dataset": source.hub_id, "preset": source.preset, "config": source.config, "split": source.split, "revision": files.revision}
    if not files.paths:  # the repo's layout moved on: let the datasets library find the split
        return [_load_with_datasets(source, files.revision)], origin
    return [read_table(path, skip_bad=source.skip_bad) for path in files.paths], origin


def _load_with_datasets(source: Source, revision: str | None) -> Table:
    try:
        import datasets
    except ImportError:
        raise UserError(f"mcq: {source.describe()} has an unexpected file layout; pip install datasets to load it") from None
    try:
        data = _quietly(datasets, lambda: datasets.load_dataset(source.hub_id, source.config, split=source.split, revision=revision))
    except Exception as exc:  # offline, gated, renamed...: the library raises many types
        raise UserError(f"mcq: could not load {source.describe()} ({' '.join(str(exc).split())[:120]}); or set path = \"...\" to a local copy") from None
    records = [Record(cells, index) for index, cells in enumerate(data.to_list())]
    return Table(list(data.column_names), records)


def _quietly(datasets: Any, load: Any) -> Any:
    """The library's progress bars and log lines would only repeat what we report in one line."""
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


def _resolve_columns(source: Source, table: Table) -> ColumnMap:
    columns = source.columns
    if columns is None:  # headerless, no map: the original MMLU layout, whatever the width
        width = len(table.columns)
        if width < 4:
            raise UserError(f"mcq: {source.describe()} rows have {width} fields; header = false expects question, 2+ options, answer")
        columns = ColumnMap(question="1", options=tuple(str(i) for i in range(2, width)), answer=str(width))
    present = set(table.columns)
    missing = [name for name in columns.required() if name not in present]
    if missing:
        raise UserError(_missing_message(source, table, missing[0]))
    optional = {name for name in columns.optional if name not in present}
    if optional:  # a preset's optional columns this copy lacks
        columns = replace(
            columns,
            subject=None if columns.subject in optional else columns.subject,
            id=None if columns.id in optional else columns.id,
            answer_index=None if columns.answer_index in optional else columns.answer_index,
        )
    return columns


def _missing_message(source: Source, table: Table, name: str) -> str:
    if not source.header:
        return f"mcq: {source.describe()} has no column {name} (its rows have {len(table.columns)} fields)"
    if table.first_line is not None and looks_headerless(table.first_line):
        start = ", ".join(repr(cell[:30]) for cell in table.first_line[:2])
        return (
            f"mcq: {source.describe()} has no header line (its first line starts {start}, a question, not column names); "
            "add header = false to the task to read columns by position: question, options, answer last "
            "(the original MMLU CSVs; or columns = {question = 1, options = [2, 3, 4, 5], answer = 6})"
        )
    return f"mcq: {source.describe()} has no column {name!r}; columns present: {', '.join(table.columns)}"


def _place(source: Source, table: Table) -> str:
    if source.path is not None:
        return str(source.path)
    return f"{source.describe()} {table.path.name if table.path else ''}".rstrip()


def _where(record: Record, index: int, source: Source) -> str:
    if source.path is not None:
        return f"{source.path} {record.where()}"
    return f"{source.describe()} row {index + 1}"


def _row_id(columns: ColumnMap, cells: dict[str, Any], file_subject: str | None, preset: str | None, counts: dict[str, int]) -> str | None:
    """The row's own id: its id column, else for MMLU ``<subject>/<k>``, the k-th row of that
    subject in file order (bad rows count too, so ids never shift). The script that first
    put MMLU on the Hub read each subject's CSV in order (huggingface/datasets,
    datasets/hendrycks_test/hendrycks_test.py), so k is also the row of the original
    ``<subject>_test.csv``."""
    if columns.id and not is_blank(cells.get(columns.id)):
        return cell_text(cells[columns.id])
    if preset != "mmlu":
        return None
    subject = cells.get(columns.subject) if columns.subject else file_subject
    if is_blank(subject):
        return None
    subject = cell_text(subject)
    k = counts.get(subject, 0)
    counts[subject] = k + 1
    return f"{subject}/{k}"


def _subject_of_file(path: Path | None) -> str | None:
    """hendrycks/test names its files <subject>_test.csv, <subject>_dev.csv, <subject>_val.csv."""
    match = re.fullmatch(r"(.+?)_(?:test|dev|val)", path.stem) if path is not None else None
    return match.group(1) if match else None


