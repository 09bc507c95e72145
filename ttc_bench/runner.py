"""Run the plan live: skip what the store has, send the rest with bounded concurrency.

The plan (plan.py) is a lazy stream: workers pull the next job from one shared iterator, so
memory stays flat however large the sweep.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from .adapters.base import TaskAdapter
from .budgets import Budget
from .errors import UserError
from .models.client import ChatClient
from .models.failures import NotServingN, SampleError
from .models.generation import Generation, generate, generate_n
from .plan import Job, Plan
from .sample import Sample, vote_key
from .spec import RunSpec
from .store import RunStore, read_rows
from .strategies.adaptive import settled

# The same refusal this many times in a row, with nothing succeeding in between, means it
# will go on repeating: the run stops instead of writing thousands of identical errors.
REPEATED_REFUSALS = 20


class RepeatedRefusal(UserError):
    """An endpoint refuses requests for a reason that will repeat (one line, exit 2)."""


def refusal_hint(reason: str, param: str | None, profile_name: str) -> str:
    """What to do about a refusal, from the parameter the provider names."""
    text = f"{param or ''} {reason}".lower()
    if "temperature" in text or "top_p" in text:
        return "drop --temperature/--top-p and the suite's values: this model accepts only its default sampling"
    if "reasoning_effort" in text or "effort" in text:
        return "this model does not take that effort level; `ttc-bench probe` lists what it accepts"
    if "thinking" in text or "budget" in text:
        return "the thinking budget was refused; see docs/providers.md for its range on this provider"
    if "max_tokens" in text or "max_completion_tokens" in text:
        return f"the token cap was refused; lower the budget or check --api (now {profile_name})"
    if "continue_final_message" in text or "prefill" in text or "assistant" in text or "prefix" in text:
        return "this server cannot continue an assistant message that way; use tokens:N or thinking:N"
    if "model" in text:
        return "check --model"
    return f"check --api (now {profile_name}) and the budget; `ttc-bench probe` shows what this endpoint accepts"


class RefusalStreak:
    """The same 4xx refusal many times in a row, with nothing succeeding in between: it will
    go on repeating, so the caller stops (the runner, and the strategies' own requests)."""

    def __init__(self, where: str, profile_name: str):
        self.where, self.profile_name = where, profile_name
        self.reason, self.times = "", 0

    @staticmethod
    def is_refusal(exc: SampleError) -> bool:
        return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409, 429)

    def failed(self, exc: SampleError) -> None:
        if not self.is_refusal(exc):
            return
        self.times = self.times + 1 if exc.reason == self.reason else 1
        self.reason = exc.reason
        if self.times >= REPEATED_REFUSALS:
            hint = refusal_hint(exc.reason, None, self.profile_name)
            raise RepeatedRefusal(f"{self.where} refused {self.times} requests in a row: {exc.reason[:300]}; {hint}")

    def succeeded(self) -> None:
        self.reason, self.times = "", 0


@dataclass
class RunStats:
    planned: int = 0
    skipped: int = 0
    done: int = 0
    not_drawn: int = 0  # samples the adaptive strategy did not need (docs/strategies.md)
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = 0.0
    finished: float = 0.0


