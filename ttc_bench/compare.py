"""Paired comparison of two runs and the CI regression verdict (``ttc-bench compare``).

Pairing. Two runs are paired on (task, item, budget, sample index). Item ids are
``task/level/index`` and items are a pure function of the suite seed, so runs with different
suite seeds share ids but not items: that is refused (exit 2). An item whose gold answer
differs between the runs (a generator changed) is not paired either. A sample key counts
only when the sample finished without error in *both* runs, so both sides of an item always
hold the same number of samples. The sample ``key`` field is not used: it hashes the
endpoint, model and request, which are exactly what a comparison changes.

Per task x budget, over the paired items (the item is the unit of evidence; samples of one
item are not independent draws of the benchmark):
- ``pass@1``: item value = share of its paired samples that are correct.
- ``maj@k`` at the largest k (the paired samples per item; only when k >= 2): item value =
  exact expected majority-vote correctness over size-k subsets (scoring.maj_at_k); items with
  fewer than k paired samples are left out of this metric.
- ``tokens``: item value = mean completion tokens per sample x k (the compute of maj@k);
  differences and the tolerance are relative to the baseline mean.
The difference is current - baseline. Its SE is the paired SE over items (for one sample
per item, the textbook SE of paired proportions). The p-value is exact McNemar on the
discordant items when each item has one sample, else a paired bootstrap over items
(fixed seed, so reruns agree). See stats.py for the formulas and small-sample guards.

Verdicts, for every gated cell (accuracy metrics always; tokens with --max-token-increase):
- significance uses Holm-adjusted p-values over all gated cells, so the gate's false-alarm
  rate stays at alpha = 0.05 overall however many tasks, budgets and metrics it checks;
- ``regression``: significant, and worse by more than the tolerance (--max-drop points of
  accuracy, default 0; --max-token-increase for tokens);
- ``improvement``: significant, and better by more than the tolerance;
- ``inconclusive``: neither, and the minimum detectable effect (MDE, power 0.8 at the
  per-cell alpha Holm needs, alpha / number of gated cells) is larger than the effect the
  gate is meant to catch (the "target"): for accuracy --mde-target if given, else --max-drop,
  else 5 points when --max-drop is 0 (the default; no finite suite detects a drop of 0);
  for tokens --max-token-increase, or 5% when that is 0;
- ``ok``: otherwise (including a significant change within the tolerance);
- ``ungated``: reported only (tokens without --max-token-increase).
Exit code: 1 when any gated cell is a regression (or inconclusive, with --fail-inconclusive),
0 otherwise; unusable input raises UserError (exit 2 in the CLI).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from . import stats
from .compare_args import METRICS, add_compare_arguments, parse_fraction  # noqa: F401 (re-exported)
from .errors import UserError
from .scoring import Z95, maj_at_k
from .store import MANIFEST, SAMPLES, latest_rows

DEFAULT_MDE_TARGET = 0.05  # accuracy: 5 points
DEFAULT_TOKEN_MDE_TARGET = 0.05  # tokens: 5% of the baseline
VERDICTS = ("regression", "improvement", "inconclusive", "ok", "ungated")
_REQUIRED = ("task", "item", "budget", "sample", "correct")


# --------------------------------------------------------------------------- loading


@dataclass
class RunData:
    """One run folder as read for a comparison."""

    dir: Path
    rows: list[dict]
    manifest: dict | None

    @property
    def label(self) -> str:
        return (self.manifest or {}).get("run_id") or self.dir.name

    @property
    def model(self) -> str | None:
        return ((self.manifest or {}).get("endpoint") or {}).get("model")

    @property
    def suite(self) -> str | None:
        return ((self.manifest or {}).get("spec") or {}).get("suite")

    @property
    def seed(self) -> int | None:
        return ((self.manifest or {}).get("spec") or {}).get("seed")

    def describe(self) -> dict:
        return {"path": str(self.dir), "run_id": self.label, "model": self.model, "suite": self.suite, "seed": self.seed}


def resolve_run_dir(path: Path) -> Path:
    """The run folder behind PATH: a run folder, its summary.json/manifest.json/samples.jsonl,
    or a results folder holding exactly one run."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; give a run folder (e.g. results/<run-id>) or its summary.json")
    if path.is_file():
        folder = path.parent
        if not (folder / SAMPLES).is_file():
            raise UserError(
                f"{path}: no {SAMPLES} beside it; a comparison pairs individual samples, so it needs "
                f"the whole run folder, not a summary alone"
            )
        return folder
    if (path / SAMPLES).is_file():
        return path
    runs = sorted(p for p in path.iterdir() if (p / SAMPLES).is_file())
    if len(runs) == 1:
        return runs[0]
    if runs:
        names = ", ".join(p.name for p in runs[:5]) + (", ..." if len(runs) > 5 else "")
        raise UserError(f"{path} holds {len(runs)} runs ({names}); name one of them")
    raise UserError(f"{path} has no {SAMPLES}; give a run folder written by ttc-bench run")


