"""What the sample browser shows of a run: every item's vote histogram per budget (from all
its samples), and the samples themselves up to a cap, read from samples.jsonl.

Two passes over samples.jsonl with bounded memory: the first tallies each (item, budget)
cell from a few fields per sample; the second keeps the texts of the cells chosen for the
page. The page embeds at most SAMPLE_CAP samples: all of a small run, else the first items
(in item order) of every task, level and budget, whole cells at a time, so each item shown
has all its samples. Long texts are shortened to their beginning and end with a note;
`ttc-bench view` serves the rest from samples.jsonl (see view.py).

No manifest field is embedded (the command line and endpoint stay out of the page), and the
API key named by the run, if set in the environment, is scrubbed from every text, for runs
written before responses were scrubbed at the source.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

from ..sample import Sample, vote_key
from ..store import RunFolder
from .prompts import Prompts, item_index

SAMPLE_CAP = 5_000
TEXT_BUDGET = 12_000_000  # characters of response and reasoning embedded per page, at most
FIELD_MIN, FIELD_MAX = 2_000, 20_000  # characters of one text field embedded, whatever the run size
SERVED_FIELD_MAX = 500_000  # characters of one text field `ttc-bench view` serves
VOTE_CHARS = 200  # an answer's histogram label (a grid answer can be long)
# Rebuilding a prompt runs the family's generator (up to ~50 ms for a 5x5 crossword): the
# page embeds prompts for this many items at most, and stops rebuilding after this long.
PROMPT_ITEMS, PROMPT_SECONDS = 500, 20.0


def field_cap(embedded: int) -> int:
    """Characters kept of one response or reasoning: more for small runs, within budget."""
    return max(FIELD_MIN, min(FIELD_MAX, TEXT_BUDGET // max(1, 2 * embedded)))


def clip(text: str | None, cap: int, secrets: tuple[str, ...] = ()) -> str | list | None:
    """``text``, or [beginning, characters left out, end] when it is longer than ``cap``."""
    if text is None:
        return None
    for secret in secrets:
        text = text.replace(secret, "***")
    if len(text) <= cap:
        return text
    head = cap // 3
    return [text[:head], len(text) - cap, text[len(text) - (cap - head):]]


def _short(text: str) -> str:
    return text if len(text) <= VOTE_CHARS else text[: VOTE_CHARS - 1] + "…"


def _label(answer) -> str | None:
    """An answer (or gold) as text: its vote key, shortened for a histogram label."""
    vote = vote_key(answer)
    return None if vote is None else _short(vote)


def verdict(sample: Sample) -> str:
    if sample.error is not None:
        return "error"
    if sample.correct:
        return "correct"
    return "unparsed" if sample.answer is None else "wrong"


def sample_record(sample: Sample, cap: int, secrets: tuple[str, ...] = ()) -> dict:
    """One sample as the page shows it."""
    record = {
        "sample": sample.sample,
        "verdict": verdict(sample),
        "answer": _label(sample.answer),
        "response": clip(sample.response, cap, secrets),
        "reasoning": clip(sample.reasoning, cap, secrets),
        "finish": sample.finish_reason,
        "cut_off": sample.truncated,
        "turns": sample.turns,
        "attempts": sample.attempts,
        "tokens": [sample.prompt_tokens, sample.completion_tokens, sample.reasoning_tokens],
        "latency": sample.latency_s,
        "error": clip(sample.error, cap, secrets),
    }
    if sample.partial not in (0, 1):
        record["partial"] = sample.partial
    if sample.prompt_meta:
        record["shown"] = sample.prompt_meta
    return record


def secrets_of(manifest: dict) -> tuple[str, ...]:
    """The run's API key, when the variable the manifest names is set here."""
    names = {(manifest.get("spec") or {}).get("api_key_env"), (manifest.get("endpoint") or {}).get("api_key_env")}
    values = (os.environ.get(name) for name in names if isinstance(name, str) and name)
    return tuple(v for v in values if v and len(v) >= 8)


class _Cell:
    """The tally of one (item, budget): outcomes and votes over the latest row per key."""

    __slots__ = ("n", "correct", "unparsed", "errors", "cut_off", "votes", "right")

    def __init__(self) -> None:
        self.n = self.correct = self.unparsed = self.errors = self.cut_off = 0
        self.votes: Counter = Counter()
        self.right: set[str] = set()  # answers some sample was scored correct for

    def add(self, vote: str | None, correct: bool, error: bool, cut_off: bool) -> None:
        self.n += 1
        self.cut_off += cut_off
        if error:
            self.errors += 1
        elif vote is None:
            self.unparsed += 1
        else:
            self.votes[vote] += 1
            if correct:
                self.right.add(vote)
        self.correct += correct and not error

    def record(self, item: int, budget: int, embedded: bool) -> dict:
        """The cell as the page shows it. maj: the item's majority vote over all its samples
        (a tie splits the credit; unparsed answers do not vote). flip: the vote gets the
        item right while most samples are wrong, or the reverse. split: the samples do not
        all give the same answer."""
        scored = self.n - self.errors
        top = max(self.votes.values(), default=0)
        tied = [v for v, c in self.votes.items() if c == top]
        maj = (sum(v in self.right for v in tied) / len(tied) if tied else 0.0) if scored else None
        pass1 = self.correct / scored if scored else None
        flip = maj is not None and (maj > 0.5) != (pass1 > 0.5)
        votes = sorted(self.votes.items(), key=lambda vc: (-vc[1], vc[0]))
        return {
            "item": item, "budget": budget, "n": self.n, "correct": self.correct, "unparsed": self.unparsed,
            "errors": self.errors, "cut_off": self.cut_off,
            "votes": [[_short(v), c, v in self.right] for v, c in votes],
            "maj": maj, "pass1": pass1, "split": len(self.votes) + (self.unparsed > 0) > 1, "flip": flip,
            "embedded": embedded,
        }  # fmt: skip