class Runner:
    def __init__(self, spec: RunSpec, client: ChatClient, run_id: str, store: RunStore | None = None, *, log=None):
        self.spec = spec
        self.client = client
        self.profile = client.profile
        self.store = store
        self.run_id = run_id
        self.log = log or (lambda message: None)
        endpoint = client.endpoint
        self.plan = Plan(spec, self.profile, endpoint.cache_identity, endpoint.model, run_id)
        self.stats = RunStats(planned=self.plan.planned)
        self.refusals = RefusalStreak(endpoint.public_url, self.profile.name)
        # Adaptive sampling draws the samples of an item one at a time and stops once its
        # majority answer is settled (strategies/adaptive.py).
        self.adaptive = "adaptive" in spec.strategies

    def fields(self, adapter: TaskAdapter, budget: Budget) -> dict:
        return self.plan.fields(adapter, budget)

    def requests_sent(self) -> dict[str, dict]:
        return self.plan.requests_sent()

    def jobs(self, finished: set[str], stored: set[tuple] = frozenset()) -> Iterator[Job]:
        for job in self.plan.jobs(finished, stored):
            self.stats.skipped = self.plan.skipped
            yield job
        self.stats.skipped = self.plan.skipped
        if self.plan.changed:
            self.log(
                f"{self.plan.changed} samples were stored for items that have changed since (a corrected "
                "answer key or prompt): they are requested again and scored against today's items"
            )

    def adaptive_groups(self, finished: set[str], stored: set[tuple]) -> Iterator[tuple[list[Job], list]]:
        """Per item and budget, in plan order: the samples still to request (sample order)
        and the votes of the samples already stored, which the stopping rule counts. A
        sample stored under a stale key (a changed item) is requested again, as in jobs()."""
        votes_of: dict[str, str | None] = {}
        if finished:
            for row in read_rows(self.store.samples_path):
                if row.get("key") in finished and row.get("error") is None:
                    votes_of[row["key"]] = vote_key(row.get("answer"))
        skipped = changed = 0
        pending: list[Job] = []
        votes: list = []
        current = None
        for job in self.plan.jobs():
            group = (job.item.task, job.item.id, job.budget)
            if group != current:
                if pending:
                    yield pending, votes
                pending, votes, current = [], [], group
            if job.key in votes_of:
                skipped += 1
                self.stats.skipped = skipped
                votes.append(votes_of[job.key])
                continue
            if (job.item.task, job.item.id, job.budget.label, job.sample) in stored:
                changed += 1
            pending.append(job)
        if pending:
            yield pending, votes
        if changed:
            self.log(
                f"{changed} samples were stored for items that have changed since (a corrected "
                "answer key or prompt): they are requested again and scored against today's items"
            )

    async def _adaptive(self, pending: list[Job], votes: list, probe: bool, record) -> None:
        """The samples of one item and budget, one at a time, until its answer is settled."""
        for i, job in enumerate(pending):
            if settled(votes, len(pending) - i):
                self.stats.not_drawn += len(pending) - i
                record([])
                return
            rows = await (self._probe([job]) if probe and i == 0 else self._singles([job]))
            record(rows)
            votes += [row.vote for row in rows if row.error is None]

    def _row(self, job: Job, gen: Generation | None, error: str | None, attempts: int) -> Sample:
        return self.plan.row(job, gen, error, attempts)

    def batches(self, jobs: Iterator[Job]) -> Iterator[list[Job]]:
        """Jobs to send together: with the n parameter, consecutive samples of one item and
        budget that see the same messages share a request; otherwise one job each."""
        if not self.spec.n_parameter or self.profile.n != "yes":
            for job in jobs:
                yield [job]
            return
        batch: list[Job] = []
        largest = self.profile.n_max or self.spec.samples
        for job in jobs:
            same = (job.item.id, job.budget, job.prompt.messages) == (batch[0].item.id, batch[0].budget, batch[0].prompt.messages) if batch else True
            if batch and (not same or len(batch) >= largest):
                yield batch
                batch = []
            batch.append(job)
        if batch:
            yield batch

    async def _one(self, job: Job) -> Generation:
        return await generate(
            self.client, job.prompt.messages, job.budget, self.fields(job.adapter, job.budget),
            sampling=self.spec.sampling(), seed=job.seed, cue=job.adapter.answer_cue,
            answer_tokens=job.adapter.answer_tokens,
        )

    async def _run_batch(self, batch: list[Job]) -> list[Sample]:
        first = batch[0]
        try:
            if len(batch) > 1 and self.client.n_served is not False:
                try:
                    gens = await generate_n(
                        self.client, first.prompt.messages, self.fields(first.adapter, first.budget),
                        seed=first.seed, n=len(batch),
                    )
                    self.client.n_served = True
                except NotServingN as exc:
                    if self.client.n_served is not False:
                        self.client.n_served = False
                        self.log(f"warning: the endpoint does not serve n ({exc}); sending each sample as its own request")
                    return await self._singles(batch)
            else:
                return await self._singles(batch)
        except SampleError as exc:
            self._check_refusal(first, exc, probe=False)
            return [self._row(job, None, exc.reason, exc.attempts) for job in batch]
        return [self._row(job, gen, None, gen.attempts) for job, gen in zip(batch, gens)]

    async def _singles(self, batch: list[Job]) -> list[Sample]:
        rows = []
        for job in batch:
            try:
                gen = await self._one(job)
            except SampleError as exc:
                rows.append(self._row(job, None, exc.reason, exc.attempts))
                self._check_refusal(job, exc, probe=False)
                continue
            rows.append(self._row(job, gen, None, gen.attempts))
        return rows

    def _check_refusal(self, job: Job, exc: SampleError, *, probe: bool) -> None:
        """Stop the run when a refusal will repeat: a 4xx on the first request of a task
        and budget, or the same refusal many times in a row."""
        if not RefusalStreak.is_refusal(exc):
            return
        where = self.client.endpoint.public_url
        hint = refusal_hint(exc.reason, None, self.profile.name)
        if exc.continuation:  # the mechanism itself was refused: every cut-off sample would be
            raise RepeatedRefusal(
                f"{where} refused to continue a cut-off {job.budget.label} answer: {exc.reason[:300]}; "
                "this server or model cannot be forced (see docs/providers.md); use tokens:N or thinking:N"
            )
        if probe:
            raise RepeatedRefusal(
                f"{where} refused the first {job.item.task} request at {job.budget.label}: {exc.reason[:300]}; {hint}"
            )
        self.refusals.failed(exc)

    async def _probe(self, batch: list[Job]) -> list[Sample]:
        """The first request of a task and budget, alone: a refusal stops the run here."""
        job = batch[0]
        try:
            gen = await self._one(job)
            row = self._row(job, gen, None, gen.attempts)
        except SampleError as exc:
            self._check_refusal(job, exc, probe=True)
            row = self._row(job, None, exc.reason, exc.attempts)
        return [row, *(await self._run_batch(batch[1:]) if len(batch) > 1 else [])]

    async def run(self, concurrency: int, on_progress: Callable[[RunStats], None] | None = None) -> RunStats:
        finished, stored = (set(), set()) if self.spec.fresh else self.store.finished()
        self.stats.started = time.perf_counter()
        self.store.open_for_append()  # a no-op when the sweep already holds the lock

        # Each unit of work: a batch of jobs, or (adaptive) the samples of one item and budget.
        units = self.adaptive_groups(finished, stored) if self.adaptive else self.batches(self.jobs(finished, stored))
        probed: dict[tuple[str, Budget], asyncio.Event] = {}

        def record(rows: list[Sample]) -> None:
            for row in rows:
                self.store.append(row)
                self.stats.done += 1
                self.stats.errors += row.error is not None
                self.stats.prompt_tokens += row.prompt_tokens + row.reread_tokens
                self.stats.completion_tokens += row.completion_tokens
                if row.error is None:
                    self.refusals.succeeded()
            if on_progress:
                on_progress(self.stats)

        async def work(unit, probe: bool) -> None:
            if self.adaptive:
                await self._adaptive(*unit, probe, record)
            else:
                record(await (self._probe(unit) if probe else self._run_batch(unit)))

        async def worker() -> None:
            for unit in units:  # one shared iterator: no job is taken twice
                first = unit[0][0] if self.adaptive else unit[0]
                group = (first.item.task, first.budget)
                gate = probed.get(group)
                if gate is None:
                    gate = probed[group] = asyncio.Event()
                    try:
                        await work(unit, True)
                    finally:
                        gate.set()
                else:
                    await gate.wait()
                    await work(unit, False)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, concurrency)):
                    group.create_task(worker())
        except* UserError as eg:  # unreachable endpoint, rejected key, disk full: one line
            raise eg.exceptions[0] from None
        finally:
            self.stats.finished = time.perf_counter()
        return self.stats

