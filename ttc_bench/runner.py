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
from .models.budgets import Budget, request_params
from .errors import UserError
from .models.client import ChatClient, SampleError
from .models.generation import Generation, generate, generate_n
from .spec import RunSpec
from .store import RunStore


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
    def __init__(self, spec: RunSpec, client: ChatClient, run_id: str, store: RunStore | None = None):
        self.spec = spec
        self.client = client
        self.store = store
        self.run_id = run_id
        self.stats = RunStats()
        self.items: list[tuple[TaskAdapter, Item]] = []
        for task in spec.tasks:
            adapter = task.adapter
            for level in task.levels:
                available = adapter.available(level)
                count = task.items if available is None else min(task.items, available)
                self.items.extend((adapter, item) for item in adapter.items(spec.seed, level, count))
        self.stats.planned = len(self.items) * len(spec.budgets) * spec.samples

    def _request(self, adapter: TaskAdapter, budget: Budget) -> dict:
        return {
            "budget": budget.label,
            "api": self.spec.api,
            "params": request_params(budget, self.spec.api, adapter.answer_tokens),
            "sampling": self.spec.sampling(),
            "answer_tokens": adapter.answer_tokens if budget.kind == "forced" else None,
            "final_answer_request": adapter.final_answer_request if budget.kind == "forced" else None,
        }

    def jobs(self, finished: set[str]) -> Iterator[Job]:
        endpoint = self.client.endpoint
        requests = {}
        for adapter, item in self.items:
            shared_messages = _canonical(item.messages)
            for budget in self.spec.budgets:
                request = requests.get((adapter.task, budget))
                if request is None:
                    request = requests[(adapter.task, budget)] = _canonical(self._request(adapter, budget))
                for j in range(self.spec.samples):
                    prompt = adapter.prompt(item, j)
                    # Most samples see the item's own messages: serialised once above.
                    messages = shared_messages if prompt.messages is item.messages else prompt.messages
                    seed = sample_seed(self.spec.seed, item.id, budget.label, j)
                    key = sample_key(endpoint.cache_identity, endpoint.model, messages, request, j, seed)
                    if key in finished:
                        self.stats.skipped += 1
                        continue
                    yield Job(adapter, item, budget, j, seed, prompt, key)

    def _row(self, job: Job, gen: Generation | None, error: str | None, attempts: int) -> dict:
        answer = None
        verdict = Verdict(False, 0.0)
        if gen is not None:
            answer = job.adapter.parse(gen.answer_text, job.item, job.prompt)
            if answer is not None:
                verdict = job.adapter.verify(job.item, answer)
        return {
            "key": job.key,
            "run_id": self.run_id,
            "task": job.item.task,
            "level": job.item.level,
            "item": job.item.id,
            "budget": job.budget.label,
            "requested_tokens": job.budget.requested_tokens,
            "sample": job.sample,
            "seed": job.seed,
            "response": gen.text if gen else None,
            "reasoning": gen.reasoning if gen else None,
            "answer": answer,
            "gold": job.item.gold,
            "parse_ok": answer is not None,
            "correct": verdict.correct,
            "partial": verdict.partial,
            "scores": verdict.scores or None,
            "prompt_meta": job.prompt.meta or None,
            "finish_reason": gen.finish_reason if gen else None,
            "truncated": gen.truncated if gen else False,
            "forced_answer": gen.forced_answer if gen else False,
            "turns": gen.turns if gen else 0,
            "prompt_tokens": gen.prompt_tokens if gen else 0,
            "completion_tokens": gen.completion_tokens if gen else 0,
            "reasoning_tokens": gen.reasoning_tokens if gen else 0,
            "reasoning_tokens_estimated": gen.reasoning_tokens_estimated if gen else False,
            "usage_estimated": gen.usage_estimated if gen else False,
            "latency_s": round(gen.latency_s, 4) if gen else None,
            "attempts": gen.attempts if gen else attempts,
            "error": error,
            "cached": False,
        }

    def batches(self, jobs: Iterator[Job]) -> Iterator[list[Job]]:
        """Jobs to send together: with the n parameter, consecutive samples of one item and
        budget that see the same messages share a request; otherwise one job each."""
        if not self.spec.n_parameter:
            for job in jobs:
                yield [job]
            return
        batch: list[Job] = []
        for job in jobs:
            if batch and (job.item.id, job.budget, job.prompt.messages) != (batch[0].item.id, batch[0].budget, batch[0].prompt.messages):
                yield batch
                batch = []
            batch.append(job)
        if batch:
            yield batch

    async def _run_batch(self, batch: list[Job]) -> list[dict]:
        first = batch[0]
        sampling = {**self.spec.sampling(), "seed": first.seed}
        try:
            if len(batch) > 1:
                gens = await generate_n(
                    self.client, first.prompt.messages, first.budget,
                    sampling=sampling, n=len(batch), answer_tokens=first.adapter.answer_tokens,
                )
            else:
                gens = [
                    await generate(
                        self.client, first.prompt.messages, first.budget,
                        sampling=sampling,
                        answer_tokens=first.adapter.answer_tokens,
                        final_answer_request=first.adapter.final_answer_request,
                    )
                ]
        except SampleError as exc:
            return [self._row(job, None, exc.reason, exc.attempts) for job in batch]
        return [self._row(job, gen, None, gen.attempts) for job, gen in zip(batch, gens)]

    async def run(self, concurrency: int, on_progress: Callable[[RunStats], None] | None = None) -> RunStats:
        finished = set() if self.spec.fresh else self.store.finished_keys()
        jobs = self.jobs(finished)
        self.stats.started = time.perf_counter()
        self.store.open_for_append()  # a no-op when the sweep already holds the lock

        batches = self.batches(jobs)

        async def worker() -> None:
            for batch in batches:  # one shared iterator: no job is taken twice
                for row in await self._run_batch(batch):
                    self.store.append(row)
                    self.stats.done += 1
                    self.stats.errors += row["error"] is not None
                    self.stats.prompt_tokens += row["prompt_tokens"]
                    self.stats.completion_tokens += row["completion_tokens"]
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
