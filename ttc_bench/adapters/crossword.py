"""Crossword: mini crosswords where every row and every column of a k x k grid is a word.

Grids come from ``crossword_search`` (the word list and a seeded search for double word
squares). Clue levels show an Across clue per row and a Down clue per column; bank levels
show the 2k answers unordered, which makes the item a pure constraint puzzle whose every
valid arrangement is accepted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .base import Check, Item, Level, Prompt, TaskAdapter, Verdict, item_id, item_rng, level_table
from .crossword_search import bank_solutions, columns, generate_grid, load_words
from .extract import last_answer_line, last_tagged, tail


@dataclass(frozen=True)
class CrosswordLevel(Level):
    size: int
    mode: str  # "clues": Across/Down clues; "bank": the 2k answers, unordered
    rare: bool  # rare words allowed, and at least one is used
    reveal: int  # letters shown in the grid as a hint


LEVELS: dict[str, CrosswordLevel] = level_table(
    CrosswordLevel("3x3", "3x3 grid of common words, Across/Down clues", 3, "clues", False, 0),
    CrosswordLevel("4x4", "4x4 grid of common words, Across/Down clues", 4, "clues", False, 0),
    CrosswordLevel("5x5", "5x5 grid of common words, Across/Down clues", 5, "clues", False, 0),
    CrosswordLevel("4x4-rare", "4x4 grid with at least one rare word, clues", 4, "clues", True, 0),
    CrosswordLevel("4x4-revealed", "4x4 common words, clues, 4 letters revealed", 4, "clues", False, 4),
    CrosswordLevel("5x5-revealed", "5x5 common words, clues, 6 letters revealed", 5, "clues", False, 6),
    CrosswordLevel("3x3-bank", "3x3 word bank: arrange the 6 given words, no clues", 3, "bank", False, 0),
    CrosswordLevel("4x4-bank", "4x4 word bank: arrange the 8 given words, no clues", 4, "bank", False, 0),
    CrosswordLevel("5x5-bank", "5x5 word bank: arrange the 10 given words, no clues", 5, "bank", False, 0),
)


# ---- prompt ---------------------------------------------------------------------------


ANSWER_FORMAT = "<answer>\nROW1\nROW2\n...\n</answer>"


def render_revealed(size: int, revealed: list[list]) -> str:
    cells = [["."] * size for _ in range(size)]
    for r, c, letter in revealed:
        cells[r][c] = letter
    return "\n".join(" ".join(row) for row in cells)


def build_prompt(spec: CrosswordLevel, clues: dict[str, list[str]], bank: list[str], revealed: list[list]) -> str:
    k = spec.size
    parts = [
        f"Solve this {k}x{k} mini crossword. Every cell holds one letter A-Z and there are no "
        f"black squares: each of the {k} rows, read left to right, is an English word, and each "
        f"of the {k} columns, read top to bottom, is an English word. No word appears twice."
        + (" Some of the words are uncommon." if spec.rare else "")
    ]
    if spec.mode == "bank":
        parts.append(
            f"Word bank ({2 * k} words, in alphabetical order): {', '.join(bank)}\n"
            f"Use every bank word exactly once: {k} of them as the rows and the other {k} as "
            "the columns. Any grid that does this is accepted."
        )
    else:
        across = "\n".join(f"{i}. {clue}" for i, clue in enumerate(clues["across"], start=1))
        down = "\n".join(f"{i}. {clue}" for i, clue in enumerate(clues["down"], start=1))
        parts.append(f"Across (row 1 is the top row):\n{across}")
        parts.append(f"Down (column 1 is the leftmost column):\n{down}")
    if revealed:
        parts.append(
            "Some letters are already filled in ('.' marks an unknown cell):\n"
            + render_revealed(k, revealed)
        )
    parts.append(
        f"Think it through, then give the completed grid as its {k} rows of {k} letters, top "
        f"to bottom, one row per line, inside answer tags:\n{ANSWER_FORMAT}"
    )
    return "\n\n".join(parts)


# ---- answer extraction ----------------------------------------------------------------

# "Row 1:", "1.", "2)" in front of a row; anchored, so it costs one pass per line.
_ROW_LABEL = re.compile(r"^\s*(?:row\s*)?\d{1,2}\s*[:.)\-]\s*", re.IGNORECASE)
# The first cell of a markdown table row that only numbers the row ("| 1 | C | A | T |").
_LABEL_CELL = re.compile(r"(?:row\s*)?\d{1,2}[:.)]?", re.IGNORECASE)
# Cell separators and markdown emphasis that models put between or around letters.
_CELL_JUNK = str.maketrans("", "", " \t|`*,")
_EMPHASIS = str.maketrans("", "", "`*,")
_SEPARATOR_CHARS = set("-=+:")
# The fallback reads only a handful of trailing lines; a grid is at most 5 rows.
FALLBACK_LINES = 40


def _letters(line: str) -> tuple[str, bool]:
    """A line's letters with row labels, table pipes, spaces and emphasis removed, and
    whether the line is laid out like a grid row ("| C | A | T |", "C A T", "CAT") rather
    than prose ("Here it is")."""
    text = line.strip()
    if "|" in text:
        cells = [cell.strip() for cell in text.strip("|").split("|")]
        if cells and _LABEL_CELL.fullmatch(cells[0]):
            cells = cells[1:]
        return "".join(cells).translate(_CELL_JUNK), True
    text = _ROW_LABEL.sub("", text, count=1)
    tokens = text.translate(_EMPHASIS).split()
    row_like = len(tokens) == 1 or all(len(token) == 1 for token in tokens)
    return text.translate(_CELL_JUNK), row_like


def _is_word(text: str) -> bool:
    return text.isascii() and text.isalpha()


def _row(line: str, size: int) -> str | None:
    """The row a line spells ("CAT", "c a t", "| C | A | T |", "1. CAT"), else None."""
    letters, row_like = _letters(line)
    return letters.upper() if row_like and len(letters) == size and _is_word(letters) else None


def _is_filler(line: str) -> bool:
    """Blank lines, code fences and table rules, which carry no letters."""
    stripped = line.strip()
    if stripped.startswith("```"):
        return True
    return all(ch in _SEPARATOR_CHARS for ch in stripped.translate(_CELL_JUNK))


def _single_line_grid(line: str, size: int) -> list[str] | None:
    """'CAT/ARE/TEN', 'CAT, ARE, TEN' or 'CAT ARE TEN' on one line."""
    line = _ROW_LABEL.sub("", line.strip().strip("`*"), count=1)
    if "/" in line:
        tokens = line.split("/")
    elif "," in line:
        tokens = line.split(",")
    else:
        tokens = line.split()
    rows = [_row(token, size) for token in tokens]
    if len(rows) == size and all(rows):
        return rows  # type: ignore[return-value]
    return None


def parse_grid(text: str, size: int) -> list[str] | None:
    """The k rows in an answer body: one row per line, or all rows on one line.

    Prose lines ("Final grid:") are skipped, but a line of letters of the wrong length is a
    malformed row, and then there is no answer rather than a guess at which rows were meant.
    """
    lines = [line for line in text.splitlines() if not _is_filler(line)]
    if len(lines) == 1:
        single = _single_line_grid(lines[0], size)
        if single:
            return single
    rows: list[str] = []
    for line in lines:
        letters, row_like = _letters(line)
        if not (row_like and _is_word(letters)):
            continue
        if len(letters) != size:
            return None
        rows.append(letters.upper())
    return rows if len(rows) == size else None


def trailing_grid(text: str, size: int) -> list[str] | None:
    """A grid written as the last lines of a reply without answer tags (exactly k rows)."""
    rows: list[str] = []
    for line in reversed(text.splitlines()[-FALLBACK_LINES:]):
        if _is_filler(line):
            if rows:
                break
            continue
        row = _row(line, size)
        if row is None:
            break
        rows.append(row)
    return rows[::-1] if len(rows) == size else None


def split_answer(answer: str, size: int) -> list[str] | None:
    rows = answer.split("/")
    if len(rows) == size and all(len(r) == size and r.isascii() and r.isalpha() and r.isupper() for r in rows):
        return rows
    return None


def letter_accuracy(grid: list[str], gold: list[str]) -> float:
    cells = sum(len(row) for row in gold)
    same = sum(a == b for row, gold_row in zip(grid, gold) for a, b in zip(row, gold_row))
    return same / cells


# ---- the family -----------------------------------------------------------------------


class Crossword(TaskAdapter):
    name = "crossword"
    summary = "mini crosswords: k x k grids whose every row and column is a word (clues or word bank)"
    levels = LEVELS
    default_levels = ("3x3", "4x4", "4x4-bank")
    answer_tokens = 64
    answer_cue = "Time is up, so here is the completed grid, one row per line: <answer>"
    has_checker = True

    def item(self, seed: int, level: str, index: int) -> Item:
        spec = LEVELS[self.check_level(level)]
        k = spec.size
        rng = item_rng(seed, self.task, level, index)
        rows, restarts = generate_grid(k, rng, spec.rare)
        cols = columns(rows)
        entries = load_words()
        cells = sorted(rng.sample(range(k * k), spec.reveal))
        revealed = [[cell // k, cell % k, rows[cell // k][cell % k]] for cell in cells]
        clues = {"across": [entries[w].clue for w in rows], "down": [entries[w].clue for w in cols]}
        bank = sorted(rows + cols) if spec.mode == "bank" else []
        meta = {
            "size": k,
            "mode": spec.mode,
            "rows": rows,
            "columns": cols,
            "clues": clues,
            "revealed": revealed,
            "bank": bank,
            "commonness": "common+rare" if spec.rare else "common",
            "rare_words": [w for w in rows + cols if entries[w].rare],
            "restarts": restarts,
        }
        if spec.mode == "bank":
            meta["solutions"] = bank_solutions(bank, k)
        return Item(
            id=item_id(self.task, level, index),
            task=self.task,
            level=level,
            messages=[{"role": "user", "content": build_prompt(spec, clues, bank, revealed)}],
            gold="/".join(rows),
            meta=meta,
        )

    def parse(self, text: str, item: Item, prompt: Prompt) -> str | None:
        size = item.meta["size"]
        text = tail(text)
        body = last_tagged(text)
        if body is not None:
            rows = parse_grid(body, size)
        else:
            # Untagged replies: only an "Answer: CAT/ARE/TEN" line or a bare trailing grid.
            line = last_answer_line(text)
            rows = _single_line_grid(line, size) if line else None
            rows = rows or trailing_grid(text, size)
        return "/".join(rows) if rows else None

    def verify(self, item: Item, answer: str) -> Verdict:
        size = item.meta["size"]
        gold = item.gold.split("/")
        grid = split_answer(answer or "", size)
        if grid is None:
            return Verdict(False, 0.0, {"letters": 0.0, "words": 0.0, "grid": 0.0})
        cols = columns(grid)
        kept = all(grid[r][c] == letter for r, c, letter in item.meta.get("revealed", []))
        if item.meta["mode"] == "bank":
            # Any arrangement that uses the bank exactly is right, not only the stored one.
            matched = sum((Counter(grid + cols) & Counter(item.meta["bank"])).values())
            correct = matched == 2 * size and kept
            solutions = [s.split("/") for s in item.meta.get("solutions") or [item.gold]]
            letters = 1.0 if correct else max(letter_accuracy(grid, s) for s in solutions)
        else:
            gold_cols = columns(gold)
            matched = sum(a == b for a, b in zip(grid + cols, gold + gold_cols))
            correct = grid == gold
            letters = letter_accuracy(grid, gold)
        scores = {"letters": letters, "words": matched / (2 * size), "grid": float(correct)}
        return Verdict(correct, letters, scores)

    def shown_answer(self, item: Item, answer: str) -> str:
        return answer.replace("/", "\n")

    def check(self, item: Item, answer: str) -> Check:
        """The puzzle's own rules: revealed letters kept, and in bank mode the bank used
        exactly (what verify() accepts); with clues, every row and column a word of the word
        list and no word twice. Clues are not checked, so a valid grid other than the
        intended one passes here while verify() rejects it."""
        size = item.meta["size"]
        grid = split_answer(answer or "", size)
        if grid is None:
            return Check(False, [f"the answer is not a {size}x{size} grid of letters A-Z"])
        entries = [(f"row {r}", word) for r, word in enumerate(grid, start=1)]
        entries += [(f"column {c}", word) for c, word in enumerate(columns(grid), start=1)]
        found = [
            f"row {r + 1}, column {c + 1} must be the revealed {letter}, not {grid[r][c]}"
            for r, c, letter in item.meta.get("revealed", [])
            if grid[r][c] != letter
        ]
        if item.meta["mode"] == "bank":
            found += _bank_violations(entries, item.meta["bank"])
        else:
            words = load_words()
            found += [f"{where} {word!r} is not a word" for where, word in entries if word not in words]
            found += _repeated_words(entries)
        return Check.of(found)


def _bank_violations(entries: list[tuple[str, str]], bank: list[str]) -> list[str]:
    """Rows and columns outside the bank, and bank words used other than once (the bank's
    words are distinct: the search never repeats a word)."""
    used = Counter(word for _, word in entries)
    found = [f"{where} {word!r} is not in the word bank" for where, word in entries if word not in bank]
    found += [f"bank word {word!r} is used {used[word]} times" for word in bank if used[word] > 1]
    found += [f"bank word {word!r} is not used" for word in bank if not used[word]]
    return found


def _repeated_words(entries: list[tuple[str, str]]) -> list[str]:
    places: dict[str, list[str]] = {}
    for where, word in entries:
        places.setdefault(word, []).append(where)
    return [
        f"{word!r} appears twice ({' and '.join(at)}); no word may repeat" if len(at) == 2
        else f"{word!r} appears {len(at)} times ({', '.join(at)}); no word may repeat"
        for word, at in places.items()
        if len(at) > 1
    ]
