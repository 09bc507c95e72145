"""Sudoku search: exhaustive and logical solvers, and the generator of uniquely solvable puzzles.

A puzzle starts as a full grid from a randomized backtracking fill, then cells are blanked
one at a time in a random order; a blank is kept only while the puzzle stays uniquely
solvable (and, for the graded 9x9 levels, solvable with the level's techniques). A small
logical solver names the hardest technique a puzzle needs: naked singles, hidden singles,
pairs (naked pairs, pointing pairs, box-line reduction) or guessing.

Grids are lists of ints, row-major, 0 for a blank; digit d is bit ``1 << (d - 1)`` in masks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from .base import Level

# Technique classes, easiest first; a puzzle's class is the hardest one it needs.
TECHNIQUES = ("singles", "hidden", "pairs", "guess")
SINGLES, HIDDEN, PAIRS, GUESS = range(4)

# size -> (box rows, box columns)
BOX_SHAPES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}

_POPCOUNT = tuple(bin(m).count("1") for m in range(1 << 9))


@dataclass(frozen=True)
class Shape:
    """Cell/unit bookkeeping for one grid size, computed once per size."""

    n: int
    box_rows: int
    box_cols: int
    row_of: tuple[int, ...]
    col_of: tuple[int, ...]
    box_of: tuple[int, ...]
    rows: tuple[tuple[int, ...], ...]
    cols: tuple[tuple[int, ...], ...]
    boxes: tuple[tuple[int, ...], ...]
    peers: tuple[tuple[int, ...], ...]
    units: tuple[tuple[int, ...], ...]  # rows, then columns, then boxes

    @property
    def full(self) -> int:
        return (1 << self.n) - 1


@lru_cache(maxsize=None)
def shape(n: int) -> Shape:
    box_rows, box_cols = BOX_SHAPES[n]
    cells = range(n * n)
    row_of = tuple(c // n for c in cells)
    col_of = tuple(c % n for c in cells)
    # Boxes are numbered row-major; there are n // box_cols boxes across a band.
    box_of = tuple((row_of[c] // box_rows) * (n // box_cols) + col_of[c] // box_cols for c in cells)
    rows = tuple(tuple(c for c in cells if row_of[c] == k) for k in range(n))
    cols = tuple(tuple(c for c in cells if col_of[c] == k) for k in range(n))
    boxes = tuple(tuple(c for c in cells if box_of[c] == k) for k in range(n))
    peers = tuple(
        tuple(
            p
            for p in cells
            if p != c and (row_of[p] == row_of[c] or col_of[p] == col_of[c] or box_of[p] == box_of[c])
        )
        for c in cells
    )
    return Shape(n, box_rows, box_cols, row_of, col_of, box_of, rows, cols, boxes, peers, rows + cols + boxes)


def _unit_masks(sh: Shape, grid: list[int]) -> tuple[list[int], list[int], list[int]]:
    """Digits used per row, column and box, as bitmasks."""
    rows, cols, boxes = [0] * sh.n, [0] * sh.n, [0] * sh.n
    for cell, value in enumerate(grid):
        if value:
            bit = 1 << (value - 1)
            rows[sh.row_of[cell]] |= bit
            cols[sh.col_of[cell]] |= bit
            boxes[sh.box_of[cell]] |= bit
    return rows, cols, boxes


# ---- exhaustive search ----------------------------------------------------------------


def search(
    sh: Shape,
    grid: list[int],
    limit: int = 2,
    rng: random.Random | None = None,
    forbid: tuple[int, int] | None = None,
    prefer: list[int] | None = None,
) -> tuple[int, int, list[int] | None]:
    """Depth-first search over candidate bitmasks; returns (solutions, nodes, first solution).

    Stops after ``limit`` solutions. Each node first propagates naked singles, then
    branches on a cell with the fewest candidates: forced chains cost no branching, which
    is what makes the digger's thousands of uniqueness checks cheap.
    ``rng`` shuffles the digit order (to fill random full grids); ``forbid`` = (cell, digit)
    bars one value from one cell, which is how the digger asks "is there a solution other
    than the one I know?". ``prefer`` (a grid) is tried first at every branch: a second
    solution usually differs from the known one in a few cells only, so steering towards
    the known one tends to reach it sooner.
    """
    size, full, peers = sh.n * sh.n, sh.full, sh.peers
    row_of, col_of, box_of = sh.row_of, sh.col_of, sh.box_of
    rows, cols, boxes = [0] * sh.n, [0] * sh.n, [0] * sh.n
    for cell, value in enumerate(grid):
        if value:
            bit = 1 << (value - 1)
            r, c, b = row_of[cell], col_of[cell], box_of[cell]
            if (rows[r] | cols[c] | boxes[b]) & bit:
                return 0, 0, None  # the givens already clash
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
    work = list(grid)
    cand = [0] * size
    stack = []
    for cell, value in enumerate(work):
        if not value:
            mask = full & ~(rows[row_of[cell]] | cols[col_of[cell]] | boxes[box_of[cell]])
            if forbid and cell == forbid[0]:
                mask &= ~(1 << (forbid[1] - 1))
            cand[cell] = mask
            if _POPCOUNT[mask] <= 1:
                stack.append(cell)
    found: list[list[int]] = []
    nodes = 0

    def propagate(work: list[int], cand: list[int], stack: list[int]) -> bool:
        # Naked singles only: hidden-single sweeps cut nodes but cost more than they save.
        # cand[cell] is 0 for filled cells, so filled peers are skipped for free.
        while stack:
            cell = stack.pop()
            if work[cell]:
                continue
            bit = cand[cell]
            if not bit:
                return False
            work[cell] = bit.bit_length()
            cand[cell] = 0
            for p in peers[cell]:
                if cand[p] & bit:
                    cand[p] ^= bit
                    left = _POPCOUNT[cand[p]]
                    if left <= 1:
                        if left == 0:
                            return False
                        stack.append(p)
        return True

    def descend(work: list[int], cand: list[int], stack: list[int]) -> bool:
        # Returns True once ``limit`` solutions are found.
        nonlocal nodes
        nodes += 1
        if not propagate(work, cand, stack):
            return False
        best, best_count = -1, 99
        for cell in range(size):
            mask = cand[cell]
            if mask:
                count = _POPCOUNT[mask]
                if count < best_count:
                    best, best_count = cell, count
                    if count == 2:
                        break
        if best < 0:
            # Every blank keeps at least one candidate until filled (an emptied one fails
            # propagation), so no candidates left means a complete, consistent grid.
            found.append(work)
            return len(found) >= limit
        mask, bits = cand[best], []
        while mask:
            bit = mask & -mask
            bits.append(bit)
            mask ^= bit
        if rng is not None:
            rng.shuffle(bits)
        elif prefer is not None:
            first = 1 << (prefer[best] - 1)
            if first in bits:
                bits.remove(first)
                bits.insert(0, first)
        for bit in bits:
            branch = list(cand)
            branch[best] = bit
            if descend(list(work), branch, [best]):
                return True
        return False

    descend(work, cand, stack)
    return len(found), nodes, (found[0] if found else None)


def count_solutions(sh: Shape, grid: list[int], limit: int = 2) -> int:
    return search(sh, grid, limit)[0]


def random_full_grid(sh: Shape, rng: random.Random) -> list[int]:
    _, _, solution = search(sh, [0] * (sh.n * sh.n), limit=1, rng=rng)
    assert solution is not None  # an empty grid always has a solution
    return solution


# ---- logical solver -------------------------------------------------------------------


@dataclass
class LogicResult:
    solved: bool
    technique: int  # hardest technique used (GUESS when the solver got stuck)
    steps: dict[str, int]  # placements/eliminations per technique
    grid: list[int]  # the grid as far as the solver got
    contradiction: bool = False


def logic_solve(sh: Shape, grid: list[int], max_technique: int = PAIRS) -> LogicResult:
    """Solve with human techniques, always trying the easiest one that makes progress.

    Stops (unsolved, technique GUESS) as soon as nothing up to ``max_technique`` applies,
    so that callers who only care about "singles-solvable?" pay only for singles.
    """
    n, full, peers = sh.n, sh.full, sh.peers
    work = list(grid)
    cand = [0] * (n * n)
    rows, cols, boxes = _unit_masks(sh, work)
    row_of, col_of, box_of = sh.row_of, sh.col_of, sh.box_of
    for cell, value in enumerate(work):
        if not value:
            cand[cell] = full & ~(rows[row_of[cell]] | cols[col_of[cell]] | boxes[box_of[cell]])
    remaining = sum(1 for v in work if not v)
    steps = {"naked": 0, "hidden": 0, "pairs": 0}
    hardest = SINGLES
    # Cells whose candidates dropped to one (or zero): the naked-singles work list.
    stack = [c for c in range(n * n) if not work[c] and _POPCOUNT[cand[c]] <= 1]

    def place(cell: int, bit: int) -> bool:
        """Fill ``cell``; False on a contradiction (a peer left without candidates)."""
        nonlocal remaining
        work[cell] = bit.bit_length()
        cand[cell] = 0
        remaining -= 1
        for p in peers[cell]:
            if not work[p] and cand[p] & bit:
                cand[p] ^= bit
                left = _POPCOUNT[cand[p]]
                if left <= 1:
                    if left == 0:
                        return False
                    stack.append(p)
        return True

    def eliminate(cell: int, mask: int) -> bool:
        cand[cell] &= ~mask
        left = _POPCOUNT[cand[cell]]
        if left <= 1:
            if left == 0:
                return False
            stack.append(cell)
        return True

    def fail() -> LogicResult:
        return LogicResult(False, hardest, steps, work, contradiction=True)

    units = sh.units
    while remaining:
        # 1. Naked singles until none is left.
        while stack:
            cell = stack.pop()
            if work[cell]:
                continue
            if not cand[cell] or not place(cell, cand[cell]):
                return fail()
            steps["naked"] += 1
        if not remaining:
            break
        if max_technique < HIDDEN:
            return LogicResult(False, GUESS, steps, work)
        # 2. Hidden singles: a digit with one possible cell in some unit.
        progress = False
        for unit in units:
            once = twice = 0
            for cell in unit:
                mask = cand[cell]
                twice |= once & mask
                once |= mask
            only = once & ~twice
            if not only:
                continue
            for cell in unit:
                bit = cand[cell] & only
                if bit:
                    if bit & (bit - 1):
                        return fail()  # one cell is the only home of two digits
                    if not place(cell, bit):
                        return fail()
                    steps["hidden"] += 1
                    progress = True
            if progress:
                break  # back to naked singles: they may now suffice
        if progress:
            hardest = max(hardest, HIDDEN)
            continue
        if max_technique < PAIRS:
            return LogicResult(False, GUESS, steps, work)
        # 3. Naked pairs and pointing pairs / box-line reduction.
        eliminated = _pairs_step(sh, cand, eliminate)
        if eliminated is None:
            return fail()
        if eliminated:
            steps["pairs"] += eliminated
            hardest = max(hardest, PAIRS)
            continue
        return LogicResult(False, GUESS, steps, work)
    return LogicResult(True, hardest, steps, work)


def _pairs_step(sh: Shape, cand: list[int], eliminate) -> int | None:
    """One round of pair eliminations; returns how many candidates went (None: contradiction)."""
    count = 0
    # Naked pairs: two cells of a unit with the same two candidates own those two digits.
    for unit in sh.units:
        seen: dict[int, int] = {}
        for cell in unit:
            mask = cand[cell]
            if _POPCOUNT[mask] != 2:
                continue
            if mask in seen:
                for other in unit:
                    if other != cell and other != seen[mask] and cand[other] & mask:
                        count += _POPCOUNT[cand[other] & mask]
                        if not eliminate(other, mask):
                            return None
            else:
                seen[mask] = cell
    if count:
        return count
    # Pointing (box -> line) and box-line reduction (line -> box): a digit confined to the
    # intersection of a box and a line can be removed from the rest of the other unit.
    lines = [(sh.rows, sh.row_of), (sh.cols, sh.col_of)]
    for line_units, line_of in lines:
        for box in sh.boxes:
            box_id = sh.box_of[box[0]]
            for line_index in sorted({line_of[c] for c in box}):
                inside = outside_box = outside_line = 0
                for cell in line_units[line_index]:
                    if sh.box_of[cell] == box_id:
                        inside |= cand[cell]
                    else:
                        outside_box |= cand[cell]
                for cell in box:
                    if line_of[cell] != line_index:
                        outside_line |= cand[cell]
                # Digits in the box only on this line: remove from the line outside the box.
                pointing = inside & ~outside_line
                claimed = inside & ~outside_box
                for cell in line_units[line_index]:
                    if sh.box_of[cell] != box_id and cand[cell] & pointing:
                        count += _POPCOUNT[cand[cell] & pointing]
                        if not eliminate(cell, pointing):
                            return None
                for cell in box:
                    if line_of[cell] != line_index and cand[cell] & claimed:
                        count += _POPCOUNT[cand[cell] & claimed]
                        if not eliminate(cell, claimed):
                            return None
                if count:
                    return count
    return count


# ---- generation -----------------------------------------------------------------------


@dataclass(frozen=True)
class SudokuLevel(Level):
    size: int
    # Digging stops at a blank count drawn from this range; None digs until no further
    # blank keeps the solution unique (a minimal puzzle).
    blanks: tuple[int, int] | None
    # A blank is kept only while the puzzle stays solvable with techniques up to this one;
    # GUESS means "still exactly one solution", checked by search.
    keep_within: int
    accept: tuple[int, ...]  # technique classes the finished puzzle may have


# Full grids tried before giving up; far above what any level needs (a generator bug guard).
MAX_ATTEMPTS = 500


def _dig(sh: Shape, solution: list[int], rng: random.Random, level: SudokuLevel) -> list[int]:
    """Blank cells of ``solution`` in a random order while the level's condition holds.

    For logic levels the test is "still solvable by the logical solver up to the level's
    technique", which also proves uniqueness (every step was forced) and needs no search.
    """
    puzzle = list(solution)
    rows, cols, boxes = _unit_masks(sh, puzzle)
    row_of, col_of, box_of, full = sh.row_of, sh.col_of, sh.box_of, sh.full
    low, high = level.blanks or (0, sh.n * sh.n)
    target = rng.randint(low, high)
    order = list(range(sh.n * sh.n))
    rng.shuffle(order)
    blanks = 0
    # Class of the current puzzle, tracked only by logic digs (unknown while digging for
    # uniqueness; those dig to minimal anyway). A full grid needs nothing.
    technique: int | None = SINGLES if level.keep_within < GUESS else None
    for cell in order:
        if blanks >= high or (blanks >= target and technique in level.accept):
            break
        value, bit = puzzle[cell], 1 << (puzzle[cell] - 1)
        r, c, b = row_of[cell], col_of[cell], box_of[cell]
        puzzle[cell] = 0
        rows[r] ^= bit
        cols[c] ^= bit
        boxes[b] ^= bit
        # Cheap proof first: the blank is a naked single of the remaining givens, so solving
        # it is one step back to the previous puzzle (same class, same uniqueness).
        if full & ~(rows[r] | cols[c] | boxes[b]) == bit:
            keep = True
        elif level.keep_within == GUESS:
            keep = _hidden_single(sh, puzzle, rows, cols, boxes, cell, bit) or (
                search(sh, puzzle, 1, forbid=(cell, value), prefer=solution)[0] == 0
            )
        else:
            result = logic_solve(sh, puzzle, level.keep_within)
            keep = result.solved
            if keep:
                technique = result.technique
        if keep:
            blanks += 1
        else:
            puzzle[cell] = value
            rows[r] |= bit
            cols[c] |= bit
            boxes[b] |= bit
    return puzzle


def _hidden_single(sh, puzzle, rows, cols, boxes, cell, bit) -> bool:
    """True if no other blank in one of ``cell``'s units can hold ``bit``'s digit."""
    row_of, col_of, box_of = sh.row_of, sh.col_of, sh.box_of
    for unit in (sh.rows[row_of[cell]], sh.cols[col_of[cell]], sh.boxes[box_of[cell]]):
        for other in unit:
            if (
                other != cell
                and not puzzle[other]
                and not (rows[row_of[other]] | cols[col_of[other]] | boxes[box_of[other]]) & bit
            ):
                break
        else:
            return True
    return False


@dataclass(frozen=True)
class Puzzle:
    size: int
    givens: list[int]
    solution: list[int]
    technique: int
    logic_steps: dict[str, int]
    search_nodes: int
    attempts: int


def generate(level: SudokuLevel, rng: random.Random) -> Puzzle:
    """A uniquely solvable puzzle of ``level``, drawn only from ``rng``."""
    sh = shape(level.size)
    low, high = level.blanks or (0, sh.n * sh.n)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        solution = random_full_grid(sh, rng)
        puzzle = _dig(sh, solution, rng, level)
        blanks = puzzle.count(0)
        result = logic_solve(sh, puzzle, PAIRS)
        if low <= blanks <= high and result.technique in level.accept:
            # Proving uniqueness from scratch measures how much search the puzzle takes.
            count, nodes, _ = search(sh, puzzle, 2)
            assert count == 1, "digging must keep the solution unique"
            return Puzzle(sh.n, puzzle, solution, result.technique, result.steps, nodes, attempt)
    raise RuntimeError(f"sudoku: no puzzle for {level.description!r} in {MAX_ATTEMPTS} attempts")
