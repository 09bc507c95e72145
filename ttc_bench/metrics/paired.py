"""Paired tests for the CI gate: McNemar, Tango, the paired t-test, Holm. Pure functions.

Every test here compares two runs on the *same* items, so everything is paired: the unit
of evidence is an item, and the quantity tested is the mean over items of the per-item
difference ``d_i = current_i - baseline_i`` of a "goodness" value (accuracy; 1 - error
rate; minus tokens), so that a drop is always a negative difference.

Tests (one-sided, against a tolerance ``tol`` >= 0: "worse by more than tol" is the
alternative of a non-inferiority test, "better by more than tol" of a superiority test):

- one sample per item, tol = 0: the exact conditional McNemar test on the discordant items
  (b = worse, c = better): P(X >= b) with X ~ Binomial(b + c, 1/2), or its mid-p version
  (Lancaster 1961; Fagerland, Lydersen & Laake 2013 recommend it for paired binary data:
  closer to the nominal level, less conservative);
- one sample per item, tol > 0: Tango's (1998) score test for a difference of paired
  proportions against a margin, with the restricted maximum-likelihood variance;
  ``tango_interval`` inverts it into the 95% interval shown for such cells (it never has
  zero width, unlike the Wald interval);
- several samples per item (or any non-binary item value): the paired t-test on the item
  differences, t = (mean + tol) / se on items - 1 degrees of freedom. Under the "same model
  twice" null the item differences are symmetric about 0, which keeps the t-test close to
  its nominal level even on small suites. Two guards: a one-sided p-value is never below
  0.5^m with m items that differ at all (no exact sign-flip test can go lower), and with no
  item differing at all the interval is +-q^2 / (n + q^2), the score interval of n paired
  items without a single discordant one, instead of the zero-width [0, 0].
- ``holm``: Holm's step-down adjustment, so a gate over many cells keeps its overall
  false-alarm rate at alpha.

The power of these tests and the minimum detectable effect are in power.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, inf, sqrt
from typing import Sequence

import numpy as np

from .distributions import normal_cdf, normal_quantile, t_quantile, t_sf

ALPHA = 0.05


# --------------------------------------------------------------------------- McNemar


def mcnemar_exact_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts b and c."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(b, c) + 1))
    # Integer numerator and denominator: exact, and Python's int division rounds correctly
    # even when 2**n is far beyond float range.
    return min(1.0, 2 * tail / 2**n)


def mcnemar_one_sided_p(worse: int, better: int, *, mid_p: bool = False) -> float:
    """P-value of "worse >= observed" under X ~ Binomial(worse + better, 1/2): the exact
    conditional McNemar test in one direction; ``mid_p`` counts the observed outcome half."""
    if worse < 0 or better < 0:
        raise ValueError("discordant counts must be >= 0")
    n = worse + better
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(worse, n + 1))
    if mid_p:
        return min(1.0, (2 * tail - comb(n, worse)) / 2 ** (n + 1))
    return min(1.0, tail / 2**n)


def mcnemar_se(b: int, c: int, n: int) -> float:
    """SE of p_current - p_baseline for n paired binary outcomes with b, c discordant pairs."""
    if n <= 0:
        return 0.0
    return sqrt(max(0.0, b + c - (b - c) ** 2 / n)) / n


def _tango_discordance(b: int, c: int, n: int, delta: float) -> float:
    """Restricted MLE of the discordance p_b + p_c when p_c - p_b = delta (Tango 1998).

    Maximising b log p_b + c log(p_b + delta) + (n - b - c) log(1 - 2 p_b - delta) gives
    2n p_b^2 - [(b + c) - delta (2n + b - c)] p_b - b delta (1 - delta) = 0.
    """
    lin = (b + c) - delta * (2 * n + b - c)
    p_b = (lin + sqrt(max(0.0, lin * lin + 8 * n * b * delta * (1 - delta)))) / (4 * n)
    p_b = min(max(p_b, max(0.0, -delta)), (1 - delta) / 2)
    return 2 * p_b + delta


def tango_z(b: int, c: int, n: int, delta: float) -> float:
    """Tango's score statistic for H0: p_c - p_b = delta (b: worse, c: better, n pairs)."""
    if n <= 0:
        return 0.0
    var = n * (_tango_discordance(b, c, n, delta) - delta * delta)
    num = c - b - n * delta
    if var <= 0:
        return 0.0 if num == 0 else (inf if num > 0 else -inf)
    return num / sqrt(var)


