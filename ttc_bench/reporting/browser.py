"""The sample browser section of report.html: the page's data, embedded as JSON, and the
script that renders it (browser.js, browser.css beside this file).

The data (``format`` 1), one entry per run in report order::

    {"format": 1, "cap": 5000, "runs": [{
        "label": "model", "run_id": "...", "samples": 100000, "embedded": 4992,
        "text_chars": 2000, "skipped": 0,
        "tasks": [{"name": "arithmetic", "levels": ["add-1d", ...]}],
        "budgets": ["forced:24", "forced:96"],
        "items": [{"id": "arithmetic/add-1d/0000", "task": ..., "level": ..., "gold": "10",
                   "prompt": [{"role": "user", "content": ...}] or null}],
        "prompt_notes": {"task": "why its prompts could not be rebuilt"},
        "prompt_note": "which items have no prompt for lack of time" or null,
        "cells": [{"item": 0, "budget": 1, "n": 4, "correct": 1, "unparsed": 1, "errors": 0,
                   "cut_off": 0, "votes": [["10", 1, true], ["11", 2, false]],
                   "maj": 0.0, "pass1": 0.25, "split": true, "flip": false, "embedded": true}],
        "sample_rows": [{"cell": 0, "sample": 0, "verdict": "correct|wrong|unparsed|error",
                         "answer": "10", "response": ..., "reasoning": ..., "finish": "stop",
                         "cut_off": false, "turns": 1, "attempts": 1,
                         "tokens": [prompt, completion, reasoning], "latency": 0.8,
                         "error": null, "partial": 0.5, "shown": {...prompt_meta}}]}]}

A text longer than ``text_chars`` is ``[beginning, characters left out, end]``. A run whose
samples could not be read is ``{"label": ..., "missing": "why"}``. The JSON is escaped so
no ``<``, ``>`` or ``&`` appears in it: model output cannot close the script element.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from ..errors import UserError
from .browser_data import SAMPLE_CAP, run_data

FORMAT = 1
MARKER = '<section id="samples" class="sb"'  # how `ttc-bench view` recognises a report with the browser


@dataclass(frozen=True)
class Section:
    markup: str  # the <section> with the data and the script
    css: str
    script_hash: str  # base64 SHA-256 of the script, for the page's Content-Security-Policy
    blurb: str  # one line on what the browser holds


def _asset(name: str) -> str:
    return files(__package__).joinpath(name).read_text(encoding="utf-8")


def _finite(value):
    """JSON without NaN or Infinity (JSON.parse refuses them): such a number becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def embed_json(data) -> str:
    """``data`` as JSON that is safe inside <script type="application/json">."""
    try:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(data), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a broken server: escape everything
        text = json.dumps(json.loads(text), ensure_ascii=True, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def page_data(labels: list[str], sources: list[Path], cap: int = SAMPLE_CAP) -> dict | None:
    """The browser's data for runs (label, run folder); None when no run's samples can be read."""
    runs = []
    share = max(1, cap // max(1, len(sources)))
    for label, source in zip(labels, sources):
        try:
            runs.append(run_data(label, source, share))
        except UserError as exc:
            runs.append({"label": label, "missing": f"samples not available: {exc}"})
    if not runs or all("missing" in r for r in runs):
        return None
    return {"format": FORMAT, "cap": cap, "runs": runs}


def _blurb(data: dict) -> str:
    runs = [r for r in data["runs"] if "missing" not in r]
    total = sum(r["samples"] for r in runs)
    embedded = sum(r["embedded"] for r in runs)
    if embedded == total:
        return f"This page holds all {total:,} samples with their prompts, reasoning, answers and verdicts, by task, level and budget."
    return (
        f"This page holds {embedded:,} of the {total:,} samples (the vote histograms count them all); "
        "the rest are in samples.jsonl, and ttc-bench view on the run folder loads them."
    )


def section(data: dict) -> Section:
    script = _asset("browser.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    blurb = _blurb(data)
    markup = (
        f'{MARKER}>\n<h2>Samples</h2>\n<p class="sb-muted">{html.escape(blurb)} Table cells above link here. '
        "Filters: wrong, unparsed, cut off, errored, split votes (items whose samples disagree), vote flips "
        "(items where the majority vote and most samples disagree on right or wrong).</p>\n"
        '<div id="sb-root"><noscript>The sample browser needs JavaScript; the samples are in samples.jsonl.</noscript></div>\n'
        f'<script type="application/json" id="sb-data">{embed_json(data)}</script>\n'
        f"<script>{script}</script>\n</section>"
    )
    return Section(markup, _asset("browser.css"), digest, blurb)


def build_section(labels: list[str], sources: list[Path], cap: int = SAMPLE_CAP) -> Section | None:
    data = page_data(labels, sources, cap)
    return None if data is None else section(data)
