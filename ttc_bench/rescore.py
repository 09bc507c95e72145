"""Score stored responses again with today's adapters, without a single request.

A parser or verifier fix, or a dataset whose answer key was corrected, changes what a
stored response is worth; `ttc-bench report --rescore RUN` rebuilds every item of the run
from its manifest (family, options, seed), parses each stored response again and verifies
it against the item's current gold, rewrites samples.jsonl in one atomic step, and records
in manifest.json that it was rescored and which fields changed how often.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .adapters import Item, Prompt, TaskAdapter, get_family
from .errors import UserError
from .sample import Sample
from .store import MANIFEST, RunFolder, RunStore, encode_row, write_json_atomic

# The fields a rescore may change.
SCORE_FIELDS = ("answer", "gold", "parse_ok", "correct", "partial", "scores", "checked")


@dataclass
class Rescored:
    samples: int = 0
    rescored: int = 0  # answers parsed and verified again
    skipped: int = 0  # errors (no response) and items that cannot be rebuilt
    changed: Counter = field(default_factory=Counter)  # field -> samples whose value changed
    gold_changed: int = 0  # samples whose item's gold answer is no longer what was stored

    def describe(self) -> str:
        what = ", ".join(f"{name} on {n}" for name, n in sorted(self.changed.items())) or "nothing"
        return (f"rescored {self.rescored} of {self.samples} samples without a request; changed: {what}"
                + (f"; {self.gold_changed} samples had a changed gold answer" if self.gold_changed else ""))


class _Items:
    """The run's items, rebuilt from its manifest, one adapter per task."""

    def __init__(self, manifest: dict):
        spec = manifest.get("spec") or {}
        self.seed = spec.get("seed", 0)
        self.adapters: dict[str, TaskAdapter] = {}
        for task in spec.get("tasks") or []:
            try:
                self.adapters[task["name"]] = get_family(task["family"])(task["name"], dict(task.get("options") or {}))
            except (KeyError, TypeError) as exc:
                raise UserError(f"manifest.json names a task this version cannot rebuild ({exc}); cannot rescore") from None
        self._cache: dict[str, Item | None] = {}

    def get(self, sample: Sample) -> tuple[TaskAdapter, Item] | None:
        adapter = self.adapters.get(sample.task)
        if adapter is None:
            return None
        if sample.item not in self._cache:
            try:
                index = int(sample.item.rsplit("/", 1)[1])
                self._cache[sample.item] = adapter.item(self.seed, sample.level, index)
            except (ValueError, IndexError, UserError):
                self._cache[sample.item] = None
        item = self._cache[sample.item]
        return None if item is None else (adapter, item)


def answer_text(sample: Sample, adapter: TaskAdapter) -> str:
    """The text the run parsed its answer from. A sample whose reasoning budget forcing cut
    off stores the cut-off text, then the cue and the answer asked for with it; the run
    parsed only the latter (models/generation.py), so a number in the cut-off reasoning
    must not become an answer now."""
    text = sample.response or ""
    if sample.forced_answer:
        at = text.rfind(adapter.answer_cue)
        if at >= 0:
            return text[at:]
    return text


def _rescore(sample: Sample, adapter: TaskAdapter, item: Item) -> Sample:
    prompt = Prompt(item.messages, sample.prompt_meta or {})
    answer = adapter.parse(answer_text(sample, adapter), item, prompt)
    verdict = adapter.verify(item, answer) if answer is not None else None
    sample.answer, sample.gold, sample.parse_ok = answer, item.gold, answer is not None
    sample.correct = bool(verdict and verdict.correct)
    sample.partial = verdict.partial if verdict else 0.0
    sample.scores = (verdict.scores or None) if verdict else None
    sample.checked = adapter.checked(item, answer) if answer is not None else None
    return sample


def rescore(path) -> Rescored:
    """Rescore a run folder in place; returns what changed."""
    folder = RunFolder.resolve(path)
    lock = RunStore(folder.dir)
    lock.open_for_append()  # a live run of this folder refuses us (and we it)
    try:
        return _rescore_locked(folder)
    finally:
        lock.close()


def _rescore_locked(folder: RunFolder) -> Rescored:
    manifest = folder.manifest()
    items = _Items(manifest)
    result = Rescored()
    tmp = folder.samples_path.with_name(f"{folder.samples_path.name}.{os.getpid()}.rescore")
    try:
        with open(tmp, "wb") as out:
            for sample in folder.samples():
                result.samples += 1
                found = items.get(sample) if sample.error is None else None
                if found is None:
                    result.skipped += 1
                else:
                    before = {name: getattr(sample, name) for name in SCORE_FIELDS}
                    _rescore(sample, *found)
                    result.rescored += 1
                    result.gold_changed += before["gold"] != sample.gold
                    result.changed.update(name for name in SCORE_FIELDS if before[name] != getattr(sample, name))
                out.write(encode_row(sample.to_json()))
        if result.samples == 0:
            raise folder.empty()
        os.replace(tmp, folder.samples_path)
    except OSError as exc:
        raise UserError(f"cannot rewrite {folder.samples_path}: {exc.strerror}; it is unchanged") from None
    finally:
        tmp.unlink(missing_ok=True)
    manifest.setdefault("rescored", []).append({
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "samples": result.samples, "rescored": result.rescored, "changed": dict(result.changed),
        "gold_changed": result.gold_changed,
    })
    write_json_atomic(folder.dir / MANIFEST, manifest)
    return result
