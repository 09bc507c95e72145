"""Paired comparison of two runs and the CI regression verdict (``ttc-bench compare``).

Pairing. Two runs are paired on (task, item, budget, sample index). Item ids are
``task/level/index`` and items are a pure function of the suite seed, so runs with different
suite seeds share ids but not items: that is refused (exit 2). An item whose gold answer
differs between the runs (a generator changed) is not paired either. Errored samples stay
paired: accuracy metrics use the sample pairs that finished in *both* runs, and the error
cells below judge the errors themselves. The sample ``key`` field is not used: it hashes
the endpoint, model and request, which are exactly what a comparison changes.

Cells, per task x budget, over the paired items (the item is the unit of evidence; samples
of one item are not independent draws of the benchmark):
- ``pass@1``: item value = share of its scored sample pairs that are correct;
- ``pass@1-strict``: the same over *all* paired samples, an errored one counted as wrong
  (shown when any paired sample errored; otherwise it equals pass@1);
- ``maj@k`` at the largest k (the scored pairs per item; only when k >= 2): exact expected
  majority-vote correctness over size-k subsets (scoring.maj_at_k); items with fewer than
  k scored pairs are left out of this cell;
- ``errors``: item value = share of its paired samples whose request finally failed;
- ``tokens``: item value = mean completion tokens per scored sample x k; differences and
  the tolerance are relative to the baseline mean.
The change is current - baseline. See stats.py for the tests: exact or mid-p McNemar and
Tango's score test for one sample per item, the paired t-test otherwise.

Verdicts. Each gated cell is a pair of one-sided tests against its tolerance (--max-drop
points of accuracy, --max-error-increase points of error rate, --max-token-increase of
tokens): "worse by more than the tolerance" (non-inferiority) and "better by more than it".
Its p-value is twice the smaller one-sided p-value, Holm-adjusted over the gated cells:
- ``regression``: adjusted p < alpha in the worse direction, i.e. the Holm-level two-sided
  interval lies entirely beyond the tolerance (a drop the size of the tolerance passes at
  least 97.5% of the time);
- ``improvement``: the same in the better direction;
- ``inconclusive``: neither, and the minimum detectable effect (the drop detected with
  power 0.8 at the per-cell level Holm needs, tolerance included) is larger than the
  target: --mde-target, else the tolerance + 5 points (+5% for tokens);
- ``ok``: otherwise;
- ``ungated``: reported only (tokens without --max-token-increase).
Cells in which no item differs between the runs cannot be significant; they are reported
but not counted in the Holm family (Tarone 1990), so an error cell with no error in either
run does not dilute the others.
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
from .scoring import maj_at_k
from .store import MANIFEST, SAMPLES, latest_rows

DEFAULT_MDE_TARGET = 0.05  # accuracy and errors: 5 points beyond the tolerance
DEFAULT_TOKEN_MDE_TARGET = 0.05  # tokens: 5% of the baseline beyond the tolerance
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
    max_error_increase: float = 0.0
    mde_target: float | None = None  # None: the tolerance + the default
    metrics: tuple[str, ...] = METRICS
    fail_inconclusive: bool = False
    mid_p: bool = False
    alpha: float = stats.ALPHA
    power: float = stats.POWER

    def tolerance(self, kind: str) -> float:
        if kind == "tokens":
            return self.max_token_increase or 0.0
        return self.max_error_increase if kind == "errors" else self.max_drop

    def target(self, kind: str) -> float:
        """The change the gate must be able to see (with power 0.8): decides `inconclusive`.
        A change the size of the tolerance is allowed, so the target lies beyond it."""
        if kind == "accuracy" and self.mde_target is not None:
            return self.mde_target
        default = DEFAULT_TOKEN_MDE_TARGET if kind == "tokens" else DEFAULT_MDE_TARGET
        return self.tolerance(kind) + default


@dataclass
class MetricResult:
    """One task x budget x metric cell. Accuracy and error values are fractions (0..1); for
    tokens, baseline/current are tokens per item and diff, ci95, se and mde are relative to
    the baseline (0.2 = +20%). ``mde`` is a change in the worse direction (a drop of
    accuracy, a rise of errors or tokens), tolerance included."""

    task: str
    budget: str
    metric: str  # "pass@1", "pass@1-strict", "maj@4", "errors", "tokens"
    kind: str  # "accuracy", "errors" or "tokens"
    items: int
    k: int
    baseline: float
    current: float
    diff: float
    se: float
    ci95: tuple[float, float]
    p_value: float  # two-sided: 2 x the smaller one-sided p-value
    method: str  # "mcnemar-exact", "mcnemar-midp", "tango-score" or "paired-t"
    p_worse: float = 1.0  # one-sided: H0 "not worse than the tolerance"
    p_better: float = 1.0  # one-sided: H0 "not better than the tolerance"
    discordant: tuple[int, int] | None = None  # one sample per item: (items worse, items better)
    correlation: float | None = None  # between-run Pearson correlation of the item values
    abs_diff: float | None = None  # tokens: the change in tokens per item (diff is relative)
    gated: bool = True
    in_family: bool = True  # counted in the Holm family (False: no item differs)
    tolerance: float | None = None
    target: float = DEFAULT_MDE_TARGET
    alpha: float = stats.ALPHA  # the per-cell level the MDE is computed at
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
    errored = both_errored = 0
    for key in common:
        b_row, c_row = b_index[key], c_index[key]
        b_err, c_err = b_row.get("error") is not None, c_row.get("error") is not None
        errored += b_err or c_err
        both_errored += b_err and c_err
        groups[(key[0], key[1])][key[2]].append((b_row, c_row))
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


def _scored(pairs: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
    return [(b, c) for b, c in pairs if b.get("error") is None and c.get("error") is None]


def _ok(row: dict) -> bool:
    return row.get("error") is None and bool(row["correct"])


def _item_values(group: _Group, metric: str, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-item baseline and current values of one metric, and the samples behind each."""
    base, cur, size = [], [], []
    for pairs in group.items.values():
        scored = _scored(pairs)
        if metric in ("errors", "pass@1-strict"):
            use = pairs
        elif metric == "maj@k" and len(scored) < k:
            continue  # an item that lost samples to errors cannot vote over k of them
        else:
            use = scored
        if not use:
            continue
        b_rows = [b for b, _ in use]
        c_rows = [c for _, c in use]
        if metric in ("pass@1", "pass@1-strict"):
            base.append(np.mean([_ok(r) for r in b_rows]))
            cur.append(np.mean([_ok(r) for r in c_rows]))
        elif metric == "errors":
            base.append(np.mean([r.get("error") is not None for r in b_rows]))
            cur.append(np.mean([r.get("error") is not None for r in c_rows]))
        elif metric == "maj@k":
            base.append(maj_at_k(*_votes(b_rows), k))
            cur.append(maj_at_k(*_votes(c_rows), k))
        else:
            base.append(k * np.mean([r.get("completion_tokens") or 0 for r in b_rows]))
            cur.append(k * np.mean([r.get("completion_tokens") or 0 for r in c_rows]))
        size.append(len(use))
    return np.asarray(base, dtype=float), np.asarray(cur, dtype=float), np.asarray(size, dtype=float)


