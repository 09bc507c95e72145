"""``ttc-bench probe``: what an endpoint really does, in a handful of small requests.

It reports the profile chosen, which sampling parameters are accepted, whether reasoning
text is visible and reasoning tokens are counted, whether ``n`` and ``seed`` work, and for
each budget asked whether it changes how long the model reasons (requested vs used),
flagging a budget the endpoint silently ignores. Every request is an arithmetic question
whose answer the probe can check.
"""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from dataclasses import dataclass, field

from .adapters.arithmetic import Arithmetic
from .connect import connect
from .errors import UserError
from .budgets import Budget
from .models.client import ChatClient
from .models.failures import NotServingN, SampleError
from .models.generation import generate
from .models.preflight import preflight
from .models.request import check_budget, request_fields
from .spec import RunSpec

SMALL_CAP = 16  # tokens for the requests that only test whether a field is accepted
SEED = 1234
# A budget whose used tokens exceed the request by more than this share is not honoured.
OVERRUN = 0.25


@dataclass
class Finding:
    what: str
    result: str
    ok: bool | None = True  # None: informational


@dataclass
class ProbeReport:
    profile: str
    chosen: str
    findings: list[Finding] = field(default_factory=list)
    budgets: list[dict] = field(default_factory=list)

    def add(self, what: str, result: str, ok: bool | None = True) -> None:
        self.findings.append(Finding(what, result, ok))

    def to_dict(self) -> dict:
        return {"profile": self.profile, "chosen_by": self.chosen,
                "findings": [f.__dict__ for f in self.findings], "budgets": self.budgets}


def _question(level: str = "add-2d"):
    adapter = Arithmetic()
    item = adapter.items(SEED, level, 1)[0]
    return adapter, item


async def _try(client: ChatClient, body: dict, **kwargs):
    """(completions, None) or (None, reason)."""
    try:
        return await client.request(body, **kwargs), None
    except SampleError as exc:
        return None, exc.reason
    except NotServingN as exc:
        return None, f"n refused or ignored ({exc})"


async def _basic(client, report, messages) -> None:
    found, reason = await _try(client, {"messages": messages, client.profile.token_cap: 1024})
    if found is None:
        report.add("a plain request", f"refused: {reason}", False)
        return
    c = found[0]
    if c.reasoning:
        report.add("reasoning text", "visible (a reasoning field or <think> tags)")
    elif client.profile.hides_reasoning:
        report.add("reasoning text", "hidden by the provider", None)
    else:
        report.add("reasoning text", "none returned (the model reasons in its answer, if at all)", None)
    if not c.reasoning and not client.profile.hides_reasoning:
        report.add("reasoning tokens", "no separate reasoning: the whole reply is completion tokens", None)
    elif c.reasoning_tokens is None:
        report.add("reasoning tokens", "not reported: unknown (stored as null, never 0)", None)
    elif c.reasoning_tokens_estimated:
        report.add("reasoning tokens", "not reported: estimated from the text (flagged)", None)
    else:
        report.add("reasoning tokens", f"reported ({c.reasoning_tokens} of {c.completion_tokens} completion tokens)")


async def _sampling(client, report, messages) -> None:
    cap = {client.profile.token_cap: SMALL_CAP}
    for name, value in (("temperature", 0.7), ("top_p", 0.9)):
        found, reason = await _try(client, {"messages": messages, **cap, name: value})
        documented = "accepted" if name in client.profile.sampling else "refused"
        if found is not None:
            report.add(f"{name}={value}", f"accepted (profile: {documented})", documented == "accepted")
        else:
            report.add(f"{name}={value}", f"refused: {reason[:160]} (profile: {documented})", documented == "refused")


async def _n_and_seed(client, report, messages) -> None:
    cap = {client.profile.token_cap: 24}
    found, reason = await _try(client, {"messages": messages, **cap}, n=2)
    if found is not None:
        report.add("n=2", "two choices in one request")
    else:
        report.add("n=2", f"not served: {reason[:160]}; use separate requests (the default)", None)
    texts = []
    for seed in (SEED, SEED, SEED + 1):
        got, reason = await _try(client, {"messages": messages, **cap, "seed": seed})
        if got is None:
            report.add("seed", f"refused: {reason[:160]}", client.profile.seed is False)
            return
        texts.append(got[0].content + (got[0].reasoning or ""))
    if texts[0] == texts[1] != texts[2]:
        report.add("seed", "reproducible: the same seed gives the same answer, another seed another one")
    elif texts[0] == texts[1] == texts[2]:
        report.add("seed", "every answer identical: sampling may be greedy, or seed and temperature ignored", None)
    else:
        report.add("seed", "the same seed gave different answers: not reproducible", None)


def _used(gen, budget: Budget) -> int:
    """What a budget caps: every completion token for tokens:N, else the reasoning (the
    whole reply when the model has no separate reasoning to count)."""
    if budget.kind == "tokens":
        return gen.completion_tokens
    return gen.reasoning_tokens or gen.completion_tokens


