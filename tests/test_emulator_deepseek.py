"""Self-test of the DeepSeek emulation (tests/emulators/deepseek.py), driven with httpx."""

import httpx
import pytest

from emulators.deepseek import DeepSeekServer

KEY = {"Authorization": "Bearer test-key"}
QUESTION = {"role": "user", "content": "Compute 37 + 48."}


@pytest.fixture(scope="module")
def server():
    with DeepSeekServer() as s:
        yield s


def chat(server, base=None, headers=KEY, **body):
    body.setdefault("messages", [QUESTION])
    body.setdefault("model", "deepseek-v4-flash")
    return httpx.post((base or server.base_url) + "/chat/completions", json=body, headers=headers, timeout=30)


def err(response):
    return response.json()["error"]


def test_routes_models_and_auth(server):
    for prefix in ("", "/v1", "/beta"):
        listing = httpx.get(server.origin + prefix + "/models", headers=KEY).json()
        assert {m["owned_by"] for m in listing["data"]} == {"deepseek"}
    assert chat(server, base=server.origin + "/v1").status_code == 200
    r = chat(server, headers={"Authorization": "Bearer nope-abcd"})
    assert r.status_code == 401 and err(r)["type"] == "authentication_error" and "****abcd" in err(r)["message"]
    r = chat(server, model="deepseek-r1")
    assert r.status_code == 400 and err(r)["message"] == "Model Not Exist"


def test_thinking_default_reasoning_content_and_usage(server):
    body = chat(server).json()
    message = body["choices"][0]["message"]
    assert message["content"] == "<answer>85</answer>" and message["reasoning_content"]
    usage = body["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] < usage["completion_tokens"]
    assert usage["prompt_tokens"] == usage["prompt_cache_hit_tokens"] + usage["prompt_cache_miss_tokens"]


def test_thinking_switch_and_aliases(server):
    off = chat(server, thinking={"type": "disabled"}, max_tokens=500).json()["choices"][0]["message"]
    assert "reasoning_content" not in off and off["content"].endswith("</answer>")
    assert "reasoning_content" not in chat(server, model="deepseek-chat").json()["choices"][0]["message"]
    assert chat(server, model="deepseek-reasoner").json()["choices"][0]["message"]["reasoning_content"]
    with DeepSeekServer(legacy_aliases=False) as s:
        assert err(chat(s, model="deepseek-chat"))["message"] == "Model Not Exist"


def test_ignored_and_rejected_parameters(server):
    # Thinking mode ignores sampling/penalty parameters without error; unknown fields too.
    assert chat(server, temperature=0.3, presence_penalty=1, frequency_penalty=1, seed=3, foo=1).status_code == 200
    r = chat(server, n=2)
    assert r.status_code == 400 and err(r)["message"] == "Invalid n value (currently only n = 1 is supported)"
    r = chat(server, max_tokens=400000)
    assert err(r)["message"] == "Invalid max_tokens value, the valid range of max_tokens is [1, 393216]"
    assert chat(server, top_p=0).status_code == 400
    r = chat(server, reasoning_effort="extreme")
    assert r.status_code == 400 and "unknown variant `extreme`" in err(r)["message"]
    r = chat(server, messages=[{"role": "developer", "content": "x"}, QUESTION])
    assert r.status_code == 400 and "unknown variant `developer`" in err(r)["message"]


def test_effort_levels_and_max_tokens_includes_cot(server):
    for effort in ("minimal", "low", "medium", "high", "xhigh", "max", "ultra"):
        assert chat(server, reasoning_effort=effort).status_code == 200
    none = chat(server, reasoning_effort="none", max_tokens=500).json()["choices"][0]["message"]
    assert "reasoning_content" not in none
    capped = chat(server, max_tokens=10).json()
    assert capped["choices"][0]["finish_reason"] == "length" and capped["choices"][0]["message"]["content"] == ""
    assert capped["usage"]["completion_tokens"] == 10


def test_accuracy_rises_with_effort(server):
    right = {"low": 0, "max": 0}
    for a in range(12):
        q = {"role": "user", "content": f"Compute {a * 31 + 5} * 3."}
        for effort in right:
            content = chat(server, messages=[q], reasoning_effort=effort).json()["choices"][0]["message"]["content"]
            right[effort] += content == f"<answer>{(a * 31 + 5) * 3}</answer>"
    assert right["max"] == 12 and right["low"] < right["max"]


def test_trailing_assistant_and_prefix_completion(server):
    partial = {"role": "assistant", "content": "The answer is <answer>"}
    r = chat(server, messages=[QUESTION, partial])
    assert r.status_code == 400 and "must be a user message" in err(r)["message"]
    # Prefix completion is only on /beta, in both modes; the response is the continuation.
    prefixed = dict(partial, prefix=True)
    assert chat(server, messages=[QUESTION, prefixed]).status_code == 400  # prefix needs /beta
    cont = chat(server, base=server.beta_url, messages=[QUESTION, prefixed], thinking={"type": "disabled"}).json()
    assert cont["choices"][0]["message"]["content"].endswith("</answer>")
    thought = " ".join(["consider"] * 200)
    given = dict(prefixed, content="", reasoning_content=thought)
    out = chat(server, base=server.beta_url, messages=[QUESTION, given]).json()["choices"][0]["message"]
    assert out["content"] == "<answer>85</answer>"
    # Earlier turns' reasoning_content is ignored in v4 (no tools): no error.
    history = [QUESTION, {"role": "assistant", "content": "<answer>85</answer>", "reasoning_content": "x"}, QUESTION]
    assert chat(server, messages=history).status_code == 200


def test_tools_require_reasoning_content_back(server):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}]
    history = [QUESTION, {"role": "assistant", "content": "<answer>85</answer>"}, QUESTION]
    r = chat(server, messages=history, tools=tools)
    assert r.status_code == 400 and "must be passed back" in err(r)["message"]


def test_insufficient_balance_and_rate_limit():
    with DeepSeekServer(insufficient_balance=True) as s:
        r = chat(s)
        assert r.status_code == 402 and err(r) == {"message": "Insufficient Balance", "type": "unknown_error",
                                                   "param": None, "code": "invalid_request_error"}
    with DeepSeekServer(rate_limit_first=1) as s:
        assert chat(s).status_code == 429 and chat(s).status_code == 200


def test_legacy_r1_rules():
    with DeepSeekServer("deepseek-reasoner", version="r1") as s:
        history = [QUESTION, {"role": "assistant", "content": "<answer>85</answer>", "reasoning_content": "x"}, QUESTION]
        r = chat(s, model="deepseek-reasoner", messages=history)
        assert r.status_code == 400 and err(r)["message"].startswith("The reasoning_content is an intermediate result")
        # max_tokens counts only the final answer: a tiny cap still lets the CoT run.
        body = chat(s, model="deepseek-reasoner", max_tokens=5).json()
        assert body["choices"][0]["message"]["content"] == "<answer>85</answer>"
        assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] > 5
        assert chat(s, model="deepseek-reasoner", logprobs=True).status_code == 400
        assert chat(s, model="deepseek-chat", max_tokens=9000).status_code == 400
        assert chat(s, messages=[{"role": "developer", "content": "x"}], model="deepseek-chat").status_code == 422