def _correlation(base: np.ndarray, cur: np.ndarray) -> float | None:
    """Between-run Pearson correlation of the item values (None when either is constant):
    how much of the item-to-item spread the pairing removes."""
    if base.size < 3 or base.std() == 0 or cur.std() == 0:
        return None
    return float(np.corrcoef(base, cur)[0, 1])


def _within_spread(values: np.ndarray, size: np.ndarray) -> float:
    """E(p(1 - p)) per sample, unbiased from items with 2+ samples: y(1 - y) m / (m - 1)."""
    several = size >= 2
    if not several.any():
        return 0.0
    y, m = values[several], size[several]
    return float(np.mean(y * (1 - y) * m / (m - 1)))


def cell_statistics(
    base: np.ndarray,
    cur: np.ndarray,
    size: np.ndarray,
    *,
    tol: float,
    per_sample: bool,
    mid_p: bool = False,
    answers: bool = True,
) -> tuple[stats.PairedTest, stats.PowerModel]:
    """The test and the power model of one cell from per-item *goodness* values (higher is
    better; a drop is bad) and the samples behind each item.

    ``per_sample``: the values are shares of 0/1 samples (pass@1, errors), so the power
    model of stats.py applies; with one sample per item the test is McNemar's / Tango's.
    ``answers``: the samples are answers (not request errors), which a deterministic
    endpoint repeats: when every item is all right or all wrong in both runs, its samples
    agree and an item changes as a whole.
    """
    n = base.size
    diffs = cur - base
    binary = per_sample and bool(np.all(size == 1))
    acc = float(base.mean()) if per_sample else None
    if binary:
        worse = int(np.count_nonzero((base == 1) & (cur == 0)))
        better = int(np.count_nonzero((base == 0) & (cur == 1)))
        test = stats.paired_binary(worse, better, n, tol, mid_p=mid_p)
        psi0 = (worse + better) / n
        model = stats.PowerModel(n, math.sqrt(psi0), True, acc, psi0 / 2, 1.0, mid_p)
    else:
        test = stats.paired_t(diffs, tol)
        sd0 = float(np.std(diffs, ddof=1)) if n > 1 else 0.0
        epq = (_within_spread(base, size) + _within_spread(cur, size)) / 2 if per_sample else 0.0
        # Every item all right or all wrong in both runs: the samples of an item agree (a
        # deterministic endpoint, most likely), so an item changes as a whole, like one sample.
        whole = answers and bool(np.all((base == 0) | (base == 1)) and np.all((cur == 0) | (cur == 1)))
        m = 1.0 if whole or not per_sample else float(size.mean())
        model = stats.PowerModel(n, sd0, False, acc, epq, m, mid_p)
    return test, model


