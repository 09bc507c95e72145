import asyncio
import threading
import time

from fake_server import FakeServer, Fault
from test_run_fake import add_answer, rows_of
from ttc_bench.models.limiter import AdaptiveLimiter


def test_limit_halves_on_rate_limits_and_grows_back_while_healthy():
    limiter = AdaptiveLimiter(8)
    limiter.on_rate_limited()
    assert limiter.limit == 4
    limiter.on_rate_limited()
    limiter.on_rate_limited()
    limiter.on_rate_limited()
    assert limiter.limit == 1  # never below the minimum
    for _ in range(1):
        limiter.on_success()
    assert limiter.limit == 2  # one clean window of `limit` successes adds a slot
    for _ in range(2):
        limiter.on_success()
    assert limiter.limit == 3
    for _ in range(100):
        limiter.on_success()
    assert limiter.limit == 8  # never above the maximum


def test_limiter_bounds_requests_in_flight():
    limiter = AdaptiveLimiter(3)
    peak = 0

    async def task():
        nonlocal peak
        async with limiter:
            peak = max(peak, limiter.in_flight)
            await asyncio.sleep(0.01)

    async def main():
        await asyncio.gather(*(task() for _ in range(20)))

    asyncio.run(main())
    assert peak == 3 and limiter.in_flight == 0


def test_rate_limits_cut_concurrency_at_the_server(tmp_path, run_cli):
    lock = threading.Lock()
    state = {"in_flight": 0, "peak_after_429": 0, "limited": 0, "served": 0}

    def responder(request):
        with lock:
            state["in_flight"] += 1
            if state["limited"]:
                state["peak_after_429"] = max(state["peak_after_429"], state["in_flight"])
            # The run's first request goes alone (fail-fast probe); the wave follows it.
            first_wave = state["served"] >= 1 and state["limited"] < 8
            if first_wave:
                state["limited"] += 1
            state["served"] += 1
        try:
            if first_wave:
                return Fault(429, headers={"Retry-After": "0"})
            time.sleep(0.02)
            return add_answer(request)
        finally:
            with lock:
                state["in_flight"] -= 1

    with FakeServer(responder) as server:
        code, _, err = run_cli("run", "--model", "m", "--base-url", server.base_url, "--out", tmp_path, "--no-progress",
                               "--tasks", "arithmetic:add-1d", "--limit", "4", "--budgets", "tokens:8", "--samples", "4",
                               "--concurrency", "8")
        assert code == 0, err
    assert all(r["error"] is None for r in rows_of(tmp_path))
    assert state["peak_after_429"] < 8


def test_replicas_share_the_load(tmp_path, run_cli):
    with FakeServer(add_answer) as a, FakeServer(add_answer) as b:
        code, _, err = run_cli("run", "--model", "m", "--base-url", a.base_url, b.base_url, "--out", tmp_path,
                               "--no-progress", "--tasks", "arithmetic:add-1d", "--limit", "4", "--budgets", "tokens:8",
                               "--samples", "4", "--concurrency", "4")
        assert code == 0, err
        served = len(a.chat_requests()), len(b.chat_requests())
    assert sum(served) == 16 and min(served) >= 4
