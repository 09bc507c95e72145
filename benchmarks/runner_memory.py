"""Runner memory: peak resident memory of a 1,000,000-sample run on a zero-latency endpoint.

10,000 items x 1 budget x 100 samples, requested with the n parameter (100 samples per
request) so the sweep takes minutes, not hours; every sample still goes through parse,
verify and the store as its own row, and the run ends with the streaming summary and reports.
Target (issue 8): peak RSS under 1 GB.
Run: python benchmarks/runner_memory.py [--items 10000] [--samples 100]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from runner_overhead import start_server  # noqa: E402

from ttc_bench.spec import build_spec  # noqa: E402
from ttc_bench.sweep import run_sweep  # noqa: E402

TARGET_GB = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    server, url = start_server()
    try:
        with tempfile.TemporaryDirectory() as out:
            spec = build_spec(
                None, model="bench", base_urls=[url], tasks=["arithmetic:add-2d"], budgets=["tokens:16"],
                samples=args.samples, limit=args.items, out=out, concurrency=4, run_id="bench", n_parameter=True,
            )
            start = time.perf_counter()
            result = run_sweep(spec, ["bench"], progress="off", log=lambda m: None)
            elapsed = time.perf_counter() - start
            size_mb = (Path(out) / "bench" / "samples.jsonl").stat().st_size / 1e6
    finally:
        server.terminate()
    samples = result.stats.done
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux
    print(f"samples: {samples:,} in {elapsed:.0f} s ({samples / elapsed:,.0f} samples/s), samples.jsonl {size_mb:,.0f} MB")
    ok = peak_gb < TARGET_GB and samples == args.items * args.samples
    print(f"peak resident memory: {peak_gb:.2f} GB   target < {TARGET_GB:.0f} GB   {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
