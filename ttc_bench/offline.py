"""``ttc-bench export-requests`` and ``ttc-bench import-results``: a run through any engine
that reads and writes the OpenAI Batch JSONL format (``vllm run-batch``, Ray Data with
vLLM, a provider's Batch API driven by hand).

Export needs no connection: it names the run folder (manifest.json, as ``run`` writes it)
and writes the next request of every unfinished sample. Import rebuilds the plan from that
manifest and scores the results into samples.jsonl as if they had come back live.
Budgets that need several turns come back for another round (rounds.py); docs/scale.md
has the recipes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from .budgets import parse_budgets
from .connect import chat_template
from .errors import UserError
from .models.batch import request_url
from .models.client import Endpoint
from .models.profiles import from_host, get_profile, resolve
from .models.request import check_plan
from .plan import Plan
from .reporting import write_reports
from .rounds import Imported, Rounds
from .spec import RunSpec, TaskSpec
from .store import RunFolder, RunStore
from .summarize import summarize_run
from .sweep import _manifest


@dataclass
class Exported:
    run_dir: Path
    requests: int
    continuations: int  # later turns of forced budgets
    planned: int


def offline_endpoint(spec: RunSpec, log) -> tuple[Endpoint, str, list[str]]:
    """The endpoint of an export, decided without a request: the profile is named by
    --api or by a hosted API's host; (endpoint, how the profile was chosen, warnings)."""
    if spec.embedded:
        raise UserError("export-requests needs --model (the model the engine will serve) and --api (its kind, e.g. vllm)")
    if spec.n_parameter:
        raise UserError("export-requests writes one request per sample (its custom_id is the sample key); drop --n-param")
    if spec.api != "auto":
        profile, chosen = get_profile(spec.api), f"--api {spec.api}"
    else:
        profile, chosen = from_host(spec.base_urls[0]), "the base URL's host"
        if profile is None:
            raise UserError("export-requests sends nothing, so it cannot ask the server what it is: pass --api "
                            "(e.g. --api vllm for vllm run-batch or Ray Data with vLLM)")
    profile = resolve(profile, spec.model)
    continuation = profile.continuation
    if continuation and continuation.path and any(b.kind == "forced" for b in spec.budgets):
        # Turn 1 would export; its continuation (a request under another path) could not.
        request_url(continuation.path, True)
    template = chat_template(spec, profile, None)
    warnings = check_plan(profile, spec.budgets, spec.sampling(), spec.model, chat_template=template is not None)
    for warning in warnings:
        log(f"warning: {warning}")
    endpoint = Endpoint(tuple(spec.base_urls), spec.model, profile, api_key_env=spec.api_key_env,
                        timeout_s=spec.timeout_s, chat_template=template)
    return endpoint, chosen, warnings


def export_requests(spec: RunSpec, argv: list[str], to: Path, log=print) -> Exported:
    to = Path(to)
    live = [n for n in spec.strategies if n in ("adaptive", "selfverify") or n.startswith("revise:")]
    if live:
        name = live[0]
        raise UserError(f"the {name} strategy asks the model after seeing its answers: it needs a live run (ttc-bench run), not an exported file")
    if not to.parent.is_dir():
        raise UserError(f"cannot write {to}: its folder {to.parent} does not exist")
    endpoint, chosen, warnings = offline_endpoint(spec, log)
    profile = endpoint.profile
    run_id = spec.run_id or spec.default_run_id(endpoint.cache_identity, endpoint.model, profile.name)
    plan = Plan(spec, profile, endpoint.cache_identity, endpoint.model, run_id)
    store = RunStore(spec.out / run_id)
    store.open_for_append()  # the run lock: a live run of this folder and an export exclude each other
    try:
        previous = store.read_manifest()
        engine = (previous or {}).get("engine") or {"name": "offline engine (export-requests)", "version": None}
        store.write_manifest(_manifest(spec, endpoint, run_id, previous, argv, chosen, plan.requests_sent(), warnings, engine))
        requests, continuations = Rounds(plan, endpoint, store).export(to)
    finally:
        store.close()
    return Exported(store.dir, requests, continuations, plan.planned)


def spec_from_manifest(manifest: dict, where: Path) -> RunSpec:
    """The RunSpec a run folder's manifest records (``spec``, as RunSpec.to_dict wrote it)."""
    data = dict(manifest.get("spec") or {})
    try:
        tasks = [TaskSpec(t["name"], t["family"], list(t["levels"]), int(t["items"]), dict(t.get("options") or {}))
                 for t in data.pop("tasks")]
        budgets = parse_budgets(list(data.pop("budgets")))
        known = {f.name for f in fields(RunSpec)}
        rest = {k: v for k, v in data.items() if k in known}
        rest["out"] = Path(rest.get("out") or "results")
        return RunSpec(tasks=tasks, budgets=budgets, **rest)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{where}/manifest.json does not describe a run this version can rebuild ({exc!r})") from None


def endpoint_from_manifest(manifest: dict, spec: RunSpec, where: Path) -> Endpoint:
    found = manifest.get("endpoint") or {}
    if not found.get("api") or not found.get("identity") or not found.get("model"):
        raise UserError(f"{where}/manifest.json names no endpoint (api, identity, model); it was not written by run or export-requests")
    profile = resolve(get_profile(found["api"]), found["model"])
    return Endpoint(tuple(spec.base_urls or ()), found["model"], profile, api_key_env=spec.api_key_env,
                    identity=found["identity"], timeout_s=spec.timeout_s, chat_template=chat_template(spec, profile, None))


@dataclass
class ImportResult:
    run_dir: Path
    report: Imported
    summary: dict | None
    outputs: dict


def import_results(run: Path, files: list[Path]) -> ImportResult:
    """Score result files into a run folder, then rebuild its summary and reports; the
    caller reports (and fails on) what could not be matched."""
    for path in files:
        if not Path(path).is_file():
            raise UserError(f"{path}: no such results file")
    folder = RunFolder.resolve(run)
    manifest = folder.manifest()
    if not manifest:
        raise UserError(f"{folder.dir} has no manifest.json; import into the folder export-requests named")
    spec = spec_from_manifest(manifest, folder.dir)
    endpoint = endpoint_from_manifest(manifest, spec, folder.dir)
    run_id = manifest.get("run_id") or folder.dir.name
    plan = Plan(spec, endpoint.profile, endpoint.cache_identity, endpoint.model, run_id)
    store = RunStore(folder.dir)
    store.open_for_append()
    try:
        report = Rounds(plan, endpoint, store).import_files([Path(p) for p in files])
    finally:
        store.close()
    if store.samples_path.stat().st_size == 0:
        return ImportResult(folder.dir, report, None, {})  # nothing to summarise yet
    summary = summarize_run(folder.dir)
    path = store.write_summary(summary)
    return ImportResult(folder.dir, report, summary, {"summary.json": path, **write_reports(folder.dir, summary)})
