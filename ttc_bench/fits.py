"""Log-linear scaling fits: accuracy against log2(tokens per item), read as
"percentage points per doubling of compute", with a bootstrap interval over items.

The points of one curve share their items, so their errors are correlated and an OLS
standard error would be wrong; instead the same fit is repeated on every bootstrap
resample of the items (the resampled accuracies of all points come from one weight matrix),
and the slope's 2.5/97.5 percentiles form the interval.
"""

from __future__ import annotations

import numpy as np


def loglinear_fit(tokens: list[float], accuracy: list[float], boot: np.ndarray | None = None) -> dict | None:
    """OLS of accuracy (0..1) on log2(tokens); ``boot`` holds bootstrap accuracies (resamples x points).

    None when fewer than two distinct positive token counts exist.
    """
    x_all = np.asarray(tokens, dtype=float)
    y_all = np.asarray(accuracy, dtype=float)
    keep = (x_all > 0) & ~np.isnan(y_all)
    x = np.log2(x_all[keep])
    y = y_all[keep]
    if x.size < 2 or np.ptp(x) == 0:
        return None
    centred = x - x.mean()
    # slope = c @ y: linear in the accuracies, so it applies to every resample in one product.
    c = centred / (centred @ centred)
    slope = float(c @ y)
    intercept = float(y.mean() - slope * x.mean())
    resid = y - (intercept + slope * x)
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else None
    fit = {
        "points": int(x.size),
        "tokens_min": float(x_all[keep].min()),
        "tokens_max": float(x_all[keep].max()),
        "points_per_doubling": 100 * slope,
        "intercept": intercept,
        "r2": r2,
        "se": None,
        "ci95": [None, None],
    }
    if boot is not None and boot.shape[0] > 1:
        slopes = boot[:, keep] @ c
        slopes = slopes[~np.isnan(slopes)]
        if slopes.size > 1:
            fit["se"] = 100 * float(slopes.std(ddof=1))
            lo, hi = np.percentile(slopes, [2.5, 97.5])
            fit["ci95"] = [100 * float(lo), 100 * float(hi)]
    return fit
