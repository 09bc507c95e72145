"""Plan items x budgets x samples, skip what the store has, run the rest with bounded concurrency.

The plan is a lazy stream: workers pull the next job from one shared iterator, so memory
stays flat however large the sweep. Samples of one item are consecutive, which lets a
server reuse the prompt prefix it just processed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Callable, Iterator

from .adapters.base import Item, Prompt, TaskAdapter, Verdict
from .errors import UserError
from .budgets import Budget
from .models.client import ChatClient, NotServingN, SampleError
from .models.generation import Generation, generate, generate_n
from .models.request import request_fields
from .sample import Sample
from .spec import RunSpec
from .store import RunStore

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


@dataclass(frozen=True)
class Job:
    adapter: TaskAdapter
    item: Item
    budget: Budget
    sample: int
    seed: int
    prompt: Prompt
    key: str


@dataclass
class RunStats:
    planned: int = 0
    skipped: int = 0
    done: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = 0.0
    finished: float = 0.0


def sample_seed(seed: int, item_id: str, budget: str, sample: int) -> int:
    digest = hashlib.sha256(f"{seed}/{item_id}/{budget}/{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def sample_key(endpoint_identity: str, model: str, messages: list | str, request: dict | str, sample: int, seed: int) -> str:
    """Everything that changes the response, and nothing secret.

    ``messages`` and ``request`` may be given already canonicalised (``_canonical``), so a
    plan can serialise them once per item and budget rather than once per sample.
    """
    messages = messages if isinstance(messages, str) else _canonical(messages)
    request = request if isinstance(request, str) else _canonical(request)
    text = f"{_canonical(endpoint_identity)}|{_canonical(model)}|{messages}|{request}|{sample}|{seed}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Runner:
    def __init__(self, spec: RunSpec, client: ChatClient, run_id: str, store: RunStore | None = None, *, log=None):
        self.spec = spec
        self.client = client
        self.profile = client.profile
        self.store = store
        self.run_id = run_id
        self.log = log or (lambda message: None)
        self.stats = RunStats()
        # The plan is counted here but its items are made one at a time in jobs(): memory
        # does not grow with --limit. Datasets load (and fail) here, before any request.
        self.levels: list[tuple[TaskAdapter, str, int]] = []
        for task in spec.tasks:
            adapter = task.adapter
            for level in task.levels:
                available = adapter.available(level)
                self.levels.append((adapter, level, task.items if available is None else min(task.items, available)))
        self.stats.planned = sum(count for _, _, count in self.levels) * len(spec.budgets) * spec.samples
        self._fields: dict[tuple[str, Budget], dict] = {}
        self._refusal: tuple[str, int] = ("", 0)

    def fields(self, adapter: TaskAdapter, budget: Budget) -> dict:
        """The first request's fields for this task and budget (what is sent, and keyed)."""
        found = self._fields.get((adapter.task, budget))
        if found is None:
            found = self._fields[(adapter.task, budget)] = request_fields(
                self.profile, budget, self.spec.sampling(), adapter.answer_tokens,
            )
        return found

    def _request(self, adapter: TaskAdapter, budget: Budget) -> dict:
        """Everything besides the messages and the seed that decides a sample's response."""
        forced = budget.kind == "forced"
        return {
            "budget": budget.label,
            "profile": self.profile.name,
            "fields": self.fields(adapter, budget),
            "continuation": self.profile.continuation.mechanism if forced and self.profile.continuation else None,
            "answer_tokens": adapter.answer_tokens if forced else None,
            "cue": adapter.answer_cue if forced else None,
        }

    def requests_sent(self) -> dict[str, dict]:
        """Per task and budget, the fields of the first request (for the manifest)."""
        return {f"{adapter.task} {budget.label}": self.fields(adapter, budget)
                for adapter in {a.task: a for a, _, _ in self.levels}.values() for budget in self.spec.budgets}

    def items(self) -> Iterator[tuple[TaskAdapter, Item]]:
        for adapter, level, count in self.levels:
            adapter.check_level(level)
            for index in range(count):
                yield adapter, adapter.item(self.spec.seed, level, index)

    def jobs(self, finished: set[str]) -> Iterator[Job]:
        endpoint = self.client.endpoint
        requests = {}
        for adapter, item in self.items():
            shared_messages = _canonical(item.messages)
            for budget in self.spec.budgets:
                request = requests.get((adapter.task, budget))
                if request is None:
                    request = requests[(adapter.task, budget)] = _canonical(self._request(adapter, budget))
                # The gold is part of the key: a corrected answer key is never scored by
                # a stale row (docs/metrics.md, resume).
                keyed = f"{request}|{_canonical(item.gold)}"
                for j in range(self.spec.samples):
                    prompt = adapter.prompt(item, j)
                    # Most samples see the item's own messages: serialised once above.
                    messages = shared_messages if prompt.messages is item.messages else prompt.messages
                    seed = sample_seed(self.spec.seed, item.id, budget.label, j)
                    key = sample_key(endpoint.cache_identity, endpoint.model, messages, keyed, j, seed)
                    if key in finished:
                        self.stats.skipped += 1
                        continue
                    yield Job(adapter, item, budget, j, seed, prompt, key)

    def _row(self, job: Job, gen: Generation | None, error: str | None, attempts: int) -> Sample:
        answer = None
        verdict = Verdict(False, 0.0)
        if gen is not None:
            answer = job.adapter.parse(gen.answer_text, job.item, job.prompt)
            if answer is not None:
                verdict = job.adapter.verify(job.item, answer)
        sample = Sample(
            key=job.key, run_id=self.run_id, task=job.item.task, level=job.item.level, item=job.item.id,
            budget=job.budget.label, requested_tokens=job.budget.requested_tokens, sample=job.sample, seed=job.seed,
            answer=answer, gold=job.item.gold, parse_ok=answer is not None, correct=verdict.correct,
            partial=verdict.partial, scores=verdict.scores or None, prompt_meta=job.prompt.meta or None,
            source=job.item.meta.get("source"), attempts=attempts, error=error,
        )
        if gen is not None:
            sample.response, sample.reasoning = gen.text, gen.reasoning
            sample.finish_reason, sample.truncated, sample.forced_answer = gen.finish_reason, gen.truncated, gen.forced_answer
            sample.turns, sample.prompt_tokens, sample.reread_tokens = gen.turns, gen.prompt_tokens, gen.reread_tokens
            sample.completion_tokens, sample.reasoning_tokens = gen.completion_tokens, gen.reasoning_tokens
            sample.reasoning_tokens_estimated, sample.usage_estimated = gen.reasoning_tokens_estimated, gen.usage_estimated
            sample.reasoning_added, sample.latency_s = gen.reasoning_added, round(gen.latency_s, 4)
        return sample

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
        status = exc.status
        if status is None or not 400 <= status < 500 or status in (408, 409, 429):
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
        reason, times = self._refusal
        times = times + 1 if reason == exc.reason else 1
        self._refusal = (exc.reason, times)
        if times >= REPEATED_REFUSALS:
            raise RepeatedRefusal(f"{where} refused {times} requests in a row: {exc.reason[:300]}; {hint}")

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
        finished = set() if self.spec.fresh else self.store.finished_keys()
        jobs = self.jobs(finished)
        self.stats.started = time.perf_counter()
        self.store.open_for_append()  # a no-op when the sweep already holds the lock

        batches = self.batches(jobs)
        probed: dict[tuple[str, Budget], asyncio.Event] = {}

        async def worker() -> None:
            for batch in batches:  # one shared iterator: no job is taken twice
                group = (batch[0].item.task, batch[0].budget)
                gate = probed.get(group)
                if gate is None:
                    gate = probed[group] = asyncio.Event()
                    try:
                        rows = await self._probe(batch)
                    finally:
                        gate.set()
                else:
                    await gate.wait()
                    rows = await self._run_batch(batch)
                for row in rows:
                    self.store.append(row)
                    self.stats.done += 1
                    self.stats.errors += row.error is not None
                    self.stats.prompt_tokens += row.prompt_tokens + row.reread_tokens
                    self.stats.completion_tokens += row.completion_tokens
                    if row.error is None:
                        self._refusal = ("", 0)
                if on_progress:
                    on_progress(self.stats)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(max(1, concurrency)):
                    group.create_task(worker())
        except* UserError as eg:  # unreachable endpoint, rejected key, disk full: one line
            raise eg.exceptions[0] from None
        finally:
            self.stats.finished = time.perf_counter()
        return self.stats

