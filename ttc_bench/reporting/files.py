"""Writing report files: each one replaced in a single step (a temp file beside it, then
os.replace), so a full disk or a killed process never leaves half a report.html, and a
file that cannot be written becomes a :class:`WriteFailure` the caller reports in one line
after the table, instead of a traceback before it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable


@dataclass(frozen=True)
class WriteFailure:
    """A report output that could not be written: what (a file name or "N plot files"),
    where, and the operating system's reason."""

    what: str
    path: Path
    reason: str

    @staticmethod
    def line(failures: list["WriteFailure"]) -> str:
        """One line naming every failure, grouped by reason."""
        by_reason: dict[str, list[str]] = {}
        for failure in failures:
            by_reason.setdefault(failure.reason, []).append(failure.what)
        parts = [f"{', '.join(whats)} ({reason})" for reason, whats in by_reason.items()]
        folder = failures[0].path.parent if failures[0].path.suffix else failures[0].path
        return (
            f"could not write {'; '.join(parts)} in {folder}; summary.json and the table are complete: "
            f"fix that and run `ttc-bench report` on the run folder to write them again"
        )


def reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def write_atomic(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a temp file beside ``path``, then move it over ``path``. Raises
    OSError, with the temp file removed and any previous ``path`` unchanged."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def write_text(path: Path, text: str) -> Path | WriteFailure:
    """``text`` as UTF-8 at ``path``; the path, or a WriteFailure saying why not."""
    try:
        data = text.encode("utf-8")
        write_atomic(path, lambda fh: fh.write(data))
    except OSError as exc:
        return WriteFailure(path.name, path, reason(exc))
    return path
