"""Task families. Importing a family module registers it (see base.register)."""

import importlib

FAMILY_MODULES = ("arithmetic", "sudoku", "crossword", "mcq")


def load_all() -> None:
    for name in FAMILY_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
