"""A sample's requests one turn at a time, answered from stored response bodies.

Offline engines (a provider's Batch API, ``vllm run-batch``, Ray Data) answer a file of
requests, not a conversation: a budget that needs several turns (``forced:N`` continues
the model's own message after it is cut off) runs as successive rounds. Rather than
re-implementing budget forcing for files, :func:`replay` runs the very code a live sample
runs (models/generation.py ``generate``) against :class:`ReplayClient`, which answers
each request from the stored body of that turn and, at the first turn it has no answer
for, stops with :class:`NeedsRequest` carrying the exact body the live client would POST.
So an exported request equals the live one by construction, and an imported result is
read by the same reader (models/response.py ``read_choices``) with the same profile.
"""

from __future__ import annotations

from typing import Any, Callable

from ..budgets import Budget
from .client import Endpoint, prompt_chars
from .failures import SampleError
from .generation import Generation, generate
from .response import FewerChoices, MalformedResponse, read_choices


class NeedsRequest(Exception):
    """The sample needs turn ``turn`` answered: POST ``body`` to ``path`` (relative to the
    base URL, like ChatClient.request's ``path``)."""

    def __init__(self, turn: int, body: dict, path: str, replace_path: bool):
        super().__init__(f"turn {turn} has no answer yet")
        self.turn, self.body, self.path, self.replace_path = turn, body, path, replace_path


class ReplayClient:
    """Stands in for ChatClient inside ``generate``: the same body building (model first,
    ``n`` only above 1), answers read from ``answers`` (one response body per turn)."""

    def __init__(self, endpoint: Endpoint, answers: list[Any], scrub: Callable[[str], str] | None = None):
        self.endpoint = endpoint
        self.profile = endpoint.profile
        self.answers = answers
        self.scrub = scrub
        self.turns = 0
        self.n_served = None

    async def request(self, body: dict, n: int = 1, path: str = "chat/completions", replace_path: bool = False) -> list:
        body = {"model": self.endpoint.model, **body}  # exactly as ChatClient.request builds it
        if n > 1:
            body["n"] = n
        self.turns += 1
        if self.turns > len(self.answers):
            raise NeedsRequest(self.turns, body, path, replace_path)
        answer = self.answers[self.turns - 1]
        try:
            # No latency is measured offline: the engine queued the request for hours.
            completions = read_choices(self.profile, answer, n, latency_s=0.0, attempts=1, prompt_chars=prompt_chars(body))
        except (MalformedResponse, FewerChoices) as exc:
            raise SampleError(f"{type(exc).__name__}: {exc}", self.turns) from None
        if self.scrub:
            for c in completions:
                c.content, c.reasoning = self.scrub(c.content), self.scrub(c.reasoning) if c.reasoning else c.reasoning
        return completions


def replay(endpoint: Endpoint, messages: list[dict], budget: Budget, fields: dict, *, sampling: dict, seed: int,
           cue: str, answer_tokens: int, answers: list[Any], scrub=None) -> Generation:
    """The sample's Generation from its answered turns (response bodies); NeedsRequest when
    a turn is missing, SampleError when an answered turn cannot be read."""
    client = ReplayClient(endpoint, answers, scrub)
    coroutine = generate(client, messages, budget, fields, sampling=sampling, seed=seed, cue=cue,
                         answer_tokens=answer_tokens)
    # ReplayClient never suspends, so the coroutine runs to its end in one step: no event
    # loop per sample (a million samples replay in seconds).
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("replay suspended: ReplayClient must answer without awaiting")
