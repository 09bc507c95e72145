"""A run's pending requests as batch lines, and batch results into sample rows, round by round.

Every offline engine (OpenAI's Batch API, ``vllm run-batch``, Ray Data) reads the same
input lines and writes the same result lines (models/batch.py). A line's ``custom_id`` is
the sample key for a sample's first request, and ``KEY:tN`` for turn N of a budget that
needs several (``forced:N`` continues the model's own message after the budget cut it
off). A round exports, for every sample without a finished row, the next request it needs;
importing its results either finishes samples (rows in samples.jsonl, exactly as a live
run writes them) or stores the answered turn in turns.jsonl, so the next round exports
the continuation. Both directions replay the live generation code (models/replay.py).

Importing is idempotent: a result whose answer the run already holds changes nothing, and
results that are not requests of this run, or answer a turn the sample is not waiting
for, are counted and named, never dropped silently.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .models.batch import BadLine, Result, input_line, read_result, request_url
from .models.client import Endpoint
from .models.failures import SampleError
from .models.replay import NeedsRequest, replay
from .plan import Job, Plan
from .store import RunStore, encode_row, read_rows

TURNS = "turns.jsonl"
SHOWN = 3  # custom_ids quoted per kind of problem


def custom_id(key: str, turn: int) -> str:
    return key if turn == 1 else f"{key}:t{turn}"


def parse_custom_id(text: str) -> tuple[str, int] | None:
    key, sep, turn = text.partition(":t")
    if not sep:
        return key, 1
    return (key, int(turn)) if turn.isdigit() and int(turn) >= 2 else None


class Turns:
    """turns.jsonl: the answered turns of samples that wait for a later turn, appended one
    line at a time (``{"key", "turn", "body"}``; turn 0 forgets a key's turns)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / TURNS
        self.turns: dict[str, list[dict]] = {}
        if self.path.exists():
            self._repair_tail()
            for row in read_rows(self.path):
                key, turn = row["key"], row.get("turn")
                if turn == 0:
                    self.turns.pop(key, None)
                elif isinstance(turn, int) and turn == len(self.turns.get(key, ())) + 1 and isinstance(row.get("body"), dict):
                    self.turns.setdefault(key, []).append(row["body"])

    def _repair_tail(self) -> None:
        """Cut a torn last line (a killed import) so the next append starts a line."""
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            with open(self.path, "rb+") as fh:
                fh.truncate(end)

    def get(self, key: str) -> list[dict]:
        return self.turns.get(key, [])

    def _append(self, row: dict) -> None:
        with open(self.path, "ab") as fh:
            fh.write(encode_row(row))

    def add(self, key: str, turn: int, body: dict) -> None:
        self._append({"key": key, "turn": turn, "body": body})
        self.turns.setdefault(key, []).append(body)

    def forget(self, key: str) -> None:
        if key in self.turns:
            self._append({"key": key, "turn": 0})
            del self.turns[key]


def key_states(store: RunStore) -> tuple[set[str], set[str]]:
    """(keys whose latest row is an answer, keys whose latest row is an error)."""
    latest: dict[str, bool] = {}
    if store.samples_path.exists():
        for row in read_rows(store.samples_path):
            latest[row["key"]] = row.get("error") is None
    ok = {k for k, good in latest.items() if good}
    return ok, set(latest) - ok


@dataclass
class Imported:
    """What an import did, and what it could not match."""

    answers: int = 0  # samples finished with an answer
    errors: int = 0  # samples finished with an error row (retried by the next round)
    continued: int = 0  # turns stored: the sample needs its next turn in a later round
    already: int = 0  # results the run already held (a second import of the same file)
    unreadable: int = 0
    pending: int = 0  # samples of the plan still without an answer
    unknown: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    transient: set[str] = field(default_factory=set)  # keys that failed for a reason worth resending
    failed: set[str] = field(default_factory=set)  # keys that failed for good (in this invocation)

    def problems(self) -> str | None:
        """One line naming what was not imported, or None."""
        parts = []
        if self.unknown:
            parts.append(f"{len(self.unknown)} results are not requests of this run (custom_id {', '.join(self.unknown[:SHOWN])})")
        if self.mismatched:
            parts.append(f"{len(self.mismatched)} results answer a turn their sample is not waiting for "
                         f"(custom_id {', '.join(self.mismatched[:SHOWN])})")
        if self.unreadable:
            parts.append(f"{self.unreadable} lines are not batch results")
        return "; ".join(parts) or None

    def describe(self) -> str:
        text = f"imported {self.answers} answers and {self.errors} errors"
        if self.continued:
            text += f"; {self.continued} forced samples need another turn (export the next round)"
        if self.already:
            text += f"; {self.already} results were already in the run"
        return text


class Rounds:
    """Export and import for one run folder, under its lock (``store`` opened for append)."""

    def __init__(self, plan: Plan, endpoint: Endpoint, store: RunStore, scrub=None):
        self.plan, self.endpoint, self.store, self.scrub = plan, endpoint, store, scrub
        self.turns = Turns(store.dir)

    def _replay(self, job: Job, answers: list):
        fields = self.plan.fields(job.adapter, job.budget)
        return replay(self.endpoint, job.prompt.messages, job.budget, fields, sampling=self.plan.spec.sampling(),
                      seed=job.seed, cue=job.adapter.answer_cue, answer_tokens=job.adapter.answer_tokens,
                      answers=answers, scrub=self.scrub)

    def _write(self, job: Job, gen, error: str | None, attempts: int) -> None:
        row = self.plan.row(job, gen, error, attempts)
        row.latency_s = None  # an offline engine queues requests: their latency is not the model's
        self.store.append(row)

    def pending(self, exclude: set[str] = frozenset()) -> Iterator[tuple[str, dict]]:
        """(custom_id, input line) of the next request of every sample without an answer."""
        finished, _ = key_states(self.store)
        for job in self.plan.jobs(finished):
            if job.key in exclude:
                continue
            try:
                gen = self._replay(job, self.turns.get(job.key))
            except NeedsRequest as needed:
                yield self._line(job, needed)
                continue
            except SampleError:
                # Stored turns that no longer replay (the generation code changed between
                # rounds): the sample starts again from its first request.
                self.turns.forget(job.key)
                try:
                    gen = self._replay(job, [])
                except NeedsRequest as needed:
                    yield self._line(job, needed)
                    continue
            self._write(job, gen, None, gen.attempts)  # its last turn was stored, not its row

    @staticmethod
    def _line(job: Job, needed: NeedsRequest) -> tuple[str, dict]:
        cid = custom_id(job.key, needed.turn)
        return cid, input_line(cid, request_url(needed.path, needed.replace_path), needed.body)

    def export(self, path: Path, exclude: set[str] = frozenset()) -> tuple[int, int]:
        """Write every pending request to ``path`` (whole or not at all): (requests, of
        which later turns)."""
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        count = later = 0
        try:
            with open(tmp, "wb") as out:
                for cid, line in self.pending(exclude):
                    out.write(encode_row(line))
                    count += 1
                    later += ":t" in cid
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return count, later

    def import_files(self, paths: list[Path]) -> Imported:
        report = Imported()
        index = _index(paths, report)
        finished, errored = key_states(self.store)
        handles = {p: open(p, "rb") for p in paths}
        try:
            for job in self.plan.jobs():
                entries = index.pop(job.key, None)
                if entries:
                    self._import_job(job, sorted(entries), handles, finished, errored, report)
                report.pending += job.key not in finished
        finally:
            for fh in handles.values():
                fh.close()
        for key, entries in index.items():  # keys no request of this plan has
            report.unknown += [custom_id(key, turn) for turn, _, _ in entries]
        return report

    def _import_job(self, job: Job, entries, handles, finished, errored, report: Imported) -> None:
        done = job.key in finished
        stored = list(self.turns.get(job.key))
        last = None
        for turn, path, offset in entries:
            if done or turn <= len(stored) or turn == last:
                report.already += 1
                continue
            if turn != len(stored) + 1:
                report.mismatched.append(custom_id(job.key, turn))
                continue
            last = turn
            handle = handles[path]
            handle.seek(offset)
            result = read_result(handle.readline())
            if result.body is None:
                (report.transient if result.transient else report.failed).add(job.key)
                if job.key in errored:
                    report.already += 1  # an error row already says so
                else:
                    self._write(job, None, result.error, 1)
                    errored.add(job.key)
                    report.errors += 1
                done = True
                continue
            try:
                gen = self._replay(job, [*stored, result.body])
            except NeedsRequest:
                self.turns.add(job.key, turn, result.body)
                stored.append(result.body)
                report.continued += 1
                continue
            except SampleError as exc:  # a 200 whose body holds no readable answer
                self._write(job, None, exc.reason, exc.attempts)
                errored.add(job.key)
                report.failed.add(job.key)
                report.errors += 1
            else:
                self._write(job, gen, None, gen.attempts)
                self.turns.forget(job.key)  # keeps turns.jsonl's memory to unfinished samples
                finished.add(job.key)
                report.answers += 1
            done = True


def _index(paths: list[Path], report: Imported) -> dict[str, list[tuple[int, Path, int]]]:
    """custom_id -> where its result line is: results are read once to index, once to
    import, so memory holds offsets, not responses."""
    index: dict[str, list[tuple[int, Path, int]]] = {}
    for path in paths:
        with open(path, "rb") as fh:
            offset = 0
            for line in fh:
                start, offset = offset, offset + len(line)
                if not line.strip():
                    continue
                try:
                    result: Result = read_result(line)
                except BadLine:
                    report.unreadable += 1
                    continue
                parsed = parse_custom_id(result.custom_id)
                if parsed is None:
                    report.unknown.append(result.custom_id)
                    continue
                index.setdefault(parsed[0], []).append((parsed[1], path, start))
    return index
