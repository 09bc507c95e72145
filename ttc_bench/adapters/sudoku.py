"""Sudoku: 4x4, 6x6 and 9x9 puzzles with a unique solution, graded by solving technique.

The puzzles come from ``sudoku_search`` (generator and solvers); this module holds the
levels, the prompt, answer extraction, the verifier and the gold-free checker.
"""

from __future__ import annotations

import re
from collections import Counter

from .base import Check, Item, Prompt, TaskAdapter, Verdict, item_id, item_rng, level_table
from .extract import last_tagged, tail
from .sudoku_search import GUESS, HIDDEN, PAIRS, SINGLES, TECHNIQUES, Shape, SudokuLevel, generate, shape

ANY = (SINGLES, HIDDEN, PAIRS, GUESS)

LEVELS: dict[str, SudokuLevel] = level_table(
    SudokuLevel("4x4", "4x4 grid (2x2 boxes), minimal puzzle (10-12 blanks)", 4, None, GUESS, ANY),
    SudokuLevel("6x6", "6x6 grid (2x3 boxes), minimal puzzle (about 24-27 blanks)", 6, None, GUESS, ANY),
    SudokuLevel(
        "9x9-easy", "9x9, 36-45 blanks, solvable with naked singles alone", 9, (36, 45), SINGLES, (SINGLES,)
    ),
    SudokuLevel(
        "9x9-medium", "9x9, 46-54 blanks, needs hidden singles (no pairs, no guessing)", 9, (46, 54), HIDDEN, (HIDDEN,)
    ),
    SudokuLevel(
        "9x9-hard",
        "9x9 minimal puzzle (typically 54-60 blanks) that singles cannot finish: "
        "needs pairs/pointing or guessing",
        9, None, GUESS, (PAIRS, GUESS),
    ),
)


def cells_text(grid: list[int]) -> str:
    """Row-major string, '.' for blanks."""
    return "".join(str(v) if v else "." for v in grid)


