"""Progress of a run: a live bar on a terminal, plain lines every few seconds elsewhere
(a CI log, ``ttc-bench run > log``), or nothing.

Both show done/total, tokens/s, errors, retries, samples resumed, cost (with prices), a
run-wide pause for rate limits while one lasts, and an ETA.
"""

from __future__ import annotations

import asyncio
import sys
import time

MODES = ("auto", "bar", "lines", "off")
# Seconds between plain progress lines: a CI log shows a sign of life well within 10 s.
LINE_INTERVAL_S = 5.0


def resolve_mode(mode: str, stream=None) -> str:
    stream = stream or sys.stderr
    if mode != "auto":
        return mode
    return "bar" if stream.isatty() else "lines"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """``with Progress(mode, total, label, client, cost) as p:`` then ``p.update(stats)``;
    in lines mode a ticker prints every LINE_INTERVAL_S seconds while the run lasts."""

    def __init__(self, mode: str, total: int, label: str, client, cost=None, stream=None):
        self.mode, self.total, self.label, self.client, self.cost = mode, total, label, client, cost
        self.stream = stream or sys.stderr
        self.stats = None
        self._bar = None
        self._ticker: asyncio.Task | None = None

    def __enter__(self) -> "Progress":
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self._bar = Bar(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task(self.label, total=self.total, rate="")
        elif self.mode == "lines":
            self._ticker = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        if self._ticker is not None:
            self._ticker.cancel()
            if self.stats is not None:
                self._line(final=True)

    def update(self, stats) -> None:
        self.stats = stats
        if self._bar is not None:
            self._bar.update(self._task, completed=stats.skipped + stats.done + stats.not_drawn, rate=self._figures(stats))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(LINE_INTERVAL_S)
            self._line()

    def _figures(self, stats) -> str:
        elapsed = max(1e-9, time.perf_counter() - stats.started) if stats.started else 1e-9
        text = f"{stats.completion_tokens / elapsed:,.0f} tok/s  errors {stats.errors}  retries {self.client.retries}"
        if stats.skipped:
            text += f"  resumed {stats.skipped}"
        if stats.not_drawn:
            text += f"  not needed {stats.not_drawn}"
        cost = self.cost(stats) if self.cost else None
        if cost is not None:
            text += f"  ${cost:,.4f}"
        paused = self.client.limiter.paused_for()
        if paused > 0:
            text += f"  rate limited: pausing {paused:.0f} s"
        return text

    def _line(self, final: bool = False) -> None:
        stats = self.stats
        if stats is None:  # nothing finished yet: still say the run is alive, and why it waits
            paused = self.client.limiter.paused_for()
            why = f", rate limited: pausing {paused:.0f} s" if paused > 0 else ""
            print(f"{self.label}: 0/{self.total} samples, waiting for the first answers{why}", file=self.stream, flush=True)
            return
        finished = stats.skipped + stats.done + stats.not_drawn  # adaptive: samples it did not need count as done
        elapsed = time.perf_counter() - stats.started
        text = f"{self.label}: {finished}/{self.total} samples ({100 * finished / max(1, self.total):.0f}%)  {self._figures(stats)}"
        if final:
            text += f"  done in {_duration(elapsed)}"
        elif stats.done:
            left = (self.total - finished) * elapsed / stats.done
            text += f"  ETA {_duration(left)}"
        print(text, file=self.stream, flush=True)
