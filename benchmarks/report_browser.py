"""Report with the sample browser at 100,000 samples: HTML size, build time, load time.

Builds a synthetic run folder (arithmetic: 5 levels x 625 items x 4 budgets x 8 samples =
100,000 samples with 300-3,600 characters of reasoning each, 1% errors, 10% cut off), then
times
- the sample browser alone (both passes over samples.jsonl, the tallies, the embedded
  samples, prompts rebuilt) and the whole `ttc-bench report` (summary, plots, report.md,
  report.html);
- the page in headless Chromium, when one is installed: the time from navigation to the
  browser's first render (the page records it in <body data-sb-ready>), and the wall time
  of `chromium --dump-dom` on the report against the same on an empty page (browser start).
Target (issue 17): the HTML of a 100,000-sample run opens in a browser in a few seconds
(first render under 3 s).
Run: python benchmarks/report_browser.py [--samples 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from headless import chromium, dump_dom  # noqa: E402

from ttc_bench.reporting import regenerate  # noqa: E402
from ttc_bench.reporting.browser import page_data, section  # noqa: E402

TARGET_MS = 3000
LEVELS = ["add-2d", "mul-2x2", "mul-3x3", "chain-4", "nest-2"]
BUDGETS = ["forced:256", "forced:1024", "forced:4096", "tokens:8192"]
SAMPLES = 8
WORDS = ["so", "carry", "the", "digit", "sum", "is", "seven", "then", "check", "again", "wait", "</think>"]


def build_run(folder: Path, total: int) -> int:
    rng = random.Random(0)
    items = max(1, total // (len(LEVELS) * len(BUDGETS) * SAMPLES))
    thoughts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(50, 600))) for _ in range(200)]
    folder.mkdir(parents=True)
    spec = {"suite": "bench", "budgets": BUDGETS, "samples": SAMPLES, "seed": 0,
            "tasks": [{"family": "arithmetic", "name": "arithmetic", "levels": LEVELS, "items": items, "options": {}}]}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps({"run_id": folder.name, "endpoint": {"model": "synthetic"}, "spec": spec}))
    rows = 0
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as fh:
        for level in LEVELS:
            for i in range(items):
                for b, budget in enumerate(BUDGETS):
                    for j in range(SAMPLES):
                        correct = rng.random() < 0.3 + 0.15 * b
                        answer = "42" if correct else rng.choice(["41", "43", None])
                        error = "timeout after 600 s" if rng.random() < 0.01 else None
                        row = {
                            "key": f"{rows:032x}", "task": "arithmetic", "level": level, "item": f"arithmetic/{level}/{i:04d}",
                            "budget": budget, "sample": j, "seed": rows, "requested_tokens": 256 << (2 * b),
                            "response": f"The answer is <answer>{answer}</answer>", "reasoning": rng.choice(thoughts),
                            "answer": None if error else answer, "gold": "42", "parse_ok": answer is not None,
                            "correct": correct and error is None, "partial": float(correct), "finish_reason": "stop",
                            "truncated": rng.random() < 0.1, "turns": 1, "prompt_tokens": 40, "completion_tokens": 300,
                            "reasoning_tokens": 250, "latency_s": 1.0, "attempts": 1, "error": error,
                        }  # fmt: skip
                        fh.write(json.dumps(row) + "\n")
                        rows += 1
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--keep", metavar="DIR", help="build the run here and keep it (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.keep or tmp) / "bench-run"
        start = time.perf_counter()
        rows = build_run(run, args.samples)
        size_mb = (run / "samples.jsonl").stat().st_size / 1e6
        print(f"run: {rows:,} samples, samples.jsonl {size_mb:,.0f} MB (written in {time.perf_counter() - start:.1f} s)")

        start = time.perf_counter()
        data = page_data(["synthetic"], [run])
        markup = section(data).markup
        browser_s = time.perf_counter() - start
        embedded = data["runs"][0]["embedded"]
        print(f"sample browser: {browser_s:.1f} s to build, {len(markup.encode()) / 1e6:.1f} MB, {embedded:,} samples embedded")

        start = time.perf_counter()
        regenerate([run])
        report_s = time.perf_counter() - start
        html_mb = (run / "report.html").stat().st_size / 1e6
        print(f"ttc-bench report: {report_s:.1f} s (summary, 4 plots, report.md, report.html); report.html {html_mb:.1f} MB")

        if chromium() is None:
            print("browser load: skipped (no Chromium installed; apt-get install chromium)")
            return 0
        blank = run / "blank.html"
        blank.write_text("<!DOCTYPE html><title>blank</title>")
        _, blank_s = dump_dom(blank.as_uri())
        url = (run / "report.html").as_uri() + "#samples?budget=tokens%3A8192&show=wrong"
        dom, load_s = dump_dom(url)
        ready = re.search(r'data-sb-ready="(\d+)"', dom)
        count = re.search(r'id="sb-count"[^>]*data-samples="(\d+)"', dom)
        ready_ms = int(ready.group(1)) if ready else None
        print(
            f"browser load: first render {ready_ms if ready_ms is not None else '-'} ms after navigation "
            f"(wrong at tokens:8192: {int(count.group(1)):,} samples); chromium --dump-dom {load_s:.1f} s "
            f"vs {blank_s:.1f} s for an empty page"
        )
        ok = ready_ms is not None and ready_ms < TARGET_MS
        print(f"target: first render < {TARGET_MS:,} ms   {'OK' if ok else 'MISSED'}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
