"""The plan of a run: items x budgets x samples as a lazy stream of jobs, each with its seed
and its resume key, and the Sample row a job's answer becomes.

The plan needs no connection: the live runner, ``export-requests``, ``import-results`` and
``run --batch`` all walk the same plan, so a sample has one key and one row whichever way
its answer arrived. Samples of one item are consecutive (a server reuses the prompt prefix
it just processed), and memory stays flat however large the sweep.

With ``--shard I/N`` the plan keeps the items whose id hashes to shard I: a pure function of
the item id, so the split does not depend on ``--limit``, on the order of tasks, or on the
other shards, and every sample of an item lands in the same shard.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Iterator

from .adapters.base import Item, Prompt, TaskAdapter, Verdict, item_id
from .budgets import Budget
from .models.generation import Generation
from .models.profiles import Profile
from .models.request import request_fields
from .sample import Sample
from .spec import RunSpec, parse_shard


@dataclass(frozen=True)
class Job:
    adapter: TaskAdapter
    item: Item
    budget: Budget
    sample: int
    seed: int
    prompt: Prompt
    key: str


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


def shard_of(item: str, count: int) -> int:
    """The shard (1-based) of ``count`` an item id belongs to."""
    digest = hashlib.sha256(item.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


class Plan:
    """What a run asks for. ``identity`` names the endpoint in every key (its redacted base
    URL, or the embedded model's file), ``model`` is the name requests carry."""

    def __init__(self, spec: RunSpec, profile: Profile, identity: str, model: str, run_id: str):
        self.spec, self.profile, self.identity, self.model, self.run_id = spec, profile, identity, model, run_id
        self.shard = parse_shard(spec.shard) if spec.shard else None
        self.skipped = 0  # keys a jobs() walk found finished
        # Counted here but made one at a time in items(): memory does not grow with --limit.
        # Datasets load (and fail) here, before any request.
        self.levels: list[tuple[TaskAdapter, str, int]] = []
        for task in spec.tasks:
            adapter = task.adapter
            for level in task.levels:
                available = adapter.available(level)
                self.levels.append((adapter, level, task.items if available is None else min(task.items, available)))
        items = sum(self._count(adapter, level, count) for adapter, level, count in self.levels)
        self.planned = items * len(spec.budgets) * spec.samples
        self._fields: dict[tuple[str, Budget], dict] = {}

    def _indexes(self, adapter: TaskAdapter, level: str, count: int) -> Iterator[int]:
        if self.shard is None:
            yield from range(count)
            return
        index, shards = self.shard
        for i in range(count):
            if shard_of(item_id(adapter.task, level, i), shards) == index:
                yield i

    def _count(self, adapter: TaskAdapter, level: str, count: int) -> int:
        return count if self.shard is None else sum(1 for _ in self._indexes(adapter, level, count))

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
            for index in self._indexes(adapter, level, count):
                yield adapter, adapter.item(self.spec.seed, level, index)

    def jobs(self, finished: set[str] | frozenset = frozenset(), stored: set[tuple] | frozenset = frozenset()) -> Iterator[Job]:
        """Every job of the plan whose key is not in ``finished`` (those are counted in
        ``skipped``); a job whose identity is in ``stored`` under another key is a sample of
        an item that changed since it was stored (counted in ``changed``)."""
        self.skipped = self.changed = 0
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
                    key = sample_key(self.identity, self.model, messages, keyed, j, seed)
                    if key in finished:
                        self.skipped += 1
                        continue
                    if stored and (adapter.task, item.id, budget.label, j) in stored:
                        self.changed += 1
                    yield Job(adapter, item, budget, j, seed, prompt, key)

    def row(self, job: Job, gen: Generation | None, error: str | None, attempts: int) -> Sample:
        """The samples.jsonl row of a job: its answer parsed and verified, or its error."""
        answer = None
        verdict = Verdict(False, 0.0)
        checked = None
        if gen is not None:
            answer = job.adapter.parse(gen.answer_text, job.item, job.prompt)
            if answer is not None:
                verdict = job.adapter.verify(job.item, answer)
                checked = job.adapter.checked(job.item, answer)
        sample = Sample(
            key=job.key, run_id=self.run_id, task=job.item.task, level=job.item.level, item=job.item.id,
            budget=job.budget.label, requested_tokens=job.budget.requested_tokens, sample=job.sample, seed=job.seed,
            answer=answer, gold=job.item.gold, parse_ok=answer is not None, correct=verdict.correct,
            partial=verdict.partial, scores=verdict.scores or None, prompt_meta=job.prompt.meta or None,
            source=job.item.meta.get("source"), attempts=attempts, error=error, checked=checked,
        )
        if gen is not None:
            with_generation(sample, gen)
        return sample


def with_generation(sample: Sample, gen: Generation) -> Sample:
    """A row given what its request returned: the text and every usage figure."""
    sample.response, sample.reasoning = gen.text, gen.reasoning
    sample.finish_reason, sample.truncated, sample.forced_answer = gen.finish_reason, gen.truncated, gen.forced_answer
    sample.turns, sample.prompt_tokens, sample.reread_tokens = gen.turns, gen.prompt_tokens, gen.reread_tokens
    sample.completion_tokens, sample.reasoning_tokens = gen.completion_tokens, gen.reasoning_tokens
    sample.reasoning_tokens_estimated, sample.usage_estimated = gen.reasoning_tokens_estimated, gen.usage_estimated
    sample.reasoning_added, sample.latency_s = gen.reasoning_added, round(gen.latency_s, 4)
    return sample
