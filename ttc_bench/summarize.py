"""summary.json of a run folder, from its samples (no model calls): the run folder as the
store reads it, scored by the metrics.

This glue sits above store and metrics (which never import each other). Rows that cannot
be samples are skipped, counted and reported (``rows_skipped``).
"""

from __future__ import annotations

from pathlib import Path

from .metrics import as_rows, latest_scored, summarize
from .store import RunFolder


def summarize_run(run_dir: Path, *, prices: dict | None = None, params: float | None = None) -> dict:
    """summary.json content for one run folder, from samples.jsonl (+ manifest.json for the
    budget order, model, suite and, when recorded there, prices and parameter count)."""
    folder = RunFolder.resolve(run_dir)
    manifest = folder.manifest()
    spec = manifest.get("spec") or {}
    if prices is None:
        prices = spec.get("prices") or manifest.get("prices")
    if params is None:
        params = spec.get("params") or manifest.get("params")
    rows = latest_scored(folder.samples())
    if not rows:
        raise folder.empty()
    summary = summarize(as_rows(rows), spec.get("budgets"), prices=prices, params=params)
    summary.update(
        {
            "run_id": manifest.get("run_id") or folder.dir.name,
            "model": (manifest.get("endpoint") or {}).get("model") or spec.get("model"),
            "suite": spec.get("suite"),
        }
    )
    if folder.skipped():
        summary["rows_skipped"] = folder.skipped()
    return summary
