"""Per-item estimators: pass@k and maj@k of one item, exact, for every k at once.

- pass@k of one item = 1 - C(n-c, k) / C(n, k)   (unbiased, k <= n; Chen et al., 2021)
- maj@k of one item  = expected majority-vote correctness over all size-k subsets of its n
  samples; unparsed samples do not vote; a tie splits credit evenly among the tied
  answers; a subset with no votes scores 0.

maj@k depends only on the answer-count histogram, so it is computed once per distinct
histogram for every k = 1..n with generating functions (see :func:`maj_curve`).
The metric registry (definitions.py) turns these into metrics of an item's tally.
"""

from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np

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
