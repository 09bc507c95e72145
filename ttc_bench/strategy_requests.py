"""The requests of strategies that ask the model again after sampling (selfverify, revise),
and where they are kept: the run folder's ``strategies/samples.jsonl``.

That file is a sample store of its own (store.RunStore on the ``strategies`` subfolder):
the same lock, whole-line appends, torn-tail repair and resume by key as samples.jsonl.
A row is a :class:`~ttc_bench.sample.Sample` with ``strategy`` set; its key hashes
everything that decides the reply (endpoint, model, messages, request fields, seed), so an
interrupted strategy resumes without asking anything twice, and a candidate that appears
only after more samples were drawn is judged then.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .adapters.base import Item, TaskAdapter
from .budgets import Budget
from .errors import UserError
from .models.client import ChatClient
from .models.failures import SampleError
from .models.generation import generate
from .plan import Plan, sample_key, sample_seed, with_generation
from .runner import RefusalStreak
from .sample import Sample, vote_key
from .store import RunStore, read_rows
from .strategies import STORE_FOLDER
from .strategies.revise import feedback
from .strategies.selfverify import JUDGE_CUE, JUDGE_TOKENS, judge_messages, parse_verdict

def strategy_store(run_dir: Path) -> RunStore:
    return RunStore(Path(run_dir) / STORE_FOLDER)


@dataclass(frozen=True)
class Judging:
    adapter: TaskAdapter
    item: Item
    budget: Budget
    answer: str  # the candidate: a distinct parsed answer of the item's samples
    parent: str  # the key of a sample holding it
    messages: list
    seed: int
    key: str


@dataclass
class JudgingStats:
    candidates: int = 0
    reused: int = 0
    sent: int = 0
    errors: int = 0
    completion_tokens: int = 0


def _candidates(run_dir: Path) -> dict[tuple[str, str, str], dict[str, tuple[str, str]]]:
    """(task, item id, budget) -> vote key -> (answer, key of its first sample), from the
    latest row of each sample of samples.jsonl (scored, parsed)."""
    latest: dict[tuple, dict] = {}
    path = Path(run_dir) / "samples.jsonl"
    if path.exists():
        for row in read_rows(path):
            latest[(row.get("task"), row.get("item"), row.get("budget"), row.get("sample"))] = row
    found: dict[tuple, dict] = defaultdict(dict)
    for (task, item, budget, _), row in sorted(latest.items(), key=lambda kv: kv[0][3] or 0):
        vote = vote_key(row.get("answer"))
        if row.get("error") is None and vote is not None:
            found[(task, item, budget)].setdefault(vote, (row["answer"], row["key"]))
    return found


def judgings(plan: Plan, run_dir: Path) -> Iterator[Judging]:
    """One judging request per distinct answer of every item and budget of the plan."""
    candidates = _candidates(run_dir)
    for adapter, item in plan.items():
        for budget in plan.spec.budgets:
            found = candidates.get((adapter.task, item.id, budget.label))
            if not found:
                continue
            request = json.dumps({
                "strategy": "selfverify", "budget": budget.label, "profile": plan.profile.name,
                "fields": plan.fields(adapter, budget), "cue": JUDGE_CUE if budget.kind == "forced" else None,
            }, sort_keys=True)  # fmt: skip
            for vote, (answer, parent) in sorted(found.items()):
                messages = judge_messages(item.messages, adapter.shown_answer(item, answer))
                seed = sample_seed(plan.spec.seed, item.id, f"{budget.label}/selfverify/{vote}", 0)
                key = sample_key(plan.identity, plan.model, messages, f"{request}|{vote}", 0, seed)
                yield Judging(adapter, item, budget, answer, parent, messages, seed, key)


def _row(plan: Plan, job: Judging, gen, error: str | None, attempts: int) -> Sample:
    verdict = parse_verdict(gen.answer_text) if gen is not None else None
    row = Sample(
        key=job.key, run_id=plan.run_id, task=job.item.task, level=job.item.level, item=job.item.id,
        budget=job.budget.label, requested_tokens=job.budget.requested_tokens, sample=0, seed=job.seed,
        answer=job.answer, gold=job.item.gold, parse_ok=verdict is not None,
        correct=job.adapter.verify(job.item, job.answer).correct, attempts=attempts, error=error,
        strategy="selfverify", parent=job.parent, verdict=verdict,
    )  # fmt: skip
    return with_generation(row, gen) if gen is not None else row


async def judge_candidates(plan: Plan, client: ChatClient, run_dir: Path, concurrency: int, log=None) -> JudgingStats:
    """Send every judging request the strategies store does not hold yet; returns counts."""
    store = strategy_store(run_dir)
    finished = store.finished_keys()
    stats = JudgingStats()
    store.open_for_append()
    jobs = iter(list(judgings(plan, run_dir)))
    refusals = RefusalStreak(client.endpoint.public_url, plan.profile.name)

    async def worker() -> None:
        for job in jobs:  # one shared iterator: no candidate is judged twice
            stats.candidates += 1
            if job.key in finished:
                stats.reused += 1
                continue
            try:
                gen = await generate(
                    client, job.messages, job.budget, plan.fields(job.adapter, job.budget),
                    sampling=plan.spec.sampling(), seed=job.seed, cue=JUDGE_CUE, answer_tokens=JUDGE_TOKENS,
                )  # fmt: skip
                row = _row(plan, job, gen, None, gen.attempts)
                refusals.succeeded()
            except SampleError as exc:
                row = _row(plan, job, None, exc.reason, exc.attempts)
                stats.errors += 1
                store.append(row)
                stats.sent += 1
                refusals.failed(exc)  # the same refusal 20 times in a row stops here
                continue
            store.append(row)
            stats.sent += 1
            stats.completion_tokens += row.completion_tokens

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except* UserError as eg:  # unreachable endpoint, disk full: one line
        raise eg.exceptions[0] from None
    finally:
        store.close()
    if log and stats.candidates:
        log(f"selfverify: {stats.candidates} candidates judged ({stats.reused} stored, {stats.sent} requested, "
            f"{stats.errors} errors, {stats.completion_tokens} completion tokens)")
    return stats


def _stored(run_dir: Path, strategy: str) -> dict[str, dict]:
    """The latest stored row of each key of one strategy that did not fail."""
    path = Path(run_dir) / STORE_FOLDER / "samples.jsonl"
    latest: dict[str, dict] = {}
    if path.exists():
        for row in read_rows(path):
            if row.get("strategy") == strategy:
                latest[row["key"]] = row
    return {key: row for key, row in latest.items() if row.get("error") is None}


def _first_samples(run_dir: Path) -> dict[tuple[str, str, str], dict]:
    """(task, item id, budget) -> the latest row of its sample 0, where it was scored."""
    found: dict[tuple, dict] = {}
    path = Path(run_dir) / "samples.jsonl"
    if path.exists():
        for row in read_rows(path):
            if row.get("sample") == 0:
                found[(row.get("task"), row.get("item"), row.get("budget"))] = row
    return {key: row for key, row in found.items() if row.get("error") is None}


@dataclass
class RevisionStats:
    chains: int = 0
    rounds: int = 0
    reused: int = 0
    sent: int = 0
    errors: int = 0
    completion_tokens: int = 0


async def revise_answers(plan: Plan, client: ChatClient, run_dir: Path, rounds: int, concurrency: int,
                         log=None) -> RevisionStats:
    """Up to ``rounds`` revision rounds from each item's first sample at each budget
    (strategies/revise.py). A round's request continues the conversation with the previous
    reply, so rounds of one item run in order; items run concurrently. Stored rounds are
    reused by key (their reply is what the next round sees)."""
    store = strategy_store(run_dir)
    stored = _stored(run_dir, "revise")
    firsts = _first_samples(run_dir)
    stats = RevisionStats()
    store.open_for_append()
    chains = iter([(adapter, item, budget) for adapter, item in plan.items() for budget in plan.spec.budgets
                   if (adapter.task, item.id, budget.label) in firsts])  # fmt: skip
    refusals = RefusalStreak(client.endpoint.public_url, plan.profile.name)

    async def chain(adapter: TaskAdapter, item: Item, budget: Budget) -> None:
        first = firsts[(adapter.task, item.id, budget.label)]
        prompt = adapter.prompt(item, 0)
        messages = list(prompt.messages)
        text, answer, parent = first.get("response") or "", first.get("answer"), first["key"]
        request = json.dumps({
            "strategy": "revise", "budget": budget.label, "profile": plan.profile.name,
            "fields": plan.fields(adapter, budget),
        }, sort_keys=True)  # fmt: skip
        for r in range(1, rounds + 1):
            found = adapter.check(item, answer) if adapter.has_checker and answer is not None else None
            ask = feedback(None if not adapter.has_checker else (found.violations if found else []), answer is not None)
            if ask is None:
                return  # the checker accepts the answer: nothing left to revise
            messages = messages + [{"role": "assistant", "content": text}, {"role": "user", "content": ask}]
            seed = sample_seed(plan.spec.seed, item.id, f"{budget.label}/revise", r)
            key = sample_key(plan.identity, plan.model, messages, request, r, seed)
            stats.rounds += 1
            row = stored.get(key)
            if row is not None:
                stats.reused += 1
                text, answer = row.get("response") or "", row.get("answer")
            else:
                try:
                    gen = await generate(
                        client, messages, budget, plan.fields(adapter, budget), sampling=plan.spec.sampling(),
                        seed=seed, cue=adapter.answer_cue, answer_tokens=adapter.answer_tokens,
                    )  # fmt: skip
                except SampleError as exc:
                    store.append(_revision(plan, adapter, item, budget, prompt, key, seed, parent, r, None, exc.reason, exc.attempts))
                    stats.sent += 1
                    stats.errors += 1
                    refusals.failed(exc)  # the same refusal 20 times in a row stops here
                    return  # retried when the same command runs again
                refusals.succeeded()
                sample = _revision(plan, adapter, item, budget, prompt, key, seed, parent, r, gen, None, gen.attempts)
                store.append(sample)
                stats.sent += 1
                stats.completion_tokens += sample.completion_tokens
                text, answer = sample.response or "", sample.answer
            parent = key

    async def worker() -> None:
        for adapter, item, budget in chains:  # one shared iterator: each chain once
            stats.chains += 1
            await chain(adapter, item, budget)

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(max(1, concurrency)):
                group.create_task(worker())
    except* UserError as eg:
        raise eg.exceptions[0] from None
    finally:
        store.close()
    if log and stats.chains:
        log(f"revise: {stats.chains} first samples, {stats.rounds} revision rounds ({stats.reused} stored, "
            f"{stats.sent} requested, {stats.errors} errors, {stats.completion_tokens} completion tokens)")
    return stats


def _revision(plan: Plan, adapter: TaskAdapter, item: Item, budget: Budget, prompt, key: str, seed: int, parent: str,
              round_: int, gen, error: str | None, attempts: int) -> Sample:
    """A revision round's row: its reply parsed, verified and checked like a sample's."""
    answer = adapter.parse(gen.answer_text, item, prompt) if gen is not None else None
    verdict = adapter.verify(item, answer) if answer is not None else None
    row = Sample(
        key=key, run_id=plan.run_id, task=item.task, level=item.level, item=item.id, budget=budget.label,
        requested_tokens=budget.requested_tokens, sample=0, seed=seed, answer=answer, gold=item.gold,
        parse_ok=answer is not None, correct=bool(verdict and verdict.correct),
        partial=verdict.partial if verdict else 0.0, scores=(verdict.scores or None) if verdict else None,
        prompt_meta=prompt.meta or None, attempts=attempts, error=error,
        checked=adapter.checked(item, answer) if answer is not None else None,
        strategy="revise", parent=parent, round=round_,
    )  # fmt: skip
    return with_generation(row, gen) if gen is not None else row
