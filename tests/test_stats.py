"""Statistical helpers of the CI gate, against textbook values, brute force and simulation."""

import itertools
import math
from fractions import Fraction
from math import comb

import numpy as np
import pytest

from ttc_bench.metrics import paired, power
from ttc_bench.metrics.distributions import normal_quantile, t_quantile, t_sf

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
    assert paired.mcnemar_exact_p(1, 7) == pytest.approx(18 / 256)
    assert round(paired.mcnemar_exact_p(1, 7), 3) == 0.070
    assert paired.mcnemar_exact_p(7, 1) == paired.mcnemar_exact_p(1, 7)


@pytest.mark.parametrize("b,c", [(0, 0), (0, 1), (3, 3), (0, 6), (2, 9), (10, 25), (40, 17), (86, 150)])
def test_exact_mcnemar_matches_the_definition(b, c):
    assert paired.mcnemar_exact_p(b, c) == pytest.approx(brute_force_exact_mcnemar(b, c), rel=1e-12)


def test_exact_mcnemar_edges():
    assert paired.mcnemar_exact_p(0, 0) == 1.0  # no discordant pair: no evidence
    assert paired.mcnemar_exact_p(5, 5) == 1.0
    assert paired.mcnemar_exact_p(0, 6) == pytest.approx(2 / 64)  # six one-way flips: p = 0.031
    assert paired.mcnemar_exact_p(0, 5) == pytest.approx(2 / 32)  # five are not enough at 0.05
    assert 0.0 <= paired.mcnemar_exact_p(0, 3000) < 1e-300  # huge n: no overflow
    with pytest.raises(ValueError):
        paired.mcnemar_exact_p(-1, 2)


def test_paired_proportions_se_textbook_example():
    # Agresti, Categorical Data Analysis, presidential approval ratings (n = 1600, discordant
    # 150 and 86): difference of paired proportions 0.04 with standard error 0.0095.
    assert paired.mcnemar_se(150, 86, 1600) == pytest.approx(0.0095, abs=5e-5)
    assert paired.mcnemar_se(0, 0, 10) == 0.0


def test_paired_se_textbook_example():
    se = paired.paired_se(SLEEP_DIFFS)
    assert np.mean(SLEEP_DIFFS) / se == pytest.approx(4.0621, abs=1e-4)
    assert se == pytest.approx(0.38896, abs=1e-5)
    assert paired.paired_se([0.3]) == 0.0 and paired.paired_se([]) == 0.0


def test_paired_se_on_binary_pairs_is_the_proportions_formula_with_n_minus_1():
    # Expand the Agresti table into 1600 item pairs: the general paired SE (sample sd with
    # n - 1) equals the textbook formula (which divides by n) up to sqrt(n / (n - 1)).
    diffs = [0] * (794 + 570) + [-1] * 150 + [1] * 86
    expected = paired.mcnemar_se(150, 86, 1600) * math.sqrt(1600 / 1599)
    assert paired.paired_se(diffs) == pytest.approx(expected, rel=1e-12)


def test_t_quantiles_and_tails_match_the_tables():
    # Student t table (two-sided 95%: 0.975 quantile) and R's qt()
    for df, expected in ((1, 12.7062), (2, 4.3027), (7, 2.3646), (30, 2.0423), (120, 1.9799), (1000, 1.9623)):
        assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(0.995, 9) == pytest.approx(3.2498, abs=1e-4)
    assert t_quantile(0.025, 7) == pytest.approx(-2.3646, abs=1e-4)
    assert t_quantile(0.975, 10**6) == pytest.approx(1.95996, abs=1e-4)
    assert 2 * t_sf(4.0621, 9) == pytest.approx(0.002833, abs=2e-6)  # the sleep data's p-value
    assert t_sf(0.0, 5) == pytest.approx(0.5) and t_sf(-1.0, 3) == pytest.approx(1 - t_sf(1.0, 3))


def test_paired_t_on_the_sleep_data():
    # R: t.test(extra ~ group, paired = TRUE): t = -4.0621, df = 9, p = 0.002833,
    # 95% CI of the mean difference 0.7001 to 2.4599.
    test = paired.paired_t(SLEEP_DIFFS)
    # The t-test's 0.0028 is below what any exact sign-flip test over the 9 patients whose
    # sleep changed can reach (2 x 0.5^9 = 0.0039): the guard keeps the gate from trusting
    # the normal tail further than the data allow.
    assert 2 * t_sf(4.0621, 9) < 2 * 0.5**9 == test.p_value and test.method == "paired-t"
    assert test.ci95 == pytest.approx((0.7001, 2.4599), abs=1e-4)
    assert test.p_better < test.p_worse and not test.worse
    # Against a margin: better by more than 0.5 hours? t = (1.58 - 0.5) / SE
    shifted = paired.paired_t(SLEEP_DIFFS, tol=1.0)
    assert shifted.p_better == pytest.approx(t_sf((1.58 - 1.0) / paired.paired_se(SLEEP_DIFFS), 9))


