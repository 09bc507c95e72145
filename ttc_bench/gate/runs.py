"""The two runs of a comparison: loading them (store.RunFolder) and pairing their samples.

Pairing. Two runs are paired on (task, item, budget, sample index). Item ids are
``task/level/index`` and items are a pure function of the suite seed, so runs with different
suite seeds share ids but not items: that is refused (exit 2). An item whose gold answer
differs between the runs (a generator changed) is not paired either. Errored samples stay
paired: the gate's metrics say whether they count (errors cells, pass@1-strict) or not.
The sample ``key`` field is not used: it hashes the endpoint, model and request, which are
exactly what a comparison changes.

Loading follows the store's one failure policy: a path is resolved as for every reader,
an unreadable manifest is a one-line error, rows that cannot be samples are skipped and
counted (and said in a note), a samples file with none readable is a one-line error.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import UserError
from ..sample import Sample
from ..store import RunFolder


@dataclass
class RunData:
    """One run as a comparison reads it: its latest sample per key and its manifest."""

    dir: Path
    samples: list[Sample]
    manifest: dict = field(default_factory=dict)
    skipped: str | None = None  # what reading skipped, in one line (None: nothing)

    @property
    def label(self) -> str:
        return self.manifest.get("run_id") or self.dir.name

    @property
    def model(self) -> str | None:
        return (self.manifest.get("endpoint") or {}).get("model")

    @property
    def suite(self) -> str | None:
        return (self.manifest.get("spec") or {}).get("suite")

    @property
    def seed(self) -> int | None:
        return (self.manifest.get("spec") or {}).get("seed")

    def describe(self) -> dict:
        return {"path": str(self.dir), "run_id": self.label, "model": self.model, "suite": self.suite,
                "seed": self.seed}


def load_run(path: Path) -> RunData:
    """A run folder (or a file in it, or a results folder holding one run) for comparing."""
    folder = RunFolder.resolve(path)
    samples = folder.latest()
    return RunData(folder.dir, samples, folder.manifest(), folder.skipped_note())


def _gold(sample: Sample) -> str:
    gold = sample.gold
    return gold if isinstance(gold, str) else json.dumps(gold, sort_keys=True, ensure_ascii=False)


def _index(samples: Iterable[Sample]) -> tuple[dict[tuple, Sample], int]:
    """(task, budget, item, sample) -> sample; later ones win (a reused run folder may hold
    samples of older settings under other keys). Also returns how many were shadowed."""
    index: dict[tuple, Sample] = {}
    shadowed = 0
    for s in samples:
        key = (s.task, s.budget, s.item, s.sample)
        shadowed += key in index
        index[key] = s
    return index, shadowed


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def manifest_changes(base: RunData, cur: RunData) -> list[str]:
    """Settings that differ between the runs, for the report header."""
    def pick(run: RunData) -> dict:
        m = run.manifest
        spec, endpoint = m.get("spec") or {}, m.get("endpoint") or {}
        return {
            "model": endpoint.get("model"),
            "endpoint": endpoint.get("base_url") or ("embedded" if endpoint.get("embedded") else None),
            "api": endpoint.get("api"),
            "temperature": spec.get("temperature"),
            "top_p": spec.get("top_p"),
            "samples": spec.get("samples"),
            "ttc-bench": (m.get("versions") or {}).get("ttc-bench"),
        }

    a, b = pick(base), pick(cur)
    return [f"{k}: {a[k]} -> {b[k]}" for k in a if a[k] != b[k] and a[k] is not None and b[k] is not None]


@dataclass
class Group:
    """The paired samples of one task x budget: item -> [(baseline, current), ...]."""

    task: str
    budget: str
    items: dict[str, list[tuple[Sample, Sample]]]


def pair_runs(base: RunData, cur: RunData) -> tuple[list[Group], dict, list[str]]:
    """Paired samples per task x budget, counts for the report, and notes."""
    if base.seed is not None and cur.seed is not None and base.seed != cur.seed:
        raise UserError(
            f"the runs use different suite seeds (baseline {base.seed}, current {cur.seed}), so their "
            f"items differ and nothing can be paired; run the current one with --seed {base.seed}"
        )
    b_index, b_shadow = _index(base.samples)
    c_index, c_shadow = _index(cur.samples)
    notes = [f"{name}: {run.skipped}" for name, run in (("baseline", base), ("current", cur)) if run.skipped]
    if b_shadow or c_shadow:
        notes.append(
            f"{b_shadow + c_shadow} samples were stored more than once under different settings "
            f"(a reused run folder); the latest of each is compared"
        )
    gold_b = {(s.task, s.item): _gold(s) for s in b_index.values()}
    gold_c = {(s.task, s.item): _gold(s) for s in c_index.values()}
    changed = {k for k in gold_b.keys() & gold_c.keys() if gold_b[k] != gold_c[k]}
    common = [k for k in b_index if k in c_index and (k[0], k[2]) not in changed]
    if not common:
        def span(index: dict) -> str:
            tasks = ", ".join(_ordered(k[0] for k in index))
            budgets = ", ".join(_ordered(k[1] for k in index))
            return f"tasks {tasks}; budgets {budgets}"

        why = f"; {len(changed)} items have other gold answers (different generators?)" if changed else ""
        raise UserError(
            f"the runs have no (task, item, budget, sample) in common (baseline: {span(b_index)}; "
            f"current: {span(c_index)}){why}"
        )
    groups: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    errored = both_errored = 0
    for key in common:
        b, c = b_index[key], c_index[key]
        errored += not (b.scored and c.scored)
        both_errored += not (b.scored or c.scored)
        groups[(key[0], key[1])][key[2]].append((b, c))
    if both_errored == len(common):
        raise UserError(
            f"all {len(common)} samples the runs have in common errored in both runs; "
            f"nothing to compare (re-run to retry the errors)"
        )
    counts = {
        "pairs": len(common),
        "samples": len(common) - errored,
        "items": len({(t, i) for (t, _), items in groups.items() for i in items}),
        "errored_pairs": errored,
        "baseline_only": len(b_index) - len(common),
        "current_only": sum(1 for k in c_index if k not in b_index or (k[0], k[2]) in changed),
        "changed_items": len(changed),
    }
    if errored:
        notes.append(
            f"{errored} paired samples errored in one run or both: left out of pass@1, maj@k and tokens, "
            f"counted as wrong in pass@1-strict and judged in the errors cells"
        )
    if changed:
        notes.append(f"{len(changed)} items have a different gold answer in the two runs and were not compared")
    for side, n_only in (("baseline", counts["baseline_only"]), ("current", counts["current_only"])):
        if n_only:
            notes.append(f"{n_only} samples exist only in the {side} run and were not compared")
    for name, run in (("baseline", base), ("current", cur)):
        n_err = sum(not s.scored for s in run.samples)
        if n_err:
            notes.append(f"{name}: {n_err} of {len(run.samples)} samples errored ({100 * n_err / len(run.samples):.0f}%)")
    task_order = _ordered([k[0] for k in b_index] + [k[0] for k in c_index])
    budget_order = _ordered([k[1] for k in b_index] + [k[1] for k in c_index])
    ordered = sorted(groups, key=lambda tb: (task_order.index(tb[0]), budget_order.index(tb[1])))
    out = [Group(t, b, {i: groups[(t, b)][i] for i in sorted(groups[(t, b)])}) for t, b in ordered]
    return out, counts, notes


# --------------------------------------------------------------------------- metrics