def tango_interval(b: int, c: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Score interval for the paired difference (c - b) / n: every delta the two-sided
    Tango test at 1 - level does not reject. Never zero width (b = c = 0 gives
    +-q^2 / (n + q^2))."""
    if n <= 0:
        return (-1.0, 1.0)
    q = normal_quantile(1 - (1 - level) / 2)

    def solve(sign: int) -> float:
        # Z(delta) falls as delta rises; find where it crosses -sign * q.
        lo, hi = -1.0 + 1e-12, 1.0 - 1e-12
        target = -sign * q
        for _ in range(80):
            mid = (lo + hi) / 2
            if tango_z(b, c, n, mid) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    return (solve(-1), solve(1))


# --------------------------------------------------------------------------- paired t


def paired_se(diffs: Sequence[float]) -> float:
    """SE of the mean paired difference (sample sd with n-1, over sqrt(n)); 0 for n < 2."""
    arr = np.asarray(diffs, dtype=float)
    if arr.size < 2:
        return 0.0
    return float(arr.std(ddof=1) / sqrt(arr.size))


def min_differing_items(alpha: float = ALPHA) -> int:
    """Smallest m with 2 * 0.5^m < alpha: items that must differ before p < alpha is possible."""
    m = 1
    while 2 * 0.5**m >= alpha:
        m += 1
    return m


def exact_floor_p(differing: int) -> float:
    """The smallest two-sided p-value any exact paired test can give with ``differing`` non-tied items."""
    return min(1.0, 2 * 0.5**differing)


def zero_spread_halfwidth(n: int, level: float = 0.95) -> float:
    """Half-width of the score interval of n paired items none of which differ: q^2 / (n + q^2)."""
    if n <= 0:
        return 1.0
    q = normal_quantile(1 - (1 - level) / 2)
    return q * q / (n + q * q)


@dataclass(frozen=True)
class PairedTest:
    """One-sided p-values (unadjusted) and the 95% interval of a paired comparison."""

    p_worse: float  # H0: not worse than the tolerance (small: worse by more than it)
    p_better: float  # H0: not better than the tolerance (small: better by more than it)
    ci95: tuple[float, float]
    se: float
    method: str
    discordant: tuple[int, int] | None = None

    @property
    def p_value(self) -> float:
        """Two-sided: twice the smaller one-sided p-value (Bonferroni over the directions)."""
        return min(1.0, 2 * min(self.p_worse, self.p_better))

    @property
    def worse(self) -> bool:
        return self.p_worse < self.p_better


def paired_t(diffs: Sequence[float], tol: float = 0.0) -> PairedTest:
    """Paired t-test of the mean difference against -tol (worse) and +tol (better)."""
    d = np.asarray(diffs, dtype=float)
    n = d.size
    if n == 0:
        return PairedTest(1.0, 1.0, (-1.0, 1.0), 0.0, "paired-t")
    mean = float(d.mean())
    se = paired_se(d)
    if n < 2:
        return PairedTest(1.0, 1.0, (mean - 1.0, mean + 1.0), se, "paired-t")
    df = n - 1

    def sf(t: float) -> float:
        return t_sf(t, df)

    if se > 0:
        p_worse = sf(-(mean + tol) / se)  # P(T <= (mean + tol) / se)
        p_better = sf((mean - tol) / se)
        half = t_quantile(0.975, df) * se
    else:
        p_worse = 0.0 if mean + tol < 0 else (0.5 if mean + tol == 0 else 1.0)
        p_better = 0.0 if mean - tol > 0 else (0.5 if mean - tol == 0 else 1.0)
        half = 0.0
    differing = int(np.count_nonzero(d))
    floor = 0.5**differing
    if differing == 0:
        half = max(half, zero_spread_halfwidth(n))
    return PairedTest(max(p_worse, floor), max(p_better, floor), (mean - half, mean + half), se, "paired-t")


def paired_binary(worse: int, better: int, n: int, tol: float = 0.0, *, mid_p: bool = False) -> PairedTest:
    """One binary outcome per item: exact (or mid-p) McNemar at tol = 0, Tango's score test
    against the margin otherwise; the interval is Tango's score interval."""
    se = mcnemar_se(worse, better, n)
    ci = tango_interval(worse, better, n)
    if tol == 0:
        method = "mcnemar-midp" if mid_p else "mcnemar-exact"
        p_worse = mcnemar_one_sided_p(worse, better, mid_p=mid_p)
        p_better = mcnemar_one_sided_p(better, worse, mid_p=mid_p)
    else:
        method = "tango-score"
        p_worse = normal_cdf(tango_z(worse, better, n, -tol))
        p_better = 1.0 - normal_cdf(tango_z(worse, better, n, tol))
    return PairedTest(p_worse, p_better, ci, se, method, (worse, better))


# --------------------------------------------------------------------------- many cells


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (same order as given): FWER control at any alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
