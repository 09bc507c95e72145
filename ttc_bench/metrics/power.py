"""Power and the minimum detectable effect (MDE) of the paired tests in paired.py.

The MDE is the drop a cell detects with probability ``power`` at the per-cell level the
gate uses. It is solved under the alternative, not read off the null spread:
delta = tol + z_{1-a/2} SE0(delta) + z_power SE1(delta), where SE1 is the standard error of
the difference *when the current run is worse by delta* and SE0 the one the test divides
by, as it would be estimated from such runs (Connor 1987 for McNemar's test, with the
discordance growing with delta; for the t-test, whose SE is the sample SE of the same runs,
SE0 = SE1 and the quantile is Student's). For one sample per item and tol = 0 the power of
the exact (or mid-p) test is computed exactly instead, by summing over the binomial
distributions of the discordant pairs: with few discordant items the exact test is far more
conservative than its normal approximation.

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
from math import ceil, erfc, inf, isfinite, lgamma, log, sqrt

import numpy as np

from .distributions import normal_cdf, normal_quantile, t_quantile
from .paired import ALPHA, min_differing_items

POWER = 0.8
# One-sample power is summed exactly over discordant counts up to this many; beyond it the
# normal approximation of the exact test (with continuity correction) is within a percent.
EXACT_DISCORDANT = 200
MAX_ITEMS = 10_000_000  # items_needed stops looking here

_ERFC = np.frompyfunc(erfc, 1, 1)  # elementwise math.erfc: numpy has none


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
    z_b = normal_quantile(power)
    if model.binary:
        q = normal_quantile(1 - alpha / 2)

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
        q = normal_quantile(1 - alpha / 2)
        return normal_cdf((delta * sqrt(n) - q * sqrt(psi)) / sqrt(max(psi - delta * delta, 1e-12)))
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
        q = normal_quantile(1 - alpha / 2)
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
    return _bisect(lambda delta: _binary_power(model, delta, alpha) >= power, lo, hi, rtol=rtol)


def _bisect(ok, lo: float, hi: float, *, rtol: float = 0.0, steps: int = 1 << 30) -> float:
    """The smallest x in (lo, hi] with ok(x), for ok false at lo and true at hi and monotone
    between: bisection until the bracket is within ``rtol`` of hi, or for ``steps`` halvings."""
    for _ in range(steps):
        if hi - lo <= rtol * hi:
            break
        mid = (lo + hi) / 2
        if ok(mid):
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

    def caught(drop: float) -> bool:
        share = acc * (1 - (1 - drop / acc) ** max(model.m, 1.0))
        return _binomial_at_least(n, share, m_min) >= power

    return _bisect(caught, 0.0, acc, steps=30)


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
