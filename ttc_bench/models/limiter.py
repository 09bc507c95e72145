"""Adaptive bound on requests in flight: halve on rate limits, grow back while healthy.

Additive-increase / multiplicative-decrease, as in TCP congestion control: a 429 means the
endpoint is saturated, so backing off hard is right; recovering one slot per window of
clean completions probes the capacity again without another storm.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

# The longest run-wide pause one rate-limit answer can impose.
MAX_PAUSE_S = 60.0


class AdaptiveLimiter:
    def __init__(self, maximum: int, minimum: int = 1):
        self.maximum = max(1, maximum)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = self.maximum
        self.in_flight = 0
        self.rate_limited = 0  # 429s seen
        self._clean = 0  # successes since the last change of the limit
        self._waiters: deque[asyncio.Future] = deque()
        # Under a storm of 429s every new request waits: hammering a rate-limited endpoint
        # with the other workers' requests only prolongs the storm.
        self.paused_until = 0.0
        self._storm = 0  # rate limits since the last success

    async def __aenter__(self) -> "AdaptiveLimiter":
        if self.paused_until:
            while (wait := self.paused_until - time.monotonic()) > 0:
                await asyncio.sleep(wait)
        # Single-threaded event loop: check-and-take needs no lock, so a free slot costs nothing.
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return self
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # a releasing request hands its slot over (in_flight already counted)
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # the slot was handed over as we were cancelled: pass it on
            else:
                self._waiters.remove(waiter)
            raise
        return self

    async def __aexit__(self, *exc) -> None:
        self._release()

    def _release(self) -> None:
        if self._waiters and self.in_flight <= self.limit:
            self._waiters.popleft().set_result(None)  # the slot moves to the next waiter
        else:
            self.in_flight -= 1

    def on_rate_limited(self, retry_after_s: float | None = None) -> None:
        self.rate_limited += 1
        self._clean = 0
        self.limit = max(self.minimum, self.limit // 2)
        self._storm += 1
        pause = retry_after_s if retry_after_s is not None else 0.5 * 2 ** min(self._storm - 1, 7)
        self.paused_until = max(self.paused_until, time.monotonic() + min(pause, MAX_PAUSE_S))

    def paused_for(self) -> float:
        """Seconds left of a run-wide pause (0 when requests flow)."""
        return max(0.0, self.paused_until - time.monotonic()) if self.paused_until else 0.0

    def on_success(self) -> None:
        self._storm = 0
        if self.limit >= self.maximum:
            return
        self._clean += 1
        if self._clean >= self.limit:
            self._clean = 0
            self.limit += 1
            # A slot opened: wake a waiter if the new limit leaves room.
            if self._waiters and self.in_flight < self.limit:
                self.in_flight += 1
                self._waiters.popleft().set_result(None)
