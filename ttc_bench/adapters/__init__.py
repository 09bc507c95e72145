"""Task families: the adapter contract (``base``), answer extraction (``extract``), one
module per family, and the explicit list of families (``registry``)."""

from .base import Check, Item, Level, Options, Prompt, TaskAdapter, Verdict
from .registry import families, get_family, task_items

__all__ = [
    "Check",
    "Item",
    "Level",
    "Options",
    "Prompt",
    "TaskAdapter",
    "Verdict",
    "families",
    "get_family",
    "task_items",
]