def load_run(path: Path) -> RunData:
    folder = resolve_run_dir(path)
    samples = folder / SAMPLES
    try:
        rows = latest_rows(samples)
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"{samples} is not a ttc-bench samples file (rows without a 'key')") from None
    except OSError as exc:
        raise UserError(f"cannot read {samples}: {exc.strerror}") from None
    if not rows:
        raise UserError(f"{samples} holds no samples")
    missing = [f for f in _REQUIRED if f not in rows[0]]
    if missing:
        raise UserError(f"{samples} is not a ttc-bench samples file (rows lack {', '.join(missing)})")
    manifest = None
    if (folder / MANIFEST).is_file():
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            manifest = None  # the samples are what count; the manifest only labels the run
    return RunData(folder, rows, manifest if isinstance(manifest, dict) else None)


# --------------------------------------------------------------------------- results


@dataclass
class Settings:
    max_drop: float = 0.0
    max_token_increase: float | None = None
    mde_target: float | None = None  # None: the tolerance, or the default when it is 0
    metrics: tuple[str, ...] = METRICS
    fail_inconclusive: bool = False
    alpha: float = stats.ALPHA
    power: float = stats.POWER

    def target(self, kind: str) -> float:
        """The effect the gate must be able to see: decides `inconclusive`."""
        if kind == "tokens":
            tol = self.max_token_increase or 0.0
            return tol if tol > 0 else DEFAULT_TOKEN_MDE_TARGET
        if self.mde_target is not None:
            return self.mde_target
        return self.max_drop if self.max_drop > 0 else DEFAULT_MDE_TARGET


@dataclass
class MetricResult:
    """One task x budget x metric cell. Accuracy values are fractions (0..1); for tokens,
    baseline/current are tokens per item and diff, ci95, se and mde are relative to the
    baseline (0.2 = +20%)."""

    task: str
    budget: str
    metric: str  # "pass@1", "maj@4", "tokens"
    kind: str  # "accuracy" or "tokens"
    items: int
    k: int
    baseline: float
    current: float
    diff: float
    se: float
    ci95: tuple[float, float]
    p_value: float
    method: str  # "mcnemar-exact" or "bootstrap"
    discordant: tuple[int, int] | None = None  # McNemar: (baseline right & current wrong, the reverse)
    abs_diff: float | None = None  # tokens: the change in tokens per item (diff is relative)
    gated: bool = True
    tolerance: float | None = None
    target: float = DEFAULT_MDE_TARGET
    p_adjusted: float | None = None
    mde: float = math.inf
    items_needed: int | None = None
    verdict: str = "ok"
    reason: str = ""

    @property
    def name(self) -> str:
        return f"{self.task} {self.budget} {self.metric}"

    @property
    def worse_by(self) -> float:
        """How much worse the current run is, as a positive number (negative = better)."""
        return -self.diff if self.kind == "accuracy" else self.diff