def test_paired_t_guards():
    # No item differs: p = 1 both ways and the interval is the zero-discordance score
    # interval, never zero width.
    zero = paired.paired_t([0.0] * 20)
    assert zero.p_worse == zero.p_better == 1.0
    assert zero.ci95 == pytest.approx((-paired.zero_spread_halfwidth(20), paired.zero_spread_halfwidth(20)))
    assert zero.ci95[1] > 0
    # Every item worse by the same amount: zero spread, but no exact test can go below
    # 0.5^m one-sided with m items.
    assert paired.paired_t([-0.5, -0.5]).p_worse == pytest.approx(0.25)
    assert paired.paired_t([-0.25] * 5 + [0.0] * 10).p_worse >= 0.5**5


def test_one_sided_and_mid_p_mcnemar():
    # Fagerland, Lydersen & Laake (2013): b = 1, c = 7: exact one-sided 9/256, mid-p
    # two-sided 0.039.
    assert paired.mcnemar_one_sided_p(7, 1) == pytest.approx(9 / 256)
    assert 2 * paired.mcnemar_one_sided_p(7, 1, mid_p=True) == pytest.approx(0.039, abs=5e-4)
    assert paired.mcnemar_one_sided_p(1, 7) == pytest.approx(1 - 1 / 256)  # P(X >= 1)
    assert paired.mcnemar_one_sided_p(0, 0) == 1.0
    for b, c in [(3, 9), (12, 2), (0, 6)]:
        two = min(1.0, 2 * min(paired.mcnemar_one_sided_p(b, c), paired.mcnemar_one_sided_p(c, b)))
        assert two == pytest.approx(paired.mcnemar_exact_p(b, c))
    test = paired.paired_binary(12, 2, 100, mid_p=True)
    assert test.method == "mcnemar-midp" and test.p_worse < paired.mcnemar_one_sided_p(12, 2)


def test_tango_score_test_and_interval():
    # The restricted MLE of the discordance equals a brute-force maximisation.
    b, c, n, delta = 12, 3, 100, -0.05
    p_b = np.linspace(0.05 + 1e-9, 0.525 - 1e-9, 400001)
    loglik = b * np.log(p_b) + c * np.log(p_b + delta) + (n - b - c) * np.log(1 - 2 * p_b - delta)
    assert paired._tango_discordance(b, c, n, delta) == pytest.approx(2 * p_b[loglik.argmax()] + delta, abs=1e-5)
    # At a zero margin the score statistic is McNemar's z.
    assert paired.tango_z(12, 3, 100, 0.0) == pytest.approx((3 - 12) / math.sqrt(15))
    lo, hi = paired.tango_interval(12, 3, 100)
    assert lo < -0.09 < hi < 0  # holds the estimate, and here excludes 0
    assert paired.tango_z(12, 3, 100, lo) == pytest.approx(normal_quantile(0.975), abs=1e-6)
    # No discordant pair: +-q^2 / (n + q^2), never zero width.
    assert paired.tango_interval(0, 0, 400) == pytest.approx((-0.0095123, 0.0095123), abs=1e-6)


def test_tango_non_inferiority_test_holds_its_level_at_the_margin():
    # H0 at the margin: current worse by exactly 3 points; reject "not worse than 3 points"
    # at one-sided 2.5% about 2.5% of the time.
    rng = np.random.default_rng(3)
    n, p_b, p_c = 400, 0.08, 0.05
    draws = rng.multinomial(n, [p_b, p_c, 1 - p_b - p_c], size=4000)
    rejected = np.mean([paired.paired_binary(int(b), int(c), n, 0.03).p_worse < 0.025 for b, c, _ in draws])
    assert 0.01 <= rejected <= 0.04


def test_exact_power_matches_a_simulation():
    # One sample per item, 95% accuracy, discordance 6%: the power of the one-sided exact
    # test at alpha / 2 = 2.5% against a 10-point drop, computed vs simulated.
    model = power.PowerModel(100, math.sqrt(0.06), True, 0.95, 0.03, 1.0)
    delta = 0.10
    exact = power._binary_power(model, delta, 0.05)
    psi = model.variance(delta) + delta**2
    share = (psi + delta) / (2 * psi)
    rng = np.random.default_rng(0)
    d = rng.binomial(100, psi, size=20000)
    worse = rng.binomial(d, share)
    crit = power._critical_losses(0.05, False)
    simulated = np.mean(worse >= crit[d])
    assert exact == pytest.approx(simulated, abs=0.015)


