"""Budget fidelity: does the endpoint spend what a budget asks for, and does spending more help?

Per budget: requested vs used tokens (median, p90), the share of samples cut off, and the
share of samples within budget. "Used" is the sample field the budget caps
(``Budget.used_field`` of budgets.py: reasoning tokens for forced, thinking and effort
budgets, completion tokens for tokens:N). Per task, the s1 metrics (Muennighoff et al.,
2025, "s1: Simple test-time scaling", arXiv 2501.19393, section 3.2), over the task's
compute settings A (its budgets with a token figure), each with its measured compute a (mean used
tokens per sample) and accuracy f(a) (pass@1):

- Control = (1/|A|) sum_a 1[a_min <= a <= a_max]: the share of *settings* whose measured
  compute stays within the setting's bounds (a_max = the budget's N, a_min = M of
  ``forced:N:min=M``, else 0). This is the paper's definition, per setting; the share of
  individual *samples* within their budget is reported beside it as
  ``within_budget_share``.
- Scaling = the mean over setting pairs of the slope (f(b) - f(a)) / (b - a).
- Performance = max_a f(a).
"""

from __future__ import annotations

import numpy as np

from .fits import MIN_DOUBLINGS  # a slope over less than half a doubling is token noise


def budget_fidelity(
    requested: int | None,
    field: str,
    used: np.ndarray,
    completion: np.ndarray,
    cut_off: int,
    estimated: int,
    minimum: int | None = None,
) -> dict:
    """Fidelity figures of one budget from per-sample used and completion token counts.

    ``within_budget`` counts samples with minimum <= used <= requested; ``control`` is the
    s1 indicator for this one setting: 1.0 when the *mean* used tokens lie within those
    bounds, else 0.0 (the task's s1 Control is the mean of these over its settings).
    """
    n = int(used.size)

    def pct(arr: np.ndarray, q: float) -> float | None:
        return float(np.percentile(arr, q)) if arr.size else None

    low = minimum or 0
    within = int(((used >= low) & (used <= requested)).sum()) if requested is not None else None
    mean_used = float(used.mean()) if n else None
    in_bounds = None
    if requested is not None and mean_used is not None:
        in_bounds = 1.0 if low <= mean_used <= requested else 0.0
    return {
        "requested_tokens": requested,
        "min_tokens": minimum,
        "used_tokens": field,
        "samples": n,
        "used_mean": mean_used,
        "used_median": pct(used, 50),
        "used_p90": pct(used, 90),
        "completion_median": pct(completion, 50),
        "completion_p90": pct(completion, 90),
        "cut_off_rate": cut_off / n if n else None,
        "within_budget": within,
        "within_budget_share": within / n if (within is not None and n) else None,
        "control": in_bounds,
        "reasoning_estimated_rate": estimated / n if n else None,
    }


def _slopes(tokens: np.ndarray, accuracy: np.ndarray) -> np.ndarray:
    """s1 Scaling of every row (a bootstrap resample) of budgets' tokens and accuracies:
    the mean over budget pairs with different tokens of delta accuracy / delta tokens
    (NaN when no pair qualifies). The slope of a pair does not depend on its order."""
    rows, width = tokens.shape
    total = np.zeros(rows)
    count = np.zeros(rows)
    for a in range(width):
        for b in range(a + 1, width):
            dt = tokens[:, b] - tokens[:, a]
            ok = (dt != 0) & np.isfinite(dt) & np.isfinite(accuracy[:, a]) & np.isfinite(accuracy[:, b])
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = (accuracy[:, b] - accuracy[:, a]) / dt
            total += np.where(ok, slope, 0.0)
            count += ok
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def s1_metrics(budgets: list[dict], boot_tokens: np.ndarray | None = None, boot_accuracy: np.ndarray | None = None) -> dict:
    """Control, Scaling and Performance over one task's budgets.

    ``budgets``: per budget {"budget", "tokens" (mean completion tokens per sample),
    "accuracy" (pass@1), "within_budget", "samples", "requested_tokens", "control" (the
    setting's s1 indicator, see budget_fidelity)}. ``boot_tokens``/``boot_accuracy``:
    (resamples, budgets) bootstrap replicates of the same tokens and accuracies from one
    resampling of the items, for the interval of Scaling (tokens are resampled with the
    accuracies: both are measured on the same items).

    Scaling is undefined (null, with the reason in ``scaling_undefined``) when the budgets'
    tokens span less than half a doubling: the slopes would then be mostly token noise.
    """
    settings = [b for b in budgets if b.get("control") is not None]
    counted = [b for b in budgets if b.get("within_budget") is not None and b["samples"]]
    share = sum(b["within_budget"] for b in counted) / sum(b["samples"] for b in counted) if counted else None
    usable = [i for i, b in enumerate(budgets) if b["accuracy"] is not None and b["tokens"] is not None]
    scored = [budgets[i] for i in usable]
    tokens = np.array([b["tokens"] for b in scored], dtype=float)
    accuracy = np.array([b["accuracy"] for b in scored], dtype=float)
    pairs = sum(1 for a in range(len(scored)) for b in range(a + 1, len(scored)) if tokens[a] != tokens[b])
    scaling, se, ci, undefined = None, None, [None, None], None
    if pairs:
        positive = tokens[tokens > 0]
        span = float(np.log2(positive.max() / positive.min())) if positive.size >= 2 else 0.0
        if span < MIN_DOUBLINGS:
            undefined = (
                f"the budgets' tokens span {span:.2f} doublings ({tokens.min():,.1f} to {tokens.max():,.1f} per "
                f"sample), less than {MIN_DOUBLINGS}: a slope there is mostly token noise"
            )
        else:
            scaling = 1000 * float(_slopes(tokens[None, :], accuracy[None, :])[0])
            if boot_tokens is not None and boot_accuracy is not None and boot_tokens.shape[0] > 1:
                reps = _slopes(boot_tokens[:, usable], boot_accuracy[:, usable])
                reps = 1000 * reps[np.isfinite(reps)]
                if reps.size > 1:
                    se = float(reps.std(ddof=1))
                    ci = [float(v) for v in np.percentile(reps, [2.5, 97.5])]
    best = max(scored, key=lambda b: b["accuracy"], default=None)
    return {
        "control": float(np.mean([b["control"] for b in settings])) if settings else None,
        "control_settings": len(settings),
        "within_budget_share": share,
        "scaling_per_1k_tokens": scaling,
        "scaling_se": se,
        "scaling_ci95": ci,
        "scaling_pairs": pairs,
        "scaling_undefined": undefined,
        "performance": best["accuracy"] if best else None,
        "performance_budget": best["budget"] if best else None,
    }