@dataclass
class Comparison:
    baseline: dict
    current: dict
    settings: Settings
    results: list[MetricResult]
    paired: dict
    notes: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)

    def gated(self) -> list[MetricResult]:
        return [r for r in self.results if r.gated]

    def by_verdict(self, verdict: str) -> list[MetricResult]:
        return [r for r in self.results if r.gated and r.verdict == verdict]

    @property
    def failed(self) -> bool:
        return bool(self.by_verdict("regression")) or (
            self.settings.fail_inconclusive and bool(self.by_verdict("inconclusive"))
        )

    @property
    def status(self) -> str:
        """One word for the headline: regression, inconclusive, improvement or ok."""
        if self.by_verdict("regression"):
            return "regression"
        if self.by_verdict("inconclusive"):
            return "inconclusive"
        if self.by_verdict("improvement"):
            return "improvement"
        return "ok"


def exit_code(comparison: Comparison) -> int:
    """1 when a gated cell regressed (or was inconclusive with fail_inconclusive), else 0."""
    return 1 if comparison.failed else 0


# --------------------------------------------------------------------------- pairing


def _gold(row: dict) -> str:
    gold = row.get("gold")
    return gold if isinstance(gold, str) else json.dumps(gold, sort_keys=True, ensure_ascii=False)


def _index(rows: Iterable[dict]) -> tuple[dict[tuple, dict], int]:
    """(task, budget, item, sample) -> row; later rows win (a reused run folder may hold
    samples of older settings under other keys). Also returns how many were shadowed."""
    index: dict[tuple, dict] = {}
    shadowed = 0
    for row in rows:
        key = (row["task"], row["budget"], row["item"], int(row["sample"]))
        shadowed += key in index
        index[key] = row
    return index, shadowed


