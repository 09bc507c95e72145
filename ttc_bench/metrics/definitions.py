"""The built-in metrics, each one function of an item's tally and one registration
(registry.py says what a registration brings; docs/metrics.md defines each metric).

The registration order is the order of the gate's cells and of the report's metrics.
"""

from __future__ import annotations

import numpy as np

from .estimators import histogram_key, maj_curve, pass_curve
from .registry import metric
from .selection import best_of_curve, split_histogram, verified_curve
from .tally import ItemTally


@metric("pass@1", title="share of samples correct", key="pass@1", gate=True, per_sample=True, point_of="pass@k")
def pass_at_1(item: ItemTally) -> float:
    return item.correct / item.n


@metric("pass@1-strict", title="share of samples correct, failed requests counted as wrong", samples="all",
        gate=True, per_sample=True)  # fmt: skip
def pass_at_1_strict(item: ItemTally) -> float:
    return item.correct / item.rows


@metric("pass@k", title="any of k samples correct (needs an oracle)", over_k=True, key="pass")
def pass_at_k(item: ItemTally) -> np.ndarray:
    return pass_curve(item.n, item.correct)


@metric("maj@k", title="majority vote of k samples", over_k=True, key="maj", gate=True)
def maj_at_k(item: ItemTally) -> np.ndarray:
    return maj_curve(*histogram_key(item.votes, item.unparsed))


@metric("pass^k", title="all of k samples correct (reliability)", over_k=True, key="pass_all")
def pass_all_k(item: ItemTally) -> np.ndarray:
    # C(c, k) / C(n, k) = prod_{i<k} (c - i) / (n - i): the chance that k samples drawn
    # without replacement are all correct; 0 from k = c + 1 on.
    i = np.arange(item.n, dtype=float)
    return np.cumprod(np.clip((item.correct - i) / (item.n - i), 0.0, None))


# The curves of the checker's selection strategies (docs/strategies.md): in summary.json for
# the runs that ask for them (--strategies verified-maj best-of), gateable with --metrics.
@metric("verified-maj@k", title="majority vote among checker-accepted samples of k (else of all k)", over_k=True,
        key="verified_maj", on_request=True)  # fmt: skip
def verified_maj_at_k(item: ItemTally) -> np.ndarray:
    return verified_curve(*split_histogram(item.votes, item.accepted, item.unparsed))


@metric("best-of-k", title="first checker-accepted sample of k (else the first parsed)", over_k=True, key="best_of",
        on_request=True)  # fmt: skip
def best_of_k(item: ItemTally) -> np.ndarray:
    return best_of_curve(*split_histogram(item.votes, item.accepted, item.unparsed))


@metric("errors", title="share of requests that finally failed", key="error_rate", kind="errors", samples="all",
        gate=True, per_sample=True)  # fmt: skip
def error_share(item: ItemTally) -> float:
    return item.errors / item.rows


@metric("tokens", title="completion tokens per sample", key="mean_completion_tokens", kind="tokens", gate=True)
def completion_tokens(item: ItemTally) -> float:
    return float(np.frombuffer(item.completion, dtype=np.int64).mean())
