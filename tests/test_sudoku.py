"""Sudoku family: generator determinism and uniqueness, difficulty classes, parser, verifier."""

from __future__ import annotations

import time

import pytest

from ttc_bench.adapters import Prompt, get_family
from ttc_bench.adapters.sudoku import LEVELS, Sudoku
from ttc_bench.adapters.sudoku_search import TECHNIQUES, count_solutions, logic_solve, shape

SAMPLES = 15  # items per level checked in the slower tests

ADAPTER = Sudoku()


@pytest.fixture(scope="module")
def samples() -> dict[str, list]:
    return {level: ADAPTER.items(11, level, SAMPLES) for level in ADAPTER.levels}


def units(n: int) -> list[list[int]]:
    """Rows, columns and boxes, built here independently of the module under test."""
    br, bc = {4: (2, 2), 6: (2, 3), 9: (3, 3)}[n]
    rows = [[r * n + c for c in range(n)] for r in range(n)]
    cols = [[r * n + c for r in range(n)] for c in range(n)]
    boxes = [
        [(r0 + r) * n + c0 + c for r in range(br) for c in range(bc)]
        for r0 in range(0, n, br)
        for c0 in range(0, n, bc)
    ]
    return rows + cols + boxes


def brute_force_solutions(givens: str, n: int, limit: int = 2) -> list[str]:
    """A deliberately plain solver (sets, no bitmasks) to cross-check the module's search."""
    cells = [int(ch) if ch != "." else 0 for ch in givens]
    peers = [set() for _ in range(n * n)]
    for unit in units(n):
        for a in unit:
            peers[a].update(b for b in unit if b != a)
    found: list[str] = []

    def solve() -> None:
        if len(found) >= limit:
            return
        best, best_options = None, None
        for cell in range(n * n):
            if cells[cell] == 0:
                options = set(range(1, n + 1)) - {cells[p] for p in peers[cell]}
                if best_options is None or len(options) < len(best_options):
                    best, best_options = cell, options
        if best is None:
            found.append("".join(map(str, cells)))
            return
        for value in sorted(best_options):
            cells[best] = value
            solve()
            cells[best] = 0

    solve()
    return found


def rules_hold(grid: str, n: int) -> bool:
    digits = set("123456789"[:n])
    return len(grid) == n * n and all({grid[i] for i in unit} == digits for unit in units(n))