def _ordered(seen, preferred) -> list:
    first = [x for x in preferred if x in seen]
    return first + [x for x in seen if x not in first]


def run_data(label: str, run_dir: Path, cap: int = SAMPLE_CAP) -> dict:
    """The browser's data for one run folder (see browser.py for the format)."""
    folder = RunFolder.resolve(run_dir)
    manifest = folder.manifest()
    spec = manifest.get("spec") or {}
    cells: dict[tuple[str, str], _Cell] = {}
    items: dict[str, tuple[str, str, object]] = {}  # id -> (task, level, gold)
    latest: dict[str, tuple] = {}
    for s in folder.samples():
        latest[s.key] = ((s.item, s.budget), s.vote, s.correct, s.error is not None, s.truncated)
        if s.item not in items or items[s.item][2] is None:
            items[s.item] = (s.task, s.level, s.gold)
    if not latest:
        raise folder.empty()
    skipped = folder.skipped()  # counted by this pass; the second one would count them again
    for where, *outcome in latest.values():
        cells.setdefault(where, _Cell()).add(*outcome)
    del latest
    spec_tasks = [t.get("name") or t.get("family") for t in spec.get("tasks") or [] if isinstance(t, dict)]
    tasks = _ordered(dict.fromkeys(t for t, _, _ in items.values()), spec_tasks)
    levels = {t: _ordered(sorted({lv for tk, lv, _ in items.values() if tk == t}), _spec_levels(spec, t)) for t in tasks}
    budgets = _ordered(dict.fromkeys(b for _, b in cells), [b for b in spec.get("budgets") or [] if isinstance(b, str)])

    def item_order(item_id: str):
        task, level, _ = items[item_id]
        index = item_index(task, level, item_id)
        return tasks.index(task), levels[task].index(level), index if index is not None else float("inf"), item_id

    order = sorted(items, key=item_order)
    item_no = {item_id: i for i, item_id in enumerate(order)}
    chosen = _choose(cells, items, item_no, cap)
    embedded = sum(cells[c].n for c in chosen)
    text_cap = field_cap(embedded)
    secrets = secrets_of(manifest)
    cell_keys = sorted(cells, key=lambda c: (item_no[c[0]], budgets.index(c[1])))
    cell_no = {c: i for i, c in enumerate(cell_keys)}
    keep: dict[str, tuple] = {}  # key -> sort key and record, texts already clipped (a response can be megabytes)
    for s in folder.samples():
        where = (s.item, s.budget)
        if where in chosen:
            keep[s.key] = ((cell_no[where], s.sample, s.key), {"cell": cell_no[where], **sample_record(s, text_cap, secrets)})
    prompts = Prompts(manifest)
    rebuilt, prompt_note = _prompts(prompts, [i for i in order if any((i, b) in chosen for b in budgets)], items, secrets)
    return {
        "label": label,
        "run_id": manifest.get("run_id") or folder.dir.name,
        "samples": sum(c.n for c in cells.values()),
        "embedded": embedded,
        "text_chars": text_cap,
        "skipped": skipped,
        "tasks": [{"name": t, "levels": levels[t]} for t in tasks],
        "budgets": budgets,
        "items": [
            {"id": i, "task": items[i][0], "level": items[i][1], "gold": _label(items[i][2]),
             "prompt": rebuilt.get(i)}
            for i in order
        ],  # fmt: skip
        "prompt_notes": prompts.notes,
        "prompt_note": prompt_note,
        "cells": [cells[c].record(item_no[c[0]], budgets.index(c[1]), c in chosen) for c in cell_keys],
        "sample_rows": [record for _, record in sorted(keep.values(), key=lambda kept: kept[0])],
    }


def _spec_levels(spec: dict, task: str) -> list:
    for t in spec.get("tasks") or []:
        if isinstance(t, dict) and (t.get("name") or t.get("family")) == task:
            return [lv for lv in t.get("levels") or [] if isinstance(lv, str)]
    return []


def _prompts(prompts: Prompts, wanted: list[str], items: dict, secrets: tuple[str, ...]) -> tuple[dict, str | None]:
    """{item id: messages} for the items in ``wanted`` (in order) whose prompt could be
    rebuilt, within PROMPT_ITEMS and PROMPT_SECONDS; and a note when those limits left
    some out."""
    rebuilt: dict[str, list] = {}
    deadline = time.monotonic() + PROMPT_SECONDS
    for count, item_id in enumerate(wanted):
        if count == PROMPT_ITEMS or time.monotonic() > deadline:
            return rebuilt, f"prompts are embedded for the first {count:,} items only; ttc-bench view shows the others"
        task, level, _ = items[item_id]
        messages = prompts.messages(task, level, item_id)
        if messages is not None:
            rebuilt[item_id] = [{"role": m["role"], "content": clip(m["content"], FIELD_MAX, secrets)} for m in messages]
    return rebuilt, None


def _choose(cells: dict, items: dict, item_no: dict, cap: int) -> set:
    """The cells whose samples the page embeds: all when they fit in ``cap``, else per
    (task, level, budget) group an equal share, whole cells in item order (at least one)."""
    if sum(c.n for c in cells.values()) <= cap:
        return set(cells)
    groups: dict[tuple, list] = {}
    for where in cells:
        task, level, _ = items[where[0]]
        groups.setdefault((task, level, where[1]), []).append(where)
    share = cap // len(groups)
    chosen = set()
    for members in groups.values():
        used = 0
        for where in sorted(members, key=lambda c: item_no[c[0]]):
            if used and used + cells[where].n > share:
                break
            chosen.add(where)
            used += cells[where].n
    return chosen
