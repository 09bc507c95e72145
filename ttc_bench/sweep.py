"""One sweep end to end: pick the endpoint (embedded or remote), record the manifest,
run the plan with a live progress line, then score and write summary.json."""

from __future__ import annotations

import asyncio
import platform
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from .version import __version__
from .batch_runner import BatchRun, batch_manifest, scaled_prices
from .connect import connect
from .models.batch import batch_api
from .models.client import ChatClient, Endpoint
from .models.preflight import preflight
from .models.urls import redact_url
from .progress import Progress, resolve_mode
from .runner import Runner, RunStats
from .summarize import summarize_run
from .reporting import write_reports
from .spec import RunSpec
from .strategies import counts
from .strategy_requests import judge_candidates, revise_answers
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
              chosen: str, requests: dict, warnings: list[str], engine: dict) -> dict:
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
        # The numbers depend on the engine build (and, for the embedded model, threads).
        "engine": engine,
        "versions": _versions(spec.embedded),
        "command": redacted_argv(argv),
        "platform": platform.platform(),
    }


def cost_usd(prices: dict | None, prompt_tokens: float, completion_tokens: float) -> float | None:
    if not prices:
        return None
    return (prompt_tokens * prices["input_per_million"] + completion_tokens * prices["output_per_million"]) / 1e6


def run_sweep(spec: RunSpec, argv: list[str], progress: str = "auto", log=print) -> SweepResult:
    # The run lock is held from before the manifest is written until the reports are: a
    # second run of the same command is refused without touching anything of this one.
    with ExitStack() as lock:
        return _sweep(spec, argv, resolve_mode(progress), log, lock)


def _sweep(spec: RunSpec, argv: list[str], progress: str, log, lock: ExitStack) -> SweepResult:
    with ExitStack() as stack:
        connection = connect(spec, stack, log)
        endpoint, profile, concurrency = connection.endpoint, connection.endpoint.profile, connection.concurrency
        chosen, warnings = connection.chosen, connection.warnings
        batch, list_prices = None, spec.prices
        if spec.batch:
            batch = batch_api(profile)  # a provider without one stops here, before the run folder exists
            spec = replace(spec, prices=scaled_prices(spec.prices, batch.price_factor))
        run_id = spec.run_id or spec.default_run_id(endpoint.cache_identity, endpoint.model, profile.name)
        client = ChatClient(endpoint, concurrency=concurrency, retry_window_s=spec.retry_window_s)
        # The plan (and any dataset) loads before the run folder exists: bad data leaves none.
        runner = Runner(spec, client, run_id, log=log)
        store = RunStore(spec.out / run_id)
        runner.store = store
        # The lock comes first: a second run of the same command refused here has touched
        # nothing (manifest, samples) of the run that holds it.
        store.open_for_append()
        lock.callback(store.close)
        manifest = _manifest(spec, endpoint, run_id, store.read_manifest(), argv, chosen, runner.requests_sent(), warnings, connection.engine)
        if batch:
            manifest["batch"] = batch_manifest(profile.name, batch, list_prices)
        store.write_manifest(manifest)

        async def go() -> RunStats:
            try:
                await preflight(client)
                if batch:
                    return runner.stats
                label = f"{spec.suite} on {endpoint.model}"
                cost = lambda stats: cost_usd(spec.prices, stats.prompt_tokens, stats.completion_tokens)
                with Progress(progress, runner.stats.planned, label, client, cost) as shown:
                    stats = await runner.run(concurrency, on_progress=shown.update if progress != "off" else None)
                # The strategies that ask again, once the samples are in (docs/strategies.md).
                if "selfverify" in spec.strategies:
                    await judge_candidates(runner.plan, client, store.dir, concurrency, log)
                if counts(spec.strategies, "revise"):
                    await revise_answers(runner.plan, client, store.dir, max(counts(spec.strategies, "revise")),
                                         concurrency, log)
                return stats
            finally:
                await client.close()

        stats = asyncio.run(go())
        if batch:
            stats = BatchRun(runner.plan, endpoint, store, batch, scrub=client.scrub, log=log,
                             progress=progress != "off").run()
    # Scored by streaming samples.jsonl: memory stays flat however many samples the run has.
    summary = summarize_run(store.dir)
    # The folder is the run id's, and an earlier command with a larger --limit or --samples
    # shares it: the tables score every sample stored there, so say so instead of passing
    # them off as this command's.
    beyond = summary["samples"] - stats.planned
    if beyond > 0:
        summary.setdefault("warnings", []).append(
            f"this run folder also holds {beyond} samples beyond the {stats.planned} this command asked for (an "
            f"earlier run with a larger --limit or --samples): the tables score all {summary['samples']}; "
            "give --run-id a new name for a separate run"
        )
    store.write_summary(summary)
    outputs = {"summary.json": store.dir / "summary.json", **write_reports(store.dir, summary)}
    return SweepResult(store.dir, summary, stats, outputs)