async def _budget(client, report, spec, budget: Budget, adapter, item) -> None:
    entry = {"budget": budget.label, "requested": budget.requested_tokens}
    report.budgets.append(entry)
    try:
        check_budget(client.profile, budget, client.endpoint.model, chat_template=client.endpoint.chat_template is not None)
    except UserError as exc:
        entry.update(status="refused by the profile", detail=str(exc))
        return
    fields = request_fields(client.profile, budget, spec.sampling(), adapter.answer_tokens)
    try:
        gen = await generate(client, item.messages, budget, fields, sampling=spec.sampling(), seed=SEED,
                             cue=adapter.answer_cue, answer_tokens=adapter.answer_tokens)
    except SampleError as exc:
        entry.update(status="refused by the endpoint", detail=exc.reason[:300])
        return
    answer = adapter.parse(gen.answer_text, item, adapter.prompt(item, 0))
    used = _used(gen, budget)
    entry.update(status="ok", used=used, reasoning_tokens=gen.reasoning_tokens, completion_tokens=gen.completion_tokens,
                 answered=answer is not None, correct=answer == item.gold, turns=gen.turns)
    limit = budget.requested_tokens
    if limit is not None and used > limit * (1 + OVERRUN) + (adapter.answer_tokens if budget.kind == "tokens" else 0):
        entry.update(status="IGNORED", detail=f"used {used} tokens with a budget of {limit}: the endpoint does not honour it")


def _compare_budgets(report) -> None:
    """Budgets of one kind whose used tokens are the same: the knob changes nothing."""
    by_kind: dict[str, list[dict]] = {}
    for entry in report.budgets:
        if entry.get("status") == "ok":
            by_kind.setdefault(entry["budget"].split(":")[0], []).append(entry)
    for kind, entries in by_kind.items():
        used = [e["used"] for e in entries]
        if len(entries) > 1 and None not in used and max(used) - min(used) <= max(2, 0.05 * max(used)):
            for e in entries:
                e.update(status="NO EFFECT", detail=f"every {kind}: budget used about {max(used)} tokens")


async def run_probe(client: ChatClient, spec: RunSpec, report: ProbeReport) -> ProbeReport:
    adapter, item = _question()
    try:
        await preflight(client)
        report.add("preflight", f"{client.endpoint.public_url} serves {client.endpoint.model!r}")
        await _basic(client, report, item.messages)
        await _sampling(client, report, item.messages)
        await _n_and_seed(client, report, item.messages)
        for budget in spec.budgets:
            await _budget(client, report, spec, budget, adapter, item)
        _compare_budgets(report)
    finally:
        await client.close()
    return report


def default_budgets(profile) -> list[Budget]:
    """Two budgets of every kind the profile supports, far enough apart to tell apart."""
    from .budgets import parse_budgets

    texts = ["tokens:64", "tokens:512"]
    if profile.efforts:
        texts += [f"effort:{level}" for level in (profile.efforts[0] if profile.efforts[0] != "none" else profile.efforts[1], profile.efforts[-1])]
    if profile.thinking:
        low = max(profile.thinking.minimum, 128)
        texts += [f"thinking:{low}", f"thinking:{low * 8}"]
    if profile.continuation and not profile.hides_reasoning:
        texts += ["forced:32", "forced:256"]
    return parse_budgets(list(dict.fromkeys(texts)))


def probe(spec: RunSpec, log, *, budgets_given: bool = True) -> ProbeReport:
    with ExitStack() as stack:
        connection = connect(spec, stack, log, check=False)
        if not budgets_given:
            spec.budgets = default_budgets(connection.endpoint.profile)
        client = ChatClient(connection.endpoint, concurrency=1, retry_window_s=10.0)
        report = ProbeReport(connection.endpoint.profile.name, connection.chosen)
        return asyncio.run(run_probe(client, spec, report))


def print_probe(report: ProbeReport, console) -> None:
    from rich.table import Table

    marks = {True: "[green]ok[/]", False: "[red]NO[/]", None: "[dim]-[/]"}
    table = Table(box=None, show_header=True, header_style="bold")
    for column in ("check", "result", ""):
        table.add_column(column)
    for f in report.findings:
        table.add_row(f.what, f.result, marks[f.ok])
    console.print(table)
    budgets = Table(box=None, show_header=True, header_style="bold")
    for column in ("budget", "requested", "used", "answered", "status"):
        budgets.add_column(column)
    for b in report.budgets:
        status = b.get("status", "")
        if b.get("detail"):
            status += f": {b['detail']}"
        budgets.add_row(b["budget"], str(b.get("requested") or "-"), str(b.get("used", "-")),
                        {True: "yes", False: "no"}.get(b.get("answered"), "-"), status)
    console.print(budgets)
