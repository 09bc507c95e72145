"""Log-linear scaling fits: accuracy against log2(tokens per item), read as
"percentage points per doubling of compute", with a bootstrap interval over items.

The points of one curve share their items, so their errors are correlated and an OLS
standard error would be wrong; instead the same fit is repeated on every bootstrap
resample of the items. Tokens per item are measured on the same items as the accuracies,
so each resample carries its own tokens too: two budgets that spent 38.9 and 39.3 tokens
are not half a token apart for certain, and a fit that treated them so would report a
steep, tight slope that is really token noise.

A fit over less than half a doubling of tokens (log2(max / min) < 0.5) is reported as
undefined: there the slope is dominated by the noise in the tokens, not by accuracy.
"""

from __future__ import annotations

import numpy as np

MIN_DOUBLINGS = 0.5


def _resampled_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slope of y on x per row (rows = bootstrap resamples); NaN where undefined."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=1) / (xc * xc).sum(axis=1)


def loglinear_fit(
    tokens: list[float],
    accuracy: list[float],
    boot: np.ndarray | None = None,
    boot_tokens: np.ndarray | None = None,
) -> dict | None:
    """OLS of accuracy (0..1) on log2(tokens).

    ``boot`` holds bootstrap accuracies (resamples x points); ``boot_tokens`` the tokens of
    the same resamples (same shape; None keeps the tokens fixed). None when fewer than two
    distinct positive token counts exist; a fit with ``undefined`` set (and no slope) when
    they span less than half a doubling.
    """
    x_all = np.asarray(tokens, dtype=float)
    y_all = np.asarray(accuracy, dtype=float)
    keep = (x_all > 0) & ~np.isnan(y_all)
    x = np.log2(x_all[keep])
    y = y_all[keep]
    if x.size < 2 or np.ptp(x) == 0:
        return None
    span = float(np.ptp(x))
    fit = {
        "points": int(x.size),
        "tokens_min": float(x_all[keep].min()),
        "tokens_max": float(x_all[keep].max()),
        "doublings": span,
        "points_per_doubling": None,
        "intercept": None,
        "r2": None,
        "se": None,
        "ci95": [None, None],
        "undefined": None,
    }
    if span < MIN_DOUBLINGS:
        fit["undefined"] = (
            f"tokens span {span:.2f} doublings ({fit['tokens_min']:,.1f} to {fit['tokens_max']:,.1f} per item), "
            f"less than {MIN_DOUBLINGS}: the slope would be mostly token noise"
        )
        return fit
    centred = x - x.mean()
    slope = float(centred @ y / (centred @ centred))
    intercept = float(y.mean() - slope * x.mean())
    resid = y - (intercept + slope * x)
    total = float(((y - y.mean()) ** 2).sum())
    fit.update(points_per_doubling=100 * slope, intercept=intercept, r2=1.0 - float(resid @ resid) / total if total > 0 else None)
    if boot is not None and boot.shape[0] > 1:
        ys = boot[:, keep]
        if boot_tokens is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                xs = np.log2(boot_tokens[:, keep])
        else:
            xs = np.broadcast_to(x, ys.shape)
        slopes = _resampled_slopes(xs, ys)
        slopes = slopes[np.isfinite(slopes)]
        if slopes.size > 1:
            fit["se"] = 100 * float(slopes.std(ddof=1))
            lo, hi = np.percentile(slopes, [2.5, 97.5])
            fit["ci95"] = [100 * float(lo), 100 * float(hi)]
    return fit
