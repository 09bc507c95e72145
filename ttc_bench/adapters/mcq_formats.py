"""Reading MCQ tables from files: CSV (with or without a header line), JSON, JSON Lines, Parquet.

Every reader returns a :class:`Table` of :class:`Record` (the cells of one row plus where the
row sits in the file), so the row checks in ``mcq_datasets`` never depend on the format.

These readers are ours, not ``datasets.load_dataset``, because the published files need
rules that loader does not follow:

- CSV cells are text, always. pandas (which the ``csv`` builder uses) turns the cells
  "None", "nan", "N/A" and "NULL" into missing values, so a real MMLU-Pro option reading
  "None" vanished, and a row whose correct option is "nan" failed to load.
- A broken row is reported with its line number; the library reports "An error occurred
  while generating the dataset".
- The original MMLU release (``data/test/<subject>_test.csv``) has no header line
  (hendrycks/test evaluate.py reads it with ``pd.read_csv(..., header=None)``): question,
  the options, the answer letter. ``header = false`` reads such files by position.
- A list column written by ``Dataset.to_csv`` is the repr of a numpy array
  (``['4' '6' '8']``, no commas, wrapped lines; ARC's ``choices`` becomes
  ``{'text': array([...], dtype=object), 'label': array([...], dtype=object)}``), or a
  Python list repr from older versions. :func:`parse_list_cell` reads both without eval.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".parquet": "parquet"}


@dataclass(frozen=True)
class Record:
    cells: dict[str, Any]
    row: int  # 0-based position among the data rows (unreadable ones included), as in dataset[row]
    line: int | None = None  # 1-based line the row starts on (CSV, JSON Lines), as an editor shows

    def where(self) -> str:
        return f"line {self.line}" if self.line is not None else f"row {self.row + 1}"


@dataclass
class Table:
    columns: list[str]
    records: list[Record]
    digest: str = ""  # "sha256:<16 hex>" of the file: the revision of a local copy
    first_line: list[str] | None = None  # a CSV's header cells, to recognise a headerless file
    path: Path | None = None
    text_cells: bool = False  # every cell is a string (CSV): "2" may stand for the number 2
    unreadable: list[str] = field(default_factory=list)  # "line 7: why" (kept with skip_bad_rows)
    size: int = -1  # data rows, unreadable ones included (-1: len(records))

    def __post_init__(self) -> None:
        if self.size < 0:
            self.size = len(self.records) + len(self.unreadable)


class FileError(UserError):
    """A file that cannot be read at all; the message names it."""


def read_table(path: Path, header: bool = True, skip_bad: bool = False) -> Table:
    """One local file as a Table; ``skip_bad`` collects unreadable rows instead of failing."""
    kind = FORMATS[path.suffix.lower()]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileError(f"mcq: could not read {path}: {exc.strerror or exc}") from None
    if kind == "parquet":
        table = _parquet(path)
    else:
        text = _decode(data, path)
        if kind == "jsonl" and text.lstrip().startswith("["):
            kind = "json"  # an array saved under .jsonl: still readable
        reader = {"csv": _csv, "jsonl": _json_lines, "json": _json}[kind]
        table = reader(text, path, header, skip_bad) if kind == "csv" else reader(text, path, skip_bad)
    table.digest = "sha256:" + hashlib.sha256(data).hexdigest()[:16]
    table.path = path
    return table


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")  # -sig: spreadsheet exports start with a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileError(f"mcq: could not read {path} line {line}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _bad(path: Path, where: str, why: str, skip_bad: bool, unreadable: list[str]) -> None:
    if not skip_bad:
        raise FileError(f"mcq: could not read {path} {where}: {why} (or add skip_bad_rows = true to the task to skip such rows)")
    unreadable.append(f"{where}: {why}")


# ---- CSV ------------------------------------------------------------------------------


def _csv(text: str, path: Path, header: bool, skip_bad: bool) -> Table:
    # Published CSVs hold long cells (GPQA explanations); the csv module's default cap is 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), min(sys.maxsize, 2**31 - 1)))
    reader = csv.reader(io.StringIO(text, newline=""))
    names: list[str] | None = None
    first: list[str] | None = None
    records: list[Record] = []
    unreadable: list[str] = []
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise FileError(f"mcq: could not read {path} line {line}: {exc}") from None
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line
        if names is None:
            first = cells
            names = [cell.strip() for cell in cells] if header else [str(i + 1) for i in range(len(cells))]
            if header:
                continue
        position = len(records) + len(unreadable)
        if len(cells) != len(names):
            expected = f"the header has {len(names)}" if header else f"the first row has {len(names)}"
            _bad(path, f"line {line}", f"{len(cells)} fields where {expected}", skip_bad, unreadable)
            continue
        record: dict[str, Any] = {}
        for name, cell in zip(names, cells):
            record.setdefault(name, cell)  # of two same-named columns, the first counts
        records.append(Record(record, position, line))
    if names is None:
        raise FileError(f"mcq: {path} is empty")
    return Table(names, records, first_line=first if header else None, unreadable=unreadable, text_cells=True)


def looks_headerless(first_line: list[str]) -> bool:
    """True when a CSV's first line reads like a question row rather than column names.

    Column names are short, distinct labels; an original MMLU row starts with a sentence and
    ends with the answer letter (a header "question,A,B,C,D" has several one-letter names,
    so a lone letter at the end is the telling sign). Any of these signs is enough.
    """
    cells = [cell.strip() for cell in first_line]
    if len(cells) < 2:
        return False
    if len(set(cells)) < len(cells):
        return True
    letters = [cell for cell in cells if re.fullmatch(r"[A-Za-z]", cell)]
    if len(letters) == 1 and letters[0] == cells[-1]:
        return True
    return any(len(cell) > 60 for cell in cells) or cells[0].endswith(("?", ".", ":"))


# ---- JSON -----------------------------------------------------------------------------


def _json_lines(text: str, path: Path, skip_bad: bool) -> Table:
    records: list[Record] = []
    unreadable: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        position = len(records) + len(unreadable)
        try:
            value = json.loads(line)
        except ValueError as exc:
            why = f"not valid JSON ({exc.msg} at column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else "not valid JSON"
            _bad(path, f"line {number}", why, skip_bad, unreadable)
            continue
        if not isinstance(value, dict):
            _bad(path, f"line {number}", f"a JSON {type(value).__name__}, not an object", skip_bad, unreadable)
            continue
        records.append(Record(value, position, number))
    return Table(_columns(r.cells for r in records), records, unreadable=unreadable)


def _json(text: str, path: Path, skip_bad: bool) -> Table:
    """A .json file: an array of objects, JSON Lines (what ``Dataset.to_json`` writes), or
    one object holding the array under a single key (``{"data": [...]}``)."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        first = stripped.split("\n", 1)[0]
        try:
            json.loads(first)
            return _json_lines(text, path, skip_bad)  # the first line is a whole object
        except ValueError:
            pass  # a pretty-printed document: read it whole below
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileError(f"mcq: could not read {path} line {exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise FileError(f"mcq: could not read {path}: expected an array of objects, JSON Lines, or one key holding the array")
        value = lists[0]
    if not isinstance(value, list):
        raise FileError(f"mcq: could not read {path}: expected an array of objects, got a JSON {type(value).__name__}")
    records: list[Record] = []
    unreadable: list[str] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            _bad(path, f"row {index + 1}", f"a JSON {type(entry).__name__}, not an object", skip_bad, unreadable)
            continue
        records.append(Record(entry, index))
    return Table(_columns(r.cells for r in records), records, unreadable=unreadable)


def _columns(rows: Any) -> list[str]:
    names: dict[str, None] = {}
    for cells in rows:
        names.update(dict.fromkeys(cells))
    return list(names)


# ---- Parquet --------------------------------------------------------------------------


def _parquet(path: Path) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise FileError("mcq: reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for a damaged file
        raise FileError(f"mcq: could not read {path} as Parquet: {' '.join(str(exc).split())[:200]}") from None
    # to_pylist gives plain Python values: lists for list columns, dicts for structs (ARC).
    records = [Record(cells, index) for index, cells in enumerate(table.to_pylist())]
    return Table(list(table.column_names), records)


# ---- list cells -----------------------------------------------------------------------


class _ReprError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      | (?P<number>-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+))
      | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
      | (?P<punct>[\[\]{}(),:=])
    )""",
    re.VERBOSE | re.DOTALL,
)
_SPACE = re.compile(r"\s*")
_NAMES = {"None": None, "True": True, "False": False, "nan": None, "NaN": None}


def parse_list_cell(text: str) -> Any:
    """A list (or ARC's {text, label} table) written into one CSV cell, or None if it is not one.

    Reads JSON, Python reprs and numpy array reprs. It never evaluates code: a small
    tokenizer accepts only string/number literals, brackets, ``array(...)`` and
    ``dtype=...``. Linear in the cell's length.
    """
    text = text.strip()
    if not text or text[0] not in "[{":
        return None
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        tokens = _tokens(text)
        value, end = _value(tokens, 0)
    except (_ReprError, IndexError, SyntaxError, ValueError):
        return None
    return value if end == len(tokens) else None


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while True:
        position = _SPACE.match(text, position).end()
        if position == len(text):
            break
        match = _TOKEN.match(text, position)
        if not match:
            raise _ReprError(f"unexpected {text[position:position + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _value(tokens: list[tuple[str, str]], i: int) -> tuple[Any, int]:
    kind, text = tokens[i]
    if kind == "string":
        return ast.literal_eval(text), i + 1  # one string literal token: safe to decode
    if kind == "number":
        number = float(text)
        return (int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number), i + 1
    if kind == "name":
        if text == "array" and tokens[i + 1] == ("punct", "("):
            return _array(tokens, i + 2)
        if text in _NAMES:
            return _NAMES[text], i + 1
        raise _ReprError(f"unexpected name {text!r}")
    if text == "[":
        return _sequence(tokens, i + 1)
    if text == "{":
        return _mapping(tokens, i + 1)
    raise _ReprError(f"unexpected {text!r}")


def _sequence(tokens: list[tuple[str, str]], i: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    while tokens[i] != ("punct", "]"):
        value, i = _value(tokens, i)
        items.append(value)
        if tokens[i] == ("punct", ","):  # numpy reprs separate items by spaces only
            i += 1
    return items, i + 1


def _mapping(tokens: list[tuple[str, str]], i: int) -> tuple[dict[Any, Any], int]:
    result: dict[Any, Any] = {}
    while tokens[i] != ("punct", "}"):
        key, i = _value(tokens, i)
        if tokens[i] != ("punct", ":"):
            raise _ReprError("expected ':'")
        result[key], i = _value(tokens, i + 1)
        if tokens[i] == ("punct", ","):
            i += 1
    return result, i + 1


def _array(tokens: list[tuple[str, str]], i: int) -> tuple[Any, int]:
    """``array([...], dtype=object)`` as numpy prints it: the list is what matters."""
    value, i = _value(tokens, i)
    if tokens[i] == ("punct", ","):
        if tokens[i + 1] != ("name", "dtype") or tokens[i + 2] != ("punct", "="):
            raise _ReprError("expected dtype=")
        i += 4  # dtype = <name>
    if tokens[i] != ("punct", ")"):
        raise _ReprError("expected ')'")
    return value, i + 1
