"""Scoring speed and memory: summarize() over 1,000,000 synthetic sample rows.

Targets (issue 5): under 30 s and under 2 GB peak memory for 1,000,000 rows. Each shape
runs in a fresh subprocess so its peak RSS is its own. The rows are streamed to
summarize() from a generator (as `ttc-bench report` streams samples.jsonl); building
each row dict is inside the timing. `--file` also times the full rebuild from a
samples.jsonl on disk (JSON parsing included), which is what `ttc-bench report` does.

The synthetic model: item difficulty and budget decide p(correct); wrong answers come
from a small Zipf-distributed pool per item (many items have several wrong answers that
tie or beat the right one), some samples are unparsed, a few errored; token counts grow
with the budget. That makes most answer histograms distinct, the slow case for maj@k.

Run: python benchmarks/scoring.py [--shape 1000x10x100 --shape 10000x4x25] [--file]
Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

TARGET_SECONDS = 30.0
TARGET_RSS_GB = 2.0
DEFAULT_SHAPES = ("1000x10x100", "10000x4x25")


def synthetic_rows(items: int, budgets: int, samples: int, seed: int = 0):
    """Sample rows shaped like runner._row, generated per (item, budget) block."""
    import numpy as np

    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0.0, 1.5, size=items)
    caps = [256 * 2**b for b in range(budgets)]
    labels = [f"tokens:{cap}" for cap in caps]
    sample_id = 0
    for i in range(items):
        item = f"synthetic/L{i % 5}/{i:06d}"
        level = f"L{i % 5}"
        for b, label in enumerate(labels):
            cap = caps[b]
            p_correct = 1 / (1 + np.exp(difficulty[i] - 0.45 * b + 0.5))
            correct = (rng.random(samples) < p_correct).tolist()
            wrong = np.minimum(rng.zipf(1.6, size=samples), 40).tolist()
            unparsed = (rng.random(samples) < 0.12 / (1 + b)).tolist()
            errored = (rng.random(samples) < 0.001).tolist()
            completion = rng.integers(64, cap + 1, size=samples).tolist()
            for j in range(samples):
                answer = None if unparsed[j] else ("42" if correct[j] else f"w{wrong[j]}")
                ok = correct[j] and answer is not None
                tokens = completion[j]
                sample_id += 1
                yield {
                    "key": f"{sample_id:032x}",
                    "run_id": "bench",
                    "task": "synthetic",
                    "level": level,
                    "item": item,
                    "budget": label,
                    "requested_tokens": cap,
                    "sample": j,
                    "seed": sample_id,
                    "answer": answer,
                    "parse_ok": answer is not None,
                    "correct": ok,
                    "partial": 1.0 if ok else 0.0,
                    "scores": None,
                    "finish_reason": "length" if tokens >= cap else "stop",
                    "truncated": tokens >= cap,
                    "forced_answer": False,
                    "turns": 1,
                    "prompt_tokens": 120,
                    "completion_tokens": tokens,
                    "reasoning_tokens": tokens - 8,
                    "reasoning_tokens_estimated": False,
                    "latency_s": tokens / 900.0,
                    "attempts": 1,
                    "error": "timeout" if errored[j] else None,
                    "cached": False,
                }


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # ru_maxrss is KiB on Linux


def measure(shape: str, from_file: bool) -> dict:
    """One shape, in this process: time summarize (or the full rebuild) and peak memory."""
    from ttc_bench.metrics import summarize

    items, budgets, samples = (int(x) for x in shape.split("x"))
    rows = items * budgets * samples
    result = {"shape": shape, "rows": rows}
    if from_file:
        from ttc_bench.summarize import summarize_run

        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp)
            with open(run / "samples.jsonl", "w", encoding="utf-8") as fh:
                for row in synthetic_rows(items, budgets, samples):
                    row["response"] = "The answer is 42. " * 8  # a realistic line length
                    fh.write(json.dumps(row, separators=(",", ":")) + "\n")
            base_rss = peak_rss_gb()
            start, cpu = time.perf_counter(), time.process_time()
            summary = summarize_run(run)
            result["seconds"] = time.perf_counter() - start
            result["cpu_seconds"] = time.process_time() - cpu
            result["what"] = "rebuild from samples.jsonl (read + parse + score)"
    else:
        # Building the row dicts is the benchmark's own cost: time it alone and subtract it.
        start, cpu = time.perf_counter(), time.process_time()
        for _ in synthetic_rows(items, budgets, samples):
            pass
        generate, generate_cpu = time.perf_counter() - start, time.process_time() - cpu
        base_rss = peak_rss_gb()
        start, cpu = time.perf_counter(), time.process_time()
        summary = summarize(synthetic_rows(items, budgets, samples))
        result["seconds"] = time.perf_counter() - start - generate
        result["cpu_seconds"] = time.process_time() - cpu - generate_cpu
        result["what"] = "summarize(rows), row generation subtracted"
    result["peak_rss_gb"] = peak_rss_gb()
    result["rss_before_gb"] = base_rss
    result["groups"] = len(summary["groups"])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", action="append", help="ITEMSxBUDGETSxSAMPLES (default: 1000x10x100 and 10000x4x25)")
    parser.add_argument("--file", action="store_true", help="also time the rebuild from a samples.jsonl on disk")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-file", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.child_file)))
        return 0
    shapes = args.shape or list(DEFAULT_SHAPES)
    failed = False
    print(f"targets: < {TARGET_SECONDS:.0f} s and < {TARGET_RSS_GB:.0f} GB peak RSS per 1,000,000 rows")
    for shape in shapes:
        for from_file in ([False, True] if args.file else [False]):
            cmd = [sys.executable, __file__, "--child", shape] + (["--child-file"] if from_file else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                print(out.stderr, file=sys.stderr)
                return 2
            r = json.loads(out.stdout.strip().splitlines()[-1])
            per_million = r["seconds"] * 1e6 / r["rows"]
            ok = per_million < TARGET_SECONDS and r["peak_rss_gb"] < TARGET_RSS_GB
            failed |= not ok
            print(
                f"{shape:>12} {r['rows']:>9,} rows  {r['what']}\n"
                f"{'':>12} {r['seconds']:6.1f} s wall ({per_million:.1f} s per 1M rows), "
                f"{r['cpu_seconds']:.1f} s CPU, peak RSS {r['peak_rss_gb']:.2f} GB  {'ok' if ok else 'MISSED'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