# metric -> (kind, per-sample shares). Goodness: accuracy as is; errors as 1 - error rate;
# tokens as minus tokens relative to the baseline mean.
_KINDS = {"pass@1": ("accuracy", True), "pass@1-strict": ("accuracy", True), "maj@k": ("accuracy", False),
          "errors": ("errors", True), "tokens": ("tokens", False)}  # fmt: skip


def _cell(group: _Group, metric: str, k: int, settings: Settings) -> tuple[MetricResult, stats.PowerModel] | None:
    base, cur, size = _item_values(group, metric, k)
    n = base.size
    if n == 0:
        return None
    kind, per_sample = _KINDS[metric]
    b_mean, c_mean = float(base.mean()), float(cur.mean())
    tol = settings.tolerance(kind)
    if kind == "tokens":
        # Tokens are judged relative to the baseline: "+20%" means the same at any budget.
        scale = b_mean if b_mean > 0 else 1.0
        good_b, good_c = -base / scale, -cur / scale
    elif kind == "errors":
        good_b, good_c = 1 - base, 1 - cur
    else:
        good_b, good_c = base, cur
    test, model = cell_statistics(
        good_b, good_c, size, tol=tol, per_sample=per_sample, mid_p=settings.mid_p, answers=kind == "accuracy"
    )
    lo, hi = test.ci95
    if kind != "tokens":  # a share cannot move beyond [0, 1]: neither can its change
        lo, hi = max(lo, -float(good_b.mean())), min(hi, 1 - float(good_b.mean()))
    diff = float(good_c.mean() - good_b.mean())
    if kind != "accuracy":  # back from goodness to the natural direction (up = more)
        diff, lo, hi = -diff, -hi, -lo
    result = MetricResult(
        task=group.task, budget=group.budget, metric=f"maj@{k}" if metric == "maj@k" else metric, kind=kind,
        items=n, k=k, baseline=b_mean, current=c_mean, diff=diff, se=test.se, ci95=(float(lo), float(hi)),
        p_value=test.p_value, method=test.method, p_worse=test.p_worse, p_better=test.p_better,
        discordant=test.discordant, correlation=_correlation(base, cur),
        abs_diff=c_mean - b_mean if kind == "tokens" else None, tolerance=tol,
        in_family=bool(np.any(good_c != good_b)),
    )
    return result, model


def fmt_p(p: float, named: bool = False) -> str:
    """'0.013' / '<0.001'; named: 'p=0.013' / 'p<0.001'."""
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    return ("p" if text[0] == "<" else "p=") + text if named else text


def fmt_effect(x: float, kind: str, signed: bool = False) -> str:
    """An accuracy or error-rate difference in points ("-12.5 pts") or a token change in
    percent ("+20%")."""
    if x is None or not math.isfinite(x):
        return "n/a"
    x = round(100 * x, 0 if kind == "tokens" else 1) + 0.0  # + 0.0: never print "-0.0"
    sign = "+" if signed and x >= 0 else ""
    return f"{sign}{x:.0f}%" if kind == "tokens" else f"{sign}{x:.1f} pts"


def detectable(r: MetricResult) -> bool:
    """False when no change of any size could be detected with this few items."""
    return math.isfinite(r.mde) and not (r.kind != "tokens" and r.mde > 1)


def fmt_mde(r: MetricResult) -> str:
    if not detectable(r):
        return "n/a" if r.kind == "tokens" else "> 100 pts"
    return fmt_effect(r.mde, r.kind)


