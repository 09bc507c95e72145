"""The CI regression gate: one cell per task x budget x metric over the paired items, a
paired test, a Holm-adjusted verdict and the minimum detectable effect.

Cells. For every metric of the registry named in the settings (default: the registry's
gate set), per task x budget, over the paired items (the item is the unit of evidence;
samples of one item are not independent draws of the benchmark). An item's value on
each side is the metric's function of the tally of that side's samples (metrics/tally.py),
the very function the summary uses:
- metrics over scored samples use the sample pairs that finished in *both* runs; metrics
  over all samples (``errors``; ``pass@1-strict``, pass@1 with an errored sample counted
  as wrong) use every pair; ``pass@1-strict`` is shown only when a paired sample errored
  (otherwise it equals pass@1);
- a curve (maj@k, pass@k, pass^k) is judged at the largest k (the scored pairs per item),
  only from k = 2 (at k = 1 it is pass@1); items with fewer than k scored pairs are left
  out of its cell;
- ``tokens``: tokens per item at that k (k x the item's mean completion tokens per scored
  sample); differences and the tolerance are relative to the baseline mean.
The change is current - baseline. metrics/paired.py has the tests: exact or mid-p McNemar
and Tango's score test for one sample per item (metrics whose item value is the share of
its samples), the paired t-test otherwise; metrics/power.py the MDE.

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
run does not dilute the others. Unusable input raises UserError (exit 2 in the CLI).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import UserError
from ..metrics import registry
from ..metrics.paired import PairedTest, holm, paired_binary, paired_t
from ..metrics.power import PowerModel, items_needed, mde
from ..metrics.registry import Metric
from ..metrics.tally import ItemTally
from .results import Comparison, MetricResult, Settings, detectable, fmt_effect, fmt_mde, fmt_p
from .runs import Group, RunData, load_run, manifest_changes, pair_runs


def _scored(pairs: list[tuple]) -> list[tuple]:
    return [(b, c) for b, c in pairs if b.scored and c.scored]


def _tallies(group: Group) -> list[dict[str, tuple[ItemTally, ItemTally, int]]]:
    """Per item, for "scored" (the pairs that finished in both runs) and "all" pairs: the
    baseline and current tallies and the number of pairs."""
    out = []
    for pairs in group.items.values():
        sides = {}
        for which, use in (("scored", _scored(pairs)), ("all", pairs)):
            sides[which] = (ItemTally.of(b for b, _ in use), ItemTally.of(c for _, c in use), len(use))
        out.append(sides)
    return out


def _item_values(items: list[dict], metric: Metric, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-item baseline and current values of one metric, and the samples behind each."""
    base, cur, size = [], [], []
    for sides in items:
        b_tally, c_tally, used = sides[metric.samples]
        if not used or (metric.over_k and used < k):
            continue  # an item that lost samples to errors cannot vote over k of them
        b, c = metric.item(b_tally), metric.item(c_tally)
        if metric.over_k:
            b, c = b[k - 1], c[k - 1]
        elif metric.kind == "tokens":  # k samples of an item cost k times one
            b, c = k * b, k * c
        base.append(b)
        cur.append(c)
        size.append(used)
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
) -> tuple[PairedTest, PowerModel]:
    """The test and the power model of one cell from per-item *goodness* values (higher is
    better; a drop is bad) and the samples behind each item.

    ``per_sample``: the values are shares of 0/1 samples (pass@1, errors), so the power
    model of metrics/power.py applies; with one sample per item the test is McNemar's / Tango's.
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
        test = paired_binary(worse, better, n, tol, mid_p=mid_p)
        psi0 = (worse + better) / n
        model = PowerModel(n, math.sqrt(psi0), True, acc, psi0 / 2, 1.0, mid_p)
    else:
        test = paired_t(diffs, tol)
        sd0 = float(np.std(diffs, ddof=1)) if n > 1 else 0.0
        epq = (_within_spread(base, size) + _within_spread(cur, size)) / 2 if per_sample else 0.0
        # Every item all right or all wrong in both runs: the samples of an item agree (a
        # deterministic endpoint, most likely), so an item changes as a whole, like one sample.
        whole = answers and bool(np.all((base == 0) | (base == 1)) and np.all((cur == 0) | (cur == 1)))
        m = 1.0 if whole or not per_sample else float(size.mean())
        if acc is None and answers and sd0 == 0:
            # maj@k with no spread (identical votes in both runs, e.g. a deterministic
            # endpoint): without a model its MDE would be 0 and any suite "ok". Its items
            # change as a whole, so the whole-item floor of the per-sample model applies.
            acc = float(base.mean())
        model = PowerModel(n, sd0, False, acc, epq, m, mid_p)
    return test, model


# metric -> (kind, per-sample shares). Goodness: accuracy as is; errors as 1 - error rate;
# tokens as minus tokens relative to the baseline mean.


def _goodness(kind: str, base: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values turned so that higher is better: accuracy as is; errors as 1 - error rate;
    tokens as minus tokens relative to the baseline mean ("+20%" means the same at any
    budget)."""
    if kind == "tokens":
        b_mean = float(base.mean())
        scale = b_mean if b_mean > 0 else 1.0
        return -base / scale, -cur / scale
    if kind == "errors":
        return 1 - base, 1 - cur
    return base, cur


