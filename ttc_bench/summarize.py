"""summary.json of a run folder, from its samples (no model calls): the run folder as the
store reads it, scored by the metrics.

This glue sits above store and metrics (which never import each other). Rows that cannot
be samples are skipped, counted and reported (``rows_skipped``).
"""

from __future__ import annotations

from pathlib import Path

from .adapters import get_family
from .errors import UserError
from .metrics import as_rows, latest_scored, summarize
from .sample import vote_key
from .store import SAMPLES, RunFolder, read_rows
from .strategies import DEFAULT as DEFAULT_STRATEGIES
from .strategies import STORE_FOLDER, counts
from .strategies import parse_strategies, selection_metrics, without_checker


def run_strategies(manifest: dict, strategies=None) -> tuple[tuple[str, ...], list[str]]:
    """The strategies a run's summary shows: those given (``report --strategies``), else the
    ones the run recorded, else the default; refused in one line where they cannot apply.
    With them, the tasks the checker's strategies skip (their family has no checker)."""
    spec = manifest.get("spec") or {}
    recorded = parse_strategies(spec.get("strategies") or list(DEFAULT_STRATEGIES))
    names = recorded if strategies is None else parse_strategies(list(strategies))
    # Adaptive sampling is how the run drew its samples, not a rule over them: a report
    # cannot add it to a fixed-n run, nor leave it out of an adaptive one.
    if "adaptive" in names and "adaptive" not in recorded:
        raise UserError("adaptive is how a run samples (ttc-bench run --strategies adaptive), not a rule over stored "
                        "samples; this run drew a fixed number of samples per item")
    if "adaptive" in recorded and "adaptive" not in names:
        names += ("adaptive",)
    tasks = []
    for task in spec.get("tasks") or []:
        try:
            tasks.append((task["name"], get_family(task["family"])))
        except (KeyError, TypeError):
            raise UserError("manifest.json names a task this version cannot read; cannot apply --strategies") from None
    return names, without_checker(names, tasks)


def _judged(run_dir: Path, ran: bool) -> dict:
    """The selfverify verdicts of a run folder (strategies/samples.jsonl), per item and
    budget: the vote keys judged correct, how many candidates were judged, their tokens."""
    path = Path(run_dir) / STORE_FOLDER / SAMPLES
    latest = {}
    for row in read_rows(path) if path.exists() else ():
        if row.get("strategy") == "selfverify":
            latest[row["key"]] = row  # the last row of a key decides (a retried error replaces its row)
    rows = [r for r in latest.values() if r.get("error") is None]
    if not rows and not ran:  # a run that judged and found nothing to judge has no rows either
        raise UserError(f"selfverify needs the model's judgements, and {run_dir} has none: run the same "
                        "`ttc-bench run` command with --strategies selfverify (it reuses every stored sample)")
    judged: dict[tuple, dict] = {}
    for r in rows:
        entry = judged.setdefault((r["task"], r["item"], r["budget"]), {"yes": set(), "judged": 0, "tokens": 0, "prompt": 0})
        entry["judged"] += 1
        entry["tokens"] += int(r.get("completion_tokens") or 0)
        entry["prompt"] += int(r.get("prompt_tokens") or 0) + int(r.get("reread_tokens") or 0)
        if r.get("verdict") is True:
            entry["yes"].add(vote_key(r.get("answer")))
    return judged


def _revised(run_dir: Path, ran: bool) -> dict:
    """The revision chains of a run folder: per item and budget, its first sample and the
    rounds that follow it (each round's parent is the previous one), as
    {"first": (correct, completion tokens), "rounds": [(correct, completion tokens), ...]}."""
    firsts: dict[tuple, dict] = {}
    for row in read_rows(Path(run_dir) / SAMPLES):
        if row.get("sample") == 0:
            firsts[(row.get("task"), row.get("item"), row.get("budget"))] = row
    path = Path(run_dir) / STORE_FOLDER / SAMPLES
    after: dict[str, dict] = {}  # parent key -> the round built on it (the latest row of each key)
    latest: dict[str, dict] = {}
    for row in read_rows(path) if path.exists() else ():
        if row.get("strategy") == "revise":
            latest[row["key"]] = row
    for row in latest.values():
        if row.get("error") is None and row.get("parent"):
            after[row["parent"]] = row
    if not after and not ran:
        raise UserError(f"revise needs the model's revisions, and {run_dir} has none: run the same `ttc-bench run` "
                        "command with --strategies revise:R (it reuses every stored sample)")
    chains = {}
    for key, first in firsts.items():
        if first.get("error") is not None:
            continue
        rounds, parent = [], first["key"]
        while parent in after:
            row = after[parent]
            rounds.append((bool(row.get("correct")), int(row.get("completion_tokens") or 0)))
            parent = row["key"]
        chains[key] = {"first": (bool(first.get("correct")), int(first.get("completion_tokens") or 0)), "rounds": rounds}
    return chains


def summarize_run(run_dir: Path, *, prices: dict | None = None, params: float | None = None, strategies=None) -> dict:
    """summary.json content for one run folder, from samples.jsonl (+ manifest.json for the
    budget order, model, suite, strategies and, when recorded there, prices and parameter
    count). ``strategies`` replaces the ones the run recorded (docs/strategies.md)."""
    folder = RunFolder.resolve(run_dir)
    manifest = folder.manifest()
    spec = manifest.get("spec") or {}
    names, unchecked_tasks = run_strategies(manifest, strategies)
    ran = tuple(spec.get("strategies") or ())  # what the run itself asked for (its requests ran)
    if prices is None:
        prices = spec.get("prices") or manifest.get("prices")
    if params is None:
        params = spec.get("params") or manifest.get("params")
    rows = latest_scored(folder.samples())
    if not rows:
        raise folder.empty()
    summary = summarize(as_rows(rows), spec.get("budgets"), prices=prices, params=params,
                        selection=selection_metrics(names), no_checker=unchecked_tasks,
                        adaptive=int(spec.get("samples") or 1) if "adaptive" in names else None,
                        judged=_judged(folder.dir, "selfverify" in ran) if "selfverify" in names else None,
                        revised=(_revised(folder.dir, bool(counts(ran, "revise"))), counts(names, "revise"))
                        if counts(names, "revise") else None)
    if names != DEFAULT_STRATEGIES:
        summary["strategies"] = list(names)  # only when asked for: today's summary otherwise
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
