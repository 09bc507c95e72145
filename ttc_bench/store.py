"""The run directory: manifest.json, samples.jsonl (append-only), summary.json.

samples.jsonl is the source of truth. Each finished sample is one JSON line, written and
flushed before the next is counted, so a killed run loses at most the line being written;
a torn last line is cut off when the store is opened again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

from .errors import UserError

SAMPLES = "samples.jsonl"
MANIFEST = "manifest.json"
SUMMARY = "summary.json"


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` in one step, so a crash never leaves half a JSON file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)


def read_rows(path: Path) -> Iterator[dict]:
    """Rows of a samples file; a torn (unparseable) last line is skipped."""
    with open(path, "rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return  # torn tail of a killed run
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                continue


def latest_rows(path: Path) -> list[dict]:
    """One row per sample key, the last one written winning (a retried error replaces its row)."""
    rows: dict[str, dict] = {}
    for row in read_rows(path):
        rows.pop(row["key"], None)
        rows[row["key"]] = row
    return list(rows.values())


class RunStore:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        if self.dir.exists() and not self.dir.is_dir():
            raise UserError(f"--out {self.dir} is a file; give a folder for run results")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the run folder {self.dir}: {exc.strerror}") from None
        self.samples_path = self.dir / SAMPLES
        self._fh = None

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
        if not self.samples_path.exists():
            return set()
        return {row["key"] for row in latest_rows(self.samples_path) if row.get("error") is None}

    def open_for_append(self) -> None:
        self._repair_torn_tail()
        try:
            self._fh = open(self.samples_path, "a", encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {self.samples_path}: {exc.strerror}") from None

    def append(self, row: dict) -> None:
        self._fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def rows(self) -> list[dict]:
        return latest_rows(self.samples_path) if self.samples_path.exists() else []

    def write_manifest(self, manifest: dict) -> None:
        write_json_atomic(self.dir / MANIFEST, manifest)

    def read_manifest(self) -> dict | None:
        path = self.dir / MANIFEST
        if not path.exists():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def write_summary(self, summary: dict) -> Path:
        path = self.dir / SUMMARY
        write_json_atomic(path, summary)
        return path