def _cell(
    group: Group, items: list[dict], metric: Metric, k: int, settings: Settings
) -> tuple[MetricResult, PowerModel] | None:
    base, cur, size = _item_values(items, metric, k)
    n = base.size
    if n == 0:
        return None
    kind = metric.kind
    b_mean, c_mean = float(base.mean()), float(cur.mean())
    tol = settings.tolerance(kind)
    good_b, good_c = _goodness(kind, base, cur)
    test, model = cell_statistics(
        good_b, good_c, size, tol=tol, per_sample=metric.per_sample, mid_p=settings.mid_p, answers=kind == "accuracy"
    )
    lo, hi = test.ci95
    if kind != "tokens":  # a share cannot move beyond [0, 1]: neither can its change
        lo, hi = max(lo, -float(good_b.mean())), min(hi, 1 - float(good_b.mean()))
    diff = float(good_c.mean() - good_b.mean())
    if kind != "accuracy":  # back from goodness to the natural direction (up = more)
        diff, lo, hi = -diff, -hi, -lo
    result = MetricResult(
        task=group.task, budget=group.budget, metric=metric.label(k), kind=kind,
        items=n, k=k, baseline=b_mean, current=c_mean, diff=diff, se=test.se, ci95=(float(lo), float(hi)),
        p_value=test.p_value, method=test.method, p_worse=test.p_worse, p_better=test.p_better,
        discordant=test.discordant, correlation=_correlation(base, cur),
        abs_diff=c_mean - b_mean if kind == "tokens" else None, tolerance=tol,
        gated=kind != "tokens" or settings.max_token_increase is not None,
        in_family=bool(np.any(good_c != good_b)),
    )
    return result, model


def _judge(r: MetricResult, model: PowerModel, settings: Settings) -> None:
    """Verdict, MDE and items needed for one cell (p_adjusted and alpha already set)."""
    tol = r.tolerance or 0.0
    r.mde = mde(model, alpha=r.alpha, power=settings.power, tol=tol)
    r.target = settings.target(r.kind)
    if r.mde > r.target:
        r.items_needed = items_needed(model, r.target, alpha=r.alpha, power=settings.power, tol=tol)
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
    for r, p_adj in zip(family, holm([r.p_value for r in family])):
        r.p_adjusted = p_adj
    for r in results:
        if not r.gated:
            r.alpha = alpha
        elif r.in_family:
            r.alpha = alpha / max(1, len(family))
        else:
            r.alpha = alpha / (len(family) + 1)
            r.p_adjusted = 1.0


def _selected(settings: Settings) -> list[Metric]:
    known = {m.name: m for m in registry.metrics()}
    unknown = [name for name in settings.metrics if name not in known]
    if unknown:
        raise UserError(f"unknown metric {unknown[0]!r}; choose from {', '.join(known)}")
    return [m for m in known.values() if m.name in settings.metrics]


def compare_runs(base: RunData, cur: RunData, settings: Settings | None = None) -> Comparison:
    """Pair two loaded runs and judge every task x budget x metric cell."""
    settings = settings or Settings()
    selected = _selected(settings)
    if settings.mde_target is not None and settings.mde_target <= settings.max_drop:
        raise UserError(
            f"--mde-target ({fmt_effect(settings.mde_target, 'accuracy')}) must exceed --max-drop "
            f"({fmt_effect(settings.max_drop, 'accuracy')}): a drop the size of the tolerance is allowed"
        )
    groups, counts, notes = pair_runs(base, cur)
    cells: list[tuple[MetricResult, PowerModel]] = []
    for group in groups:
        k = max(len(_scored(pairs)) for pairs in group.items.values())
        any_error = any(not (b.scored and c.scored) for pairs in group.items.values() for b, c in pairs)
        items = _tallies(group)
        for metric in selected:
            # A curve at k = 1 is pass@1; an accuracy over all samples (pass@1-strict) is its
            # scored twin when nothing errored.
            if (metric.over_k and k < 2) or (metric.kind == "accuracy" and metric.samples == "all" and not any_error):
                continue
            made = _cell(group, items, metric, max(k, 1), settings)
            if made is not None:
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
        paired=counts, notes=notes, changes=manifest_changes(base, cur),
    )


def compare_paths(
    baseline: Path,
    current: Path,
    *,
    max_drop: float = 0.0,
    max_token_increase: float | None = None,
    max_error_increase: float = 0.0,
    metrics: Sequence[str] | None = None,
    mde_target: float | None = None,
    fail_inconclusive: bool = False,
    mid_p: bool = False,
) -> Comparison:
    """Load two run folders (or files in them) and compare them; ``metrics`` None: the
    registry's default gate set."""
    settings = Settings(
        max_drop=max_drop, max_token_increase=max_token_increase, max_error_increase=max_error_increase,
        mde_target=mde_target, fail_inconclusive=fail_inconclusive, mid_p=mid_p,
        **({} if metrics is None else {"metrics": tuple(metrics)}),
    )
    return compare_runs(load_run(baseline), load_run(current), settings)
