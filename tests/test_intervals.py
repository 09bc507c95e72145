"""Coverage of the 95% intervals in summary.json at the acceptance points of issue 12:
8 items x 4 samples at every accuracy, and 95% accuracy at every suite size. The
simulation is benchmarks/coverage.py's (which prints the whole grid), with fewer suites
per cell; the intervals are computed by the same metrics.intervals.bounded_intervals that
the summary uses.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ttc_bench.metrics.intervals import bounded_interval, bounded_intervals, mean_se


def _load_benchmark():
    """benchmarks/coverage.py, loaded under its own name (a plain `import coverage` could
    pick up the coverage.py package instead)."""
    path = Path(__file__).parent.parent / "benchmarks" / "coverage.py"
    spec = importlib.util.spec_from_file_location("ttc_bench_coverage_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


coverage = _load_benchmark()

SUITES = 1000
CONCENTRATION = 2.0  # items from trivial to impossible: the harder population of the benchmark
# The acceptance figure is 93%, measured by the benchmark with 2,000 suites per cell (the
# lowest cell there: 93.8%, docs/metrics.md). With 1,000 suites a coverage near 94% carries
# a Monte Carlo error of 0.75 points, so this regression test allows one point below it.
FLOOR = 0.92


def _truth(rng, samples: int, accuracy: float) -> dict:
    truth = {"pass@1": accuracy}
    if samples > 1:
        truth["maj@k"] = coverage.population_maj(samples, accuracy, CONCENTRATION, rng, items=60_000)
        truth["pass@k"] = coverage.population_pass(samples, accuracy, CONCENTRATION)
        truth["pass^k"] = coverage.population_pass_all(samples, accuracy, CONCENTRATION)
    return truth


POINTS = [(8, 4, a) for a in (0.05, 0.3, 0.5, 0.7, 0.95)] + [
    (items, samples, 0.95) for items in (8, 30, 100, 300) for samples in (1, 4, 8) if (items, samples) != (8, 4)
]


@pytest.mark.parametrize("items,samples,accuracy", POINTS)
def test_every_95_percent_interval_keeps_its_coverage(items, samples, accuracy):
    rng = np.random.default_rng(items * 1000 + samples * 10 + int(accuracy * 100))
    table = coverage.MajTable(samples) if samples > 1 else None
    cell = coverage.coverage_cell(rng, items, samples, accuracy, CONCENTRATION, SUITES, table, _truth(rng, samples, accuracy))
    for metric in coverage.METRICS:
        if metric in cell:
            assert cell[metric] >= FLOOR, (metric, cell[metric])
            assert cell[metric + " zero-width"] == 0


def test_the_old_normal_interval_undercovered_where_the_new_one_does_not():
    # The figures, reproduced with mean +- 1.96 SE at 8 items x 4 samples and 70%:
    # pass@4 (mostly 1 per item) covers far below 95%; the new interval does not.
    rng = np.random.default_rng(1)
    probs = coverage.draw_items(rng, (SUITES, 8), 0.7, CONCENTRATION)
    counts = rng.multinomial(4, probs)
    values = (counts[..., 0] > 0).astype(float)  # pass@4 with 4 samples: any correct
    truth = coverage.population_pass(4, 0.7, CONCENTRATION)
    mean, se = values.mean(axis=1), values.std(axis=1, ddof=1) / np.sqrt(8)
    old = np.mean((mean - 1.96 * se <= truth) & (truth <= mean + 1.96 * se))
    lo, hi = bounded_intervals(mean, se, 8, 8)
    new = np.mean((lo <= truth) & (truth <= hi))
    assert old < 0.8 and new >= 0.95


def test_bounded_interval_properties():
    # close to mean +- t se in the middle of the range, inside [0, 1], never zero width
    lo, hi = bounded_interval(0.5, 0.02, 300, 3000)
    assert lo == pytest.approx(0.5 - 1.968 * 0.02, abs=0.002) and hi == pytest.approx(0.5 + 1.968 * 0.02, abs=0.002)
    for mean, se in ((1.0, 0.0), (0.0, 0.0), (0.97, 0.001), (0.02, 0.3)):
        lo, hi = bounded_interval(mean, se, 20, 80)
        assert 0.0 <= lo <= mean <= hi <= 1.0 and hi - lo > 0.01
    # more trials (samples) narrow the floor; a wider spread widens the interval
    assert bounded_interval(1.0, 0.0, 20, 160)[0] > bounded_interval(1.0, 0.0, 20, 20)[0]
    assert bounded_interval(0.5, 0.1, 20, 80)[0] < bounded_interval(0.5, 0.05, 20, 80)[0]
    assert mean_se([1.0] * 30)["ci95"][0] < 1.0  # the zero-width case