def format_grid(sh: Shape, text: str) -> str:
    """Rows of space-separated cells with '|' and '-' marking box borders."""
    lines = []
    for r in range(sh.n):
        if r and r % sh.box_rows == 0:
            lines.append("-+-".join("-" * (2 * sh.box_cols - 1) for _ in range(sh.n // sh.box_cols)))
        row = text[r * sh.n : (r + 1) * sh.n]
        groups = [" ".join(row[c : c + sh.box_cols]) for c in range(0, sh.n, sh.box_cols)]
        lines.append(" | ".join(groups))
    return "\n".join(lines)


# ---- answer extraction ----------------------------------------------------------------
# All patterns are linear: no nested or adjacent ambiguous quantifiers.

# A LaTeX command with its brace arguments (\begin{array}{cc|cc}, \hline, \quad).
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+(?:\{[^{}0-9]*\})*")
_LETTER = re.compile(r"[^\W\d_]")
_NON_DIGIT = re.compile(r"[^0-9]+")


def _line_digits(line: str) -> str | None:
    """The digits of a grid-looking line ('' for separators), or None for a line of prose."""
    if line.lstrip().startswith("```"):
        return ""
    colon = line.rfind(":")
    if colon >= 0:
        line = line[colon + 1 :]  # "Row 3: 1 2 3 4" -> the cells
    line = _LATEX_COMMAND.sub(" ", line)
    if _LETTER.search(line):
        return None
    return _NON_DIGIT.sub("", line)


def grid_from_lines(text: str, n: int) -> str | None:
    """The last grid written as n consecutive row lines (or one line of n*n digits).

    Separator lines (+---+, fences, blank lines) may sit between rows; a line of prose or a
    line with a different digit count breaks the run, so a stray number is never mistaken
    for a row.
    """
    rows: list[str] = []
    grid = None
    for line in text.split("\n"):
        digits = _line_digits(line)
        if digits == "":
            continue
        if digits is not None and len(digits) == n:
            rows.append(digits)
            if len(rows) >= n:
                grid = "".join(rows[-n:])
            continue
        rows = []
        if digits is not None and len(digits) == n * n:
            grid = digits
    return grid


# ---- the family -----------------------------------------------------------------------


class Sudoku(TaskAdapter):
    name = "sudoku"
    summary = "sudoku 4x4, 6x6 and 9x9 with a unique solution, graded by the techniques it needs"
    levels = LEVELS
    default_levels = ("4x4", "6x6", "9x9-easy")
    # A 9x9 grid written as digits with spaces/newlines is about 2 tokens a cell; the margin
    # covers tags, fences and models that add separators.
    answer_tokens = 256
    answer_cue = "Time is up, so here is the completed grid, one row per line: <answer>"
    has_checker = True

    def item(self, seed: int, level: str, index: int) -> Item:
        spec = LEVELS[self.check_level(level)]
        puzzle = generate(spec, item_rng(seed, self.task, level, index))
        sh = shape(spec.size)
        givens = cells_text(puzzle.givens)
        n, br, bc = sh.n, sh.box_rows, sh.box_cols
        content = (
            f"Solve this {n}x{n} Sudoku. Fill every blank cell (shown as '.') with a digit from "
            f"1 to {n} so that each row, each column and each of the {n} boxes of {br} rows by "
            f"{bc} columns (marked by | and - below) contains every digit from 1 to {n} exactly "
            "once. The puzzle has exactly one solution.\n\n"
            f"Puzzle:\n{format_grid(sh, givens)}\n\n"
            "Think it through step by step. Then give the completed grid inside "
            f"<answer></answer> tags as {n} lines, one per row from top to bottom, each line "
            f"holding the {n} digits of that row and nothing else."
        )
        return Item(
            id=item_id(self.task, level, index),
            task=self.task,
            level=level,
            messages=[{"role": "user", "content": content}],
            gold="".join(map(str, puzzle.solution)),
            meta={
                "size": n,
                "box": [br, bc],
                "blanks": puzzle.givens.count(0),
                "givens": givens,
                "technique": TECHNIQUES[puzzle.technique],
                "logic_steps": dict(puzzle.logic_steps),
                "search_nodes": puzzle.search_nodes,
                "attempts": puzzle.attempts,
            },
        )

    def parse(self, text: str, item: Item, prompt: Prompt) -> str | None:
        n = item.meta["size"]
        text = tail(text)
        body = last_tagged(text)
        if body is not None:
            # Inside the tags any digit counts as a cell: a grid with a 0 or an out-of-range
            # digit is a wrong answer that still earns partial credit, not an unreadable one.
            grid = grid_from_lines(body, n)
            if grid is None:
                digits = _NON_DIGIT.sub("", _LATEX_COMMAND.sub(" ", body))
                grid = digits if len(digits) == n * n else None
            return grid
        # No tags: only a clean grid of 1..n at the end of the text is taken as the answer.
        grid = grid_from_lines(text, n)
        allowed = set("123456789"[:n])
        if grid is None or not set(grid) <= allowed:
            return None
        return grid

    def verify(self, item: Item, answer: str) -> Verdict:
        n = item.meta["size"]
        sh = shape(n)
        givens, gold = item.meta["givens"], item.gold
        if len(answer) != n * n or not all("0" <= ch <= "9" for ch in answer):
            return Verdict(False, 0.0, {"cells": 0.0, "units": 0.0})
        blanks = [i for i, g in enumerate(givens) if g == "."]
        givens_kept = all(answer[i] == g for i, g in enumerate(givens) if g != ".")
        digits = set("123456789"[:n])
        units_ok = sum(1 for unit in sh.units if {answer[i] for i in unit} == digits)
        correct = givens_kept and units_ok == len(sh.units)
        right_blanks = sum(1 for i in blanks if answer[i] == gold[i])
        partial = 1.0 if correct else right_blanks / len(blanks) if blanks else 0.0
        scores = {
            "cells": sum(1 for a, g in zip(answer, gold) if a == g) / (n * n),
            "units": units_ok / len(sh.units),
        }
        return Verdict(correct, partial, scores)

    def shown_answer(self, item: Item, answer: str) -> str:
        n = item.meta["size"]
        return "\n".join(answer[r * n : (r + 1) * n] for r in range(n))

    def check(self, item: Item, answer: str) -> Check:
        """The rules, from the givens the model was shown. The puzzle has one solution, so
        this accepts exactly the grids verify() accepts, without knowing which one it is."""
        n = item.meta["size"]
        answer = answer or ""
        if len(answer) != n * n or not all("0" <= ch <= "9" for ch in answer):
            return Check(False, [f"the answer is not a {n}x{n} grid of digits"])
        return Check.of(grid_violations(shape(n), item.meta["givens"], answer))


_COUNTS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def grid_violations(sh: Shape, givens: str, grid: str) -> list[str]:
    """Every broken rule of a full grid of digits, rows and columns counted from 1."""
    n = sh.n
    found = [
        f"row {cell // n + 1}, column {cell % n + 1} holds {value}, not a digit from 1 to {n}"
        for cell, value in enumerate(grid)
        if not "1" <= value <= str(n)
    ]
    found += [
        f"row {cell // n + 1}, column {cell % n + 1} changes the given {given} to {grid[cell]}"
        for cell, given in enumerate(givens)
        if given != "." and grid[cell] != given
    ]
    # A unit of n cells holding only digits 1..n is a permutation unless a digit repeats,
    # so out-of-range cells and repeats together name every broken unit.
    for kind, units in (("row", sh.rows), ("column", sh.cols)):
        for number, unit in enumerate(units, start=1):
            found += _repeats(f"{kind} {number}", [grid[cell] for cell in unit], n)
    for box in sh.boxes:
        top, left = box[0] // n + 1, box[0] % n + 1
        where = f"the box in rows {top}-{top + sh.box_rows - 1}, columns {left}-{left + sh.box_cols - 1}"
        found += _repeats(where, [grid[cell] for cell in box], n)
    return found


def _repeats(where: str, values: list[str], n: int) -> list[str]:
    counts = Counter(values)
    # Out-of-range values are already named cell by cell.
    return [
        f"{where} holds {_COUNTS[count]} {value}s"
        for value, count in sorted(counts.items())
        if count > 1 and "1" <= value <= str(n)
    ]
