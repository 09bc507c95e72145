"""Normal and Student t distributions, computed here (no scipy): the quantiles and tail
probabilities behind every interval and test of the metrics.
"""

from __future__ import annotations

from functools import lru_cache
from math import atan, cos, erfc, inf, isfinite, pi, sin, sqrt, tan
from statistics import NormalDist

import numpy as np


def normal_quantile(q: float) -> float:
    """Standard normal quantile."""
    return NormalDist().inv_cdf(q)


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return NormalDist().cdf(x)


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
