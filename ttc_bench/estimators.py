"""Per-item estimators and error bars: pass@k, maj@k (exact, every k at once), intervals.

Pure numeric functions; scoring.py applies them to sample rows. Definitions (DESIGN.md):

- pass@k of one item = 1 - C(n-c, k) / C(n, k)   (unbiased, k <= n; Chen et al., 2021)
- maj@k of one item  = expected majority-vote correctness over all size-k subsets of its n
  samples; unparsed samples do not vote; a tie splits credit evenly among the tied
  answers; a subset with no votes scores 0.

maj@k depends only on the answer-count histogram, so it is computed once per distinct
histogram for every k = 1..n with generating functions (see :func:`maj_curve`).

Error bars treat the item as the unit of replication (Miller 2024, "Adding Error Bars to
Evals", arXiv 2411.00640): the SE of a mean over items is sd(item values) / sqrt(items).
The 95% interval of a [0, 1]-bounded mean is :func:`bounded_interval`: a Wilson score
interval on the effective number of trials, with Student t quantiles (see there for why).
Student t and normal quantiles are computed here (no scipy).
"""

from __future__ import annotations

from functools import lru_cache
from math import atan, comb, cos, erfc, inf, isfinite, pi, sin, sqrt, tan
from statistics import NormalDist
from typing import Iterable, Sequence

import numpy as np

Z95 = 1.959963984540054
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
# Binomial coefficients stay finite in float64 up to C(1020, 510); beyond that the exact
# integer recursion takes over.
FLOAT_SAFE_SAMPLES = 1000


# ---------------------------------------------------------------------------- pass@k


def pass_at_k(n: int, c: int, k: int) -> float:
    if not 0 < k <= n:
        raise ValueError(f"pass@k needs 0 < k <= n (k={k}, n={n})")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


@lru_cache(maxsize=1 << 16)
def pass_curve(n: int, c: int) -> np.ndarray:
    """pass@k for k = 1..n of an item with c correct out of n (read-only array)."""
    # C(n-c, k)/C(n, k) = prod_{i<k} (n-c-i)/(n-i): one cumulative product gives every k.
    i = np.arange(n, dtype=float)
    miss = np.cumprod(np.clip((n - c - i) / (n - i), 0.0, None))
    curve = 1.0 - miss
    if n:
        curve[0] = c / n  # pass@1 exactly as defined, not 1 - (n-c)/n
    curve.flags.writeable = False
    return curve


# ---------------------------------------------------------------------------- maj@k


@lru_cache(maxsize=1 << 12)
def _binom_row(m: int) -> np.ndarray:
    """C(m, j) for j = 0..m: the ways to draw j of m samples."""
    row = np.array([comb(m, j) for j in range(m + 1)], dtype=float)
    row.flags.writeable = False
    return row


