"""One item at one budget, reduced to what the metrics read: :class:`ItemTally`.

The summary tallies every (task, level, item, budget) in one pass over the sample rows; the
gate tallies each side of an item's paired samples. A metric function (registry.py) reads
a tally, never the rows, so both see the same counts and the same votes:

- ``n``: scored samples (a request that finally failed is not scored), ``correct`` of them
  right, ``unparsed`` of them without an answer;
- ``votes``: vote key (``ttc_bench.sample.vote_key``) -> [samples, correct] of the parsed
  answers, what a majority vote counts; ``accepted``: the vote keys the family's gold-free
  checker accepted (``checked`` on the rows), ``unchecked`` parsed samples without a check;
- ``rows``: every sample, ``errors`` of them failed requests;
- ``completion``: completion tokens of each scored sample (int64 array buffer).

Rows are dicts with the :data:`SCORED_FIELDS` of a sample (a :class:`~ttc_bench.sample.Sample`
becomes one with :func:`scored_row`), so a million-sample run is tallied without keeping
any response text.
"""

from __future__ import annotations

from array import array
from operator import attrgetter
from typing import Iterable, Iterator

from ..budgets import budget_of
from ..sample import Sample, vote_key

# The sample fields the tally reads.
SCORED_FIELDS = (
    "task", "level", "item", "budget", "requested_tokens", "answer", "correct", "partial", "scores",
    "truncated", "reasoning_tokens_estimated", "completion_tokens", "reasoning_tokens",
    "prompt_tokens", "reread_tokens", "latency_s", "attempts", "turns", "error", "checked",
)  # fmt: skip
# The response text itself is not kept (it can be megabytes): its hash is enough to tell
# identical samples apart (identical_sample_rate).
DIGEST_FIELD = "response_digest"
_ROW_FIELDS = SCORED_FIELDS + (DIGEST_FIELD,)
_take = attrgetter(*SCORED_FIELDS)


def scored_row(sample: Sample) -> dict:
    """The fields of a sample the tally reads, and a digest of its response."""
    return dict(zip(_ROW_FIELDS, _take(sample) + (hash(sample.response or ""),)))


def latest_scored(samples: Iterable[Sample]) -> list[tuple]:
    """The last sample written of each sample identity (task, item, budget, sample index),
    each a compact tuple of :data:`SCORED_FIELDS` and the response digest (:func:`as_rows`
    makes rows of them); one string object per distinct task, level, item and budget, so a
    million samples fit in a few hundred MB.

    A retried error replaces its row (same key). A sample requested again because its item
    changed (a corrected answer key: the key holds the gold) replaces the stale row too, so
    the summary scores today's items, never the old and the new answer twice."""
    latest: dict[tuple, tuple] = {}
    names: dict[str, str] = {}
    name = names.setdefault
    for sample in samples:
        v = _take(sample)
        task, item, budget = name(v[0], v[0]), name(v[2], v[2]), name(v[3], v[3])
        latest[(task, item, budget, sample.sample)] = (task, name(v[1], v[1]), item, budget) + v[4:] + (
            hash(sample.response or ""),
        )
    return list(latest.values())


def as_rows(values: Iterable[tuple]) -> Iterator[dict]:
    """Rows of :func:`latest_scored` tuples, one at a time."""
    for v in values:
        yield dict(zip(_ROW_FIELDS, v))


def used_field(label: str) -> str:
    """The sample field holding what a budget caps (budgets.KINDS); completion tokens for a
    label this version cannot read."""
    budget = budget_of(label)
    return budget.used_field if budget else "completion_tokens"


class ItemTally:
    """The samples of one item at one budget, reduced to what the metrics need."""

    __slots__ = (
        "task", "level", "item", "budget", "requested", "field", "reasoning_used", "rows", "errors",
        "retries", "n", "correct", "unparsed", "truncated", "estimated", "partial", "has_partial", "scores",
        "votes", "completion", "used", "reasoning", "reasoning_unknown", "prompt", "reread", "latency", "timed",
        "first_text", "all_same", "accepted", "unchecked",
    )  # fmt: skip

    def __init__(self, task=None, level=None, item=None, budget="", requested=None):
        self.task, self.level, self.item, self.budget = task, level, item, budget
        self.requested = requested
        self.field = used_field(budget)
        self.reasoning_used = self.field == "reasoning_tokens"
        self.rows = self.errors = self.retries = self.n = self.correct = self.unparsed = 0
        self.truncated = self.estimated = 0
        self.partial = 0.0
        self.has_partial = False
        self.scores: dict[str, list] = {}
        self.votes: dict[str, list] = {}
        self.accepted: set[str] = set()
        self.unchecked = 0
        self.completion = array("q")
        self.used = array("q")
        self.reasoning = self.prompt = self.reread = 0
        self.latency = 0.0
        self.reasoning_unknown = 0  # samples whose provider hides and does not count reasoning
        self.timed = 0  # samples with a latency (batch engines report none: queue time is not latency)
        # Identical text across all samples of an item usually means the endpoint ignores
        # seed/temperature; a hash keeps the check in constant memory.
        self.first_text: int | None = None
        self.all_same = True

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> "ItemTally":
        """The tally of some samples of one item (the gate: one side of its pairs)."""
        tally = cls()
        for sample in samples:
            tally.add(scored_row(sample))
        return tally

    def add(self, row: dict) -> None:
        # The hot loop of scoring (once per sample row): one lookup per field, no helpers.
        get = row.get
        self.rows += 1
        attempts = get("attempts") or 1
        turns = get("turns") or 1
        if attempts > turns:
            self.retries += attempts - turns
        if get("error") is not None:
            self.errors += 1
            return
        self.n += 1
        text = get(DIGEST_FIELD)  # rows read from samples.jsonl carry a digest
        if text is None:
            text = hash(get("response") or "")
        if self.first_text is None:
            self.first_text = text
        elif text != self.first_text:
            self.all_same = False
        correct = bool(row["correct"])
        self.correct += correct
        partial = get("partial")
        if partial is not None:
            self.partial += partial
            if partial != correct:
                self.has_partial = True
        scores = get("scores")
        if scores:
            self.has_partial = True
            for name, value in scores.items():
                if value is not None:
                    entry = self.scores.setdefault(name, [0.0, 0])
                    entry[0] += float(value)
                    entry[1] += 1
        vote = vote_key(get("answer"))
        if vote is None:
            self.unparsed += 1
        else:
            entry = self.votes.get(vote)
            if entry is None:
                self.votes[vote] = [1, correct]
            else:
                entry[0] += 1
            checked = get("checked")
            if checked:
                self.accepted.add(vote)
            elif checked is None:
                self.unchecked += 1
        if get("truncated"):
            self.truncated += 1
        if get("reasoning_tokens_estimated"):
            self.estimated += 1
        completion = int(get("completion_tokens") or 0)
        reasoning = get("reasoning_tokens")
        self.completion.append(completion)
        if reasoning is None:
            # Hidden and uncounted (Anthropic): unknown, never 0. What the budget caps is
            # then only visible in completion_tokens, which include the hidden reasoning.
            self.reasoning_unknown += 1
            self.used.append(completion)
        else:
            reasoning = int(reasoning)
            self.used.append(reasoning if self.reasoning_used else completion)
            self.reasoning += reasoning
        self.prompt += get("prompt_tokens") or 0
        self.reread += get("reread_tokens") or 0  # budget forcing reads its context again
        latency = get("latency_s")
        if latency is not None:
            self.latency += latency
            self.timed += 1
