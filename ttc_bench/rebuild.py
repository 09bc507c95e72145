"""Rebuild summary.json and every report from a run folder's samples.jsonl (no model calls),
and overlay several runs (e.g. two models) in one report."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import UserError
from .store import SUMMARY, RunFolder, write_json_atomic
from .summarize import summarize_run

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

    run_dirs = [RunFolder.resolve(d).dir for d in run_dirs]
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
