"""Files shipped in the project's tasks/ folder (suites, the crossword word list)."""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path


def data_file(name: str) -> Traversable:
    """A file of the tasks/ folder, installed as the ``ttc_bench.tasks`` package."""
    try:
        return files("ttc_bench.tasks").joinpath(name)
    except ModuleNotFoundError:  # running from a source tree that is not installed
        return Path(__file__).resolve().parents[2] / "tasks" / name