def _judge(r: MetricResult, model: stats.PowerModel, settings: Settings) -> None:
    """Verdict, MDE and items needed for one cell (p_adjusted and alpha already set)."""
    tol = r.tolerance or 0.0
    r.mde = stats.mde(model, alpha=r.alpha, power=settings.power, tol=tol)
    r.target = settings.target(r.kind)
    if r.mde > r.target:
        r.items_needed = stats.items_needed(model, r.target, alpha=r.alpha, power=settings.power, tol=tol)
    p = r.p_adjusted if r.p_adjusted is not None else r.p_value
    change = fmt_effect(r.diff, r.kind, signed=True)
    tolerance = f"the {fmt_effect(tol, r.kind)} tolerance"
    if not r.gated:
        r.verdict = "ungated"
        r.reason = f"{change} ({fmt_p(p, named=True)}); reported only: pass --max-token-increase to gate token cost"
        return
    significant = p < settings.alpha
    worse = r.p_worse < r.p_better
    if significant:
        r.verdict = "regression" if worse else "improvement"
        how = f"significantly {'worse' if worse else 'better'} than {tolerance}" if tol else "significant"
        r.reason = f"{change}, {how} ({fmt_p(p, named=True)})"
    elif r.mde > r.target:
        target = fmt_effect(r.target, r.kind)
        needed = f"; about {r.items_needed} items would detect {target}" if r.items_needed else ""
        r.verdict = "inconclusive"
        if detectable(r):
            why = f"the change detected with power {settings.power:.0%} is {fmt_mde(r)}, beyond the {target} target"
        else:
            why = "no change of any size would be detected reliably"
        r.reason = f"{change}, not significant ({fmt_p(p, named=True)}); with {r.items} items {why}{needed}"
    else:
        r.verdict = "ok"
        how = f"not significantly worse than {tolerance}" if tol else "not significant"
        r.reason = f"{change}, {how} ({fmt_p(p, named=True)}); detectable change {fmt_mde(r)}"


def _family_alphas(results: list[MetricResult], alpha: float) -> None:
    """Holm over the gated cells in which some item differs; the MDE of each cell is
    computed at the level Holm's first step needs (alpha / family size), counting a cell
    outside the family as the member it would become."""
    family = [r for r in results if r.gated and r.in_family]
    for r, p_adj in zip(family, stats.holm([r.p_value for r in family])):
        r.p_adjusted = p_adj
    for r in results:
        if not r.gated:
            r.alpha = alpha
        elif r.in_family:
            r.alpha = alpha / max(1, len(family))
        else:
            r.alpha = alpha / (len(family) + 1)
            r.p_adjusted = 1.0


def compare_runs(base: RunData, cur: RunData, settings: Settings | None = None) -> Comparison:
    """Pair two loaded runs and judge every task x budget x metric cell."""
    settings = settings or Settings()
    unknown = [m for m in settings.metrics if m not in METRICS]
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    if settings.mde_target is not None and settings.mde_target <= settings.max_drop:
        raise UserError(
            f"--mde-target ({fmt_effect(settings.mde_target, 'accuracy')}) must exceed --max-drop "
            f"({fmt_effect(settings.max_drop, 'accuracy')}): a drop the size of the tolerance is allowed"
        )
    groups, counts, notes = pair_runs(base, cur)
    cells: list[tuple[MetricResult, stats.PowerModel]] = []
    for group in groups:
        k = max(len(_scored(pairs)) for pairs in group.items.values())
        any_error = any(b.get("error") is not None or c.get("error") is not None for pairs in group.items.values() for b, c in pairs)
        for metric in METRICS:
            if metric not in settings.metrics or (metric == "maj@k" and k < 2) or (metric == "pass@1-strict" and not any_error):
                continue  # maj@1 is pass@1; pass@1-strict is pass@1 when nothing errored
            made = _cell(group, metric, max(k, 1), settings)
            if made is None:
                continue
            r = made[0]
            r.gated = metric != "tokens" or settings.max_token_increase is not None
            cells.append(made)
    results = [r for r, _ in cells]
    _family_alphas(results, settings.alpha)
    for r, model in cells:
        _judge(r, model, settings)
    family = [r for r in results if r.gated and r.in_family]
    counts["gated_cells"] = sum(r.gated for r in results)
    counts["holm_family"] = len(family)
    counts["alpha_per_cell"] = settings.alpha / max(1, len(family))
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
    max_error_increase: float = 0.0,
    metrics: Sequence[str] = METRICS,
    mde_target: float | None = None,
    fail_inconclusive: bool = False,
    mid_p: bool = False,
) -> Comparison:
    """Load two run folders (or their summary.json / samples.jsonl) and compare them."""
    settings = Settings(
        max_drop=max_drop, max_token_increase=max_token_increase, max_error_increase=max_error_increase,
        mde_target=mde_target, metrics=tuple(metrics), fail_inconclusive=fail_inconclusive, mid_p=mid_p,
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
        max_error_increase=getattr(args, "max_error_increase", 0.0) or 0.0,
        metrics=getattr(args, "metrics", None) or METRICS,
        mde_target=getattr(args, "mde_target", None),
        fail_inconclusive=bool(getattr(args, "fail_inconclusive", False)),
        mid_p=bool(getattr(args, "mid_p", False)),
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
