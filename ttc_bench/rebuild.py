"""Rebuild summary.json and every report from a run folder's samples.jsonl (no model calls),
and overlay several runs (e.g. two models) in one report.

samples.jsonl is read once and only the fields scoring needs are kept per sample key (the
last row written for a key wins, as in store.latest_rows), so a million-sample run fits
in a few hundred MB whatever the length of the responses.
"""

from __future__ import annotations

import hashlib
import json
from operator import itemgetter
from pathlib import Path
from typing import Iterator

from .errors import UserError
from .scoring import summarize
from .store import MANIFEST, SAMPLES, SUMMARY, ReadStats, read_rows, write_json_atomic

# The row fields scoring reads (see scoring._Tally.add and summarize).
SCORED_FIELDS = (
    "task", "level", "item", "budget", "requested_tokens", "answer", "correct", "partial", "scores",
    "truncated", "reasoning_tokens_estimated", "completion_tokens", "reasoning_tokens",
    "prompt_tokens", "latency_s", "attempts", "turns", "error",
)  # fmt: skip
# The response text itself is not kept (it can be megabytes): its hash is enough to tell
# identical samples apart (scoring's identical_sample_rate).
DIGEST_FIELD = "response_digest"


def scored_rows(path: Path, stats: ReadStats | None = None) -> Iterator[dict]:
    """The latest row per sample key, reduced to SCORED_FIELDS plus a response digest."""
    latest: dict[str, tuple] = {}
    names: dict[str, str] = {}  # one string object per distinct task/level/item/budget
    name = names.setdefault
    take = itemgetter(*SCORED_FIELDS)
    stats = stats if stats is not None else ReadStats()
    for row in read_rows(path, stats):
        try:
            v = take(row)
        except KeyError:  # a row from an older or foreign writer: missing fields are None
            v = tuple(row.get(f) for f in SCORED_FIELDS)
        # a re-run that retried an errored sample wrote a newer row under the same key
        digest = hash(row.get("response") or "")
        latest[row.get("key")] = (name(v[0], v[0]), name(v[1], v[1]), name(v[2], v[2]), name(v[3], v[3])) + v[4:] + (digest,)
    if not latest:
        what = f" ({stats.describe()} skipped)" if stats.skipped else ""
        raise UserError(f"{path} holds no readable sample rows{what}; nothing to score")
    fields = SCORED_FIELDS + (DIGEST_FIELD,)
    for values in latest.values():
        yield dict(zip(fields, values))


def read_manifest(run_dir: Path) -> dict:
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc.msg}); fix or delete it") from None


def _check_run_dir(run_dir: Path) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / SAMPLES).is_file():
        raise UserError(f"{run_dir} has no {SAMPLES}; give a ttc-bench run folder (e.g. results/<run-id>)")
    return run_dir


def summarize_run(run_dir: Path, *, prices: dict | None = None, params: float | None = None) -> dict:
    """summary.json content for one run folder, from samples.jsonl (+ manifest.json for the
    budget order, model, suite and, when recorded there, prices and parameter count)."""
    run_dir = _check_run_dir(run_dir)
    manifest = read_manifest(run_dir)
    spec = manifest.get("spec") or {}
    if prices is None:
        prices = spec.get("prices") or manifest.get("prices")
    if params is None:
        params = spec.get("params") or manifest.get("params")
    summary = summarize(scored_rows(run_dir / SAMPLES), spec.get("budgets"), prices=prices, params=params)
    summary.update(
        {
            "run_id": manifest.get("run_id") or run_dir.name,
            "model": (manifest.get("endpoint") or {}).get("model") or spec.get("model"),
            "suite": spec.get("suite"),
        }
    )
    return summary


def run_labels(summaries: list[dict]) -> list[str]:
    """Model names, with the run id added where two runs share a model."""
    models = [s.get("model") or s.get("run_id") or "run" for s in summaries]
    return [m if models.count(m) == 1 else f"{m} ({s.get('run_id')})" for m, s in zip(models, summaries)]


def default_overlay_dir(run_dirs: list[Path]) -> Path:
    digest = hashlib.sha256("\n".join(str(Path(d).resolve()) for d in run_dirs).encode()).hexdigest()[:8]
    return Path(run_dirs[0]).parent / f"overlay-{digest}"


def regenerate(
    run_dirs: list[Path],
    out_dir: Path | None = None,
    *,
    prices: dict | None = None,
    params: float | None = None,
) -> dict:
    """Rebuild summary.json, report.md, report.html and plots/ from samples.jsonl alone.

    One run: written into ``out_dir`` (default: the run folder). Several runs: an overlay
    report comparing them on the same axes, written into ``out_dir`` (default:
    ``<parent of the first run>/overlay-<hash of the run paths>``); the run folders are left
    untouched. Returns {"out_dir": Path, "summary": dict, "outputs": {name: Path}}.
    """
    from .report import write_reports

    run_dirs = [_check_run_dir(d) for d in run_dirs]
    if not run_dirs:
        raise UserError("give at least one run folder")
    summaries = [summarize_run(d, prices=prices, params=params) for d in run_dirs]
    if len(run_dirs) == 1:
        target = Path(out_dir) if out_dir else run_dirs[0]
        summary = summaries[0]
    else:
        target = Path(out_dir) if out_dir else default_overlay_dir(run_dirs)
        summary = {
            "schema_version": summaries[0]["schema_version"],
            "kind": "overlay",
            "runs": [
                {"label": label, "run_dir": str(d), "summary": s}
                for label, d, s in zip(run_labels(summaries), run_dirs, summaries)
            ],
        }
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the report folder {target}: {exc.strerror}") from None
    write_json_atomic(target / SUMMARY, summary)
    outputs = {SUMMARY: target / SUMMARY, **write_reports(target, summary)}
    return {"out_dir": target, "summary": summary, "outputs": outputs}
