import pytest

from ttc_bench.errors import UserError
from ttc_bench.models.budgets import parse_budget, parse_budgets, request_params


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


def test_request_params_per_flavour():
    assert request_params(parse_budget("tokens:100"), "generic", 16) == {"max_tokens": 100}
    assert request_params(parse_budget("tokens:100"), "openai", 16) == {"max_completion_tokens": 100}
    assert request_params(parse_budget("effort:low"), "openai", 16) == {"reasoning_effort": "low"}
    anthropic = request_params(parse_budget("thinking:2000"), "anthropic-compat", 16)
    assert anthropic["extra_body"] == {"thinking": {"type": "enabled", "budget_tokens": 2000}}
    assert anthropic["max_tokens"] > 2000


def test_unsupported_combinations_fail_before_requests():
    with pytest.raises(UserError, match="reasoning_effort"):
        request_params(parse_budget("effort:low"), "generic", 16)
    with pytest.raises(UserError, match="thinking budget"):
        request_params(parse_budget("thinking:100"), "openai", 16)
