import re
import time
from collections import Counter
from functools import lru_cache

import pytest

from ttc_bench.adapters import Item, Prompt, get_family
from ttc_bench.adapters.crossword import LEVELS, Crossword
from ttc_bench.adapters.crossword_search import columns, load_words
from ttc_bench.adapters.shipped import data_file
from ttc_bench.errors import UserError

C = Crossword()
SAMPLE = 20  # items checked per level


@lru_cache(maxsize=None)
def sample(level: str, seed: int = 0, n: int = SAMPLE) -> tuple[Item, ...]:
    return tuple(C.items(seed, level, n))


def parse(text: str, item: Item) -> str | None:
    return C.parse(text, item, Prompt(item.messages))


def hand_item(mode: str = "clues", revealed=()) -> Item:
    """TOW/IRE/NET: columns TIN, ORE, WET."""
    rows, cols = ["TOW", "IRE", "NET"], ["TIN", "ORE", "WET"]
    meta = {"size": 3, "mode": mode, "rows": rows, "columns": cols, "revealed": [list(r) for r in revealed],
            "bank": sorted(rows + cols) if mode == "bank" else []}
    if mode == "bank":
        meta["solutions"] = ["TIN/ORE/WET", "TOW/IRE/NET"]
    return Item(id="crossword/hand/0000", task="crossword", level="hand", messages=[], gold="TOW/IRE/NET", meta=meta)


# ---- word list ------------------------------------------------------------------------


