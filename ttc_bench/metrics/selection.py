"""Selection among one item's samples with a verifier, exact over all size-k subsets.

A verifier (the family's gold-free checker, or the model judging its own candidates) accepts
or rejects each distinct answer; every sample of an answer shares its verdict. For a
uniformly random size-k subset S of the item's n samples (as maj@k, estimators.py):

- **verified majority** (verified-maj@k): the majority vote among the accepted samples of
  S; when S holds none, the majority vote of S (ties split the credit, unparsed samples do
  not vote, an empty vote scores 0, all as maj@k).
- **best-of** (best-of-k): the first accepted sample of S in a random order; when S holds
  none, its first parsed sample; 0 when it has neither.

Conditioned on j accepted samples in S, those j are a uniform j-subset of the accepted
samples and the other k - j a uniform subset of the rest, independently; so verified-maj@k
= sum_j P(j) maj_A@j + P(0) maj_R@k, with P the hypergeometric distribution and maj_A, maj_R
the maj@k curves of the accepted and the other samples. best-of-k needs only P(0) and the
chance that S holds no parsed sample at all.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .estimators import maj_curve, pass_curve

Classes = tuple[tuple[int, bool], ...]  # (samples, correct) per distinct parsed answer


def split_histogram(votes: dict, accepted, unparsed: int) -> tuple[Classes, Classes, int]:
    """(accepted classes, other classes, unparsed) of a tally's answer histogram, each in
    canonical order (the answers' names do not matter)."""

    def canonical(pairs) -> Classes:
        return tuple(sorted(((int(m), bool(c)) for m, c in pairs), key=lambda mc: (-mc[0], not mc[1])))

    yes = canonical(v[:2] for key, v in votes.items() if key in accepted)
    no = canonical(v[:2] for key, v in votes.items() if key not in accepted)
    return yes, no, int(unparsed)


def _log_binom_row(m: int) -> np.ndarray:
    """log C(m, j) for j = 0..m."""
    j = np.arange(1, m + 1, dtype=float)
    return np.concatenate([[0.0], np.cumsum(np.log((m - j + 1) / j))])


def accepted_drawn(accepted: int, others: int) -> np.ndarray:
    """P(j accepted samples in a random size-k subset): rows k = 1..n, columns j = 0..accepted
    (the hypergeometric distribution; n = accepted + others)."""
    n = accepted + others
    ks = np.arange(1, n + 1)[:, None]
    js = np.arange(0, accepted + 1)[None, :]
    rest = ks - js
    valid = (rest >= 0) & (rest <= others)
    log_p = _log_binom_row(accepted)[js] + _log_binom_row(others)[np.clip(rest, 0, others)] - _log_binom_row(n)[ks]
    return np.where(valid, np.exp(np.where(valid, log_p, 0.0)), 0.0)


@lru_cache(maxsize=1 << 14)
def verified_curve(accepted: Classes, others: Classes, unparsed: int) -> np.ndarray:
    """verified-maj@k for k = 1..n of one item (read-only array)."""
    n_a = sum(m for m, _ in accepted)
    n_r = sum(m for m, _ in others) + unparsed
    if n_a == 0:
        return maj_curve(others, unparsed)
    p = accepted_drawn(n_a, n_r)
    maj_a = maj_curve(accepted, 0)
    maj_r = np.zeros(n_a + n_r)
    if n_r:
        maj_r[:n_r] = maj_curve(others, unparsed)
    curve = np.clip(p[:, 1:] @ maj_a + p[:, 0] * maj_r, 0.0, 1.0)
    curve.flags.writeable = False
    return curve


@lru_cache(maxsize=1 << 14)
def best_of_curve(accepted: Classes, others: Classes, unparsed: int) -> np.ndarray:
    """best-of-k for k = 1..n of one item (read-only array)."""
    n_a, c_a = sum(m for m, _ in accepted), sum(m for m, c in accepted if c)
    n_r, c_r = sum(m for m, _ in others), sum(m for m, c in others if c)
    n = n_a + n_r + unparsed
    if n == 0:
        return np.zeros(0)
    none_accepted = 1.0 - pass_curve(n, n_a)  # P(S holds no accepted sample)
    only_unparsed = 1.0 - pass_curve(n, n_a + n_r)  # P(S holds no parsed sample)
    curve = (1.0 - none_accepted) * (c_a / n_a if n_a else 0.0)
    curve = curve + (none_accepted - only_unparsed) * (c_r / n_r if n_r else 0.0)
    curve = np.clip(curve, 0.0, 1.0)
    curve.flags.writeable = False
    return curve


def present_curve(n: int, m: int) -> np.ndarray:
    """P(a given answer with m of the n samples is in a random size-k subset), k = 1..n:
    what judging each distinct answer of k samples costs, per answer."""
    return pass_curve(n, m)
