"""Adaptive bound on requests in flight: halve on rate limits, grow back while healthy.

Additive-increase / multiplicative-decrease, as in TCP congestion control: a 429 means the
endpoint is saturated, so backing off hard is right; recovering one slot per window of
clean completions probes the capacity again without another storm.
"""

from __future__ import annotations

import asyncio


class AdaptiveLimiter:
    def __init__(self, maximum: int, minimum: int = 1):
        self.maximum = max(1, maximum)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = self.maximum
        self.in_flight = 0
        self.rate_limited = 0  # 429s seen
        self._clean = 0  # successes since the last change of the limit
        self._cond = asyncio.Condition()

    async def __aenter__(self) -> "AdaptiveLimiter":
        async with self._cond:
            await self._cond.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
        return self

    async def __aexit__(self, *exc) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def on_rate_limited(self) -> None:
        self.rate_limited += 1
        self._clean = 0
        self.limit = max(self.minimum, self.limit // 2)

    def on_success(self) -> None:
        if self.limit >= self.maximum:
            return
        self._clean += 1
        if self._clean >= self.limit:
            self._clean = 0
            self.limit += 1