@lru_cache(maxsize=64)
def _gauss_legendre01(points: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(points)
    return (nodes + 1) / 2, weights / 2


def _diagonal(buf: np.ndarray, first: int) -> np.ndarray:
    """Writable view of a C-contiguous (rows, inner, width) buffer in which row i starts at
    column first + i.

    Row i of the vote tables stands for x = i + first votes, and a tie adds exactly x votes,
    so this view turns "shift each row by its own x" into one array operation.
    """
    rows, inner, width = buf.shape
    step = buf.itemsize
    return np.ndarray(
        (rows, inner, width - first - rows + 1),
        dtype=buf.dtype,
        buffer=buf,
        offset=first * step,
        strides=(buf.strides[0] + step, buf.strides[1], step),
    )


@lru_cache(maxsize=64)
def _pascal(n: int) -> np.ndarray:
    """Row f holds C(f, j) for j = 0..n (zero past f)."""
    table = np.zeros((n + 1, n + 1))
    for f in range(n + 1):
        table[f, : f + 1] = _binom_row(f)
    table.flags.writeable = False
    return table


def _win_one_vote(m_a: int, others: list[int], unparsed: int, size: int) -> np.ndarray:
    """Tie-weighted ways for the correct class to top the vote with exactly one vote.

    Every other class then has at most one vote; t of them drawn means a t+1-way tie. The
    ways to draw t singletons from the others are the elementary symmetric sums of their
    counts.
    """
    e = [1] + [0] * len(others)
    for t, m in enumerate(others, start=1):
        for j in range(t, 0, -1):
            e[j] += m * e[j - 1]
    tied = np.array([e_t / (t + 1) for t, e_t in enumerate(e)])
    drawn = np.convolve(tied, _binom_row(unparsed))[: size - 1]
    out = np.zeros(size)
    out[1 : 1 + len(drawn)] = m_a * drawn
    return out


def _win_several_votes(m_a: int, others: list[int], top_x: int, n: int) -> np.ndarray:
    """Tie-weighted ways for the correct class to top the vote with x = 2..top_x votes.

    For x votes, every other class contributes sum_{j<x} C(m_b, j) z^j (stays below) plus
    w C(m_b, x) z^x (ties); z counts drawn samples and w counts tied classes. A t-way tie
    with the correct class is worth 1/(t+1) = integral_0^1 w^t dw, which Gauss-Legendre
    quadrature on the w-polynomial computes exactly. Classes with fewer than x samples can
    never reach x, so for that row they are free draws like the unparsed samples.
    """
    size = n + 1
    rows = top_x - 1  # row i stands for x = i + 2
    contenders = sorted((m for m in others if m >= 2), reverse=True)
    nodes, weights = _gauss_legendre01(len(contenders) // 2 + 1)
    width = size + top_x + 2
    # free draws per row: everything except the correct class and the classes that reach x
    reach = np.array(contenders, dtype=int)
    xs = np.arange(2, top_x + 1)
    free = n - m_a - (reach[None, :] >= xs[:, None]) @ reach
    table = np.zeros((rows, len(nodes), width))
    table[:, :, :size] = _pascal(n)[free][:, None, :]
    for m in contenders:
        live = min(m, top_x) - 1  # rows with x <= m: this class can tie there
        coef = _binom_row(m)
        new = table.copy()  # j = 0 votes from this class, C(m, 0) = 1
        for j in range(1, live + 2):
            lo = max(0, j - 1)  # j votes stay below x only in rows with x > j
            new[lo:live, :, j:size] += coef[j] * table[lo:live, :, : size - j]
        ties = coef[2 : live + 2][:, None, None] * nodes[None, :, None]
        _diagonal(new[:live], 2)[:, :, :size] += ties * table[:live, :, :size]
        table = new
    share = weights @ table[:, :, :size]
    share *= _binom_row(m_a)[2 : top_x + 1][:, None]
    placed = np.zeros((rows, 1, width))
    _diagonal(placed, 2)[:, 0, :size] = share
    return placed[:, 0, :size].sum(axis=0)


def _maj_curve_float(classes: tuple[tuple[int, bool], ...], unparsed: int) -> np.ndarray:
    n = sum(m for m, _ in classes) + unparsed
    size = n + 1
    wins = np.zeros(size)  # wins[k]: tie-weighted count of winning size-k subsets
    for a, (m_a, correct) in enumerate(classes):
        if not correct:
            continue
        others = [m for b, (m, _) in enumerate(classes) if b != a]
        top = max(others, default=0)
        if m_a > top:
            # More than `top` votes beat every other class outright; the rest is free.
            head = np.zeros(m_a + 1)
            head[top + 1 :] = _binom_row(m_a)[top + 1 :]
            wins += np.convolve(head, _binom_row(n - m_a))[:size]
        top_x = min(m_a, top)
        if top_x >= 1:
            wins += _win_one_vote(m_a, others, unparsed, size)
        if top_x >= 2:
            wins += _win_several_votes(m_a, others, top_x, n)
    return wins[1:] / _binom_row(n)[1:]


@lru_cache(maxsize=1 << 16)
def _maj_at_k(classes: tuple[tuple[int, bool], ...], unparsed: int, k: int) -> float:
    """Exact-integer maj@k for one k (the reference; also used past FLOAT_SAFE_SAMPLES)."""
    n = sum(m for m, _ in classes) + unparsed
    if not 0 < k <= n:
        raise ValueError(f"maj@k needs 0 < k <= n (k={k}, n={n})")
    total = 0.0
    for a, (m_a, correct_a) in enumerate(classes):
        if not correct_a:
            continue
        others = [m for b, (m, _) in enumerate(classes) if b != a]
        for x in range(1, min(m_a, k) + 1):
            # dp[t][s]: ways to draw s samples from the unparsed and the other classes,
            # every other class drawn at most x times, t of them exactly x (tied with a).
            dp = [[0] * (k - x + 1) for _ in range(len(others) + 1)]
            for s in range(min(unparsed, k - x) + 1):
                dp[0][s] = comb(unparsed, s)
            for m_b in others:
                nxt = [[0] * (k - x + 1) for _ in range(len(others) + 1)]
                for t, row in enumerate(dp):
                    for s, ways in enumerate(row):
                        if not ways:
                            continue
                        for x_b in range(min(m_b, x, k - x - s) + 1):
                            nxt[t + (x_b == x)][s + x_b] += ways * comb(m_b, x_b)
                dp = nxt
            tied_share = sum(dp[t][k - x] / (t + 1) for t in range(len(dp)))
            total += comb(m_a, x) * tied_share
    return total / comb(n, k)


def histogram_key(answers: dict, unparsed: int) -> tuple[tuple[tuple[int, bool], ...], int]:
    """Canonical form of an answer histogram: the answers' names do not matter."""
    classes = tuple(sorted(((int(m), bool(c)) for m, c in answers.values()), key=lambda mc: (-mc[0], not mc[1])))
    return classes, int(unparsed)


@lru_cache(maxsize=1 << 16)
def maj_curve(classes: tuple[tuple[int, bool], ...], unparsed: int) -> np.ndarray:
    """maj@k for k = 1..n of one item, from its canonical histogram (read-only array).

    ``classes`` holds (count, correct) per distinct parsed answer (see :func:`histogram_key`).
    """
    n = sum(m for m, _ in classes) + unparsed
    if n == 0:
        curve = np.zeros(0)
    elif not any(correct for _, correct in classes):
        curve = np.zeros(n)
    elif n <= FLOAT_SAFE_SAMPLES:
        curve = np.clip(_maj_curve_float(classes, unparsed), 0.0, 1.0)  # float dust past 1.0
    else:
        curve = np.array([_maj_at_k(classes, unparsed, k) for k in range(1, n + 1)])
    curve.flags.writeable = False
    return curve


def maj_at_k(answers: dict[str, tuple[int, bool]], unparsed: int, k: int) -> float:
    """Expected majority-vote correctness of a random size-k subset of one item's samples.

    ``answers`` maps each distinct normalized answer to (count, correct).
    """
    classes, unparsed = histogram_key(answers, unparsed)
    n = sum(m for m, _ in classes) + unparsed
    if not 0 < k <= n:
        raise ValueError(f"maj@k needs 0 < k <= n (k={k}, n={n})")
    return float(maj_curve(classes, unparsed)[k - 1])


# ---------------------------------------------------------------------------- distributions


def normal_quantile(q: float) -> float:
    """Standard normal quantile."""
    return NormalDist().inv_cdf(q)


def normal_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z, accurate far into the tail (erfc, not 1 - cdf)."""
    return 0.5 * erfc(x / sqrt(2.0))


# Beyond this many degrees of freedom Student's t is the normal to far better than 1e-6.
_T_NORMAL_DF = 100_000


def _t_central(t: float, df: int) -> float:
    """P(|T| <= |t|) for Student's t with integer df >= 1.

    The finite series of Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df) in
    theta = atan(|t| / sqrt(df)): exact for integer df, which is all the tools here need
    (df = items - 1).
    """
    if df > _T_NORMAL_DF:
        return 1.0 - 2.0 * normal_sf(abs(t))
    theta = atan(abs(t) / sqrt(df))
    s, c = sin(theta), cos(theta)
    c2 = c * c
    if df % 2:
        total = theta
        if df > 1:
            j = np.arange(1, (df - 3) // 2 + 1)
            total += s * c * (1.0 + float(np.cumprod(c2 * (2 * j) / (2 * j + 1)).sum()))
        return min(1.0, 2.0 / pi * total)
    j = np.arange(1, (df - 2) // 2 + 1)
    return min(1.0, s * (1.0 + float(np.cumprod(c2 * (2 * j - 1) / (2 * j)).sum())))


def t_sf(t: float, df: int) -> float:
    """P(T > t) for Student's t with integer df >= 1 (the one-sided p-value of a t-test)."""
    if not isfinite(t):
        return 0.0 if t > 0 else 1.0
    central = _t_central(t, df)
    return (1.0 - central) / 2 if t >= 0 else (1.0 + central) / 2


@lru_cache(maxsize=1024)
def t_quantile(q: float, df: int) -> float:
    """Student's t quantile for integer df >= 1 (bisection on the exact cdf above)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level must be in (0, 1), got {q}")
    if df < 1:
        raise ValueError(f"t quantiles need df >= 1, got {df}")
    if q == 0.5:
        return 0.0
    target = abs(2 * q - 1)
    lo, hi = 0.0, pi / 2  # bisect on theta = atan(t / sqrt(df)): a bounded, monotone scale
    for _ in range(100):
        mid = (lo + hi) / 2
        if _t_central(sqrt(df) * tan(mid), df) < target:
            lo = mid
        else:
            hi = mid
    value = sqrt(df) * tan((lo + hi) / 2)
    return value if q > 0.5 else -value


def t95(items) -> np.ndarray | float:
    """The two-sided 95% Student t quantile on items - 1 degrees of freedom (inf below 2 items)."""
    if np.ndim(items) == 0:
        return t_quantile(0.975, int(items) - 1) if items >= 2 else inf
    items = np.asarray(items, dtype=int)
    return np.array([t_quantile(0.975, int(n) - 1) if n >= 2 else inf for n in items.ravel()]).reshape(items.shape)


# ---------------------------------------------------------------------------- error bars


def bounded_intervals(mean, se, items, trials) -> tuple[np.ndarray, np.ndarray]:
    """95% intervals for means of [0, 1]-bounded item values (vectorised over columns).

    The Wilson score interval with continuity correction (Newcombe 1998, "Two-sided
    confidence intervals for the single proportion", method 4) on the *effective* number
    of trials, with the Student t quantile on items - 1 degrees of freedom in place of the
    normal one:

    - n_eff = p(1 - p) / se^2 is the number of independent 0/1 trials that would give the
      observed SE over items (the design-effect idea of Korn & Graubard 1998 for clustered
      proportions). Away from 0 and 1 the interval is close to mean +- t se; near them it
      stays inside [0, 1] and is asymmetric, as the sampling distribution is.
    - n_eff is capped at ``trials``, the independent trials the data hold (pass@1: the
      scored samples; a k-sample metric: samples / k): a mean of Bernoulli trials never
      varies less than p(1 - p) / trials, so an item spread that happens to be tiny (every
      item right, say) cannot shrink the interval to nothing. No interval has zero width.
    - t on items - 1 df: the SE itself is estimated from few items.
    - the continuity correction: near 0 and 1 only a handful of trials decide the figure
      and the plain Wilson interval then undercovers (one miss in 300 trials, say); the
      corrected one keeps coverage at or above 95% (benchmarks/coverage.py). With fewer
      than one effective success (failure) the interval reaches 0 (1).

    Fewer than two items: no spread can be estimated and the interval is [0, 1].
    Returns (low, high) arrays (NaN where the mean is NaN).
    """
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    se = np.broadcast_to(np.asarray(se, dtype=float), mean.shape)
    items = np.broadcast_to(np.asarray(items, dtype=float), mean.shape)
    trials = np.broadcast_to(np.asarray(trials, dtype=float), mean.shape)
    p = np.clip(np.nan_to_num(mean), 0.0, 1.0)
    q = np.asarray(t95(np.nan_to_num(items).astype(int)), dtype=float).reshape(mean.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        n = np.where(se > 0, p * (1 - p) / (se * se), np.inf)
        n = np.minimum(n, np.maximum(trials, items))
        q2 = q * q
        root_lo = np.sqrt(np.maximum(0.0, q2 - 2 - 1 / n + 4 * p * (n * (1 - p) + 1)))
        root_hi = np.sqrt(np.maximum(0.0, q2 + 2 - 1 / n + 4 * p * (n * (1 - p) - 1)))
        lo = (2 * n * p + q2 - 1 - q * root_lo) / (2 * (n + q2))
        hi = (2 * n * p + q2 + 1 + q * root_hi) / (2 * (n + q2))
    # Fewer than one effective success (failure): nothing excludes 0 (1). The formula
    # assumes whole counts and would otherwise put the bound past the estimate.
    lo = np.where(n * p < 1, 0.0, np.clip(np.minimum(lo, p), 0.0, 1.0))
    hi = np.where(n * (1 - p) < 1, 1.0, np.clip(np.maximum(hi, p), 0.0, 1.0))
    few = ~(items >= 2) | ~np.isfinite(q)
    lo, hi = np.where(few, 0.0, lo), np.where(few, 1.0, hi)
    missing = np.isnan(mean)
    return np.where(missing, np.nan, lo), np.where(missing, np.nan, hi)


def bounded_interval(mean: float, se: float, items: int, trials: float | None = None) -> list[float]:
    """One :func:`bounded_intervals` interval; ``trials`` defaults to ``items`` (each item one
    0/1 trial: the widest, i.e. safest, cap when the trial count is unknown)."""
    lo, hi = bounded_intervals(mean, se, items, items if trials is None else trials)
    return [float(lo[0]), float(hi[0])]


def mean_se(values: Iterable[float], trials: float | None = None) -> dict:
    """Mean of [0, 1]-bounded item values, its SE over items and its 95% interval
    (:func:`bounded_interval`; ``trials``: the independent 0/1 trials behind the values)."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size == 0:
        return {"mean": None, "se": None, "ci95": [None, None], "n": 0}
    mean = float(arr.mean())
    se = float(arr.std(ddof=1) / sqrt(arr.size)) if arr.size > 1 else 0.0
    return {"mean": mean, "se": se, "ci95": bounded_interval(mean, se, arr.size, trials), "n": int(arr.size)}


def bootstrap_weights(items: int, seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES) -> np.ndarray:
    """(resamples, items) matrix: how often each item is drawn in each bootstrap resample.

    One weight matrix serves every column of an item x metric table at once (W @ V), so all
    metrics of a task share the same resamples, and memory stays at resamples x items.
    """
    rng = np.random.default_rng(seed)
    weights = np.empty((resamples, items), dtype=float)
    chunk = max(1, (1 << 22) // max(items, 1))  # bound the index buffer to ~32 MB
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        idx = rng.integers(0, items, size=(stop - start, items))
        offsets = (np.arange(stop - start) * items)[:, None]
        counts = np.bincount((idx + offsets).ravel(), minlength=(stop - start) * items)
        weights[start:stop] = counts.reshape(stop - start, items)
    return weights


def bootstrap_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Bootstrap means of every column of an item x metric table; NaN marks a missing item."""
    values = np.asarray(values, dtype=float)
    present = ~np.isnan(values)
    if present.all():
        return (weights @ values) / weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights @ np.where(present, values, 0.0)) / (weights @ present.astype(float))


def percentile_interval(boot: np.ndarray) -> np.ndarray:
    """2.5th and 97.5th percentiles of every column of bootstrap means: shape (2, columns)."""
    if boot.shape[1] == 0:
        return np.zeros((2, 0))
    with np.errstate(invalid="ignore"):
        if np.isnan(boot).any():
            return np.nanpercentile(boot, [2.5, 97.5], axis=0)
        return np.percentile(boot, [2.5, 97.5], axis=0)


def bootstrap_ci(values: Iterable[float], seed: int = BOOTSTRAP_SEED, resamples: int = BOOTSTRAP_RESAMPLES) -> list:
    """Percentile 95% interval of the mean, resampling items with replacement."""
    arr = np.asarray(list(values), dtype=float)
    if arr.size < 2:
        return [float(arr.mean()) if arr.size else None] * 2
    boot = bootstrap_means(arr[:, None], bootstrap_weights(arr.size, seed, resamples))
    lo, hi = percentile_interval(boot)[:, 0]
    return [float(lo), float(hi)]


def column_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of an item x metric table (NaN = missing): mean, SE over items, item count."""
    values = np.asarray(values, dtype=float)
    present = ~np.isnan(values)
    count = present.sum(axis=0)
    filled = np.where(present, values, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / count
        dev = np.where(present, values - mean, 0.0)
        var = (dev * dev).sum(axis=0) / (count - 1)
        se = np.where(count > 1, np.sqrt(var / count), 0.0)
    return mean, se, count


def stat_dict(mean: float, se: float, n: int, ci95: Sequence[float] | None = None, trials: float | None = None) -> dict:
    """The {mean, se, ci95, n} record used for every accuracy figure in summary.json
    (``ci95`` defaults to :func:`bounded_interval` with ``trials``)."""
    if n == 0 or mean != mean:
        return {"mean": None, "se": None, "ci95": [None, None], "n": 0}
    if ci95 is None:
        ci95 = bounded_interval(mean, se, n, trials)
    return {"mean": float(mean), "se": float(se), "ci95": [float(ci95[0]), float(ci95[1])], "n": int(n)}