def prompt_grid(item) -> str:
    """The puzzle as shown in the prompt, read back as a row-major string with '.' blanks."""
    content = item.messages[0]["content"]
    block = content.split("Puzzle:\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in block.split("\n"):
        cells = [tok for tok in line.split() if tok not in {"|"}]
        if all(set(tok) <= set("-+") for tok in cells):
            continue  # a box border
        rows.append("".join(cells))
    return "".join(rows)


def ask(text: str, item) -> str | None:
    return ADAPTER.parse(text, item, Prompt(item.messages))


# ---- registration and levels ------------------------------------------------------------


def test_registered_with_levels():
    assert get_family("sudoku") is Sudoku
    assert set(Sudoku.default_levels) <= set(Sudoku.levels)
    assert {"4x4", "6x6", "9x9-easy", "9x9-medium", "9x9-hard"} <= set(Sudoku.levels)
    assert all(Sudoku.levels[level] for level in Sudoku.levels)
    assert Sudoku.answer_tokens >= 2 * 81
    assert "<answer>" in Sudoku.answer_cue


# ---- determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["4x4", "6x6", "9x9-easy", "9x9-hard"])
def test_items_are_a_pure_function_of_seed_level_index(level):
    few = Sudoku().items(5, level, 3)
    more = Sudoku().items(5, level, 8)
    assert few == more[:3]
    assert Sudoku().item(5, level, 7) == more[7]
    assert [it.id for it in more] == [f"sudoku/{level}/{i:04d}" for i in range(8)]
    assert len({it.gold for it in more}) == len(more)  # indices give different puzzles
    other_seed = Sudoku().items(6, level, 3)
    assert [it.meta["givens"] for it in other_seed] != [it.meta["givens"] for it in few]


def test_task_name_changes_items():
    assert Sudoku(task="sudoku-b").item(1, "9x9-easy", 0).gold != Sudoku().item(1, "9x9-easy", 0).gold


# ---- generated puzzles ------------------------------------------------------------------


def test_every_puzzle_has_exactly_one_solution(samples):
    for level, items in samples.items():
        n = LEVELS[level].size
        for item in items:
            givens = item.meta["givens"]
            solutions = brute_force_solutions(givens, n)
            assert solutions == [item.gold], item.id
            assert count_solutions(shape(n), [int(c) if c != "." else 0 for c in givens]) == 1


def test_meta_matches_the_puzzle(samples):
    for level, items in samples.items():
        n = LEVELS[level].size
        for item in items:
            meta, givens = item.meta, item.meta["givens"]
            assert meta["size"] == n and len(givens) == n * n and len(item.gold) == n * n
            assert meta["box"] == {4: [2, 2], 6: [2, 3], 9: [3, 3]}[n]
            assert meta["blanks"] == givens.count(".")
            assert rules_hold(item.gold, n)
            assert all(g == "." or g == s for g, s in zip(givens, item.gold))
            assert meta["search_nodes"] >= 1 and meta["attempts"] >= 1
            assert set(meta["logic_steps"]) == {"naked", "hidden", "pairs"}


def test_prompt_shows_exactly_the_givens(samples):
    for items in samples.values():
        for item in items:
            assert prompt_grid(item) == item.meta["givens"]
            assert len(item.messages) == 1 and item.messages[0]["role"] == "user"
            n = item.meta["size"]
            br, bc = item.meta["box"]
            content = item.messages[0]["content"]
            assert f"1 to {n}" in content and f"{br} rows by {bc} columns" in content
            assert "<answer>" in content


def test_technique_class_matches_level_and_is_the_hardest_needed(samples):
    for level, items in samples.items():
        spec = LEVELS[level]
        for item in items:
            technique = TECHNIQUES.index(item.meta["technique"])
            assert technique in spec.accept, item.id
            if spec.blanks:
                low, high = spec.blanks
                assert low <= item.meta["blanks"] <= high, item.id
            grid = [int(c) if c != "." else 0 for c in item.meta["givens"]]
            sh = shape(spec.size)
            # Solvable with the named technique, not with the one below it.
            if technique > 0:
                assert not logic_solve(sh, grid, technique - 1).solved, item.id
            if technique < TECHNIQUES.index("guess"):
                result = logic_solve(sh, grid, technique)
                assert result.solved, item.id
                assert "".join(map(str, result.grid)) == item.gold  # deductions are sound


def test_hard_level_is_minimal():
    item = ADAPTER.item(3, "9x9-hard", 0)
    givens = item.meta["givens"]
    for cell, ch in enumerate(givens):
        if ch != ".":
            fewer = givens[:cell] + "." + givens[cell + 1 :]
            assert len(brute_force_solutions(fewer, 9)) == 2


def test_search_counts_several_solutions():
    sh = shape(4)
    assert count_solutions(sh, [0] * 16) == 2  # capped at the limit
    assert count_solutions(sh, [1, 1] + [0] * 14) == 0  # clashing givens


# ---- verifier ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nine():
    return ADAPTER.item(2, "9x9-medium", 0)


def blank_cells(item) -> list[int]:
    return [i for i, ch in enumerate(item.meta["givens"]) if ch == "."]


def with_cells(grid: str, changes: dict[int, str]) -> str:
    cells = list(grid)
    for i, ch in changes.items():
        cells[i] = ch
    return "".join(cells)


def test_verifier_accepts_gold(samples):
    for items in samples.values():
        for item in items[:3]:
            verdict = ADAPTER.verify(item, item.gold)
            assert verdict.correct and verdict.partial == 1.0
            assert verdict.scores["cells"] == 1.0 and verdict.scores["units"] == 1.0


def test_verifier_rejects_swapped_pair(nine):
    gold = nine.gold
    # Two blank cells of one row with different values: the row stays a permutation.
    blanks = blank_cells(nine)
    a = blanks[0]
    b = next(i for i in blanks if i // 9 == a // 9 and i != a and gold[i] != gold[a])
    answer = with_cells(gold, {a: gold[b], b: gold[a]})
    verdict = ADAPTER.verify(nine, answer)
    assert not verdict.correct
    assert verdict.partial == pytest.approx((len(blanks) - 2) / len(blanks))


def test_verifier_rejects_changed_given_even_in_a_valid_grid(nine):
    # Swapping two digit labels everywhere keeps every rule but changes givens.
    swapped = nine.gold.translate(str.maketrans("12", "21"))
    assert rules_hold(swapped, 9)
    assert not ADAPTER.verify(nine, swapped).correct
    given = next(i for i, ch in enumerate(nine.meta["givens"]) if ch != ".")
    wrong_digit = "1" if nine.gold[given] != "1" else "2"
    assert not ADAPTER.verify(nine, with_cells(nine.gold, {given: wrong_digit})).correct


def test_verifier_rejects_wrong_digit_with_partial_credit(nine):
    blanks = blank_cells(nine)
    cell = blanks[3]
    wrong = "9" if nine.gold[cell] != "9" else "8"
    verdict = ADAPTER.verify(nine, with_cells(nine.gold, {cell: wrong}))
    assert not verdict.correct
    assert verdict.partial == pytest.approx((len(blanks) - 1) / len(blanks))
    zero = ADAPTER.verify(nine, with_cells(nine.gold, {cell: "0"}))
    assert not zero.correct and zero.partial == pytest.approx((len(blanks) - 1) / len(blanks))


def test_partial_credit_counts_only_blank_cells(nine):
    blanks = blank_cells(nine)
    # Givens copied, every blank wrong: no credit although many cells match the gold.
    all_wrong = with_cells(nine.gold, {i: str(int(nine.gold[i]) % 9 + 1) for i in blanks})
    verdict = ADAPTER.verify(nine, all_wrong)
    assert not verdict.correct and verdict.partial == 0.0 and verdict.scores["cells"] > 0.3
    # Blanks right, one given changed: full blank credit, still not correct.
    given = next(i for i, ch in enumerate(nine.meta["givens"]) if ch != ".")
    changed = with_cells(nine.gold, {given: "1" if nine.gold[given] != "1" else "2"})
    verdict = ADAPTER.verify(nine, changed)
    assert not verdict.correct and verdict.partial == 1.0


def test_verifier_tolerates_malformed_answers(nine):
    for answer in ("", "123", nine.gold + "1", nine.gold[:-1] + "x"):
        verdict = ADAPTER.verify(nine, answer)
        assert not verdict.correct and verdict.partial == 0.0


# ---- parser -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def four():
    return ADAPTER.item(0, "4x4", 0)


def rows_of(grid: str, n: int) -> list[str]:
    return [grid[r * n : (r + 1) * n] for r in range(n)]


def test_parse_plain_answer(nine):
    text = "Let me think... done.\n<answer>\n" + "\n".join(rows_of(nine.gold, 9)) + "\n</answer>"
    assert ask(text, nine) == nine.gold


def test_parse_no_answer(nine, four):
    assert ask("", nine) is None
    assert ask("I could not solve it.", nine) is None
    assert ask("<answer>no idea</answer>", four) is None


def test_parse_last_answer_block_wins(four):
    first = "1234341221434321"
    text = f"<answer>{first}</answer> hmm, wait. <answer>\n" + "\n".join(rows_of(four.gold, 4)) + "\n</answer>"
    assert ask(text, four) == four.gold


def test_parse_unclosed_tag(four):
    assert ask("<answer>\n" + "\n".join(rows_of(four.gold, 4)), four) == four.gold


def test_parse_markdown_fence_and_spaces(nine):
    rows = [" ".join(row) for row in rows_of(nine.gold, 9)]
    text = "<answer>\n```text\n" + "\n".join(rows) + "\n```\n</answer>"
    assert ask(text, nine) == nine.gold


def test_parse_grid_drawing(nine):
    lines = []
    for r, row in enumerate(rows_of(nine.gold, 9)):
        if r % 3 == 0:
            lines.append("+-------+-------+-------+")
        lines.append("| " + " | ".join(" ".join(row[c : c + 3]) for c in (0, 3, 6)) + " |")
    lines.append("+-------+-------+-------+")
    assert ask("<answer>\n" + "\n".join(lines) + "\n</answer>", nine) == nine.gold
    # Commas and markdown table pipes.
    table = "\n".join("| " + " | ".join(row) + " |" for row in rows_of(nine.gold, 9))
    assert ask(f"<answer>\n|---|\n{table}\n</answer>", nine) == nine.gold
    commas = "\n".join("[" + ", ".join(row) + "]," for row in rows_of(nine.gold, 9))
    assert ask(f"<answer>[{commas}]</answer>", nine) == nine.gold


def test_parse_latex_array(four):
    body = " \\\\\n".join(" & ".join(row) for row in rows_of(four.gold, 4))
    text = f"<answer>$$\\begin{{array}}{{|cc|cc|}}\n\\hline\n{body}\n\\end{{array}}$$</answer>"
    assert ask(text, four) == four.gold
    one_line = " \\\\ ".join(" & ".join(row) for row in rows_of(four.gold, 4))
    assert ask(f"<answer>\\[\\begin{{bmatrix}} {one_line} \\end{{bmatrix}}\\]</answer>", four) == four.gold


def test_parse_row_labels_and_prose_in_tags(nine):
    labelled = "\n".join(f"Row {r + 1}: {row}" for r, row in enumerate(rows_of(nine.gold, 9)))
    assert ask(f"<answer>\n{labelled}\n</answer>", nine) == nine.gold
    prose = "Here is the solved 9x9 grid:\n" + "\n".join(rows_of(nine.gold, 9))
    assert ask(f"<answer>{prose}</answer>", nine) == nine.gold
    assert ask(f"<answer>{nine.gold}</answer>", nine) == nine.gold


def test_parse_wrong_digit_count(nine, four):
    rows = rows_of(nine.gold, 9)
    assert ask("<answer>\n" + "\n".join(rows[:8]) + "\n</answer>", nine) is None
    assert ask("<answer>\n" + "\n".join(r[:8] for r in rows) + "\n</answer>", nine) is None
    assert ask(f"<answer>{nine.gold}1</answer>", nine) is None
    assert ask(f"<answer>{four.gold[:15]}</answer>", four) is None


def test_parse_keeps_out_of_range_digits_inside_tags(four):
    # A grid with a 0 is a wrong answer (with partial credit), not an unreadable one.
    answer = "0" + four.gold[1:]
    assert ask(f"<answer>{answer}</answer>", four) == answer
    assert not ADAPTER.verify(four, answer).correct


def test_parse_untagged_fallback_is_conservative(nine, four):
    grid = "\n".join(rows_of(nine.gold, 9))
    assert ask(f"So the final grid is:\n\n{grid}\n", nine) == nine.gold
    # The puzzle echoed with dots, prose with numbers, or a grid with 0s: no answer.
    assert ask("I filled 12 cells in 3 rows and 4 columns; 81 cells total.", nine) is None
    assert ask(ADAPTER.item(0, "9x9-easy", 0).messages[0]["content"], nine) is None
    assert ask("\n".join(["0" + row[1:] for row in rows_of(nine.gold, 9)]), nine) is None
    assert ask("\n".join(rows_of(four.gold, 4)[:3]) + "\nthen the last row I am unsure about", four) is None


def test_parse_megabyte_of_noise_is_fast(nine):
    hostile = [
        "x" * 1_000_000,
        "1" * 1_000_000,
        "<answer>" * 130_000,
        "\\a{" * 330_000,
        "\\" + "a" * 999_999,
        ("12345 | " * 10 + "\n") * 14_000,
        "<answer>" + "|-+ 1\n" * 160_000,
        ":" * 1_000_000,
        "\n" * 1_000_000,
    ]
    for text in hostile:
        start = time.perf_counter()
        ask(text, nine)
        assert time.perf_counter() - start < 1.0, text[:20]  # generous: it takes milliseconds
