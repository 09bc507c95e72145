"""The task families, listed explicitly: adding one is a module and one line here.

Families import ``base``; nothing they import comes back here, so there is no cycle and no
family appears by the side effect of an import.
"""

from __future__ import annotations

from typing import Any

from ..errors import UserError
from .arithmetic import Arithmetic
from .base import Item, TaskAdapter
from .crossword import Crossword
from .mcq import MultipleChoice
from .sudoku import Sudoku

FAMILIES: dict[str, type[TaskAdapter]] = {cls.name: cls for cls in (Arithmetic, Sudoku, Crossword, MultipleChoice)}


def families() -> dict[str, type[TaskAdapter]]:
    """Family name -> adapter class (a copy: callers may not add to the registry)."""
    return dict(FAMILIES)


def get_family(name: str) -> type[TaskAdapter]:
    if name not in FAMILIES:
        raise UserError(f"unknown task family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[name]


def task_items(task: Any, seed: int = 0, count: int | None = None, levels: list[str] | None = None) -> list[Item]:
    """The items of one suite task, as a run would build them (any family).

    ``task`` is a TaskSpec or anything with ``family`` and ``options`` (and optionally
    ``name``, ``levels``, ``items``). ``count`` items per level (default: the task's
    ``items``, else 3, capped at what a dataset holds); ``levels`` default to the task's,
    else the family's defaults. Errors are one-line UserErrors (bad options, unreachable
    Hub, a bad row). Show each item's ``messages`` (what the model sees for sample 0),
    ``gold`` and ``mcq.source_label``.
    """
    adapter = getattr(task, "adapter", None)
    if adapter is None:
        family = getattr(task, "family")
        adapter = get_family(family)(getattr(task, "name", None) or family, dict(getattr(task, "options", None) or {}))
    chosen = list(levels or getattr(task, "levels", None) or adapter.default_levels or adapter.level_ids())
    wanted = count if count is not None else (getattr(task, "items", None) or 3)
    items: list[Item] = []
    for level in chosen:
        available = adapter.available(level)
        items.extend(adapter.items(seed, level, wanted if available is None else min(wanted, available)))
    return items