def _ordered(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _manifest_changes(base: RunData, cur: RunData) -> list[str]:
    """Settings that differ between the runs, for the report header."""
    def pick(run: RunData) -> dict:
        m = run.manifest or {}
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
class _Group:
    task: str
    budget: str
    items: dict[str, list[tuple[dict, dict]]]


def pair_runs(base: RunData, cur: RunData) -> tuple[list[_Group], dict, list[str]]:
    """Paired samples per task x budget, counts for the report, and notes."""
    if base.seed is not None and cur.seed is not None and base.seed != cur.seed:
        raise UserError(
            f"the runs use different suite seeds (baseline {base.seed}, current {cur.seed}), so their "
            f"items differ and nothing can be paired; run the current one with --seed {base.seed}"
        )
    b_index, b_shadow = _index(base.rows)
    c_index, c_shadow = _index(cur.rows)
    notes: list[str] = []
    if b_shadow or c_shadow:
        notes.append(
            f"{b_shadow + c_shadow} samples were stored more than once under different settings "
            f"(a reused run folder); the latest of each is compared"
        )
    gold_b = {(r["task"], r["item"]): _gold(r) for r in b_index.values()}
    gold_c = {(r["task"], r["item"]): _gold(r) for r in c_index.values()}
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
    errored = 0
    for key in common:
        b_row, c_row = b_index[key], c_index[key]
        if b_row.get("error") is not None or c_row.get("error") is not None:
            errored += 1
            continue
        groups[(key[0], key[1])][key[2]].append((b_row, c_row))
    if not groups:
        raise UserError(
            f"all {len(common)} samples the runs have in common errored in one run or the other; "
            f"nothing to compare (re-run to retry the errors)"
        )
    counts = {
        "samples": len(common) - errored,
        "items": len({(t, i) for (t, _), items in groups.items() for i in items}),
        "errored_pairs": errored,
        "baseline_only": len(b_index) - len(common),
        "current_only": sum(1 for k in c_index if k not in b_index or (k[0], k[2]) in changed),
        "changed_items": len(changed),
    }
    if errored:
        notes.append(f"{errored} paired samples errored in one of the runs and were left out of both")
    if changed:
        notes.append(f"{len(changed)} items have a different gold answer in the two runs and were not compared")
    for side, n_only in (("baseline", counts["baseline_only"]), ("current", counts["current_only"])):
        if n_only:
            notes.append(f"{n_only} samples exist only in the {side} run and were not compared")
    for name, run in (("baseline", base), ("current", cur)):
        n_err = sum(1 for r in run.rows if r.get("error") is not None)
        if n_err:
            notes.append(f"{name}: {n_err} of {len(run.rows)} samples errored ({100 * n_err / len(run.rows):.0f}%)")
    task_order = _ordered([k[0] for k in b_index] + [k[0] for k in c_index])
    budget_order = _ordered([k[1] for k in b_index] + [k[1] for k in c_index])
    ordered = sorted(groups, key=lambda tb: (task_order.index(tb[0]), budget_order.index(tb[1])))
    out = [_Group(t, b, {i: groups[(t, b)][i] for i in sorted(groups[(t, b)])}) for t, b in ordered]
    return out, counts, notes


# --------------------------------------------------------------------------- metrics


def _votes(rows: Sequence[dict]) -> tuple[dict[str, tuple[int, bool]], int]:
    answers: dict[str, list] = {}
    unparsed = 0
    for row in rows:
        answer = row.get("answer")
        if answer is None:
            unparsed += 1
            continue
        if not isinstance(answer, str):
            answer = json.dumps(answer, sort_keys=True)
        entry = answers.setdefault(answer, [0, bool(row["correct"])])
        entry[0] += 1
    return {a: (m, c) for a, (m, c) in answers.items()}, unparsed


def _item_values(group: _Group, metric: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    base, cur = [], []
    for pairs in group.items.values():
        b_rows = [b for b, _ in pairs]
        c_rows = [c for _, c in pairs]
        if metric == "pass@1":
            base.append(np.mean([bool(r["correct"]) for r in b_rows]))
            cur.append(np.mean([bool(r["correct"]) for r in c_rows]))
        elif metric == "maj@k":
            if len(pairs) < k:
                continue  # an item that lost samples to errors cannot vote over k of them
            base.append(maj_at_k(*_votes(b_rows), k))
            cur.append(maj_at_k(*_votes(c_rows), k))
        else:
            base.append(k * np.mean([r.get("completion_tokens") or 0 for r in b_rows]))
            cur.append(k * np.mean([r.get("completion_tokens") or 0 for r in c_rows]))
    return np.asarray(base, dtype=float), np.asarray(cur, dtype=float)


def _cell(group: _Group, metric: str, k: int, one_sample: bool) -> MetricResult | None:
    base, cur = _item_values(group, metric, k)
    n = base.size
    if n == 0:
        return None
    diffs = cur - base
    b_mean, c_mean = float(base.mean()), float(cur.mean())
    diff = c_mean - b_mean
    name = f"maj@{k}" if metric == "maj@k" else metric
    kind = "tokens" if metric == "tokens" else "accuracy"
    discordant = None
    if metric == "pass@1" and one_sample:
        lost = int(np.count_nonzero((base == 1) & (cur == 0)))
        gained = int(np.count_nonzero((base == 0) & (cur == 1)))
        discordant = (lost, gained)
        se = stats.mcnemar_se(lost, gained, n)
        p = stats.mcnemar_exact_p(lost, gained)
        ci = (diff - Z95 * se, diff + Z95 * se)
        method = "mcnemar-exact"
    else:
        se = stats.paired_se(diffs)
        boot = stats.paired_bootstrap(diffs)
        p, ci, method = boot.p_value, boot.ci95, "bootstrap"
    abs_diff = None
    if kind == "tokens":
        # Tokens are judged relative to the baseline: "+20%" means the same at any budget.
        abs_diff = diff
        scale = b_mean if b_mean > 0 else None
        if scale is None:
            rel = 0.0 if c_mean == 0 else math.inf
            diff, se, ci = rel, 0.0, (rel, rel)
        else:
            diff, se, ci = diff / scale, se / scale, (ci[0] / scale, ci[1] / scale)
    return MetricResult(
        task=group.task, budget=group.budget, metric=name, kind=kind, items=n, k=k,
        baseline=b_mean, current=c_mean, diff=diff, se=se, ci95=(float(ci[0]), float(ci[1])),
        p_value=float(p), method=method, discordant=discordant, abs_diff=abs_diff,
    )


def fmt_p(p: float, named: bool = False) -> str:
    """'0.013' / '<0.001'; named: 'p=0.013' / 'p<0.001'."""
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    return ("p" if text[0] == "<" else "p=") + text if named else text


def fmt_effect(x: float, kind: str, signed: bool = False) -> str:
    """An accuracy difference in points ("-12.5 pts") or a token change in percent ("+20%")."""
    if not math.isfinite(x):
        return "n/a"
    sign = "+" if signed and x >= 0 else ""
    return f"{sign}{100 * x:.1f} pts" if kind == "accuracy" else f"{sign}{100 * x:.0f}%"


def detectable(r: MetricResult) -> bool:
    """False when no change of any size could be significant with this few items."""
    return math.isfinite(r.mde) and not (r.kind == "accuracy" and r.mde >= 1)


def fmt_mde(r: MetricResult) -> str:
    if not detectable(r):
        return "> 100 pts" if r.kind == "accuracy" else "n/a"
    return fmt_effect(r.mde, r.kind)


def _judge(r: MetricResult, settings: Settings, alpha_cell: float) -> None:
    """Verdict, MDE and items needed for one cell (p_adjusted already set if gated)."""
    # Accuracy changes come in whole-item flips when item values are binary (McNemar) or when
    # no spread was observed to estimate an SE from (e.g. identical deterministic runs).
    flips = r.kind == "accuracy" and (r.method == "mcnemar-exact" or r.se == 0)
    unit = 1.0 if flips else None
    r.mde = stats.mde(r.se, r.items, alpha=alpha_cell, power=settings.power, flip_unit=unit)
    r.target = settings.target(r.kind)
    if r.mde > r.target:
        r.items_needed = stats.items_needed(r.se, r.items, r.target, alpha=alpha_cell, power=settings.power, flip_unit=unit)
    p = r.p_adjusted if r.p_adjusted is not None else r.p_value
    change = fmt_effect(r.diff, r.kind, signed=True)
    if not r.gated:
        r.verdict = "ungated"
        r.reason = f"{change} ({fmt_p(p, named=True)}); reported only: pass --max-token-increase to gate token cost"
        return
    significant = p < settings.alpha
    tol = r.tolerance or 0.0
    if significant and r.worse_by > tol:
        r.verdict = "regression"
        r.reason = f"{change}, significant ({fmt_p(p, named=True)}) and beyond the tolerance ({fmt_effect(tol, r.kind)})"
    elif significant and -r.worse_by > tol:
        r.verdict = "improvement"
        r.reason = f"{change}, significant ({fmt_p(p, named=True)})"
    elif r.mde > r.target:
        needed = f"; about {r.items_needed} items would detect {fmt_effect(r.target, r.kind)}" if r.items_needed else ""
        r.verdict = "inconclusive"
        if detectable(r):
            why = f"the smallest detectable change is {fmt_mde(r)}, above the {fmt_effect(r.target, r.kind)} target"
        else:
            why = "no change of any size could be significant"
        r.reason = f"{change}, not significant ({fmt_p(p, named=True)}); with {r.items} items {why}{needed}"
    else:
        r.verdict = "ok"
        how = "significant but within the tolerance" if significant else "not significant"
        r.reason = f"{change}, {how} ({fmt_p(p, named=True)}); detectable change {fmt_mde(r)}"


def compare_runs(base: RunData, cur: RunData, settings: Settings | None = None) -> Comparison:
    """Pair two loaded runs and judge every task x budget x metric cell."""
    settings = settings or Settings()
    unknown = [m for m in settings.metrics if m not in METRICS]
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    groups, counts, notes = pair_runs(base, cur)
    results: list[MetricResult] = []
    for group in groups:
        k = max(len(pairs) for pairs in group.items.values())
        one_sample = all(len(pairs) == 1 for pairs in group.items.values())
        for metric in METRICS:
            if metric not in settings.metrics or (metric == "maj@k" and k < 2):
                continue  # maj@1 is pass@1
            cell = _cell(group, metric, k, one_sample)
            if cell is None:
                continue
            if metric == "tokens":
                cell.gated = settings.max_token_increase is not None
                cell.tolerance = settings.max_token_increase
            else:
                cell.tolerance = settings.max_drop
            results.append(cell)
    gated = [r for r in results if r.gated]
    for r, p_adj in zip(gated, stats.holm([r.p_value for r in gated])):
        r.p_adjusted = p_adj
    # Holm's first step tests the smallest p-value at alpha / m: the MDE must be computed at
    # that level, or the gate would claim to see effects it cannot flag.
    alpha_cell = settings.alpha / max(1, len(gated))
    for r in results:
        _judge(r, settings, alpha_cell if r.gated else settings.alpha)
    counts["gated_cells"] = len(gated)
    counts["alpha_per_cell"] = alpha_cell
    return Comparison(
        baseline=base.describe(), current=cur.describe(), settings=settings, results=results,
        paired=counts, notes=notes, changes=_manifest_changes(base, cur),
    )


def compare_paths(
    baseline: Path,
    current: Path,
    *,
    max_drop: float = 0.0,
    max_token_increase: float | None = None,
    metrics: Sequence[str] = METRICS,
    mde_target: float | None = None,
    fail_inconclusive: bool = False,
) -> Comparison:
    """Load two run folders (or their summary.json / samples.jsonl) and compare them."""
    settings = Settings(
        max_drop=max_drop, max_token_increase=max_token_increase, mde_target=mde_target,
        metrics=tuple(metrics), fail_inconclusive=fail_inconclusive,
    )
    return compare_runs(load_run(baseline), load_run(current), settings)


# --------------------------------------------------------------------------- CLI glue


def run_compare(args: argparse.Namespace, current: Path | None = None) -> int:
    """Everything `ttc-bench compare` does, given parsed args; returns the exit code.

    ``current`` overrides args.current (for `ttc-bench run --baseline`, which compares the
    run folder it just wrote). Unusable input raises UserError (the CLI prints it, exit 2).
    """
    from rich.console import Console

    from .compare_report import print_comparison, write_outputs

    comparison = compare_paths(
        Path(args.baseline),
        Path(current if current is not None else args.current),
        max_drop=getattr(args, "max_drop", 0.0) or 0.0,
        max_token_increase=getattr(args, "max_token_increase", None),
        metrics=getattr(args, "metrics", None) or METRICS,
        mde_target=getattr(args, "mde_target", None),
        fail_inconclusive=bool(getattr(args, "fail_inconclusive", False)),
    )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # CI logs: keep table rows on one line
    print_comparison(comparison, console)
    written = write_outputs(
        comparison,
        out_dir=Path(args.report_dir) if getattr(args, "report_dir", None) else None,
        junit=Path(args.junit) if getattr(args, "junit", None) else None,
        markdown=Path(args.markdown) if getattr(args, "markdown", None) else None,
        json_path=Path(args.json_path) if getattr(args, "json_path", None) else None,
    )
    for path in written:
        console.print(f"wrote {path}", style="dim", soft_wrap=True)
    return exit_code(comparison)
