"""Crossword search: the shipped word list and the seeded search for double word squares.

Grids are double word squares (no black squares; rows and columns are different words)
filled by a seeded backtracking search over the project's own word list
(``tasks/crossword_words.tsv``: word, commonness, clue).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from ..errors import UserError
from .shipped import data_file

WORDS_FILE = "crossword_words.tsv"

# Row placements one search attempt may try before it restarts with fresh shuffles: random
# candidate orders occasionally wander into a huge dead subtree, and a restart is cheaper
# than exhausting it. Restarts draw from the same item RNG, so they stay deterministic.
NODE_CAP = {3: 2_000, 4: 4_000, 5: 6_000}
MAX_RESTARTS = 500


# ---- word list ------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    word: str
    rare: bool
    clue: str


@lru_cache(maxsize=1)
def load_words() -> dict[str, Entry]:
    """The shipped word list, validated (a malformed row is named rather than skipped)."""
    text = data_file(WORDS_FILE).read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].split("\t") != ["word", "commonness", "clue"]:
        raise UserError(f"{WORDS_FILE}: header must be 'word<TAB>commonness<TAB>clue'")
    entries: dict[str, Entry] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise UserError(f"{WORDS_FILE}:{number}: expected 3 tab-separated fields")
        word, commonness, clue = (field.strip() for field in fields)
        if not re.fullmatch(r"[A-Z]{3,5}", word) or commonness not in ("common", "rare") or not clue:
            raise UserError(f"{WORDS_FILE}:{number}: bad entry {line!r}")
        if word in entries:
            raise UserError(f"{WORDS_FILE}:{number}: duplicate word {word}")
        entries[word] = Entry(word, commonness == "rare", clue)
    return entries


@dataclass(frozen=True)
class Lexicon:
    """The words of one length plus, for every prefix, the letters that can extend it."""

    words: tuple[str, ...]
    next_letters: dict[str, frozenset[str]]


def build_lexicon(words: list[str] | tuple[str, ...]) -> Lexicon:
    ordered = tuple(sorted(set(words)))  # sorted: the RNG, not file order, decides the shuffle
    following: dict[str, set[str]] = {}
    for word in ordered:
        for i in range(len(word)):
            following.setdefault(word[:i], set()).add(word[i])
    return Lexicon(ordered, {prefix: frozenset(letters) for prefix, letters in following.items()})


@lru_cache(maxsize=None)
def lexicon(size: int, allow_rare: bool) -> Lexicon:
    words = [e.word for e in load_words().values() if len(e.word) == size and (allow_rare or not e.rare)]
    return build_lexicon(words)


# ---- grid search ----------------------------------------------------------------------


def columns(rows: list[str] | tuple[str, ...]) -> list[str]:
    return ["".join(row[c] for row in rows) for c in range(len(rows[0]))] if rows else []


def row_candidates(lex: Lexicon, cols: list[str]) -> list[str]:
    """Words that fit the next row: letter c must extend column c's prefix to a word prefix."""
    allowed = [lex.next_letters.get(prefix, frozenset()) for prefix in cols]
    size = len(cols)
    found: list[str] = []
    stack = [""]
    # Walking the prefix table position by position visits only viable row prefixes.
    while stack:
        prefix = stack.pop()
        position = len(prefix)
        if position == size:
            found.append(prefix)
            continue
        for letter in lex.next_letters.get(prefix, frozenset()) & allowed[position]:
            stack.append(prefix + letter)
    found.sort()  # set iteration order varies between runs; the shuffle must not
    return found


class _CapReached(Exception):
    pass


def search(
    lex: Lexicon,
    size: int,
    rng: random.Random | None,
    node_cap: int | None = None,
    rare: frozenset[str] | None = None,
    limit: int = 1,
) -> list[list[str]]:
    """Up to ``limit`` grids, filled row by row; ``rng`` shuffles candidates (None: sorted).

    A row's letters must extend every column's prefix, so each column stays a viable word
    prefix and the last row completes all of them. No word is used twice (which also rules
    out row i == column i). Raises _CapReached after ``node_cap`` row placements. ``rare``:
    grids must use at least one of these words.
    """
    found: list[list[str]] = []
    rows: list[str] = []
    nodes = 0

    def extend() -> bool:
        nonlocal nodes
        cols = columns(rows) if rows else [""] * size
        if len(rows) == size:
            words = rows + cols
            if len(set(words)) == len(words) and (rare is None or any(w in rare for w in words)):
                found.append(list(rows))
            return len(found) >= limit
        candidates = row_candidates(lex, cols)
        if rng is not None:
            rng.shuffle(candidates)
        for word in candidates:
            if word in rows:
                continue
            nodes += 1
            if node_cap is not None and nodes > node_cap:
                raise _CapReached
            rows.append(word)
            done = extend()
            rows.pop()
            if done:
                return True
        return False

    extend()
    return found


def generate_grid(size: int, rng: random.Random, allow_rare: bool) -> tuple[list[str], int]:
    """A random double word square and the number of restarts it took."""
    lex = lexicon(size, allow_rare)
    rare_words = None
    if allow_rare:
        rare_words = frozenset(w for w in lex.words if load_words()[w].rare)
    for restart in range(MAX_RESTARTS):
        try:
            grids = search(lex, size, rng, NODE_CAP[size], rare_words)
        except _CapReached:
            continue
        if grids:
            return grids[0], restart
    raise RuntimeError(f"crossword: no {size}x{size} grid found in {MAX_RESTARTS} restarts")


def bank_solutions(bank: list[str], size: int) -> list[str]:
    """Every grid whose rows and columns use exactly the bank (gold, its transpose, ...)."""
    lex = build_lexicon(bank)
    grids = search(lex, size, None, limit=10_000)
    want = Counter(bank)
    return sorted("/".join(g) for g in grids if Counter(g + columns(g)) == want)
