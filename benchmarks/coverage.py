"""Do the stated probabilities hold? Coverage of the 95% intervals in summary.json (pass@1,
maj@k, pass@k, pass^k) and, with --gate, the error rates and power of the CI gate.

For every cell of a grid of suite sizes (items x samples per item) and mean accuracies, the
benchmark draws many independent suites from a known item population, computes each
metric's interval exactly as the summary does (metrics.intervals.bounded_intervals with the
same trial counts; maj@k item values from metrics.estimators.maj_curve), and counts how often the
interval holds the population value. A 95% interval should hold it in 95% of the suites.

The item population (the "super-population" of Miller 2024, arXiv 2411.00640: a benchmark's
items are a sample of the questions it stands for):
- each item's accuracy p ~ Beta with the cell's mean accuracy and concentration
  ``--concentration`` (2: items from trivial to impossible; 10: items closer alike);
- a wrong sample is unparsed with probability 0.15, else one of three wrong answers with
  the item's own Dirichlet(1, 1, 1) preferences (so distractors can outvote the truth);
- the population value of pass@1 is the mean accuracy; of pass@k, 1 - E[(1 - p)^k], of
  pass^k, E[p^k] (exact Beta moments); of maj@k, the mean over 200,000 drawn items of the
  item's exact expected vote of k samples (enumerated over all vote histograms).
maj@k, pass@k and pass^k are shown at k = samples per item, their most discrete point (for
one sample per item all equal pass@1).

Run: python benchmarks/coverage.py [--quick] [--reps N] [--concentration C ...]
Prints one table per concentration: coverage in % per metric, the 95% target beside it,
and the mean interval width of pass@1 in points. Exit code 1 when a cell of the
acceptance points (8 items x 4 samples at every accuracy; 95% accuracy at every size)
covers less than 93%.

--gate instead runs `compare` on synthetic run pairs from the same item population (each
sample right with its item's p; a "worse" current run keeps a share 1 - drop / accuracy of
every item's p, the alternative the MDE is computed for; an "erroring" one fails a share
of its requests) and prints: the false-alarm rate of the same model compared with itself,
the pass rate of a drop the size of the tolerance, the failure rate of an endpoint erroring
on 30% of its requests, the printed MDE against the drop the gate catches 80% of the time,
and the typical pass@1 MDE by suite size (the table in docs/ci.md). Exit code 1 when a
false-alarm rate is above 5%, a tolerated-drop pass rate below 95% or an MDE more than
15% off.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from math import lgamma
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent.parent))

from ttc_bench.gate import RunData, Settings, cell_statistics, compare_runs, exit_code  # noqa: E402
from ttc_bench.metrics.estimators import histogram_key, maj_curve, pass_curve  # noqa: E402
from ttc_bench.metrics.intervals import bounded_intervals  # noqa: E402
from ttc_bench.metrics.paired import ALPHA  # noqa: E402
from ttc_bench.metrics.power import mde  # noqa: E402
from ttc_bench.sample import Sample  # noqa: E402

METRICS = ("pass@1", "maj@k", "pass@k", "pass^k")
UNPARSED = 0.15
WRONG_CLASSES = 3
CATEGORIES = 2 + WRONG_CLASSES  # correct, wrong answers..., unparsed
TARGET = 0.95
ACCEPT = 0.93

FULL_GRID = {"items": (8, 30, 100, 300), "samples": (1, 4, 8), "accuracy": (0.05, 0.3, 0.5, 0.7, 0.95)}
QUICK_GRID = {"items": (8, 30, 300), "samples": (1, 4, 8), "accuracy": (0.05, 0.7, 0.95)}


def beta_params(accuracy: float, concentration: float) -> tuple[float, float]:
    return accuracy * concentration, (1 - accuracy) * concentration


def draw_items(rng, shape, accuracy: float, concentration: float) -> np.ndarray:
    """Category probabilities per item: (..., CATEGORIES), correct first, unparsed last."""
    a, b = beta_params(accuracy, concentration)
    p = rng.beta(a, b, size=shape)
    prefs = rng.dirichlet(np.ones(WRONG_CLASSES), size=shape)
    wrong = (1 - p)[..., None] * (1 - UNPARSED) * prefs
    return np.concatenate([p[..., None], wrong, ((1 - p) * UNPARSED)[..., None]], axis=-1)


def vote_value(counts: tuple[int, ...]) -> float:
    """maj@n of one item whose n samples fell into the categories as ``counts``."""
    n = sum(counts)
    answers = {"right": (counts[0], True)} if counts[0] else {}
    answers |= {f"w{j}": (m, False) for j, m in enumerate(counts[1:-1]) if m}
    return float(maj_curve(*histogram_key(answers, counts[-1]))[n - 1])


def histograms(k: int) -> np.ndarray:
    """Every way k samples fall into the categories: (H, CATEGORIES)."""
    out = [c + (k - sum(c),) for c in itertools.product(range(k + 1), repeat=CATEGORIES - 1) if sum(c) <= k]
    return np.array(out, dtype=int)


def population_maj(k: int, accuracy: float, concentration: float, rng, items: int = 200_000) -> float:
    """E over the item population of the exact expected majority vote of k samples."""
    hist = histograms(k)
    values = np.array([vote_value(tuple(h)) for h in hist])
    log_coef = np.array([lgamma(k + 1) - sum(lgamma(m + 1) for m in h) for h in hist])
    probs = draw_items(rng, (items,), accuracy, concentration)
    with np.errstate(divide="ignore"):
        logp = np.maximum(np.log(probs), -1e300)  # finite: 0 draws of an impossible answer weigh 0
    total = 0.0
    for start in range(0, items, 20_000):
        block = logp[start : start + 20_000]
        # log P(histogram | item) = log multinomial coefficient + sum_c h_c log p_c (0 log 0 = 0)
        terms = hist[None, :, :] * block[:, None, :]
        total += float((np.exp(log_coef[None, :] + terms.sum(axis=2)) @ values).sum())
    return total / items


def population_pass(k: int, accuracy: float, concentration: float) -> float:
    """1 - E[(1 - p)^k] for p ~ Beta(a, b): E[(1 - p)^k] = prod_{j<k} (b + j) / (a + b + j)."""
    a, b = beta_params(accuracy, concentration)
    miss = np.prod([(b + j) / (a + b + j) for j in range(k)])
    return float(1 - miss)


def population_pass_all(k: int, accuracy: float, concentration: float) -> float:
    """pass^k: E[p^k] for p ~ Beta(a, b) = prod_{j<k} (a + j) / (a + b + j)."""
    a, b = beta_params(accuracy, concentration)
    return float(np.prod([(a + j) / (a + b + j) for j in range(k)]))


class MajTable:
    """maj@n of every histogram of n samples, looked up by a base-(n+1) code."""

    def __init__(self, n: int):
        self.n = n
        self.base = n + 1
        hist = histograms(n)
        self.values = np.zeros(self.base**CATEGORIES)
        self.values[self.code(hist)] = [vote_value(tuple(h)) for h in hist]

    def code(self, counts: np.ndarray) -> np.ndarray:
        weights = self.base ** np.arange(CATEGORIES)
        return counts @ weights

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        return self.values[self.code(counts)]


def coverage_cell(rng, items: int, samples: int, accuracy: float, concentration: float, reps: int, maj_table, truth) -> dict:
    """Coverage (share of suites whose interval holds the truth) of each metric in one cell."""
    probs = draw_items(rng, (reps, items), accuracy, concentration)
    counts = rng.multinomial(samples, probs)  # (reps, items, CATEGORIES)
    correct = counts[..., 0]
    values = {"pass@1": correct / samples}
    trials = {"pass@1": items * samples}
    if samples > 1:
        values["maj@k"] = maj_table(counts)
        values["pass@k"] = np.asarray(pass_curve_table(samples))[correct]
        values["pass^k"] = (correct == samples).astype(float)  # C(c, n) / C(n, n): all n right
        trials["maj@k"] = trials["pass@k"] = trials["pass^k"] = items  # k = samples: one trial of k per item
    out = {}
    for name, v in values.items():
        mean = v.mean(axis=1)
        se = v.std(axis=1, ddof=1) / np.sqrt(items)
        lo, hi = bounded_intervals(mean, se, items, trials[name])
        out[name] = float(np.mean((lo <= truth[name] + 1e-12) & (truth[name] - 1e-12 <= hi)))
        out[name + " width"] = float(np.mean(hi - lo))
        out[name + " zero-width"] = int(np.sum(hi - lo <= 0))
    return out


def pass_curve_table(n: int) -> list[float]:
    """pass@n for c = 0..n correct of n samples."""
    return [float(pass_curve(n, c)[n - 1]) for c in range(n + 1)]


def run(grid: dict, concentration: float, reps: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    tables = {n: MajTable(n) for n in grid["samples"] if n > 1}
    for accuracy in grid["accuracy"]:
        truths = {}
        for n in grid["samples"]:
            truth = {"pass@1": accuracy}
            if n > 1:
                truth["maj@k"] = population_maj(n, accuracy, concentration, rng)
                truth["pass@k"] = population_pass(n, accuracy, concentration)
                truth["pass^k"] = population_pass_all(n, accuracy, concentration)
            truths[n] = truth
        for items, n in itertools.product(grid["items"], grid["samples"]):
            cell = coverage_cell(rng, items, n, accuracy, concentration, reps, tables.get(n), truths[n])
            rows.append({"items": items, "samples": n, "accuracy": accuracy, **cell})
    return rows


def acceptance_point(row: dict) -> bool:
    return (row["items"] == 8 and row["samples"] == 4) or row["accuracy"] == 0.95


def print_table(rows: list[dict], concentration: float, reps: int) -> int:
    print(f"\nitem accuracy ~ Beta, mean = accuracy, concentration {concentration:g}; {reps} suites per cell; target {TARGET:.0%}")
    header = f"{'items':>5} {'samples':>7} {'acc':>5} | {' '.join(f'{m:>6}' for m in METRICS)} | {'target':>6} | {'pass@1 width':>12}"
    print(header)
    print("-" * len(header))
    misses = 0
    for r in rows:
        cells = []
        for name in METRICS:
            cells.append(f"{100 * r[name]:6.1f}" if name in r else f"{'-':>6}")
            if name in r and acceptance_point(r) and r[name] < ACCEPT:
                misses += 1
        flag = " *" if acceptance_point(r) else ""
        print(
            f"{r['items']:>5} {r['samples']:>7} {r['accuracy']:>5.2f} | {' '.join(cells)} | {100 * TARGET:6.1f} | "
            f"{100 * r['pass@1 width']:9.1f} pts{flag}"
        )
    worst = min(r[name] for r in rows for name in METRICS if name in r)
    zero = sum(r[f"{name} zero-width"] for r in rows for name in METRICS if name in r)
    print(f"lowest coverage {100 * worst:.1f}%; zero-width intervals: {zero}; * = acceptance point (>= {100 * ACCEPT:.0f}%)")
    return misses


# --------------------------------------------------------------------------- the gate


def item_accuracy(rng, items: int, accuracy: float, concentration: float = 2.0) -> np.ndarray:
    a, b = beta_params(accuracy, concentration)
    return rng.beta(a, b, size=items)


def sample_rows(rng, p, samples: int, seed: int, *, error_rate: float = 0.0, budget: str = "tokens:64") -> list[dict]:
    """Sample rows of one run: item i right with probability p[i]; a wrong answer is one of
    three distractors; a share ``error_rate`` of requests finally failed."""
    rows = []
    right = rng.random((len(p), samples)) < np.asarray(p)[:, None]
    wrong = rng.integers(0, WRONG_CLASSES, size=(len(p), samples))
    failed = rng.random((len(p), samples)) < error_rate
    tokens = rng.integers(80, 120, size=(len(p), samples))
    for i in range(len(p)):
        for j in range(samples):
            error = "HTTP 500" if failed[i, j] else None
            rows.append({
                "key": f"{budget}/{i}/{j}/{seed}", "task": "arithmetic", "level": "l", "item": f"arithmetic/l/{i:04d}",
                "budget": budget, "sample": j, "gold": "7", "error": error,
                "answer": None if error else ("7" if right[i, j] else str(wrong[i, j])),
                "correct": bool(right[i, j]) and error is None, "completion_tokens": 0 if error else int(tokens[i, j]),
            })  # fmt: skip
    return rows


def run_data(rows: list[dict], name: str) -> RunData:
    samples = [Sample.from_json(row) for row in rows]
    return RunData(Path(name), samples, {"run_id": name, "spec": {"seed": 0}, "endpoint": {"model": name}})


def gate_comparison(rng, items, samples, accuracy, *, drop=0.0, error_rate=0.0, settings=None, concentration=2.0):
    """`compare` of a baseline run and a current run on the same items."""
    p = item_accuracy(rng, items, accuracy, concentration)
    base = sample_rows(rng, p, samples, 1)
    cur = sample_rows(rng, p * (1 - drop / accuracy), samples, 2, error_rate=error_rate)
    return compare_runs(run_data(base, "a"), run_data(cur, "b"), settings or Settings())


def cell_values(rng, items, samples, accuracy, drop, concentration=2.0):
    """Per-item pass@1 of a baseline and a current run, without building sample rows."""
    p = item_accuracy(rng, items, accuracy, concentration)
    return rng.binomial(samples, p) / samples, rng.binomial(samples, p * (1 - drop / accuracy)) / samples


def cell_test(base, cur, samples):
    return cell_statistics(base, cur, np.full(base.size, samples, dtype=float), tol=0.0, per_sample=True)


def printed_mde(rng, items, samples, accuracy, reps, concentration=2.0) -> float:
    """Median MDE a one-cell gate prints for the same model compared with itself."""
    return float(np.median([mde(cell_test(*cell_values(rng, items, samples, accuracy, 0.0, concentration), samples)[1]) for _ in range(reps)]))


def detection_rate(rng, items, samples, accuracy, drop, reps, concentration=2.0) -> float:
    """How often the one-cell gate (alpha 0.05) flags a drop as a regression."""
    hits = 0
    for _ in range(reps):
        test, _ = cell_test(*cell_values(rng, items, samples, accuracy, drop, concentration), samples)
        hits += test.p_value < ALPHA and test.worse
    return hits / reps


def gate_report(reps: int, quick: bool, seed: int) -> int:
    rng = np.random.default_rng(seed)
    misses = 0
    print(f"item accuracy ~ Beta(mean, concentration 2); {reps} comparisons per row")
    print("\nsame model twice: share of runs the gate fails (target <= 5%)")
    cases = [(40, 4, 0.7, 0.0), (100, 1, 0.95, 0.0), (50, 8, 0.95, 0.0), (300, 8, 0.7, 0.0), (150, 2, 0.5, 0.02), (100, 1, 0.7, 0.0)]
    for items, samples, acc, tol in cases[: 3 if quick else None]:
        fails = sum(exit_code(gate_comparison(rng, items, samples, acc, settings=Settings(max_drop=tol))) for _ in range(reps))
        misses += fails / reps > 0.05
        print(f"  {items:>4} items x {samples} sample{'s' * (samples > 1)} at {acc:.0%}, --max-drop {tol:.0%}: {100 * fails / reps:5.1f}%")
    print("\na drop the size of the tolerance: share of runs that pass (target >= 95%)")
    for items, samples, acc, tol in [(300, 8, 0.7, 0.02), (200, 4, 0.7, 0.03), (300, 1, 0.9, 0.03), (100, 8, 0.95, 0.02)][: 2 if quick else None]:
        passes = sum(exit_code(gate_comparison(rng, items, samples, acc, drop=tol, settings=Settings(max_drop=tol))) == 0 for _ in range(reps))
        misses += passes / reps < 0.95
        print(f"  {items:>4} items x {samples} sample{'s' * (samples > 1)} at {acc:.0%}, drop = --max-drop = {tol:.0%}: {100 * passes / reps:5.1f}%")
    print("\nan endpoint erroring on 30% of its requests: share of runs that fail the gate")
    for items, samples in [(30, 1), (60, 1), (30, 4), (60, 2)]:
        fails = sum(exit_code(gate_comparison(rng, items, samples, 0.7, error_rate=0.3)) for _ in range(reps // 4))
        print(f"  {items:>4} items x {samples} sample{'s' * (samples > 1)}: {100 * fails / (reps // 4):5.1f}%")
    print("\nprinted MDE (one gated cell) against the drop caught 80% of the time (target: within 15%)")
    for items, samples, acc, conc in itertools.product((100, 300), (1, 8), (0.7, 0.95), (2.0,) if quick else (2.0, 10.0)):
        mde = printed_mde(rng, items, samples, acc, 40, conc)
        steps = (0.8, 0.9, 1.0, 1.1, 1.2)
        power = [detection_rate(rng, items, samples, acc, f * mde, 2 * reps, conc) for f in steps]
        ratio = 1 / float(np.interp(0.8, power, steps))
        misses += abs(ratio - 1) > 0.15
        print(
            f"  {items:>4} items x {samples} sample{'s' * (samples > 1)} at {acc:.0%} (concentration {conc:g}): printed {100 * mde:5.1f} pts, "
            f"caught 80% at {100 * mde / ratio:5.1f} pts, ratio {ratio:.2f}"
        )
    if not quick:
        print("\ntypical pass@1 MDE of the default gate (pass@1 and maj@k gated), same model twice, 70% accuracy")
        print(f"  {'items':>5} | {'1 sample':>9} {'4 samples':>9} {'8 samples':>9}")
        for items in (50, 100, 200, 400):
            cells = []
            for samples in (1, 4, 8):
                mdes = [next(r for r in gate_comparison(rng, items, samples, 0.7, settings=Settings(mde_target=0.99)).results if r.metric == "pass@1").mde for _ in range(15)]
                cells.append(f"{100 * float(np.median(mdes)):6.1f} pts")
            print(f"  {items:>5} | {' '.join(cells)}")
    return misses


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid and 400 suites per cell (about a minute)")
    parser.add_argument("--reps", type=int, default=None, help="suites per cell (default 2000, 400 with --quick)")
    parser.add_argument("--concentration", type=float, nargs="+", default=[2.0, 10.0], help="Beta concentration(s) of item accuracy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gate", action="store_true", help="the CI gate's error rates, power and MDE instead of interval coverage")
    args = parser.parse_args(argv)
    if args.gate:
        start = time.perf_counter()
        misses = gate_report(args.reps or (100 if args.quick else 400), args.quick, args.seed)
        print(f"\n{time.perf_counter() - start:.0f} s; figures off target: {misses}")
        return 1 if misses else 0
    grid = QUICK_GRID if args.quick else FULL_GRID
    reps = args.reps or (400 if args.quick else 2000)
    start = time.perf_counter()
    misses = 0
    for concentration in args.concentration:
        rows = run(grid, concentration, reps, args.seed)
        misses += print_table(rows, concentration, reps)
    print(f"\n{time.perf_counter() - start:.0f} s; acceptance points below {100 * ACCEPT:.0f}%: {misses}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
