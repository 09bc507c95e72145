"""Gold-free checkers against the gold verifier, on generated sudoku and crossword items.

Each item is checked with its gold answer and with mutations of it (one cell changed, two
cells swapped, a row taken from another item of the same level, the transposed grid). The
sudoku checker and the crossword checker in bank mode accept exactly what the verifier
accepts. With clues the checker cannot read the clues, so it also accepts any other grid
that meets the rules (every row and column a word of the list, no repeats, revealed
letters kept) while the verifier wants the intended grid: the only disagreement allowed.
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from functools import lru_cache

import pytest

from ttc_bench.adapters import Check, Item, get_family
from ttc_bench.adapters.base import MAX_VIOLATIONS
from ttc_bench.adapters.crossword import LEVELS as CROSSWORD_LEVELS
from ttc_bench.adapters.crossword_search import columns, load_words
from ttc_bench.adapters.sudoku import LEVELS as SUDOKU_LEVELS

SUDOKU = get_family("sudoku")()
CROSSWORD = get_family("crossword")()
SUDOKU_SEEDS, CROSSWORD_SEEDS, PER_LEVEL = (0, 1, 2, 3), (0, 1), 15
# The only item fields a checker may read: what the model was shown.
SHOWN = {"sudoku": ("size", "box", "givens"), "crossword": ("size", "mode", "revealed", "bank")}
WHERE = re.compile(r"^(row \d+(, column \d+)?|column \d+|the box in rows \d+-\d+, columns \d+-\d+|'[A-Z]+'|bank word '[A-Z]+'|and \d+ more) ")


@lru_cache(maxsize=None)
def items(family: str) -> tuple[Item, ...]:
    adapter, levels, seeds = (
        (SUDOKU, SUDOKU_LEVELS, SUDOKU_SEEDS) if family == "sudoku" else (CROSSWORD, CROSSWORD_LEVELS, CROSSWORD_SEEDS)
    )
    return tuple(item for level in levels for seed in seeds for item in adapter.items(seed, level, PER_LEVEL))


def blind(item: Item, other: Item) -> Item:
    """The item with someone else's gold and only the shown fields: a checker that read the
    gold (or the stored rows and solutions) would fail or answer differently."""
    family = item.task
    return replace(item, gold=other.gold, meta={key: item.meta[key] for key in SHOWN[family]})


# ---- mutations ----------------------------------------------------------------------------


def cells_of(family: str, answer: str) -> list[list[str]]:
    if family == "sudoku":
        n = int(len(answer) ** 0.5)
        return [list(answer[r * n : (r + 1) * n]) for r in range(n)]
    return [list(row) for row in answer.split("/")]


def answer_of(family: str, grid: list[list[str]]) -> str:
    rows = ["".join(row) for row in grid]
    return "".join(rows) if family == "sudoku" else "/".join(rows)


def mutations(item: Item, others: list[Item], rng: random.Random) -> list[tuple[str, str, tuple[int, int] | None]]:
    """(kind, answer, changed cell) variants of the gold answer, each differing from it."""
    family, gold = item.task, cells_of(item.task, item.gold)
    n = len(gold)
    alphabet = "123456789"[:n] + "0" if family == "sudoku" else "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out: list[tuple[str, str, tuple[int, int] | None]] = []
    for _ in range(8):
        r, c = rng.randrange(n), rng.randrange(n)
        grid = [list(row) for row in gold]
        grid[r][c] = rng.choice([ch for ch in alphabet if ch != gold[r][c]])
        out.append(("cell", answer_of(family, grid), (r, c)))
    cells = [(r, c) for r in range(n) for c in range(n)]
    for _ in range(8):
        # Two cells holding different values: swapping equal ones would change nothing.
        (r1, c1), (r2, c2) = rng.choice(
            [(a, b) for a in cells for b in cells if a < b and gold[a[0]][a[1]] != gold[b[0]][b[1]]]
        )
        grid = [list(row) for row in gold]
        grid[r1][c1], grid[r2][c2] = grid[r2][c2], grid[r1][c1]
        out.append(("swap", answer_of(family, grid), None))
    for other in rng.sample([o for o in others if o.gold != item.gold], 3):
        r = rng.choice([r for r in range(n) if cells_of(family, other.gold)[r] != gold[r]])
        grid = [list(row) for row in gold]
        grid[r] = cells_of(family, other.gold)[r]
        out.append(("row", answer_of(family, grid), None))
    out.append(("transpose", answer_of(family, [list(col) for col in zip(*gold)]), None))
    return out


def same_level(item: Item) -> list[Item]:
    return [other for other in items(item.task) if other.level == item.level and other.id != item.id]


# ---- sudoku ---------------------------------------------------------------------------------


def test_sudoku_checker_agrees_with_the_verifier_on_every_variant():
    checked = 0
    for number, item in enumerate(items("sudoku")):
        rng = random.Random(number)
        others = same_level(item)
        hidden = blind(item, rng.choice(others))
        assert SUDOKU.check(item, item.gold) == SUDOKU.check(hidden, item.gold) == Check(True, [])
        for kind, answer, cell in mutations(item, others, rng):
            check = SUDOKU.check(item, answer)
            assert check == SUDOKU.check(hidden, answer), (item.id, kind)
            assert check.ok == SUDOKU.verify(item, answer).correct, (item.id, kind, answer)
            assert not check.ok  # one solution: every grid that differs from it breaks a rule
            assert check.ok == (not check.violations) and len(check.violations) <= MAX_VIOLATIONS
            assert all(WHERE.match(v) for v in check.violations), check.violations
            if cell is not None and not check.ok:
                assert any(f"row {cell[0] + 1}" in v for v in check.violations), (answer, check)
            checked += 1
    assert len(items("sudoku")) == 300 and checked == 300 * 20


def test_sudoku_violations_name_the_broken_rows_columns_and_boxes():
    item = SUDOKU.item(0, "4x4", 0)  # gold 1423/2314/3241/4132
    assert item.gold == "1423231432414132"
    grid = cells_of("sudoku", item.gold)
    r, c = next((r, c) for r in range(4) for c in range(4) if item.meta["givens"][r * 4 + c] == "." and grid[r][c] != "3")
    grid[r][c] = "3"
    check = SUDOKU.check(item, answer_of("sudoku", grid))
    assert not check.ok
    assert f"row {r + 1} holds two 3s" in check.violations
    assert f"column {c + 1} holds two 3s" in check.violations
    # Every digit is once in each unit of a solution, so the new 3 repeats in all three.
    top, left = r // 2 * 2 + 1, c // 2 * 2 + 1
    assert f"the box in rows {top}-{top + 1}, columns {left}-{left + 1} holds two 3s" in check.violations
    given = next(i for i, g in enumerate(item.meta["givens"]) if g != ".")
    wrong = item.gold[:given] + ("0" if item.gold[given] != "0" else "1") + item.gold[given + 1 :]
    violations = SUDOKU.check(item, wrong).violations
    row, col = given // 4 + 1, given % 4 + 1
    assert violations[:2] == [
        f"row {row}, column {col} holds 0, not a digit from 1 to 4",
        f"row {row}, column {col} changes the given {item.gold[given]} to 0",
    ]
    assert SUDOKU.check(item, "1234") == Check(False, ["the answer is not a 4x4 grid of digits"])
    assert SUDOKU.check(item, "") == Check(False, ["the answer is not a 4x4 grid of digits"])


def test_many_violations_are_capped_with_a_count_of_the_rest():
    item = SUDOKU.item(0, "9x9-easy", 0)
    check = SUDOKU.check(item, "1" * 81)
    assert not check.ok and len(check.violations) == MAX_VIOLATIONS
    assert re.fullmatch(r"and \d+ more violations", check.violations[-1])
    assert int(check.violations[-1].split()[1]) > 20  # 9 rows, 9 columns, 9 boxes, the givens


# ---- crossword ------------------------------------------------------------------------------


def rules_hold(item: Item, answer: str) -> bool:
    """The clue-mode rules, written out here independently of the checker."""
    rows = answer.split("/")
    words = rows + columns(rows)
    revealed_kept = all(rows[r][c] == letter for r, c, letter in item.meta["revealed"])
    return revealed_kept and len(set(words)) == len(words) and all(w in load_words() for w in words)


def test_crossword_checker_agrees_with_the_verifier_on_every_variant():
    tally = {"clues": [0, 0], "bank": [0, 0]}  # [variants, checker accepts but verifier does not]
    for number, item in enumerate(items("crossword")):
        rng = random.Random(number)
        others = same_level(item)
        hidden = blind(item, rng.choice(others))
        mode = item.meta["mode"]
        assert CROSSWORD.check(item, item.gold) == CROSSWORD.check(hidden, item.gold) == Check(True, [])
        variants = mutations(item, others, rng) + [("solution", s, None) for s in item.meta.get("solutions", [])]
        for kind, answer, cell in variants:
            check, verdict = CROSSWORD.check(item, answer), CROSSWORD.verify(item, answer)
            assert check == CROSSWORD.check(hidden, answer), (item.id, kind)
            assert check.ok == (not check.violations) and len(check.violations) <= MAX_VIOLATIONS
            assert all(WHERE.match(v) for v in check.violations), check.violations
            tally[mode][0] += 1
            if mode == "bank":
                assert check.ok == verdict.correct, (item.id, kind, answer, check)
            elif check.ok != verdict.correct:
                # Legitimate: a different valid grid; the clues (unchecked) say it is wrong.
                assert check.ok and not verdict.correct and answer != item.gold
                assert rules_hold(item, answer), (item.id, answer)
                tally[mode][1] += 1
            else:
                assert check.ok == rules_hold(item, answer)
            if kind == "solution":
                assert check.ok and verdict.correct
            if cell is not None and not check.ok:
                # The changed cell's row or column is named (in bank mode possibly only as
                # the bank word it no longer spells).
                line = re.compile(rf"\b(row {cell[0] + 1}|column {cell[1] + 1})\b|^bank word")
                assert any(line.search(v) for v in check.violations), (item.id, answer, check)
    assert len(items("crossword")) == 270
    clues, bank = tally["clues"], tally["bank"]
    assert clues[0] > 3000 and bank[0] > 1500 and bank[1] == 0
    # Transposed grids are valid squares the clues reject: the disagreement is real but rare.
    assert 0 < clues[1] < clues[0] * 0.1


def hand_item(mode: str = "clues", revealed=()) -> Item:
    """TOW/IRE/NET: columns TIN, ORE, WET."""
    rows, cols = ["TOW", "IRE", "NET"], ["TIN", "ORE", "WET"]
    meta = {"size": 3, "mode": mode, "revealed": [list(r) for r in revealed], "bank": sorted(rows + cols) if mode == "bank" else []}
    return Item(id="crossword/hand/0000", task="crossword", level="hand", messages=[], gold="TOW/IRE/NET", meta=meta)


def test_crossword_violations_quote_the_offending_words():
    assert CROSSWORD.check(hand_item(), "TOW/IRE/NET").ok
    check = CROSSWORD.check(hand_item(), "TOW/IRE/NEQ")  # rows TOW IRE NEQ, columns TIN ORE WEQ
    assert check == Check(False, ["row 3 'NEQ' is not a word", "column 3 'WEQ' is not a word"])
    assert CROSSWORD.check(hand_item(), "XOW/IRE/NET").violations == ["row 1 'XOW' is not a word", "column 1 'XIN' is not a word"]
    # The transpose is a valid square: accepted with clues, though not the intended grid.
    assert CROSSWORD.check(hand_item(), "TIN/ORE/WET").ok
    revealed = CROSSWORD.check(hand_item(revealed=[(0, 2, "W")]), "TIN/ORE/WET")
    assert revealed == Check(False, ["row 1, column 3 must be the revealed W, not N"])
    symmetric = CROSSWORD.check(hand_item(), "ARE/ROE/EEL")  # ARE ROE EEL both ways
    assert "'ARE' appears twice (row 1 and column 1); no word may repeat" in symmetric.violations
    assert CROSSWORD.check(hand_item(), "TOW/IRE") == Check(False, ["the answer is not a 3x3 grid of letters A-Z"])


def test_crossword_bank_violations_name_words_outside_and_missing():
    item = hand_item("bank")
    assert CROSSWORD.check(item, "TIN/ORE/WET").ok  # the transpose uses the bank exactly
    check = CROSSWORD.check(item, "TOW/IRE/NEW")  # rows TOW IRE NEW, columns TIN ORE WEW
    assert check == Check(False, [
        "row 3 'NEW' is not in the word bank",
        "column 3 'WEW' is not in the word bank",
        "bank word 'NET' is not used",
        "bank word 'WET' is not used",
    ])


# ---- families without a checker -------------------------------------------------------------


@pytest.mark.parametrize("family", ["arithmetic", "mcq"])
def test_families_without_a_checker_say_so(family):
    adapter = get_family(family)()
    item = adapter.items(0, adapter.default_levels[0], 1)[0]
    assert adapter.has_checker is False
    assert adapter.check(item, item.gold) is None


@pytest.mark.parametrize("family", ["sudoku", "crossword"])
def test_families_with_a_checker_say_so(family):
    assert get_family(family).has_checker is True
