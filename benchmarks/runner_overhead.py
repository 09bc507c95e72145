"""Runner overhead: requests/s through the real runner vs a raw async httpx loop.

Both drive the same zero-latency fake endpoint in its own process on 127.0.0.1. Targets
(issue 8): runner >= 70% of the raw loop's best rate, and >= 400 requests/s.
Run: python benchmarks/runner_overhead.py [--requests 20000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from ttc_bench.models.local import free_port  # noqa: E402
from ttc_bench.spec import build_spec  # noqa: E402
from ttc_bench.sweep import run_sweep  # noqa: E402

TARGET_SHARE = 0.70
TARGET_RPS = 400.0


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "zero_latency_server.py"), str(port)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}/v1"


async def raw_loop(base_url: str, requests: int, concurrency: int) -> tuple[float, list[float]]:
    import httpx

    body = {"model": "bench", "messages": [{"role": "user", "content": "Compute 3 + 4."}], "max_tokens": 16}
    latencies: list[float] = []
    remaining = iter(range(requests))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker():
            for _ in remaining:
                t = time.perf_counter()
                r = await client.post(f"{base_url}/chat/completions", json=body)
                r.json()
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - start), latencies


def runner_rate(base_url: str, requests: int, concurrency: int) -> tuple[float, list[float]]:
    samples = 20
    items = requests // samples
    with tempfile.TemporaryDirectory() as out:
        spec = build_spec(
            None, model="bench", base_urls=[base_url], tasks=["arithmetic:add-2d"], budgets=["tokens:16"],
            samples=samples, limit=items, out=out, concurrency=concurrency, run_id="bench",
        )
        spec.tasks[0].items = items
        start = time.perf_counter()
        result = run_sweep(spec, ["bench"], progress="off", log=lambda m: None)
        elapsed = time.perf_counter() - start
        rows = [line for line in (Path(out) / "bench" / "samples.jsonl").read_text().splitlines()]
        import json

        latencies = [json.loads(line)["latency_s"] for line in rows]
        assert result.stats.done == items * samples and result.summary["errors"] == 0
    return items * samples / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16, 32])
    args = parser.parse_args()
    server, url = start_server()
    try:
        raw = {}
        for c in args.concurrency:
            rates = [asyncio.run(raw_loop(url, args.requests, c))[0] for _ in range(args.repeats)]
            raw[c] = statistics.median(rates)
            print(f"raw httpx loop   concurrency {c:>3}: {raw[c]:8.0f} req/s (median of {args.repeats})")
        best_c = max(raw, key=raw.get)
        best_raw = raw[best_c]
        _, raw_lat = asyncio.run(raw_loop(url, args.requests, best_c))
        results = {}
        for c in args.concurrency:
            runs = [runner_rate(url, args.requests, c) for _ in range(args.repeats)]
            results[c] = (statistics.median(r for r, _ in runs), runs[-1][1])
            print(f"ttc-bench runner concurrency {c:>3}: {results[c][0]:8.0f} req/s (median of {args.repeats})")
    finally:
        server.terminate()
    best_runner_c = max(results, key=lambda c: results[c][0])
    rate, lat = results[best_runner_c]
    share = rate / best_raw
    print()
    print(f"raw loop best:   {best_raw:8.0f} req/s at concurrency {best_c}; per request median {1e3 * pct(raw_lat, .5):.2f} ms, p99 {1e3 * pct(raw_lat, .99):.2f} ms")
    print(f"runner best:     {rate:8.0f} req/s at concurrency {best_runner_c}; request latency median {1e3 * pct(lat, .5):.2f} ms, p99 {1e3 * pct(lat, .99):.2f} ms")
    print(f"per-request runner overhead vs raw: {1e3 * (1 / rate - 1 / best_raw):.2f} ms")
    ok_share = share >= TARGET_SHARE
    ok_rps = rate >= TARGET_RPS
    print(f"runner / raw = {share:.0%}   target >= {TARGET_SHARE:.0%}   {'OK' if ok_share else 'MISSED'}")
    print(f"runner rate  = {rate:.0f} req/s   target >= {TARGET_RPS:.0f}   {'OK' if ok_rps else 'MISSED'}")
    return 0 if ok_share and ok_rps else 1


if __name__ == "__main__":
    sys.exit(main())
