"""Offline paths on this machine: export-requests, import-results and merge, in samples/s.

The plan is arithmetic items x 1 budget x --samples; the "engine" between export and import
is a function that answers every request line at once with a fixed-size completion (no
model), so the figures are ttc-bench's own cost of an offline round, the part that does
not shrink with a faster engine. Merge combines --shards shard folders of the imported run.
Targets: each path >= 1,000 samples/s (a 1,000,000-sample run in under 17 minutes each)
and under 2 GB peak memory.
Run: python benchmarks/offline.py [--items 2000] [--samples 50] [--shards 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from ttc_bench.merge import merge  # noqa: E402
from ttc_bench.offline import export_requests, import_results  # noqa: E402
from ttc_bench.spec import build_spec  # noqa: E402

TARGET_RATE = 1_000
TARGET_GB = 2.0
ANSWER = "Adding the digits column by column gives the result. " * 8


def answer_all(requests: Path, results: Path) -> int:
    """Every request answered like vllm run-batch would: one output line each."""
    count = 0
    with open(requests, encoding="utf-8") as src, open(results, "w", encoding="utf-8") as out:
        for text in src:
            line = json.loads(text)
            body = {"id": "chatcmpl-bench", "object": "chat.completion", "model": line["body"]["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": f"{ANSWER}<answer>7</answer>"},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 60, "completion_tokens": 90, "total_tokens": 150}}
            out.write(json.dumps({"id": f"vllm-{count}", "custom_id": line["custom_id"],
                                  "response": {"status_code": 200, "request_id": f"r{count}", "body": body},
                                  "error": None}) + "\n")
            count += 1
    return count


def spec(out: Path, items: int, samples: int, shard: str | None = None):
    return build_spec(None, model="Qwen/Qwen3-8B", base_urls=["http://gpu-node:8000/v1"], api="vllm",
                      tasks=["arithmetic:add-2d"], budgets=["tokens:512"], samples=samples, limit=items, out=str(out),
                      shard=shard)


def timed(what: str, count: int, call) -> float:
    start = time.perf_counter()
    call()
    elapsed = time.perf_counter() - start
    print(f"{what:<34} {count:>9,} samples in {elapsed:6.1f} s   {count / elapsed:>8,.0f} samples/s")
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args()
    total = args.items * args.samples
    quiet = lambda message: None  # noqa: E731
    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        requests, results = tmp / "requests.jsonl", tmp / "results.jsonl"
        exported = {}
        rates.append(timed("export-requests", total, lambda: exported.update(
            run=export_requests(spec(tmp / "whole", args.items, args.samples), ["bench"], requests, log=quiet))))
        size = requests.stat().st_size / 1e6
        answer_all(requests, results)
        rates.append(timed("import-results", total, lambda: import_results(exported["run"].run_dir, [results])))
        print(f"{'':<34} requests.jsonl {size:,.0f} MB, results.jsonl {results.stat().st_size / 1e6:,.0f} MB")
        shards = []
        for n in range(1, args.shards + 1):
            part = export_requests(spec(tmp / "shards", args.items, args.samples, f"{n}/{args.shards}"), ["bench"],
                                   tmp / f"r{n}.jsonl", log=quiet)
            answer_all(tmp / f"r{n}.jsonl", tmp / f"o{n}.jsonl")
            import_results(part.run_dir, [tmp / f"o{n}.jsonl"])
            shards.append(part.run_dir)
        rates.append(timed(f"merge ({args.shards} shards)", total, lambda: merge(tmp / "merged", shards)))
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    ok = min(rates) >= TARGET_RATE and peak_gb < TARGET_GB
    print(f"slowest path {min(rates):,.0f} samples/s (target >= {TARGET_RATE:,}); peak resident memory "
          f"{peak_gb:.2f} GB (target < {TARGET_GB:.0f} GB)   {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
