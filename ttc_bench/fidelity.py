"""Budget fidelity: does the endpoint spend what a budget asks for, and does spending more help?

Per budget: requested vs used tokens (median, p90), the share of samples cut off, and the
share within budget. Per task, the s1 metrics (Muennighoff et al., 2025, "s1: Simple
test-time scaling"): Control, Scaling and Performance.
"""

from __future__ import annotations

import numpy as np

# What a budget caps, so what "used" means for it: tokens:N caps the whole completion;
# forced:N and thinking:N cap the reasoning (the answer comes on top).
USED_FIELD = {"tokens": "completion_tokens", "forced": "reasoning_tokens", "thinking": "reasoning_tokens"}


def budget_kind(label: str) -> str:
    return label.split(":", 1)[0]


def used_field(label: str) -> str:
    return USED_FIELD.get(budget_kind(label), "completion_tokens")


def budget_fidelity(
    requested: int | None,
    field: str,
    used: np.ndarray,
    completion: np.ndarray,
    cut_off: int,
    estimated: int,
) -> dict:
    """Fidelity figures of one budget from per-sample used and completion token counts."""
    n = int(used.size)

    def pct(arr: np.ndarray, q: float) -> float | None:
        return float(np.percentile(arr, q)) if arr.size else None

    within = int((used <= requested).sum()) if requested is not None else None
    return {
        "requested_tokens": requested,
        "used_tokens": field,
        "samples": n,
        "used_mean": float(used.mean()) if n else None,
        "used_median": pct(used, 50),
        "used_p90": pct(used, 90),
        "completion_median": pct(completion, 50),
        "completion_p90": pct(completion, 90),
        "cut_off_rate": cut_off / n if n else None,
        "within_budget": within,
        "control": within / n if (within is not None and n) else None,
        "reasoning_estimated_rate": estimated / n if n else None,
    }


def s1_metrics(budgets: list[dict]) -> dict:
    """Control, Scaling and Performance over one task's budgets.

    ``budgets``: per budget {"budget", "tokens" (mean completion tokens per sample),
    "accuracy" (pass@1), "within_budget", "samples", "requested_tokens"}.

    - Control: share of all samples (of budgets with a token figure) that stayed within budget.
    - Scaling: mean over budget pairs a < b (ordered by tokens) of the slope
      (acc_b - acc_a) / (tokens_b - tokens_a), per 1,000 tokens; pairs with equal tokens skip.
    - Performance: the best pass@1 over the budgets.
    """
    counted = [b for b in budgets if b.get("within_budget") is not None and b["samples"]]
    control = sum(b["within_budget"] for b in counted) / sum(b["samples"] for b in counted) if counted else None
    scored = sorted((b for b in budgets if b["accuracy"] is not None and b["tokens"] is not None), key=lambda b: b["tokens"])
    slopes = []
    for i, a in enumerate(scored):
        for b in scored[i + 1 :]:
            if b["tokens"] > a["tokens"]:
                slopes.append((b["accuracy"] - a["accuracy"]) / (b["tokens"] - a["tokens"]))
    best = max(scored, key=lambda b: b["accuracy"], default=None)
    return {
        "control": control,
        "scaling_per_1k_tokens": 1000 * float(np.mean(slopes)) if slopes else None,
        "scaling_pairs": len(slopes),
        "performance": best["accuracy"] if best else None,
        "performance_budget": best["budget"] if best else None,
    }
