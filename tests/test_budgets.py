import pytest

from ttc_bench.errors import UserError
from ttc_bench.budgets import parse_budget, parse_budgets
from ttc_bench.models.profiles import get_profile, resolve
from ttc_bench.models.request import budget_fields, check_budget, check_plan


@pytest.mark.parametrize(
    "text, label, tokens",
    [("tokens:256", "tokens:256", 256), ("forced:64", "forced:64", 64), ("FORCED:64:min=32", "forced:64:min=32", 64),
     ("thinking:1024", "thinking:1024", 1024), ("effort:high", "effort:high", None)],
)
def test_parse_budget(text, label, tokens):
    budget = parse_budget(text)
    assert budget.label == label
    assert budget.requested_tokens == tokens


@pytest.mark.parametrize("text", ["tokens", "tokens:", "tokens:-5", "tokens:0", "tokens:abc", "speed:3", "effort:turbo", "forced:10:min=20", ""])
def test_malformed_budgets_are_user_errors(text):
    with pytest.raises(UserError, match="bad budget"):
        parse_budget(text)


def test_duplicate_budgets_rejected():
    with pytest.raises(UserError, match="twice"):
        parse_budgets(["tokens:5", "tokens:5"])


def test_budget_fields_per_profile():
    tokens, effort = parse_budget("tokens:100"), parse_budget("effort:low")
    assert budget_fields(get_profile("generic"), tokens, 16) == {"max_tokens": 100}
    assert budget_fields(get_profile("openai"), tokens, 16) == {"max_completion_tokens": 100}
    assert budget_fields(get_profile("openai"), effort, 16) == {"reasoning_effort": "low"}
    anthropic = budget_fields(get_profile("anthropic-compat"), parse_budget("thinking:2000"), 16)
    assert anthropic["thinking"] == {"type": "enabled", "budget_tokens": 2000} and anthropic["max_tokens"] > 2000
    # Gemini's compatibility layer reads Google fields from a literal "extra_body" key.
    gemini = budget_fields(get_profile("gemini"), parse_budget("thinking:512"), 16)
    assert gemini["extra_body"]["google"]["thinking_config"]["thinking_budget"] == 512


@pytest.mark.parametrize("profile, budget, words", [
    ("generic", "effort:low", "takes no reasoning_effort"),
    ("openai", "thinking:100", "no per-request thinking budget"),
    ("anthropic", "thinking:512", "from 1,024"),
    ("sglang", "thinking:512", "no per-request thinking budget"),
    ("openai", "forced:64", "hides the model's reasoning"),
    ("vllm", "forced:64:min=32", "cannot continue an open thinking block"),
])
def test_unsupported_combinations_fail_before_requests(profile, budget, words):
    with pytest.raises(UserError, match=words):
        check_budget(resolve(get_profile(profile), "o4-mini" if profile == "openai" else None), parse_budget(budget))


def test_sampling_the_profile_refuses_is_refused_and_unset_sampling_is_not_sent():
    reasoning = resolve(get_profile("openai"), "o4-mini")
    with pytest.raises(UserError, match="does not accept temperature"):
        check_plan(reasoning, [parse_budget("effort:low")], {"temperature": 0.7, "top_p": None}, "o4-mini")
    assert check_plan(reasoning, [parse_budget("effort:low")], {"temperature": None, "top_p": None}, "o4-mini") == []
    claude = resolve(get_profile("anthropic"), "claude-sonnet-4-5")
    with pytest.raises(UserError, match="not both"):
        check_plan(claude, [parse_budget("tokens:64")], {"temperature": 0.5, "top_p": 0.9}, "claude-sonnet-4-5")
    with pytest.raises(UserError, match="thinking budget needs temperature 1"):
        check_plan(claude, [parse_budget("thinking:2048")], {"temperature": 0.5, "top_p": None}, "claude-sonnet-4-5")


def test_documented_no_ops_are_warned_at_plan_time():
    warnings = check_plan(get_profile("vllm"), [parse_budget("effort:low"), parse_budget("thinking:256")], {}, "Qwen/Qwen3-8B")
    assert any("ignore" in w for w in warnings) and any("0.19" in w for w in warnings)
