"""Statistical helpers of the CI gate, against textbook values and brute force."""

import itertools
import math
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from ttc_bench import stats

# Student (1908) sleep data (R's `sleep`): extra hours of sleep, drug 2 minus drug 1, for the
# same 10 patients. Paired t-test: mean 1.58, t = 4.0621 on 9 df, so SE = 1.58 / 4.0621.
SLEEP_DIFFS = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]


def brute_force_exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact conditional test by definition: the probability, under
    Binomial(b + c, 1/2), of every outcome no more likely than the observed one."""
    n = b + c
    if n == 0:
        return 1.0
    probs = [Fraction(comb(n, i), 2**n) for i in range(n + 1)]
    observed = probs[b]
    return float(min(Fraction(1), sum(p for p in probs if p <= observed)))


def test_exact_mcnemar_textbook_example():
    # Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91, airway
    # hyper-responsiveness example: b = 1, c = 7 -> exact conditional p = 0.070 (= 18/256).
    assert stats.mcnemar_exact_p(1, 7) == pytest.approx(18 / 256)
    assert round(stats.mcnemar_exact_p(1, 7), 3) == 0.070
    assert stats.mcnemar_exact_p(7, 1) == stats.mcnemar_exact_p(1, 7)


@pytest.mark.parametrize("b,c", [(0, 0), (0, 1), (3, 3), (0, 6), (2, 9), (10, 25), (40, 17), (86, 150)])
def test_exact_mcnemar_matches_the_definition(b, c):
    assert stats.mcnemar_exact_p(b, c) == pytest.approx(brute_force_exact_mcnemar(b, c), rel=1e-12)


def test_exact_mcnemar_edges():
    assert stats.mcnemar_exact_p(0, 0) == 1.0  # no discordant pair: no evidence
    assert stats.mcnemar_exact_p(5, 5) == 1.0
    assert stats.mcnemar_exact_p(0, 6) == pytest.approx(2 / 64)  # six one-way flips: p = 0.031
    assert stats.mcnemar_exact_p(0, 5) == pytest.approx(2 / 32)  # five are not enough at 0.05
    assert 0.0 <= stats.mcnemar_exact_p(0, 3000) < 1e-300  # huge n: no overflow
    with pytest.raises(ValueError):
        stats.mcnemar_exact_p(-1, 2)


def test_paired_proportions_se_textbook_example():
    # Agresti, Categorical Data Analysis, presidential approval ratings (n = 1600, discordant
    # 150 and 86): difference of paired proportions 0.04 with standard error 0.0095.
    assert stats.mcnemar_se(150, 86, 1600) == pytest.approx(0.0095, abs=5e-5)
    assert stats.mcnemar_se(0, 0, 10) == 0.0


def test_paired_se_textbook_example():
    se = stats.paired_se(SLEEP_DIFFS)
    assert np.mean(SLEEP_DIFFS) / se == pytest.approx(4.0621, abs=1e-4)
    assert se == pytest.approx(0.38896, abs=1e-5)
    assert stats.paired_se([0.3]) == 0.0 and stats.paired_se([]) == 0.0


def test_paired_se_on_binary_pairs_is_the_proportions_formula_with_n_minus_1():
    # Expand the Agresti table into 1600 item pairs: the general paired SE (sample sd with
    # n - 1) equals the textbook formula (which divides by n) up to sqrt(n / (n - 1)).
    diffs = [0] * (794 + 570) + [-1] * 150 + [1] * 86
    expected = stats.mcnemar_se(150, 86, 1600) * math.sqrt(1600 / 1599)
    assert stats.paired_se(diffs) == pytest.approx(expected, rel=1e-12)


def test_z_sum_and_mde():
    # (z_0.975 + z_0.8) = 1.95996 + 0.84162
    assert stats.z_sum() == pytest.approx(2.80158, abs=1e-5)
    assert stats.mde(0.01, 1000) == pytest.approx(0.0280158, abs=1e-6)
    # Whole-item flips: an exact test needs 6 one-way flips at alpha 0.05.
    assert stats.min_differing_items(0.05) == 6
    assert stats.min_differing_items(0.01) == 8
    assert stats.mde(0.0, 100, flip_unit=1.0) == pytest.approx(0.06)
    assert stats.mde(0.05, 100, flip_unit=1.0) == pytest.approx(0.05 * 2.80158, abs=1e-5)
    assert stats.mde(0.0, 100) == 0.0
    # Fewer items than that: nothing is ever detectable.
    assert stats.mde(0.1, 5) == math.inf
    # A stricter alpha (e.g. Holm over several checks) raises the MDE.
    assert stats.mde(0.01, 1000, alpha=0.01) > stats.mde(0.01, 1000)


def test_items_needed_scales_with_the_square_of_the_mde_ratio():
    se, n = 0.02, 100
    at = stats.mde(se, n)
    assert stats.items_needed(se, n, at) == n
    assert stats.items_needed(se, n, at / 2) == 4 * n
    assert stats.items_needed(0.0, 10, 0.05, flip_unit=1.0) == 120  # 6 flips of 1 item = 5 points
    assert stats.items_needed(se, n, 0.0) is None
    # At the suggested item count (SE shrinking as 1/sqrt(n)) the MDE meets the target.
    need = stats.items_needed(se, n, 0.03)
    assert stats.mde(se * math.sqrt(n / need), need) <= 0.03 + 1e-9


def test_holm_adjustment():
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06.
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.2]) == [0.2]
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]
    assert stats.holm([]) == []


def test_bootstrap_no_difference_and_reproducibility():
    zero = stats.paired_bootstrap([0.0] * 20)
    assert zero.p_value == 1.0 and zero.ci95 == (0.0, 0.0)
    rng = np.random.default_rng(3)
    diffs = rng.normal(0.1, 0.3, size=40)
    a, b = stats.paired_bootstrap(diffs), stats.paired_bootstrap(diffs)
    assert a == b  # fixed seed: the same answer every run
    assert a.ci95[0] < diffs.mean() < a.ci95[1]


def test_bootstrap_agrees_with_the_paired_t_test_on_the_sleep_data():
    boot = stats.paired_bootstrap(SLEEP_DIFFS, resamples=20000)
    assert 0.001 < boot.p_value < 0.02  # paired t-test: p = 0.0028
    lo, hi = boot.ci95
    assert lo == pytest.approx(0.86, abs=0.15) and hi == pytest.approx(2.30, abs=0.25)  # t CI 0.70..2.46


def test_bootstrap_tail_beyond_the_resampling_resolution():
    # 4000 resamples cannot count a tail below 1/4001; a Holm adjustment over many cells
    # needs smaller p-values than that, so the far tail comes from a normal fit.
    rng = np.random.default_rng(5)
    boot = stats.paired_bootstrap(rng.normal(-0.3, 0.2, size=100))
    assert boot.p_value < 1e-6
    assert boot.p_value >= stats.exact_floor_p(100)


def test_bootstrap_never_beats_the_exact_floor_on_tiny_samples():
    # Two items that both dropped by half: zero spread, and the plain bootstrap would say
    # p ~ 0. No exact test can go below 2 * 0.5^2 = 0.5 with two items.
    assert stats.paired_bootstrap([-0.5, -0.5]).p_value >= 0.5
    assert stats.paired_bootstrap([-0.25] * 5 + [0.0] * 10).p_value >= 2 * 0.5**5
    assert stats.paired_bootstrap([0.4]).p_value == 1.0


def test_bootstrap_p_values_are_calibrated_under_the_null():
    rng = np.random.default_rng(11)
    rejections = sum(
        stats.paired_bootstrap(rng.normal(0, 1, size=30), resamples=1000, seed=i).p_value < 0.05 for i in range(300)
    )
    assert 3 <= rejections <= 27  # 5% of 300 = 15


def test_exact_floor_matches_mcnemar_with_one_way_discordance():
    for m in range(1, 10):
        assert stats.exact_floor_p(m) == pytest.approx(stats.mcnemar_exact_p(0, m))


def test_brute_force_helper_is_sane():
    # The brute-force definition summed over every table of n = 6 gives a valid p-value.
    for b, c in itertools.product(range(7), repeat=2):
        assert 0 < brute_force_exact_mcnemar(b, c) <= 1
