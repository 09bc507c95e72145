"""The prompt of an item, rebuilt for the sample browser: samples.jsonl rows do not carry
it, but an item is a pure function of (seed, task, level, index), so the family adapter
named in manifest.json rebuilds it exactly. Any failure (an unknown family, a dataset file
moved, a Hub dataset not in the local cache) means no prompt for that task, with the
reason, never a failed report; a report never reaches the network for it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

_OFFLINE = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@contextmanager
def _offline() -> Iterator[None]:
    """Hugging Face loaders stay off the network (a cached dataset still loads): the
    report is rebuilt offline, often long after the run, and must not wait on the Hub.
    The libraries read these variables when called (mcq_hub.offline reads them each time)."""
    saved = {name: os.environ.get(name) for name in _OFFLINE}
    os.environ.update({name: "1" for name in _OFFLINE})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def item_index(task: str, level: str, item_id: str) -> int | None:
    """The index in an item id ``task/level/NNNN``, or None if it is not one."""
    prefix = f"{task}/{level}/"
    if not item_id.startswith(prefix) or not item_id[len(prefix):].isdigit():
        return None
    return int(item_id[len(prefix):])


class Prompts:
    """Prompts of one run's items, from its manifest's ``spec.tasks`` and ``spec.seed``."""

    def __init__(self, manifest: dict):
        spec = manifest.get("spec") or {}
        self.seed = spec.get("seed") or 0
        self.tasks = {}
        for t in spec.get("tasks") or []:
            if isinstance(t, dict) and t.get("family"):
                self.tasks[t.get("name") or t["family"]] = t
        self.adapters: dict[str, object] = {}
        self.notes: dict[str, str] = {}  # task -> why its prompts could not be rebuilt

    def _adapter(self, task: str):
        if task in self.adapters or task in self.notes:
            return self.adapters.get(task)
        spec = self.tasks.get(task)
        if spec is None:
            self.notes[task] = "the manifest does not describe this task"
            return None
        try:
            from ..adapters import get_family

            with _offline():
                self.adapters[task] = get_family(spec["family"])(task, dict(spec.get("options") or {}))
        except Exception as exc:  # any family's failure: the report goes on without prompts
            self.notes[task] = _why(exc)
            return None
        return self.adapters[task]

    def messages(self, task: str, level: str, item_id: str) -> list[dict] | None:
        """The item's messages (what sample 0 was shown), or None (see ``notes``)."""
        adapter = self._adapter(task)
        index = item_index(task, level, item_id)
        if adapter is None or index is None:
            return None
        try:
            with _offline():
                item = adapter.item(self.seed, level, index)
        except Exception as exc:  # a family's failure on one item: no prompt for the task
            self.notes.setdefault(task, _why(exc))
            return None
        if item.id != item_id:
            self.notes.setdefault(task, f"the rebuilt item is {item.id}, not {item_id}")
            return None
        return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in item.messages]


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]
