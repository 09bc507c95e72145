import numpy as np
import pytest

from ttc_bench.budgets import budget_of
from ttc_bench.metrics.fidelity import budget_fidelity, s1_metrics
from ttc_bench.metrics.fits import loglinear_fit
from ttc_bench.metrics.tally import used_field


def test_loglinear_fit_exact_line():
    # accuracy = 0.1 + 0.05 * log2(tokens): 5 points per doubling, R^2 = 1
    tokens = [64, 128, 256, 1024]
    acc = [0.1 + 0.05 * np.log2(t) for t in tokens]
    fit = loglinear_fit(tokens, acc)
    assert fit["points_per_doubling"] == pytest.approx(5.0)
    assert fit["intercept"] == pytest.approx(0.1)
    assert fit["r2"] == pytest.approx(1.0)
    assert fit["ci95"] == [None, None]


def test_loglinear_fit_hand_computed_and_bootstrap_interval():
    # x = log2 tokens = 1, 2, 3; y = 0.2, 0.5, 0.5 -> slope = sum((x - 2)(y - 0.4)) / 2 = 0.15
    fit = loglinear_fit([2, 4, 8], [0.2, 0.5, 0.5])
    assert fit["points_per_doubling"] == pytest.approx(15.0)
    assert fit["r2"] == pytest.approx(0.045 / 0.06)
    # the interval is the slope refitted on each resample's accuracies
    boot = np.array([[0.2, 0.5, 0.5], [0.1, 0.3, 0.5], [0.3, 0.3, 0.3], [0.2, 0.6, 0.8]])
    fit = loglinear_fit([2, 4, 8], [0.2, 0.5, 0.5], boot)
    slopes = np.array([15.0, 20.0, 0.0, 30.0])
    assert fit["ci95"] == pytest.approx(list(np.percentile(slopes, [2.5, 97.5])))
    assert fit["se"] == pytest.approx(slopes.std(ddof=1))


def test_loglinear_fit_needs_two_distinct_token_counts():
    assert loglinear_fit([100], [0.5]) is None
    assert loglinear_fit([100, 100], [0.5, 0.6]) is None
    assert loglinear_fit([0, 100], [0.5, 0.6]) is None


def test_loglinear_fit_over_less_than_half_a_doubling_is_undefined():
    # The case: budgets that spent 38.9 and 39.3 tokens per item. The slope would be
    # thousands of points per doubling: token noise, not scaling.
    fit = loglinear_fit([38.9, 39.3], [0.30, 0.20])
    assert fit["points_per_doubling"] is None and fit["ci95"] == [None, None]
    assert fit["doublings"] == pytest.approx(np.log2(39.3 / 38.9)) and "0.01 doublings" in fit["undefined"]
    assert loglinear_fit([100, 142], [0.3, 0.4])["undefined"] is None  # just over half a doubling


def test_loglinear_fit_bootstrap_resamples_tokens_with_accuracy():
    # Two resamples; their tokens move with their items. Slopes by hand, in accuracy per doubling:
    # r0: x = log2(2), log2(8) = 1, 3; y = 0.2, 0.6 -> 0.2
    # r1: x = log2(4), log2(8) = 2, 3; y = 0.3, 0.5 -> 0.2 (0.1 if the tokens stayed at 2 and 8)
    boot = np.array([[0.2, 0.6], [0.3, 0.5]])
    boot_tokens = np.array([[2.0, 8.0], [4.0, 8.0]])
    fixed = loglinear_fit([2, 8], [0.2, 0.6], boot)
    moving = loglinear_fit([2, 8], [0.2, 0.6], boot, boot_tokens)
    assert fixed["ci95"] == pytest.approx(list(np.percentile([20.0, 10.0], [2.5, 97.5])))
    assert moving["ci95"] == pytest.approx([20.0, 20.0])


