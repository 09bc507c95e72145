"""Every output of a run from its summary (write_reports) and from its samples.jsonl alone
(regenerate), for one run or several overlaid (e.g. two models on the same axes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import UserError
from ..store import SUMMARY, RunFolder, write_json_atomic
from ..summarize import summarize_run
from .document import document, overlay_document
from .files import WriteFailure, reason, write_text
from .html import render_html
from .markdown import render_markdown


def run_labels(summaries: list[dict]) -> list[str]:
    """Model names, with the run id added where two runs share a model."""
    models = [s.get("model") or s.get("run_id") or "run" for s in summaries]
    return [m if models.count(m) == 1 else f"{m} ({s.get('run_id')})" for m, s in zip(models, summaries)]


def default_overlay_dir(run_dirs: list[Path]) -> Path:
    digest = hashlib.sha256("\n".join(str(Path(d).resolve()) for d in run_dirs).encode()).hexdigest()[:8]
    return Path(run_dirs[0]).parent / f"overlay-{digest}"


def report_runs(summary: dict) -> list[tuple[str, dict]]:
    """(label, run summary) pairs a summary describes: one run, or an overlay's runs."""
    if summary.get("kind") == "overlay":
        return [(r["label"], r["summary"]) for r in summary["runs"]]
    return [(summary.get("model") or summary.get("run_id") or "run", summary)]


def _sources(run_dir: Path, summary: dict, samples_from: list[Path] | None) -> list[Path]:
    """The run folders whose samples the browser shows, in report_runs order."""
    if samples_from is not None:
        return [Path(d) for d in samples_from]
    if summary.get("kind") == "overlay":
        return [Path(r["run_dir"]) for r in summary["runs"] if r.get("run_dir")]
    return [run_dir]


def write_reports(
    run_dir: Path, summary: dict, *, plots: bool = True, samples_from: list[Path] | None = None
) -> dict[str, Path | WriteFailure]:
    """Write report.md, report.html (with the sample browser) and plots/*.png|svg into
    ``run_dir`` from ``summary``; the browser reads the samples of ``samples_from`` (default:
    ``run_dir`` itself, or the runs an overlay names) and is left out if they are missing.

    Returns {relative name: path}, e.g. {"report.md": ..., "report.html": ...,
    "plots/arithmetic-accuracy-vs-tokens.png": ...}. An output that could not be written
    maps to a WriteFailure instead (never an exception: the caller prints the table first,
    then terminal.print_outputs names the failures in one line).
    """
    from .browser import build_section
    from .plots import plot_all

    run_dir = Path(run_dir)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return {"report files": WriteFailure("the report files", run_dir / "report.html", reason(exc))}
    runs = report_runs(summary)
    images, plot_failure = plot_all(runs, run_dir) if plots else ({}, None)
    overlay = summary.get("kind") == "overlay"
    blocks = overlay_document(summary, images) if overlay else document(summary, images)
    browser = build_section([label for label, _ in runs], _sources(run_dir, summary, samples_from))
    outputs: dict[str, Path | WriteFailure] = {
        "report.md": write_text(run_dir / "report.md", render_markdown(blocks)),
        "report.html": write_text(run_dir / "report.html", render_html(blocks, images, browser)),
    }
    outputs.update(sorted(images.items()))
    if plot_failure is not None:
        outputs["plots/"] = plot_failure
    return outputs


def failures(outputs: dict) -> list[WriteFailure]:
    return [p for p in outputs.values() if isinstance(p, WriteFailure)]


def regenerate(
    run_dirs: list[Path],
    out_dir: Path | None = None,
    *,
    prices: dict | None = None,
    params: float | None = None,
    strategies=None,
) -> dict:
    """Rebuild summary.json, report.md, report.html and plots/ from samples.jsonl alone.
    ``strategies``: the strategies to show instead of those each run recorded.

    One run: written into ``out_dir`` (default: the run folder). Several runs: an overlay
    report comparing them on the same axes, written into ``out_dir`` (default:
    ``<parent of the first run>/overlay-<hash of the run paths>``); the run folders are left
    untouched. Returns {"out_dir": Path, "summary": dict, "outputs": {name: Path or
    WriteFailure}} (see write_reports).
    """
    run_dirs = [RunFolder.resolve(d).dir for d in run_dirs]
    if not run_dirs:
        raise UserError("give at least one run folder")
    summaries = [summarize_run(d, prices=prices, params=params, strategies=strategies) for d in run_dirs]
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
    outputs = {SUMMARY: target / SUMMARY, **write_reports(target, summary, samples_from=run_dirs)}
    return {"out_dir": target, "summary": summary, "outputs": outputs}
