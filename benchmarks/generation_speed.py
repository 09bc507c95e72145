"""Item generation speed per family and level (items/s), from a cold adapter.

Target (issue 3): 1,000 9x9 sudoku puzzles of each 9x9 level generate in well under a
minute (checked as: under 30 s each). Every other level is reported for reference.
Run: python benchmarks/generation_speed.py [--items 200] [--sudoku-items 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from ttc_bench.adapters import families  # noqa: E402

SUDOKU_TARGET_S = 30.0


def rate(adapter, level: str, n: int) -> tuple[float, float]:
    start = time.perf_counter()
    adapter.items(0, level, n)
    elapsed = time.perf_counter() - start
    return n / elapsed, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=200, help="items per level (default 200)")
    parser.add_argument("--sudoku-items", type=int, default=1000, help="items per 9x9 sudoku level (default 1000)")
    args = parser.parse_args()
    ok = True
    print(f"{'family':<11} {'level':<12} {'items':>6} {'items/s':>10} {'seconds':>8}")
    for name, cls in sorted(families().items()):
        adapter = cls()
        for level in adapter.level_ids():
            big = name == "sudoku" and level.startswith("9x9")
            n = args.sudoku_items if big else args.items
            per_s, elapsed = rate(adapter, level, n)
            note = ""
            if big:
                passed = elapsed < SUDOKU_TARGET_S
                ok &= passed
                note = f"  target < {SUDOKU_TARGET_S:.0f} s for {n}: {'OK' if passed else 'MISSED'}"
            print(f"{name:<11} {level:<12} {n:>6} {per_s:>10.0f} {elapsed:>8.2f}{note}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
