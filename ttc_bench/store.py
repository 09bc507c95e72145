"""The run directory: manifest.json, samples.jsonl (append-only), summary.json.

samples.jsonl is the source of truth. Each finished sample is one JSON line, handed to the
OS in one write before the next is counted, so a killed run loses at most the line being
written; a torn last line is cut off when the store is opened again. A failed write (disk
full, read-only folder) is cut back off at once, so the lines before it stay intact, and
stops the run with a one-line error. One run at a time appends to a folder (a lock).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any, Iterator

from .errors import UserError
from .sample import BadRow, Sample

SAMPLES = "samples.jsonl"
MANIFEST = "manifest.json"
SUMMARY = "summary.json"


class StoreWriteError(UserError):
    """Writing to the run folder failed; what was written before is intact."""


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` in one step, so a crash or a full disk never leaves half a JSON file."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise StoreWriteError(f"cannot write {path}: {_reason(exc)} (the previous {path.name}, if any, is unchanged)") from None


def encode_row(row: dict) -> bytes:
    """One samples.jsonl line. Text with lone surrogates (a broken server's ``\\ud800``)
    cannot be UTF-8 encoded; such a row is written with ASCII escapes instead, losslessly."""
    try:
        return (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(row, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")


# The longest samples.jsonl line read: a row holds at most a response capped by the client
# (64 MB) plus its reasoning. A longer "line" (a damaged file) is skipped, never loaded.
MAX_LINE_BYTES = 160 * 1024 * 1024
_CHUNK = 1 << 20


class ReadStats:
    """What reading a samples file skipped: unreadable lines, lines too long to be rows."""

    def __init__(self) -> None:
        self.rows = 0
        self.unreadable = 0
        self.too_long = 0

    @property
    def skipped(self) -> int:
        return self.unreadable + self.too_long

    def describe(self) -> str:
        parts = [f"{self.unreadable} unreadable lines"] if self.unreadable else []
        parts += [f"{self.too_long} lines over {MAX_LINE_BYTES // 2**20} MB"] if self.too_long else []
        return " and ".join(parts)


def _lines(fh, stats: ReadStats) -> Iterator[bytes]:
    """Newline-terminated lines, each read with bounded memory; a torn last line is dropped."""
    while True:
        line = fh.readline(MAX_LINE_BYTES)
        if not line:
            return
        if line.endswith(b"\n"):
            yield line
            continue
        if len(line) < MAX_LINE_BYTES:
            return  # torn tail of a killed run
        stats.too_long += 1  # skip to the end of this line without keeping it
        while True:
            rest = fh.readline(_CHUNK)
            if not rest or rest.endswith(b"\n"):
                break


def read_rows(path: Path, stats: ReadStats | None = None) -> Iterator[dict]:
    """Rows of a samples file; a torn last line, unreadable and overlong lines are skipped
    (and counted in ``stats``)."""
    stats = stats if stats is not None else ReadStats()
    with open(path, "rb") as fh:
        for raw in _lines(fh, stats):
            try:
                row = json.loads(raw)
            except ValueError:  # JSONDecodeError, or bytes that are not UTF-8
                stats.unreadable += 1
                continue
            if isinstance(row, dict) and isinstance(row.get("key"), str):
                stats.rows += 1
                yield row
            else:
                stats.unreadable += 1


def latest_rows(path: Path) -> list[dict]:
    """One row per sample key, the last one written winning (a retried error replaces its row)."""
    rows: dict[str, dict] = {}
    for row in read_rows(path):
        rows.pop(row["key"], None)
        rows[row["key"]] = row
    return list(rows.values())


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return path


class RunStore:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        blocking = _existing_ancestor(self.dir)
        if blocking.exists() and not blocking.is_dir():
            raise UserError(f"{blocking} is a file, not a folder; point --out at a folder for run results")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the run folder {self.dir}: {_reason(exc)}") from None
        self.samples_path = self.dir / SAMPLES
        self._fd: int | None = None
        self._size = 0  # bytes of complete lines in samples.jsonl
        self.appended = 0

    def _repair_torn_tail(self) -> None:
        if not self.samples_path.exists():
            return
        with open(self.samples_path, "rb+") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            if size == 0:
                return
            # Walk back to the last newline; everything after it is a torn line.
            block = 1 << 16
            pos = size
            while pos > 0:
                start = max(0, pos - block)
                fh.seek(start)
                chunk = fh.read(pos - start)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    end = start + nl + 1
                    if end != size:
                        fh.truncate(end)
                    return
                pos = start
            fh.truncate(0)

    def finished_keys(self) -> set[str]:
        """Keys of samples that need no new request (errors are retried)."""
        return self.finished()[0]

    def finished(self) -> tuple[set[str], set[tuple]]:
        """(keys of samples that need no new request, their identities (task, item, budget,
        sample index)): an identity stored under another key is an item that has changed
        since (a corrected answer key), which the plan counts."""
        if not self.samples_path.exists():
            return set(), set()
        ok: dict[str, tuple | None] = {}  # the last row of a key decides (a retried error replaces its row)
        for row in read_rows(self.samples_path):
            ok[row["key"]] = (row.get("task"), row.get("item"), row.get("budget"), row.get("sample")) if row.get("error") is None else None
        keys = {key for key, identity in ok.items() if identity is not None}
        return keys, {identity for identity in ok.values() if identity is not None}

    def open_for_append(self) -> None:
        """Take the folder's lock, then repair a torn tail: nothing in the folder is touched
        before the lock is held, so a second run refused here changes nothing (not even a
        half-written row of the run that holds the lock)."""
        if self._fd is not None:
            return
        try:
            # Unbuffered O_APPEND: each row is one write(2) straight to the OS, so nothing
            # sits in a process buffer when the process is killed.
            fd = os.open(self.samples_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UserError(f"cannot write {self.samples_path}: {_reason(exc)}") from None
        try:
            _lock(fd)
        except BlockingIOError:
            os.close(fd)
            raise UserError(
                f"another ttc-bench run is writing to {self.dir}; wait for it to finish or give this run another --run-id"
            ) from None
        try:
            self._repair_torn_tail()
        except OSError as exc:
            os.close(fd)
            raise UserError(f"cannot write {self.samples_path}: {_reason(exc)}") from None
        self._fd = fd
        self._size = os.fstat(fd).st_size

    def append(self, sample: Sample) -> None:
        if self._fd is None:
            raise RuntimeError("open_for_append() first")
        line = encode_row(sample.to_json())
        data = memoryview(line)
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
        except OSError as exc:
            # Cut any partial line off now, so the file holds only whole rows.
            try:
                os.ftruncate(self._fd, self._size)
            except OSError:
                pass  # the torn tail is repaired when the store is opened again
            hint = "free some space" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "fix the folder"
            raise StoreWriteError(
                f"cannot write {self.samples_path}: {_reason(exc)}; the {self.appended} samples saved so far are intact; "
                f"{hint} and re-run the same command to resume"
            ) from None
        self._size += len(line)
        self.appended += 1

    def close(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Every row already reached the OS in append(); fsync only guards against a
            # power cut, and its failure must not hide the error that ended the run.
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)  # also releases the lock

    def rows(self) -> list[dict]:
        return latest_rows(self.samples_path) if self.samples_path.exists() else []

    def write_manifest(self, manifest: dict) -> None:
        if self._fd is None:
            raise RuntimeError("open_for_append() first: the manifest is written under the run lock")
        write_json_atomic(self.dir / MANIFEST, manifest)

    def read_manifest(self) -> dict | None:
        path = self.dir / MANIFEST
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # unreadable: it is rewritten from the spec
        return data if isinstance(data, dict) else None

    def write_summary(self, summary: dict) -> Path:
        path = self.dir / SUMMARY
        write_json_atomic(path, summary)
        return path


def _lock(fd: int) -> None:
    """An exclusive lock on the open samples file, released when the process ends (even by
    kill -9), so two runs never interleave rows in one folder."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; a second run is not detected
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise
    except OSError:
        pass  # a filesystem without locks (some network mounts): run unlocked


# ---- reading a run folder --------------------------------------------------------------


class RunFolder:
    """A run folder as every reader (report, compare, rescoring, load_run) sees it: one
    way to find it from a path, one failure policy for its files.

    - the folder: a run folder, a file inside it (summary.json, manifest.json,
      samples.jsonl), or a results folder holding exactly one run;
    - manifest.json: missing is {} (the samples are what count); unreadable is one line;
    - samples.jsonl: rows that cannot be samples are skipped and counted (``read``), never
      a crash; the last row written for a key wins (a retried error replaces its row).
    """

    def __init__(self, path: Path):
        self.dir = Path(path)
        self.samples_path = self.dir / SAMPLES
        self.read = ReadStats()
        self.bad_rows = 0  # rows that parse as JSON but cannot be samples

    @classmethod
    def resolve(cls, path: Path | str) -> "RunFolder":
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path} does not exist; give a run folder (e.g. results/<run-id>)")
        if path.is_file():
            if not (path.parent / SAMPLES).is_file():
                raise UserError(f"{path}: no {SAMPLES} beside it; give the whole run folder (e.g. results/<run-id>)")
            return cls(path.parent)
        if (path / SAMPLES).is_file():
            return cls(path)
        runs = sorted(p for p in path.iterdir() if (p / SAMPLES).is_file())
        if len(runs) == 1:
            return cls(runs[0])
        if runs:
            names = ", ".join(p.name for p in runs[:5]) + (", ..." if len(runs) > 5 else "")
            raise UserError(f"{path} holds {len(runs)} runs ({names}); name one of them")
        raise UserError(f"{path} has no {SAMPLES}; give a run folder written by ttc-bench run")

    def manifest(self) -> dict:
        path = self.dir / MANIFEST
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise UserError(f"{path} cannot be read ({exc}); fix or delete it (the samples are kept)") from None
        return data if isinstance(data, dict) else {}

    def samples(self) -> Iterator[Sample]:
        """Every readable sample row in file order (several per key after retries)."""
        try:
            for row in read_rows(self.samples_path, self.read):
                try:
                    yield Sample.from_json(row)
                except BadRow:
                    self.bad_rows += 1
        except OSError as exc:
            raise UserError(f"cannot read {self.samples_path}: {_reason(exc)}") from None

    def latest(self) -> list[Sample]:
        """One sample per key, the last written winning; at least one, or one line."""
        found: dict[str, Sample] = {}
        for sample in self.samples():
            found.pop(sample.key, None)
            found[sample.key] = sample
        if not found:
            raise self.empty()
        return list(found.values())

    def empty(self) -> UserError:
        """The one-line error for a samples file with nothing readable in it."""
        return UserError(f"{self.samples_path} holds no readable sample rows{self._skipped_note()}; nothing to read")

    def skipped(self) -> int:
        return self.read.skipped + self.bad_rows

    def _skipped_note(self) -> str:
        parts = [self.read.describe()] if self.read.skipped else []
        parts += [f"{self.bad_rows} rows that are not samples"] if self.bad_rows else []
        return f" ({' and '.join(parts)} skipped)" if parts else ""

    def skipped_note(self) -> str | None:
        """One line on what reading skipped, or None."""
        note = self._skipped_note()
        return f"{self.samples_path}: {note.strip(' ()')}" if note else None
