"""One sweep end to end: pick the endpoint (embedded or remote), record the manifest,
run the plan with a live progress line, then score and write summary.json."""

from __future__ import annotations

import asyncio
import platform
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from . import __version__
from .connect import connect
from .models.client import ChatClient, Endpoint
from .models.preflight import preflight
from .models.urls import redact_url
from .runner import Runner, RunStats
from .rebuild import summarize_run
from .report import write_reports
from .spec import RunSpec
from .store import RunStore


@dataclass
class SweepResult:
    run_dir: Path
    summary: dict
    stats: RunStats
    outputs: dict[str, Path]


def _versions(embedded: bool) -> dict:
    names = ["openai", "httpx", "tenacity", "numpy"] + (["llama_cpp_python"] if embedded else [])
    found = {"ttc-bench": __version__, "python": platform.python_version()}
    for name in names:
        try:
            found[name] = metadata.version(name.replace("_", "-"))
        except metadata.PackageNotFoundError:
            continue
    return found


def redacted_argv(argv: list[str]) -> list[str]:
    """argv safe to store: credentials in a URL are redacted whether the URL is its own
    argument or the value of ``--flag=URL``."""
    out = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        if eq and flag.startswith("-") and "://" in value:
            out.append(f"{flag}={redact_url(value)}")
        else:
            out.append(redact_url(arg) if "://" in arg else arg)
    return out


def _manifest(spec: RunSpec, endpoint: Endpoint, run_id: str, previous: dict | None, argv: list[str],
              chosen: str, requests: dict, warnings: list[str]) -> dict:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    sent = {k: v for k, v in spec.sampling().items() if v is not None}
    return {
        "run_id": run_id,
        "created": (previous or {}).get("created", now),
        "updated": now,
        "spec": spec.to_dict(),
        "endpoint": {
            "base_url": endpoint.public_url if not spec.embedded else None,
            "model": endpoint.model,
            "api": endpoint.profile.name,
            "profile": endpoint.profile.title,
            "profile_chosen_by": chosen,
            "identity": endpoint.cache_identity,
            "embedded": spec.embedded,
            "api_key_env": endpoint.api_key_env,
        },
        # Exactly what the first request of each task and budget carries (besides the
        # messages, the model and a per-sample seed), and the sampling in force.
        "requests": requests,
        "sampling": {"sent": sent, "in_force": sent or f"provider default: {endpoint.profile.default_temperature}"},
        "warnings": warnings,
        "versions": _versions(spec.embedded),
        "command": redacted_argv(argv),
        "platform": platform.platform(),
    }


def cost_usd(prices: dict | None, prompt_tokens: float, completion_tokens: float) -> float | None:
    if not prices:
        return None
    return (prompt_tokens * prices["input_per_million"] + completion_tokens * prices["output_per_million"]) / 1e6


class _Progress:
    """One live line: done/total, tokens/s, errors, retries, resumed, cost, ETA (rich, stderr)."""

    def __init__(self, total: int, label: str, client: ChatClient, enabled: bool, prices: dict | None):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.client = client
        self.prices = prices
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        self.task = self.progress.add_task(label, total=total, rate="")

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def update(self, stats: RunStats) -> None:
        elapsed = max(1e-9, time.perf_counter() - stats.started)
        rate = (
            f"{stats.completion_tokens / elapsed:,.0f} tok/s  errors {stats.errors}  "
            f"retries {self.client.retries}  resumed {stats.skipped}"
        )
        cost = cost_usd(self.prices, stats.prompt_tokens, stats.completion_tokens)
        if cost is not None:
            rate += f"  ${cost:,.4f}"
        self.progress.update(self.task, completed=stats.skipped + stats.done, rate=rate)


def run_sweep(spec: RunSpec, argv: list[str], show_progress: bool = True, log=print) -> SweepResult:
    # The run lock is held from before the manifest is written until the reports are: a
    # second run of the same command is refused without touching anything of this one.
    with ExitStack() as lock:
        return _sweep(spec, argv, show_progress, log, lock)


def _sweep(spec: RunSpec, argv: list[str], show_progress: bool, log, lock: ExitStack) -> SweepResult:
    with ExitStack() as stack:
        connection = connect(spec, stack, log)
        endpoint, profile, concurrency = connection.endpoint, connection.endpoint.profile, connection.concurrency
        chosen, warnings = connection.chosen, connection.warnings
        run_id = spec.run_id or spec.default_run_id(endpoint.cache_identity, endpoint.model, profile.name)
        client = ChatClient(endpoint, concurrency=concurrency, max_attempts=spec.max_attempts)
        # The plan (and any dataset) loads before the run folder exists: bad data leaves none.
        runner = Runner(spec, client, run_id, log=log)
        store = RunStore(spec.out / run_id)
        runner.store = store
        # The lock comes first: a second run of the same command refused here has touched
        # nothing (manifest, samples) of the run that holds it.
        store.open_for_append()
        lock.callback(store.close)
        manifest = _manifest(spec, endpoint, run_id, store.read_manifest(), argv, chosen, runner.requests_sent(), warnings)
        store.write_manifest(manifest)

        async def go() -> RunStats:
            try:
                await preflight(client)
                label = f"{spec.suite} on {endpoint.model}"
                with _Progress(runner.stats.planned, label, client, show_progress, spec.prices) as bar:
                    return await runner.run(concurrency, on_progress=bar.update if show_progress else None)
            finally:
                await client.close()

        stats = asyncio.run(go())
    # Scored by streaming samples.jsonl: memory stays flat however many samples the run has.
    summary = summarize_run(store.dir)
    store.write_summary(summary)
    outputs = {"summary.json": store.dir / "summary.json", **write_reports(store.dir, summary)}
    return SweepResult(store.dir, summary, stats, outputs)
