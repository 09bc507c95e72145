"""The Python API: what the CLI does, for notebooks and scripts.

    import ttc_bench
    run = ttc_bench.run(tasks=["arithmetic:add-2d"], budgets=["tokens:256", "forced:512"], samples=4,
                        model="Qwen/Qwen3-8B", base_url="http://127.0.0.1:8000/v1")
    run.summary["groups"][0]["pass@1"]
    frame = run.samples()            # one row per sample, a pandas DataFrame
    ttc_bench.compare(baseline_dir, run.dir).failed

Heavy libraries load only when a function is called, so ``import ttc_bench`` is instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError


@dataclass
class Run:
    """A run folder: its summary and manifest, and its samples on demand."""

    dir: Path
    summary: dict
    manifest: dict

    def samples(self, *, errors: bool = True):
        """Every sample (the last row per key) as a pandas DataFrame, one column per field
        of ttc_bench.Sample; ``errors=False`` leaves failed requests out."""
        import pandas as pd

        from .sample import Sample
        from .store import RunFolder

        rows = [s.to_json() for s in RunFolder.resolve(self.dir).latest() if errors or s.error is None]
        columns = list(Sample.__dataclass_fields__)
        return pd.DataFrame(rows, columns=columns)

    def groups(self, level: str | None = None) -> list[dict]:
        """Summary groups of every task and budget (``level=None``: all levels pooled)."""
        return [g for g in self.summary.get("groups", []) if g.get("level") == level]


def load_run(path: str | Path) -> Run:
    """A run folder written by ``ttc-bench run`` (any version): its summary is rebuilt
    from samples.jsonl with today's definitions, so older runs read like new ones."""
    from .store import RunFolder
    from .summarize import summarize_run

    folder = RunFolder.resolve(path)
    return Run(folder.dir, summarize_run(folder.dir), folder.manifest())


def run(suite: str | None = None, *, progress: str = "off", log=None, **flags: Any) -> Run:
    """Run a sweep; the keyword arguments are the CLI's ``run`` flags with underscores
    (model, base_urls or base_url, api, api_key_env, tasks, budgets, samples, limit, seed,
    temperature, top_p, out, run_id, concurrency, timeout, retry_window, gguf, fresh,
    n_parameter, price_input, price_output, strategies). Re-running the same call resumes."""
    from .spec import build_spec
    from .sweep import run_sweep

    if "base_url" in flags:
        url = flags.pop("base_url")
        flags["base_urls"] = [url] if isinstance(url, str) else list(url)
    for name in ("tasks", "budgets", "strategies"):
        if isinstance(flags.get(name), str):
            flags[name] = [flags[name]]
    spec = build_spec(suite, **flags)
    result = run_sweep(spec, ["ttc_bench.run", repr(suite), *(f"{k}={v!r}" for k, v in flags.items())],
                       progress=progress, log=log or (lambda message: None))
    return Run(result.run_dir, result.summary, json_file(result.run_dir / "manifest.json"))


def report(path: str | Path, out: str | Path | None = None, *more: str | Path) -> dict[str, Path]:
    """Rebuild summary.json, report.md, report.html and plots of a run (several runs: an
    overlay); returns {file name: path}."""
    from .reporting import regenerate

    result = regenerate([Path(path), *map(Path, more)], Path(out) if out else None)
    return result["outputs"]


def compare(baseline: str | Path, current: str | Path, **settings: Any):
    """The paired regression gate of two runs (``ttc-bench compare``); settings are its
    options with underscores (max_drop, max_token_increase, max_error_increase,
    mde_target, metrics, fail_inconclusive, mid_p). Returns the comparison: ``failed``
    says whether the gate fails, ``results`` holds every cell with its verdict."""
    import inspect

    from .gate import compare_paths

    known = set(inspect.signature(compare_paths).parameters) - {"baseline", "current"}
    unknown = set(settings) - known
    if unknown:
        raise UserError(f"compare() got unknown settings {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    return compare_paths(Path(baseline), Path(current), **settings)


def json_file(path: Path) -> dict:
    import json

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