def test_mde_is_the_drop_with_80_percent_power():
    binary = power.PowerModel(100, math.sqrt(0.059), True, 0.95, 0.0295, 1.0)
    mde = power.mde(binary)
    assert power._binary_power(binary, mde, 0.05) == pytest.approx(0.8, abs=0.01)
    # near the ceiling and with one sample per item the exact test needs far more than
    # 2.8 x the null SE (the 100 items x 1 sample at 95%: 6.8 points printed, 12.1
    # needed)
    assert mde > 1.5 * 2.8 * math.sqrt(0.059 / 100)
    # a stricter alpha (Holm over several cells) raises it; more items lower it
    assert power.mde(binary, alpha=0.01) > mde > power.mde(binary.scaled(400))
    # several samples per item: the paired t-test divides by the SE of the runs it sees, so
    # delta = (t + z) SE1(delta), with SE1 the SE when the current run is worse by delta
    means = power.PowerModel(100, 0.1, False, 0.7, 0.12, 8.0)
    d = power.mde(means)
    q = t_quantile(0.975, 99)
    assert d == pytest.approx((q + normal_quantile(0.8)) * math.sqrt(means.variance(d) / 100), rel=1e-6)
    assert means.variance(d) > means.variance(0) == pytest.approx(0.01)
    # one sample per item with a tolerance (Tango's test): Connor's formula, the null
    # variance taken at the alternative's discordance
    tol = 0.02
    d = power.mde(binary, tol=tol)
    psi = binary.variance(d) + d * d
    assert d == pytest.approx(tol + normal_quantile(0.975) * math.sqrt((psi - tol**2) / 100) + normal_quantile(0.8) * math.sqrt(binary.variance(d) / 100), rel=1e-6)
    # no per-sample model (maj@k, tokens): the spread is taken as unchanged
    flat = power.PowerModel(100, 0.1)
    assert power.mde(flat) == pytest.approx((q + normal_quantile(0.8)) * 0.01)
    # a tolerance adds to it: a drop the size of the tolerance is allowed
    assert power.mde(flat, tol=0.02) > 0.02 + power.mde(flat) - 1e-9
    # too few items for any exact test: nothing is detectable
    assert power.mde(power.PowerModel(5, 0.2, False, 0.5, 0.1, 4.0)) == math.inf
    assert paired.min_differing_items(0.05) == 6 and paired.min_differing_items(0.01) == 8


def test_identical_runs_get_the_whole_item_floor():
    # No spread at all (a deterministic endpoint): changes come as whole items, and at
    # least 6 must differ for any exact test; the MDE is where that happens 80% of the time.
    model = power.PowerModel(200, 0.0, False, 0.5, 0.0, 4.0)
    d = power.mde(model)
    share = 0.5 * (1 - (1 - d / 0.5) ** 4)
    assert power._binomial_at_least(200, share, 6) == pytest.approx(0.8, abs=0.01)


def test_items_needed_reaches_the_target():
    for model in (power.PowerModel(100, math.sqrt(0.06), True, 0.95, 0.03, 1.0), power.PowerModel(50, 0.2, False, 0.7, 0.1, 4.0)):
        need = power.items_needed(model, 0.05)
        assert power.mde(model.scaled(need)) <= 0.05 < power.mde(model.scaled(int(need * 0.95)))
    assert power.items_needed(power.PowerModel(100, 0.1), 0.0) is None
    assert power.items_needed(power.PowerModel(100, 0.1), 0.02, tol=0.02) is None  # the target must exceed the tolerance


def test_holm_adjustment():
    # Sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> monotone 0.06.
    assert paired.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert paired.holm([0.2]) == [0.2]
    assert paired.holm([0.5, 0.9]) == [1.0, 1.0]
    assert paired.holm([]) == []


def test_exact_floor_matches_mcnemar_with_one_way_discordance():
    for m in range(1, 10):
        assert paired.exact_floor_p(m) == pytest.approx(paired.mcnemar_exact_p(0, m))


def test_brute_force_helper_is_sane():
    # The brute-force definition summed over every table of n = 6 gives a valid p-value.
    for b, c in itertools.product(range(7), repeat=2):
        assert 0 < brute_force_exact_mcnemar(b, c) <= 1
