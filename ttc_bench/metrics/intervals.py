"""Error bars of means over items: the bounded 95% interval, the {mean, se, ci95, n}
record, and the item bootstrap.

Error bars treat the item as the unit of replication (Miller 2024, "Adding Error Bars to
Evals", arXiv 2411.00640): the SE of a mean over items is sd(item values) / sqrt(items).
The 95% interval of a [0, 1]-bounded mean is :func:`bounded_intervals`: a Wilson score
interval on the effective number of trials, with Student t quantiles (see there for why).
The item bootstrap (one resampling per task) serves the scaling fits, the s1 Scaling
interval and the frontier's cost ties.
"""

from __future__ import annotations

from math import sqrt
from typing import Iterable, Sequence

import numpy as np

from .distributions import t95

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0


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
