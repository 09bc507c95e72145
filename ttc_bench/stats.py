"""Paired-comparison statistics for the CI gate. Pure functions, no I/O.

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

Power and the minimum detectable effect (MDE): the drop a cell detects with probability
``power`` at the per-cell level the gate uses. It is solved under the alternative, not read
off the null spread: delta = tol + z_{1-a/2} SE0(delta) + z_power SE1(delta), where SE1 is
the standard error of the difference *when the current run is worse by delta* and SE0 the
one the test divides by, as it would be estimated from such runs (Connor 1987 for
McNemar's test, with the discordance growing with delta; for the t-test, whose SE is the
sample SE of the same runs, SE0 = SE1 and the quantile is Student's). For one sample per
item and tol = 0 the power of the exact (or mid-p) test is computed exactly instead, by
summing over the binomial distributions of the discordant pairs: with few discordant items
the exact test is far more conservative than its normal approximation.

The alternative modelled: the current run keeps a share 1 - delta / acc of every item's
success probability (a drop spread over items in proportion to their accuracy, so it
slows down near 0 and is bounded by the accuracy itself). For binary samples that gives,
per sample pair, a discordance psi(delta) = psi0 + kappa delta with kappa = (acc - psi0) /
acc, and in general the item-difference variance

    V(delta) = V0 + [kappa delta - delta^2 E(p^2) / acc^2] / m + delta^2 Var(p) / acc^2

with m samples per item, E(p(1-p)) and Var(p) = acc (1 - acc) - E(p(1-p)) estimated from
the runs (with one sample per item, E(p(1-p)) = psi0 / 2). For metrics without a
per-sample model (maj@k, tokens) SE(delta) = SE0: the change is assumed not to alter the
spread.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil, comb, erfc, inf, isfinite, lgamma, log, sqrt
from statistics import NormalDist
from typing import Sequence

import numpy as np

from .estimators import t_quantile, t_sf

ALPHA = 0.05
POWER = 0.8
# One-sample power is summed exactly over discordant counts up to this many; beyond it the
# normal approximation of the exact test (with continuity correction) is within a percent.
EXACT_DISCORDANT = 200
MAX_ITEMS = 10_000_000  # items_needed stops looking here


def z(q: float) -> float:
    """Standard normal quantile."""
    return NormalDist().inv_cdf(q)


def _phi(x: float) -> float:
    return NormalDist().cdf(x)


_ERFC = np.frompyfunc(erfc, 1, 1)  # elementwise math.erfc: numpy has none

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
    q = z(1 - (1 - level) / 2)

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
    q = z(1 - (1 - level) / 2)
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
        p_worse = _phi(tango_z(worse, better, n, -tol))
        p_better = 1.0 - _phi(tango_z(worse, better, n, tol))
    return PairedTest(p_worse, p_better, ci, se, method, (worse, better))


# --------------------------------------------------------------------------- power and MDE


@dataclass(frozen=True)
class PowerModel:
    """What the MDE of one cell is computed from (see the module docstring).

    ``n`` items, ``sd0``: the per-item sd of the differences under the observed data
    (SE0 = sd0 / sqrt(n)); ``binary``: one 0/1 sample per item (exact McNemar power);
    ``acc``: the baseline mean of the goodness value; ``epq``: E(p(1-p)) per sample;
    ``m``: samples per item. ``acc`` None: no per-sample model (SE(delta) = SE0).
    """

    n: int
    sd0: float
    binary: bool = False
    acc: float | None = None
    epq: float = 0.0
    m: float = 1.0
    mid_p: bool = False

    def scaled(self, n: int) -> "PowerModel":
        return PowerModel(n, self.sd0, self.binary, self.acc, self.epq, self.m, self.mid_p)

    def variance(self, delta: float) -> float:
        """Per-item variance of the differences when the current run is worse by delta."""
        v0 = self.sd0**2
        if self.acc is None or self.acc <= 0:
            return v0
        acc = self.acc
        kappa = min(1.0, max(0.0, (acc - 2 * self.epq) / acc))
        var_p = max(0.0, acc * (1 - acc) - self.epq)
        e2 = acc - self.epq  # E(p^2)
        return max(0.0, v0 + (kappa * delta - delta * delta * e2 / acc**2) / self.m + delta * delta * var_p / acc**2)


def _normal_mde(model: PowerModel, alpha: float, power: float, tol: float) -> float:
    """Solve delta = tol + q SE0(delta) + z_power SE1(delta) by fixed-point iteration.

    SE1(delta) = sqrt(V(delta) / n) is the sampling SE of the mean difference when the
    current run is worse by delta; SE0(delta) is the SE the test divides by, as estimated
    from such runs: for the paired t-test the same sample variance, so SE0 = SE1; for
    McNemar's / Tango's statistic the null variance given the discordance psi(delta),
    sqrt((psi - tol^2) / n) (Connor 1987).
    """
    n = model.n
    z_b = z(power)
    if model.binary:
        q = z(1 - alpha / 2)

        def step(delta: float) -> float:
            psi = model.variance(delta) + delta * delta
            return tol + q * sqrt(max(psi - tol * tol, 0.0) / n) + z_b * sqrt(model.variance(delta) / n)
    else:
        q = t_quantile(1 - alpha / 2, n - 1) if n >= 2 else inf

        def step(delta: float) -> float:
            return tol + (q + z_b) * sqrt(model.variance(delta) / n)

    delta = step(tol)
    for _ in range(200):
        nxt = step(delta)
        if abs(nxt - delta) < 1e-10:
            break
        delta = nxt
    return delta


@lru_cache(maxsize=4)
def _log_factorials(top: int) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, top + 1)))])


@lru_cache(maxsize=64)
def _critical_losses(alpha: float, mid_p: bool) -> np.ndarray:
    """For D = 0..EXACT_DISCORDANT discordant items: the fewest "worse" of them for which
    the one-sided exact (or mid-p) McNemar test rejects at alpha / 2 (D + 1: never)."""
    top = EXACT_DISCORDANT
    out = np.empty(top + 1, dtype=int)
    lf = _log_factorials(top)
    for d in range(top + 1):
        j = np.arange(d + 1)
        pmf = np.exp(lf[d] - lf[j] - lf[d - j] - d * log(2.0))
        upper = np.cumsum(pmf[::-1])[::-1]  # P(X >= j)
        p = upper - pmf / 2 if mid_p else upper
        ok = np.nonzero(p <= alpha / 2 * (1 + 1e-12))[0]
        out[d] = ok[0] if ok.size else d + 1
    return out


def _binomial_logpmf(n, k, p: float, lf: np.ndarray) -> np.ndarray:
    """log P(Binomial(n, p) = k) elementwise (n, k integer arrays, 0 <= k <= n)."""
    n = np.asarray(n)
    k = np.asarray(k)
    if p <= 0:
        return np.where(k == 0, 0.0, -np.inf)
    if p >= 1:
        return np.where(k == n, 0.0, -np.inf)
    return lf[n] - lf[k] - lf[n - k] + k * log(p) + (n - k) * log(1 - p)


def _binary_power(model: PowerModel, delta: float, alpha: float) -> float:
    """Power of the one-sided exact/mid-p McNemar test when the current run is worse by
    delta: the discordant count D ~ Binomial(n, psi(delta)), and of those the worse ones
    ~ Binomial(D, (psi + delta) / (2 psi))."""
    n = model.n
    psi = min(1.0, max(model.variance(delta) + delta * delta, delta))  # V = psi - delta^2 for 0/1 pairs
    if psi <= 0 or delta <= 0:
        return 0.0
    share = min(1.0, (psi + delta) / (2 * psi))
    spread = sqrt(max(n * psi * (1 - psi), 1e-12))
    if n * psi - 9 * spread > EXACT_DISCORDANT:
        # Every likely discordant count is large: the normal power of McNemar's z (Connor 1987).
        q = z(1 - alpha / 2)
        return _phi((delta * sqrt(n) - q * sqrt(psi)) / sqrt(max(psi - delta * delta, 1e-12)))
    ds = np.arange(max(0, int(n * psi - 9 * spread)), min(n, int(ceil(n * psi + 9 * spread))) + 1)
    weights = np.exp(_binomial_logpmf(n, ds, psi, _log_factorials(n)))
    reject = np.zeros(ds.size)
    small = ds <= EXACT_DISCORDANT
    if small.any():
        rows = ds[small]
        crit = _critical_losses(alpha, model.mid_p)[rows]
        j = np.arange(int(rows.max()) + 1)[None, :]
        inside = (j >= crit[:, None]) & (j <= rows[:, None])
        safe_j = np.minimum(j, rows[:, None])
        logp = _binomial_logpmf(rows[:, None], safe_j, share, _log_factorials(EXACT_DISCORDANT))
        reject[small] = np.where(inside, np.exp(logp), 0.0).sum(axis=1)
    big = ~small
    if big.any():
        d = ds[big].astype(float)
        q = z(1 - alpha / 2)
        crit = d / 2 + q * np.sqrt(d) / 2 + (0.0 if model.mid_p else 0.5)
        sd = np.sqrt(np.maximum(d * share * (1 - share), 1e-12))
        reject[big] = 0.5 * _ERFC((crit - 0.5 - d * share) / sd / sqrt(2.0)).astype(float)
    return float(weights @ reject)


def mde(model: PowerModel, *, alpha: float = ALPHA, power: float = POWER, tol: float = 0.0, rtol: float = 1e-4) -> float:
    """The drop (in goodness units, tolerance included) detected with probability ``power``
    by the one-sided test at alpha / 2; inf when none is (too few items, or not even the
    largest possible drop would be caught often enough)."""
    n = model.n
    m_min = min_differing_items(alpha)
    if n < m_min:
        return inf
    ceiling = model.acc if model.acc is not None else inf
    if model.binary and tol == 0 and model.acc is not None:
        return _binary_mde(model, alpha, power, ceiling, rtol)
    delta = _normal_mde(model, alpha, power, tol)
    if model.sd0 == 0 and model.acc is not None:
        delta = max(delta, tol + _flip_floor(model, alpha, power))
    return delta if delta <= ceiling else inf


def _binary_mde(model: PowerModel, alpha: float, power: float, ceiling: float, rtol: float) -> float:
    """The drop at which the exact/mid-p McNemar test reaches ``power``: bisection to a
    relative ``rtol``, bracketed around the normal approximation (Connor 1987)."""
    if ceiling <= 0 or _binary_power(model, ceiling, alpha) < power:
        return inf
    guess = min(ceiling, _normal_mde(model, alpha, power, 0.0))
    lo, hi = 0.5 * guess, min(ceiling, 2.0 * guess)
    if _binary_power(model, hi, alpha) < power:
        lo, hi = hi, ceiling
    elif _binary_power(model, lo, alpha) >= power:
        lo = 0.0
    while hi - lo > rtol * hi:
        mid = (lo + hi) / 2
        if _binary_power(model, mid, alpha) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def _flip_floor(model: PowerModel, alpha: float, power: float) -> float:
    """With no spread in the data (identical answers in both runs) changes come in whole
    items: the drop at which, with probability ``power``, at least m_min items differ (the
    fewest any exact test needs), an item differing when one of its m (effective) samples
    flips."""
    n, acc = model.n, model.acc or 0.0
    m_min = min_differing_items(alpha)
    if acc <= 0:
        return inf
    lo, hi = 0.0, acc
    for _ in range(30):
        mid = (lo + hi) / 2
        share = acc * (1 - (1 - mid / acc) ** max(model.m, 1.0))
        if _binomial_at_least(n, share, m_min) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def _binomial_at_least(n: int, p: float, k: int) -> float:
    """P(Binomial(n, p) >= k)."""
    if p <= 0:
        return 0.0 if k > 0 else 1.0
    if p >= 1:
        return 1.0 if k <= n else 0.0
    below = sum(np.exp(lgamma(n + 1) - lgamma(j + 1) - lgamma(n - j + 1) + j * log(p) + (n - j) * log(1 - p)) for j in range(min(k, n + 1)))
    return max(0.0, 1.0 - float(below))


def items_needed(
    model: PowerModel, target: float, *, alpha: float = ALPHA, power: float = POWER, tol: float = 0.0
) -> int | None:
    """About how many items bring the MDE down to ``target`` (None when it cannot: target at
    or below the tolerance, or beyond the accuracy there is to lose).

    The per-item spread, accuracy and samples per item of this comparison are kept and only
    the item count changes; treat the answer as a guide, not a guarantee.
    """
    if not isfinite(target) or target <= tol:
        return None

    def ok(n: int) -> bool:  # a 0.2% precision is plenty for an item count
        return mde(model.scaled(n), alpha=alpha, power=power, tol=tol, rtol=2e-3) <= target

    floor = min_differing_items(alpha)
    # A first guess from the 1 / sqrt(n) law, then a bracket and a bisection to within 1%
    # (the exact test's power is a sawtooth in n, so finer is not meaningful).
    now = mde(model, alpha=alpha, power=power, tol=tol)
    guess = model.n * ((now - tol) / (target - tol)) ** 2 if isfinite(now) and now > tol else 4.0 * model.n
    guess = int(min(max(guess, floor), MAX_ITEMS))
    if ok(guess):
        lo, hi = floor - 1, guess
        if ok(floor):
            return floor
        probe = max(floor, int(guess * 0.8))
        while probe > floor and ok(probe):
            hi, probe = probe, max(floor, int(probe * 0.8))
        lo = probe
    else:
        lo, hi = guess, int(guess * 1.25) + 1
        while not ok(hi):
            lo, hi = hi, int(hi * 1.25) + 1
            if hi > MAX_ITEMS:
                return None
    while hi - lo > max(1, lo // 100):
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


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