def test_budget_fidelity_hand_computed():
    used = np.array([10, 20, 30, 40, 200])
    f = budget_fidelity(100, "completion_tokens", used, used, cut_off=1, estimated=0)
    assert f["used_median"] == 30 and f["used_p90"] == pytest.approx(136.0)  # 40 + 0.6 * 160
    assert f["within_budget_share"] == pytest.approx(0.8) and f["cut_off_rate"] == pytest.approx(0.2)
    assert f["control"] == 1.0  # the setting's mean (60 tokens) is within its 100: s1's indicator
    assert budget_fidelity(None, "completion_tokens", used, used, 0, 0)["control"] is None
    # forced:N:min=M: below M is out of bounds too (s1's a_min)
    g = budget_fidelity(100, "reasoning_tokens", used, used, 0, 0, minimum=25)
    assert g["min_tokens"] == 25 and g["within_budget"] == 2 and g["control"] == 1.0
    assert budget_fidelity(100, "reasoning_tokens", used, used, 0, 0, minimum=80)["control"] == 0.0
    assert budget_of("forced:512:min=64").min_tokens == 64 and budget_of("forced:512").min_tokens is None
    assert budget_of("tokens:64").min_tokens is None
    # What "used" means comes from the budget table: what the budget caps.
    assert used_field("forced:512:min=64") == "reasoning_tokens"
    assert used_field("thinking:1024") == "reasoning_tokens"
    assert used_field("effort:high") == "reasoning_tokens"
    assert used_field("tokens:512") == "completion_tokens"
    assert used_field("someone-else's:label") == "completion_tokens"


def test_s1_metrics_hand_computed():
    budgets = [
        {"budget": "a", "tokens": 100, "accuracy": 0.2, "within_budget": 10, "samples": 10, "control": 1.0},
        {"budget": "b", "tokens": 300, "accuracy": 0.4, "within_budget": 8, "samples": 10, "control": 0.0},
        {"budget": "c", "tokens": 500, "accuracy": 0.5, "within_budget": None, "samples": 10, "control": None},
    ]
    s1 = s1_metrics(budgets)
    # Control per setting, as the s1 paper defines it: 1 of the 2 settings with a token
    # figure kept its mean within bounds; per sample, 18 of 20 stayed within budget.
    assert s1["control"] == pytest.approx(0.5) and s1["control_settings"] == 2
    assert s1["within_budget_share"] == pytest.approx(18 / 20)
    # slopes: (a,b) 0.2/200, (a,c) 0.3/400, (b,c) 0.1/200 -> mean 0.000583.. per token
    assert s1["scaling_per_1k_tokens"] == pytest.approx(1000 * (0.001 + 0.00075 + 0.0005) / 3)
    assert s1["performance"] == 0.5 and s1["performance_budget"] == "c"
    assert s1_metrics(budgets[:1])["scaling_per_1k_tokens"] is None


def test_s1_scaling_interval_resamples_tokens_and_undefined_span():
    budgets = [
        {"budget": "a", "tokens": 100, "accuracy": 0.2, "within_budget": 10, "samples": 10, "control": 1.0},
        {"budget": "b", "tokens": 300, "accuracy": 0.4, "within_budget": 8, "samples": 10, "control": 1.0},
    ]
    boot_tokens = np.array([[100.0, 300.0], [100.0, 200.0], [150.0, 300.0]])
    boot_acc = np.array([[0.2, 0.4], [0.2, 0.4], [0.3, 0.4]])
    s1 = s1_metrics(budgets, boot_tokens, boot_acc)
    reps = 1000 * np.array([0.2 / 200, 0.2 / 100, 0.1 / 150])
    assert s1["scaling_ci95"] == pytest.approx(list(np.percentile(reps, [2.5, 97.5])))
    assert s1["scaling_se"] == pytest.approx(reps.std(ddof=1))
    close = [dict(budgets[0], tokens=38.9), dict(budgets[1], tokens=39.3)]
    undefined = s1_metrics(close)
    assert undefined["scaling_per_1k_tokens"] is None and "doublings" in undefined["scaling_undefined"]
