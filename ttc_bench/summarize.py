"""summary.json of a run folder, from its samples (no model calls).

Samples are read once; of each key only the last row written counts (a retried error
replaces its row), reduced to the fields scoring reads plus a hash of the response, so a
million-sample run fits in a few hundred MB whatever the length of the responses.
Rows that cannot be samples are skipped, counted and reported (``rows_skipped``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from .sample import Sample
from .scoring import summarize
from .store import RunFolder

# The sample fields scoring reads (see scoring._Tally.add and summarize).
SCORED_FIELDS = (
    "task", "level", "item", "budget", "requested_tokens", "answer", "correct", "partial", "scores",
    "truncated", "reasoning_tokens_estimated", "completion_tokens", "reasoning_tokens",
    "prompt_tokens", "latency_s", "attempts", "turns", "error",
)  # fmt: skip
# The response text itself is not kept (it can be megabytes): its hash is enough to tell
# identical samples apart (scoring's identical_sample_rate).
DIGEST_FIELD = "response_digest"


def scored_rows(folder: RunFolder) -> Iterator[dict]:
    """The latest sample per key, reduced to SCORED_FIELDS plus a response digest."""
    latest: dict[str, tuple] = {}
    names: dict[str, str] = {}  # one string object per distinct task/level/item/budget
    name = names.setdefault
    for sample in folder.samples():
        v = _take(sample)
        latest[sample.key] = (name(v[0], v[0]), name(v[1], v[1]), name(v[2], v[2]), name(v[3], v[3])) + v[4:] + (
            hash(sample.response or ""),
        )
    if not latest:
        raise folder.empty()
    fields = SCORED_FIELDS + (DIGEST_FIELD,)
    for values in latest.values():
        yield dict(zip(fields, values))


def _take(sample: Sample) -> tuple:
    return tuple(getattr(sample, f) for f in SCORED_FIELDS)


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
    summary = summarize(scored_rows(folder), spec.get("budgets"), prices=prices, params=params)
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
