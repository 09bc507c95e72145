"""The points of the strategies that are not a curve over k (docs/strategies.md): one per
group, each with its accuracy statistic and the tokens it really cost.

**adaptive**: the run sampled each item until its majority answer was settled, at most n
samples (strategies/adaptive.py).

- ``accuracy``: the mean over items of the majority vote over every sample the item drew
  (maj@k at the item's own k; ties split the credit), with the usual 95% interval, one
  independent vote per item;
- ``samples_per_item``: the mean number of scored samples an item drew;
  ``tokens_per_item``: completion tokens actually spent per item (= samples_per_item x
  mean completion tokens per sample);
- ``fixed_tokens_per_item``: what fixed-n maj@n costs at the same mean tokens per sample
  (n x mean completion tokens per sample), and ``tokens_saved``: 1 - tokens_per_item /
  fixed_tokens_per_item;
- ``stopped_early``: the share of items that drew fewer than n samples.

In such a run the maj@k curve at a k beyond an item's stop holds only the items that went
on (the harder ones): the frontier then takes curve points only where every item reached k.

**selfverify**: the model judged each distinct answer of an item's samples
(strategies/selfverify.py); the item's value is the majority vote over the samples whose
answer it judged correct, else over all (verified-maj at the item's k = n, with the
model's verdicts as the checker). ``tokens_per_item`` = the samples' completion tokens
per item + ``judge_tokens_per_item``, the judging requests' completion tokens per item.

**revise:R**: from each item's first sample, up to R rounds of revision
(strategies/revise.py); the item's value is whether the last answer of its first R rounds
(its first sample's, without a round) is right. ``tokens_per_item`` = the first sample's
completion tokens + those of its rounds up to R (``revision_tokens_per_item``).
"""

from __future__ import annotations

import numpy as np

from .estimators import histogram_key, maj_curve
from .intervals import mean_se
from .selection import split_histogram, verified_curve
from .tally import ItemTally


def adaptive_point(tallies: list[ItemTally], cap: int, mean_completion: float, cost_per_sample: float | None,
                   params: float | None) -> dict:
    """The adaptive figures of one group's items (see the module docstring)."""
    scored = [t for t in tallies if t.n]
    values = [float(maj_curve(*histogram_key(t.votes, t.unparsed))[t.n - 1]) for t in scored]
    drawn = float(np.mean([t.n for t in scored])) if scored else 0.0
    tokens = drawn * mean_completion
    fixed = cap * mean_completion
    return {
        "samples_cap": cap,
        "accuracy": mean_se(values, trials=len(values)),
        "samples_per_item": drawn,
        "tokens_per_item": tokens,
        "fixed_tokens_per_item": fixed,
        "tokens_saved": 1.0 - tokens / fixed if fixed > 0 else None,
        "stopped_early": sum(t.n < cap for t in scored) / len(scored) if scored else None,
        "cost_per_item": drawn * cost_per_sample if cost_per_sample is not None else None,
        "flops_per_item": 2.0 * params * tokens if params else None,
    }


def selfverify_point(tallies: list[ItemTally], judged: dict, mean_completion: float, cost_per_sample: float | None,
                     prices: dict | None, params: float | None) -> dict:
    """The selfverify figures of one group's items. ``judged``: (task, item, budget) ->
    {"yes": vote keys judged correct, "judged": candidates judged, "tokens": their
    completion tokens, "prompt": their prompt tokens}."""
    scored = [t for t in tallies if t.n]
    values, judge_tokens, judge_prompt, candidates, unjudged = [], 0, 0, 0, 0
    for t in scored:
        found = judged.get((t.task, t.item, t.budget)) or {}
        yes = found.get("yes") or set()
        values.append(float(verified_curve(*split_histogram(t.votes, yes, t.unparsed))[t.n - 1]))
        judge_tokens += found.get("tokens", 0)
        judge_prompt += found.get("prompt", 0)
        candidates += found.get("judged", 0)
        unjudged += bool(t.votes) and not found
    items = len(scored) or 1
    k = max((t.n for t in scored), default=0)
    per_item = judge_tokens / items
    drawn = float(np.mean([t.n for t in scored])) if scored else 0.0
    tokens = drawn * mean_completion + per_item
    cost = None
    if prices and cost_per_sample is not None:
        cost = drawn * cost_per_sample + (
            judge_prompt / items * float(prices.get("input_per_million") or 0.0)
            + per_item * float(prices.get("output_per_million") or 0.0)
        ) / 1e6
    return {
        "samples_per_item": k,
        "accuracy": mean_se(values, trials=len(values)),
        "judge_tokens_per_item": per_item,
        "judge_prompt_tokens_per_item": judge_prompt / items,
        "candidates_per_item": candidates / items,
        "items_unjudged": unjudged,
        "tokens_per_item": tokens,
        "cost_per_item": cost,
        "flops_per_item": 2.0 * params * tokens if params else None,
    }


def revise_point(tallies: list[ItemTally], chains: dict, rounds: int, params: float | None) -> dict:
    """The revise:R figures of one group's items. ``chains``: (task, item, budget) ->
    {"first": (correct, tokens), "rounds": [(correct, tokens), ...]} (summarize.py)."""
    values, first_tokens, revision_tokens, used = [], 0, 0, 0
    for t in tallies:
        chain = chains.get((t.task, t.item, t.budget))
        if chain is None:
            continue
        done = chain["rounds"][:rounds]
        values.append(float(done[-1][0] if done else chain["first"][0]))
        first_tokens += chain["first"][1]
        revision_tokens += sum(tokens for _, tokens in done)
        used += len(done)
    items = len(values) or 1
    tokens = (first_tokens + revision_tokens) / items
    return {
        "rounds": rounds,
        "accuracy": mean_se(values, trials=len(values)),
        "items": len(values),
        "first_tokens_per_item": first_tokens / items,
        "revision_tokens_per_item": revision_tokens / items,
        "rounds_per_item": used / items,
        "tokens_per_item": tokens,
        "flops_per_item": 2.0 * params * tokens if params else None,
    }