def test_word_list_is_well_formed():
    lines = data_file("crossword_words.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "word\tcommonness\tclue"
    words = Counter()
    per_length = Counter()
    for line in lines[1:]:
        word, commonness, clue = line.split("\t")
        assert re.fullmatch(r"[A-Z]{3,5}", word), line
        assert commonness in ("common", "rare"), line
        assert clue and clue == clue.strip() and clue.isascii(), line
        low = clue.lower()
        assert word.lower() not in low, f"clue gives away {word}: {clue}"
        if len(word) >= 4:  # "Takes care" for CARES: the stem is a giveaway too
            assert not re.search(r"\b" + word[:-1].lower(), low), f"clue gives away {word}: {clue}"
        words[word] += 1
        per_length[len(word)] += 1
    assert not [w for w, n in words.items() if n > 1]
    assert per_length[3] >= 250 and per_length[4] >= 400 and per_length[5] >= 600
    assert len(load_words()) == len(words)


# ---- generated grids ------------------------------------------------------------------


@pytest.mark.parametrize("level", list(LEVELS))
def test_grids_are_valid_double_word_squares(level):
    spec, entries = LEVELS[level], load_words()
    for item in sample(level):
        k = spec.size
        rows = item.gold.split("/")
        cols = columns(rows)
        assert len(rows) == k and all(len(r) == k for r in rows)
        assert item.meta["rows"] == rows and item.meta["columns"] == cols
        words = rows + cols
        assert len(set(words)) == 2 * k, "a word repeats"
        assert all(w in entries for w in words)
        rare = [w for w in words if entries[w].rare]
        assert bool(rare) == spec.rare and item.meta["rare_words"] == rare
        assert item.meta["clues"] == {"across": [entries[w].clue for w in rows],
                                      "down": [entries[w].clue for w in cols]}
        assert len(item.meta["revealed"]) == spec.reveal
        for r, c, letter in item.meta["revealed"]:
            assert rows[r][c] == letter
        prompt = item.messages[0]["content"]
        assert "<answer>" in prompt
        if spec.mode == "bank":
            assert item.meta["bank"] == sorted(words)
            assert ", ".join(item.meta["bank"]) in prompt
            assert item.gold in item.meta["solutions"]
            assert "/".join(cols) in item.meta["solutions"]  # the transpose
        else:
            assert item.meta["bank"] == []
            for clue in item.meta["clues"]["across"] + item.meta["clues"]["down"]:
                assert clue in prompt
        # The gold grid round-trips through the parser and the verifier.
        assert parse("<answer>\n" + "\n".join(rows) + "\n</answer>", item) == item.gold
        assert C.verify(item, item.gold).correct


@pytest.mark.parametrize("level", list(LEVELS))
def test_levels_yield_different_grids(level):
    golds = [item.gold for item in sample(level)]
    assert len(set(golds)) >= SAMPLE * 0.7


@pytest.mark.parametrize("level", ["3x3", "4x4-bank", "5x5"])
def test_items_are_deterministic_and_independent_of_count(level):
    few = C.items(3, level, 2)
    many = C.items(3, level, 4)
    assert few == many[:2]
    assert C.item(3, level, 3) == many[3]
    assert [i.gold for i in C.items(4, level, 4)] != [i.gold for i in many]
    assert many[1].id == f"crossword/{level}/0001"


def test_family_is_registered_and_rejects_unknown_levels():
    assert get_family("crossword") is Crossword
    assert set(Crossword.default_levels) <= set(Crossword.levels)
    assert "<answer>" in Crossword.answer_cue
    with pytest.raises(UserError):
        C.items(0, "9x9", 1)


# ---- verification ---------------------------------------------------------------------


def test_verify_clue_mode_scores():
    item = hand_item()
    gold = C.verify(item, "TOW/IRE/NET")
    assert gold.correct and gold.partial == 1.0 and gold.scores == {"letters": 1.0, "words": 1.0, "grid": 1.0}
    one_off = C.verify(item, "TOW/IRE/NEW")  # rows TOW IRE NEW, columns TIN ORE WEW
    assert not one_off.correct
    assert one_off.partial == pytest.approx(8 / 9)
    assert one_off.scores == pytest.approx({"letters": 8 / 9, "words": 4 / 6, "grid": 0.0})
    assert not C.verify(item, "TIN/ORE/WET").correct  # the transpose answers other clues
    assert not C.verify(item, "IRE/TOW/NET").correct  # two rows swapped
    assert C.verify(item, "IRE/TOW/NET").scores["letters"] == pytest.approx(3 / 9)
    for junk in ("", "TOW/IRE", "TOW/IRE/NETS", "tow/ire/net", "TOW/IRE/N3T"):
        verdict = C.verify(item, junk)
        assert not verdict.correct and verdict.partial == 0.0 and verdict.scores["grid"] == 0.0


def test_verify_bank_mode_accepts_any_arrangement_of_the_bank():
    item = hand_item("bank")
    transpose = C.verify(item, "TIN/ORE/WET")
    assert transpose.correct and transpose.scores == {"letters": 1.0, "words": 1.0, "grid": 1.0}
    near = C.verify(item, "TOW/IRE/NEW")  # TOW IRE TIN ORE are bank words; NEW and WEW are not
    assert not near.correct
    assert near.scores == pytest.approx({"letters": 8 / 9, "words": 4 / 6, "grid": 0.0})
    # A word used more often than the bank holds counts once.
    assert C.verify(item, "TOW/TOW/TOW").scores["words"] == pytest.approx(1 / 6)


def test_verify_bank_mode_keeps_revealed_letters():
    item = hand_item("bank", revealed=[(0, 1, "O")])
    assert C.verify(item, "TOW/IRE/NET").correct
    assert not C.verify(item, "TIN/ORE/WET").correct  # valid arrangement, but cell (0,1) was O


def test_verify_generated_bank_transpose_and_near_miss():
    item = sample("4x4-bank")[0]
    rows = item.gold.split("/")
    assert C.verify(item, "/".join(columns(rows))).correct
    wrong = [rows[0][:-1] + ("A" if rows[0][-1] != "A" else "B")] + rows[1:]
    verdict = C.verify(item, "/".join(wrong))
    assert not verdict.correct and verdict.partial == pytest.approx(15 / 16)


# ---- parsing --------------------------------------------------------------------------


ITEM = hand_item()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I am not sure.", None),
        ("", None),
        ("<answer>\nTOW\nIRE\nNET\n</answer>", "TOW/IRE/NET"),
        ("<answer>AAA\nBBB\nCCC</answer> changed my mind <answer>\nTOW\nIRE\nNET\n</answer>", "TOW/IRE/NET"),
        ("<answer>\ntow\nire\nnet\n</answer>", "TOW/IRE/NET"),
        ("<answer>\nT O W\nI R E\nN E T\n</answer>", "TOW/IRE/NET"),
        ("<answer>TOW/IRE/NET</answer>", "TOW/IRE/NET"),
        ("<answer>TOW IRE NET</answer>", "TOW/IRE/NET"),
        ("<answer>\n| T | O | W |\n|---|---|---|\n| I | R | E |\n| N | E | T |\n</answer>", "TOW/IRE/NET"),
        ("<answer>\n|   | 1 | 2 | 3 |\n|---|---|---|---|\n| 1 | T | O | W |\n| 2 | I | R | E |\n"
         "| 3 | N | E | T |\n</answer>", "TOW/IRE/NET"),
        ("<answer>\n```\nTOW\nIRE\nNET\n```\n</answer>", "TOW/IRE/NET"),
        ("<answer>\nFinal grid:\n**TOW**\nIRE\nNET\n</answer>", "TOW/IRE/NET"),
        ("<answer>\nRow 1: TOW\nRow 2: IRE\nRow 3: NET\n</answer>", "TOW/IRE/NET"),
        ("<answer>\nTOW\nIRE\n</answer>", None),  # too few rows
        ("<answer>\nTOW\nIRE\nNET\nTIN\n</answer>", None),  # too many rows
        ("<answer>\nTOWS\nIRE\nNET\n</answer>", None),  # a malformed row is not skipped
        ("<answer>\nT0W\nIRE\nNET\n</answer>", None),
        ("<answer>\nTÖW\nIRE\nNET\n</answer>", None),
        ("So the grid is:\n\nTOW\nIRE\nNET\n", "TOW/IRE/NET"),  # untagged trailing grid
        ("TOW\nIRE\nNET\nis what I first thought, but I give up.", None),
        ("Answer: TOW/IRE/NET", "TOW/IRE/NET"),
    ],
)
def test_parse(text, expected):
    assert parse(text, ITEM) == expected


def test_parse_is_fast_on_hostile_input():
    noises = [
        "A" * 1_000_000,
        "<answer>" * 120_000,
        "| A | B | C |\n" * 80_000,
        ("T O W\n" * 200_000) + "<answer>",
        "x" * 999_000 + "<answer>\nTOW\nIRE\nNET\n</answer>",
    ]
    start = time.perf_counter()
    results = [parse(noise, ITEM) for noise in noises]
    assert time.perf_counter() - start < 2.0
    assert results[-1] == "TOW/IRE/NET"
    assert results[0] is None and results[1] is None
