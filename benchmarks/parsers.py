"""Answer parsing on adversarial model output: every family x hostile input within 100 ms.

Model output is untrusted. For each task family (the adapter's ``parse`` and, when an
answer comes out, ``verify``: exactly the work the runner does per sample) and for the
client's ``<think>`` split (which sees the whole, untruncated text), this times a catalogue
of hostile outputs of about 1 MB each: deep nesting, a megabyte of digits, tag and
"Answer:" spam, regex-hostile repetitions, unicode digits. It prints the median and max
milliseconds per (family, input) and exits 1 if any max misses the target.

Run: python benchmarks/parsers.py [--repeats 5] [--target-ms 100]
The test suite (tests/test_parsers_hostile.py) runs the same catalogue once with a
generous bound; the figure lives here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MB = 1_000_000
TARGET_MS = 100.0


def hostile_inputs() -> dict[str, str]:
    """Name -> adversarial output (about 1 MB unless the name says otherwise)."""
    return {
        "1MB digits": "9" * MB,
        "1MB digits in answer tags": "<answer>" + "9" * MB + "</answer>",
        "digits and commas": "1," * (MB // 2),
        "digits and slashes": "1/" * (MB // 2),
        "digits and dots": "1." * (MB // 2),
        "minus run then a digit": "-" * MB + "1",
        "unicode digits": "\u0663" * (MB // 2),
        "nested brackets": "[" * (MB // 2) + "]" * (MB // 2),
        "nested parens around a letter": "(" * (MB // 2) + "A" + ")" * (MB // 2),
        "nested boxed": "\\boxed{" * (MB // 7) + "}" * (MB // 7),
        "nested json": '{"a":' * (MB // 6) + "1" + "}" * (MB // 6),
        "unclosed answer tags": "<answer>" * (MB // 8),
        "answer tags with nothing": "<answer></answer>" * (MB // 17),
        "Answer: spam": "Answer: " * (MB // 8),
        "the answer is spam": "the answer is " * (MB // 14),
        "think tags": "<think>" * (MB // 7),
        "unclosed think then answer": "<think>" + "x" * MB + "<answer>5</answer>",
        "1MB spaces": " " * MB,
        "1MB newlines": "\n" * MB,
        "grid-shaped rows": "1 2 3 4\n" * (MB // 8),
        "letter rows": "ABCD\n" * (MB // 5),
        "capitals in parens": "(A) " * (MB // 4),
        "regex backtracking bait": ("a" * 50 + "1" * 50 + " ,.") * (MB // 103),
        "NUL and control bytes": "\x00\x01\x1b[31m" * (MB // 7),
        "1MB filler then the answer": "x" * MB + "<answer>5</answer>",
    }


def cases() -> list[tuple[str, Callable[[str], object]]]:
    """(family, work on one output) for every registered family, plus the client's split."""
    from ttc_bench.adapters import families
    from ttc_bench.models.response import split_think

    out = []
    for name, cls in sorted(families().items()):
        adapter = cls()
        level = (adapter.default_levels or tuple(adapter.level_ids()))[0]
        item = adapter.items(0, level, 1)[0]
        prompt = adapter.prompt(item, 1)

        def work(text: str, adapter=adapter, item=item, prompt=prompt):
            answer = adapter.parse(text, item, prompt)
            return answer if answer is None else (answer, adapter.verify(item, answer))

        out.append((name, work))
    out.append(("client split_think", split_think))
    return out


def time_ms(work: Callable[[str], object], text: str, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work(text)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--target-ms", type=float, default=TARGET_MS)
    args = parser.parse_args(argv)
    inputs = hostile_inputs()
    misses = 0
    worst = 0.0
    print(f"{'family':<20} {'input':<30} {'median ms':>10} {'max ms':>8}")
    for family, work in cases():
        for name, text in inputs.items():
            times = time_ms(work, text, args.repeats)
            worst = max(worst, max(times))
            miss = max(times) > args.target_ms
            misses += miss
            print(f"{family:<20} {name:<30} {statistics.median(times):>10.2f} {max(times):>8.2f}{'  MISS' if miss else ''}")
    print(f"\nworst {worst:.2f} ms; target {args.target_ms:g} ms per output: {'MISSED ' + str(misses) + ' times' if misses else 'met'}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
