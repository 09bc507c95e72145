"""Paired-comparison statistics for the CI gate. Pure functions, no I/O.

Every test here compares two runs on the *same* items, so everything is paired: the unit
of evidence is an item, and the quantity tested is the mean over items of the per-item
difference ``d_i = current_i - baseline_i``.

- ``mcnemar_exact_p``: exact (conditional binomial) McNemar test for binary paired outcomes,
  two-sided, ``min(1, 2 * P(X <= min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``.
- ``mcnemar_se``: the textbook standard error of a difference of paired proportions,
  ``sqrt(b + c - (b - c)^2 / n) / n`` (Agresti, Categorical Data Analysis, sec. 10.1).
- ``paired_se``: the standard error of a mean paired difference, ``sd(d, ddof=1) / sqrt(n)``
  (the paired t-test's denominator).
- ``paired_bootstrap``: resample items with replacement; gives a p-value and a 95% CI for
  the mean difference (see the function for the two small-sample guards).
- ``mde`` / ``items_needed``: the minimum detectable effect ``(z_{1-alpha/2} + z_power) x SE``
  (about 2.80 x SE at alpha 0.05 and power 0.8) and the item count that would bring it to a
  target, scaling n by ``(MDE / target)^2``; both respect the exact-test floor below.
- ``holm``: Holm's step-down adjustment, so a gate over many task x budget x metric cells
  keeps its overall false-alarm rate at alpha instead of alpha per cell.

The exact-test floor: when the two runs are exchangeable within an item (the "nothing
changed" null), no valid test can reach a p-value below ``2 * 0.5^m`` with ``m`` items that
differ at all (all sign flips equally likely). So at alpha 0.05 at least 6 items must
differ before anything can be called significant, whatever the effect size.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, comb, inf, isfinite, sqrt
from statistics import NormalDist
from typing import Sequence

import numpy as np

ALPHA = 0.05
POWER = 0.8
BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 0
TAIL_COUNT = 10  # fewer extreme resamples than this: the tail comes from the normal approximation
_CHUNK = 1000  # resamples per block: bounds memory at items x _CHUNK indices


def z(q: float) -> float:
    """Standard normal quantile."""
    return NormalDist().inv_cdf(q)


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


def mcnemar_se(b: int, c: int, n: int) -> float:
    """SE of p_current - p_baseline for n paired binary outcomes with b, c discordant pairs."""
    if n <= 0:
        return 0.0
    return sqrt(max(0.0, b + c - (b - c) ** 2 / n)) / n


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
    """The smallest p-value any exact paired test can give with ``differing`` non-tied items."""
    return min(1.0, 2 * 0.5**differing)


@dataclass(frozen=True)
class Bootstrap:
    p_value: float
    ci95: tuple[float, float]
    resamples: int


def paired_bootstrap(
    diffs: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> Bootstrap:
    """Paired bootstrap over items: two-sided p-value for "mean difference = 0" and a 95% CI.

    The p-value resamples the *centred* differences (the null made true) and counts how often
    a resampled mean is at least as far from 0 as the observed one, with the usual +1 in
    numerator and denominator. Two guards keep it honest on small suites:
    - the centred differences are scaled by sqrt(n / (n - 1)), so the bootstrap variance
      equals the unbiased paired variance (the plain bootstrap underestimates it by (n-1)/n);
    - the p-value is never below the exact-test floor 2 * 0.5^m (m = items that differ): with
      every item moving the same way the centred spread is 0 and the raw bootstrap would
      claim p ~ 0 from as few as two items.
    When fewer than TAIL_COUNT resamples are as extreme as the observed mean, the count is too
    coarse for a tail probability and the p-value comes from a normal fit to the same bootstrap
    distribution. The CI is the percentile interval of the (scaled) bootstrap means. A fixed
    seed makes the result reproducible run to run.
    """
    d = np.asarray(diffs, dtype=float)
    n = d.size
    if n == 0:
        return Bootstrap(1.0, (0.0, 0.0), 0)
    mean = float(d.mean())
    if n < 2:
        return Bootstrap(1.0, (mean, mean), 0)
    centred = (d - mean) * sqrt(n / (n - 1))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        size = min(_CHUNK, resamples - start)
        idx = rng.integers(0, n, size=(size, n))
        means[start : start + size] = centred[idx].mean(axis=1)
    # A relative slack so that float noise in the resampled means never decides a tie.
    threshold = abs(mean) * (1 - 1e-9)
    extreme = int(np.count_nonzero(np.abs(means) >= threshold)) if mean != 0 else resamples
    p = (1 + extreme) / (1 + resamples)
    if extreme < TAIL_COUNT:
        # Too few resamples that far out to count the tail precisely (p would bottom out at
        # 1 / (resamples + 1), and a Holm adjustment over many cells could then never reach
        # significance): read the tail off the normal approximation of the same bootstrap
        # distribution instead.
        spread = float(means.std())
        p = 2 * NormalDist().cdf(-abs(mean) / spread) if spread > 0 else 0.0
    p = max(p, exact_floor_p(int(np.count_nonzero(d))))
    lo, hi = np.percentile(means, [2.5, 97.5])
    return Bootstrap(min(1.0, p), (mean + float(lo), mean + float(hi)), resamples)


def z_sum(alpha: float = ALPHA, power: float = POWER) -> float:
    """z_{1-alpha/2} + z_{power}: 2.8016 at alpha 0.05, power 0.8."""
    return z(1 - alpha / 2) + z(power)


def mde(se: float, n: int, *, alpha: float = ALPHA, power: float = POWER, flip_unit: float | None = None) -> float:
    """Minimum detectable effect of a two-sided paired test with n items: ``(z_{1-alpha/2} +
    z_power) x se``, subject to the exact-test floor.

    With fewer than ``min_differing_items`` items nothing can be significant: infinite MDE.
    ``flip_unit``: when a change can only show as whole items flipping (binary item values,
    e.g. one sample per item, or no observed spread to estimate an SE from), the MDE is also
    at least ``m_min`` items' worth, ``m_min * flip_unit / n`` (an exact McNemar test needs
    that many one-way discordant pairs).
    """
    m_min = min_differing_items(alpha)
    if n < m_min:
        return inf
    value = z_sum(alpha, power) * se
    if flip_unit is not None:
        value = max(value, m_min * flip_unit / n)
    return value


def items_needed(
    se: float, n: int, target: float, *, alpha: float = ALPHA, power: float = POWER, flip_unit: float | None = None
) -> int | None:
    """About how many items bring the MDE down to ``target`` (None when target <= 0).

    The SE of a mean over items shrinks as 1/sqrt(n), so n scales by (MDE_se / target)^2;
    the exact-test floor adds its own minimum (m_min items, and m_min * flip_unit / target
    when changes come in whole-item flips). The estimate uses this run's per-item spread, so
    treat it as a guide, not a guarantee.
    """
    if target <= 0 or not isfinite(target):
        return None
    m_min = min_differing_items(alpha)
    need = float(m_min)
    if flip_unit is not None:
        need = max(need, m_min * flip_unit / target)
    if se > 0 and n > 0:
        need = max(need, n * (z_sum(alpha, power) * se / target) ** 2)
    return int(ceil(need - 1e-9))


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
