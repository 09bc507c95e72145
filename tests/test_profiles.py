"""Provider profiles: detection from the host and from /models, model rules, aliases."""

import pytest

from ttc_bench.errors import UserError
from ttc_bench.models.preflight import _matches, detect_profile
from ttc_bench.models.profiles import PROFILES, from_host, from_owned_by, get_profile, resolve


@pytest.mark.parametrize("url, name", [
    ("https://api.openai.com/v1", "openai"),
    ("https://api.anthropic.com/v1/", "anthropic"),
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "gemini"),
    ("https://api.deepseek.com", "deepseek"),
    ("https://api.deepseek.com/v1", "deepseek"),
])
def test_hosted_apis_are_recognised_by_host_without_a_request(url, name):
    assert from_host(url).name == name
    assert detect_profile("auto", url, None)[0].name == name


def test_other_hosts_are_not_mistaken_for_hosted_apis():
    assert from_host("http://api.openai.com.evil.example/v1") is None
    assert from_host("http://127.0.0.1:8000/v1") is None


@pytest.mark.parametrize("owned_by, name", [("vllm", "vllm"), ("sglang", "sglang"), ("llamacpp", "llama-server"),
                                            ("library", "ollama"), ("me", "llama-cpp-python"), ("system", "openai")])
def test_self_hosted_servers_are_recognised_by_owned_by(owned_by, name):
    assert from_owned_by([owned_by]).name == name


def test_aliases_and_unknown_names():
    assert get_profile("anthropic-compat").name == "anthropic"
    assert get_profile("gemini-compat").name == "gemini"
    with pytest.raises(UserError, match="unknown --api"):
        get_profile("azure")


@pytest.mark.parametrize("model, efforts, sampling", [
    ("o4-mini", ("low", "medium", "high"), set()),
    ("gpt-5-mini", ("minimal", "low", "medium", "high"), set()),
    ("gpt-5.1", ("none", "low", "medium", "high"), set()),
    ("gpt-4.1", (), {"temperature", "top_p"}),
])
def test_openai_model_rules(model, efforts, sampling):
    profile = resolve(get_profile("openai"), model)
    assert profile.efforts == efforts and set(profile.sampling) == sampling


def test_claude_rules():
    assert resolve(get_profile("anthropic"), "claude-sonnet-4-5").exclusive_sampling
    assert not resolve(get_profile("anthropic"), "claude-3-7-sonnet-latest").exclusive_sampling
    assert resolve(get_profile("anthropic"), "claude-opus-4-7").thinking is None


def test_served_model_names_match_as_providers_list_them():
    assert _matches("gemini-2.5-flash", ["models/gemini-2.5-flash"])
    assert _matches("claude-sonnet-4-5", ["claude-sonnet-4-5-20250929"])
    assert _matches("qwen3", ["qwen3:latest"])
    assert not _matches("Qwen/Qwen3-32B", ["Qwen/Qwen3-8B"])


def test_every_profile_is_complete():
    names = [p.name for p in PROFILES]
    assert len(names) == len(set(names))
    for profile in PROFILES:
        assert profile.token_cap in ("max_tokens", "max_completion_tokens")
        assert profile.n in ("yes", "no", "ignored")
        assert profile.reasoning in ("visible", "hidden", "summary")
        assert profile.continuation is None or profile.continuation.mechanism in (
            "continue_final_message", "prefill", "prefix", "completions")
