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
from .models.client import ChatClient, Endpoint
from .models.preflight import detect_profile, preflight
from .models.profiles import Profile, resolve
from .models.request import check_plan
from .models.urls import redact_url
from .runner import Runner, RunStats
from .rebuild import summarize_run
from .report import write_reports
from .spec import RunSpec
from .store import RunStore

DEFAULT_REMOTE_CONCURRENCY = 8


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


def _chat_template(spec: RunSpec, profile: Profile, gguf_path):
    """The model's chat template, when budget forcing continues through the completions
    endpoint (llama-cpp-python): the served GGUF, or the bundled one when a remote
    llama-cpp-python server serves the embedded model's name (``ttc-bench serve``)."""
    from .errors import UserError
    from .models.chat_template import ChatTemplate
    from .models.local import EMBEDDED_MODEL, find_bundled_gguf

    forced = any(b.kind == "forced" for b in spec.budgets)
    if not forced or profile.continuation is None or profile.continuation.mechanism != "completions":
        return None
    path = gguf_path or spec.gguf
    if path is None and spec.model == EMBEDDED_MODEL:
        try:
            path = find_bundled_gguf()
        except UserError:
            return None
    return ChatTemplate.from_gguf(path) if path else None


def _plan_checks(spec: RunSpec, profile: Profile, model: str | None, template, log) -> list[str]:
    warnings = check_plan(
        profile, spec.budgets, spec.sampling(), model, n_parameter=spec.n_parameter, chat_template=template is not None,
    )
    for warning in warnings:
        log(f"warning: {warning}")
    return warnings


def _sweep(spec: RunSpec, argv: list[str], show_progress: bool, log, lock: ExitStack) -> SweepResult:
    from .models.local import EMBEDDED_CONCURRENCY, EMBEDDED_MODEL, embedded_server, find_bundled_gguf

    with ExitStack() as stack:
        if spec.embedded:
            # The embedded server is llama-cpp-python's: everything is checked before it starts.
            profile, chosen = detect_profile("llama-cpp-python" if spec.api == "auto" else spec.api, "", None)
            chosen = "the embedded model" if spec.api == "auto" else chosen
            gguf_path = spec.gguf or find_bundled_gguf()
            template = _chat_template(spec, profile, gguf_path)
            model = EMBEDDED_MODEL if spec.gguf is None else Path(spec.gguf).stem
            warnings = _plan_checks(spec, profile, model, template, log)
            log("starting the embedded model (llama.cpp server on 127.0.0.1)...")
            base_url, gguf = stack.enter_context(embedded_server(spec.gguf))
            endpoint = Endpoint((base_url,), model, profile, api_key_env=None, identity=f"embedded:{gguf.name}",
                                timeout_s=spec.timeout_s, chat_template=template)
            concurrency = spec.concurrency or EMBEDDED_CONCURRENCY
        else:
            profile, chosen = detect_profile(spec.api, spec.base_urls[0], spec.api_key_env)
            profile = resolve(profile, spec.model)
            template = _chat_template(spec, profile, None)
            warnings = _plan_checks(spec, profile, spec.model, template, log)
            log(f"endpoint: {profile.title} (chosen by {chosen})")
            endpoint = Endpoint(tuple(spec.base_urls), spec.model, profile, api_key_env=spec.api_key_env,
                                timeout_s=spec.timeout_s, chat_template=template)
            concurrency = spec.concurrency or DEFAULT_REMOTE_CONCURRENCY
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
