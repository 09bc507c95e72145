"""``ttc-bench merge OUT RUN...``: the shards of one run (``run --shard I/N`` on several
machines or CI jobs) combined into one run folder, as if it had run in one piece.

Runs merge only when their manifests agree on every setting that decides a sample (the
endpoint, model, profile, tasks, budgets, samples, seed, sampling, prices, batch mode);
they may differ only in how they were executed (shard, folder, concurrency, timeouts).
Each sample key is written once: within a run its last row wins (a retried error replaces
its row), across runs an answer wins over an error, and the first run given wins a tie.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .errors import UserError
from .reporting import write_reports
from .spec import parse_shard
from .sample import BadRow, Sample
from .store import SAMPLES, RunFolder, RunStore, encode_row, read_rows
from .strategies import STORE_FOLDER
from .summarize import summarize_run

# Spec entries that say how a run was executed, not what it measured.
EXECUTION = ("shard", "out", "run_id", "concurrency", "timeout_s", "retry_window_s", "n_parameter")
ENDPOINT = ("identity", "model", "api")


@dataclass
class Merged:
    run_dir: Path
    samples: int
    duplicates: int  # rows of a key another run (or an earlier row) already gave
    missing_shards: list[int]
    summary: dict
    outputs: dict


def settings(manifest: dict) -> dict:
    spec = manifest.get("spec") or {}
    endpoint = manifest.get("endpoint") or {}
    return {**{f"endpoint {k}": endpoint.get(k) for k in ENDPOINT},
            **{k: v for k, v in spec.items() if k not in EXECUTION}}


def difference(a: dict, b: dict) -> str | None:
    """The first setting two runs disagree on, as ``name: A vs B``."""
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            shown = [json.dumps(side.get(name), sort_keys=True)[:80] for side in (a, b)]
            return f"{name}: {shown[0]} vs {shown[1]}"
    return None


def _check(folders: list[RunFolder], manifests: list[dict], out: Path) -> list[int]:
    """Refuse runs that are not parts of one run (one line); the shards missing."""
    seen = set()
    for folder, manifest in zip(folders, manifests):
        if folder.dir.resolve() in seen:
            raise UserError(f"{folder.dir} is given twice; name each shard folder once")
        seen.add(folder.dir.resolve())
        if not manifest:
            raise UserError(f"{folder.dir} has no manifest.json: merge compares the settings of each run, so it needs them")
        found = difference(settings(manifests[0]), settings(manifest))
        if found:
            raise UserError(f"cannot merge {folder.dir} into the run of {folders[0].dir}: different settings ({found}); "
                            "only shards of one run merge")
    if out.resolve() in seen:
        raise UserError(f"{out} is one of the runs to merge; give a new folder for the merged run")
    shards = [(manifest.get("spec") or {}).get("shard") for manifest in manifests]
    if not all(shards):
        return []
    parsed = [parse_shard(s) for s in shards]
    counts = {n for _, n in parsed}
    if len(counts) > 1:
        raise UserError(f"cannot merge shards of different splits ({', '.join(sorted(set(shards)))}); use one --shard I/N count")
    return sorted(set(range(1, counts.pop() + 1)) - {i for i, _ in parsed})


def _chosen(folders: list[RunFolder]) -> tuple[dict[str, tuple[int, int, bool]], int]:
    """Per key, the row to keep: (run index, byte offset, is an answer); and how many rows lose."""
    chosen: dict[str, tuple[int, int, bool]] = {}
    rows = 0
    for index, folder in enumerate(folders):
        with open(folder.samples_path, "rb") as fh:
            offset = 0
            for line in fh:
                start, offset = offset, offset + len(line)
                try:
                    row = json.loads(line)
                except ValueError:
                    continue  # a torn or damaged line is not a sample
                if not isinstance(row, dict) or not isinstance(row.get("key"), str):
                    continue
                rows += 1
                ok = row.get("error") is None
                held = chosen.get(row["key"])
                # Within a run the later row wins; across runs an answer beats an error.
                if held is None or (held[0] == index) or (ok and not held[2]):
                    chosen[row["key"]] = (index, start, ok)
    return chosen, rows - len(chosen)


def merge(out: Path, runs: list[Path]) -> Merged:
    folders = [RunFolder.resolve(run) for run in runs]
    out = Path(out)
    manifests = [folder.manifest() for folder in folders]
    missing = _check(folders, manifests, out)
    locks = [RunStore(folder.dir) for folder in folders]
    store = RunStore(out)
    try:
        for lock in locks:
            lock.open_for_append()  # no shard is being written while it is read
        store.open_for_append()
        previous = store.read_manifest()
        if previous and store.samples_path.stat().st_size and difference(settings(previous), settings(manifests[0])):
            raise UserError(f"{out} holds a run of other settings; give a new folder for the merged run")
        chosen, duplicates = _chosen(folders)
        _write_samples(store, folders, chosen, out.name)
        _merge_strategy_rows(out, folders, out.name)
        store.write_manifest(_manifest(manifests, folders, out.name, previous, len(chosen)))
    finally:
        store.close()
        for lock in locks:
            lock.close()
    summary = summarize_run(out)
    path = store.write_summary(summary)
    return Merged(out, len(chosen), duplicates, missing, summary, {"summary.json": path, **write_reports(out, summary)})


def _write_samples(store: RunStore, folders: list[RunFolder], chosen: dict, run_id: str) -> None:
    """samples.jsonl of the merged run in one step; rows name the merged run."""
    keep = [set() for _ in folders]
    for index, offset, _ in chosen.values():
        keep[index].add(offset)
    tmp = store.samples_path.with_name(f"{store.samples_path.name}.{os.getpid()}.merge")
    try:
        with open(tmp, "wb") as dest:
            for index, folder in enumerate(folders):
                with open(folder.samples_path, "rb") as fh:
                    offset = 0
                    for line in fh:
                        start, offset = offset, offset + len(line)
                        if start in keep[index]:
                            row = json.loads(line)
                            row["run_id"] = run_id
                            dest.write(encode_row(row))
        os.replace(tmp, store.samples_path)
    except OSError as exc:
        raise UserError(f"cannot write {store.samples_path}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _merge_strategy_rows(out: Path, folders: list[RunFolder], run_id: str) -> None:
    """The strategies' own rows (strategies/samples.jsonl: selfverify, revise) of every
    shard, each key once (an answer beats an error), into the merged run's; nothing when
    no shard has any. Rows already in the merged folder are kept."""
    paths = [f.dir / STORE_FOLDER / SAMPLES for f in folders if (f.dir / STORE_FOLDER / SAMPLES).exists()]
    if not paths:
        return
    target = RunStore(out / STORE_FOLDER)
    held = target.finished_keys()
    rows: dict[str, dict] = {}
    for path in paths:
        for row in read_rows(path):
            if row["key"] not in held and (row["key"] not in rows or row.get("error") is None):
                rows[row["key"]] = row
    target.open_for_append()
    try:
        for row in rows.values():
            try:
                sample = Sample.from_json(row)
            except BadRow:
                continue  # a damaged row is not a strategy's answer (read_rows skips the unreadable ones)
            sample.run_id = run_id
            target.append(sample)
    finally:
        target.close()


def _manifest(manifests: list[dict], folders: list[RunFolder], run_id: str, previous: dict | None, samples: int) -> dict:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    merged = json.loads(json.dumps(manifests[0]))
    merged["run_id"] = run_id
    merged["spec"]["shard"] = merged["spec"]["run_id"] = None
    merged["created"] = (previous or {}).get("created") or min(m.get("created") or now for m in manifests)
    merged["updated"] = now
    merged["merged_from"] = [
        {"run_id": m.get("run_id"), "folder": str(f.dir), "shard": (m.get("spec") or {}).get("shard"),
         "command": m.get("command")}
        for m, f in zip(manifests, folders)
    ]
    merged["merged_samples"] = samples
    return merged

