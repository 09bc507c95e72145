"""Self-test of the Anthropic emulation (OpenAI SDK compatibility layer + native Models API),
driven with httpx directly. Each rule gets one or two assertions; sources are cited in
tests/emulators/anthropic_api.py."""

import httpx
import pytest

from emulators.anthropic_api import AnthropicServer

AUTH = {"Authorization": "Bearer test-key"}
Q = [{"role": "system", "content": "Reply with <answer>N</answer>."}, {"role": "user", "content": "Compute 37 + 48."}]


@pytest.fixture(scope="module")
def server():
    with AnthropicServer() as s:
        yield s


def chat(server, headers=AUTH, **body):
    body.setdefault("model", "claude-sonnet-4-5")
    body.setdefault("messages", Q)
    return httpx.post(server.base_url + "/chat/completions", json=body, headers=headers)


def err(r):
    return r.json()["error"]


def test_base_url_and_auth(server):
    assert server.base_url.endswith("/v1")
    assert chat(server, headers={}).status_code == 401
    bad = chat(server, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and err(bad) == {
        "code": "authentication_error", "message": "invalid x-api-key", "type": "authentication_error", "param": None}
    assert chat(server, headers={"x-api-key": "test-key"}, max_tokens=100).status_code == 200


def test_thinking_hidden_but_billed(server):
    r = chat(server, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2000})
    assert r.status_code == 200
    body = r.json()
    msg, usage = body["choices"][0]["message"], body["usage"]
    assert msg["content"] == "<answer>85</answer>" and "reasoning_content" not in msg
    assert usage["completion_tokens"] > 1 and usage["completion_tokens_details"] is None
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert body["choices"][0]["finish_reason"] == "stop"


def test_thinking_off_by_default(server):
    usage = chat(server, max_tokens=100).json()["usage"]
    assert usage["completion_tokens"] == 1  # answered at once, no thinking


def test_budget_rules(server):
    low = chat(server, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1000})
    assert low.status_code == 400 and "greater than or equal to 1024" in err(low)["message"]
    over = chat(server, max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 2000})
    assert over.status_code == 400 and err(over)["message"].startswith(
        "`max_tokens` must be greater than `thinking.budget_tokens`")
    assert chat(server, max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024},
                reasoning_effort="high").status_code == 200  # reasoning_effort is ignored


def test_sampling_with_thinking(server):
    think = {"type": "enabled", "budget_tokens": 1024}
    r = chat(server, max_tokens=2000, thinking=think, temperature=0.5)
    assert r.status_code == 400 and "may only be set to 1" in err(r)["message"]
    assert chat(server, max_tokens=2000, thinking=think, temperature=1.7).status_code == 200  # capped at 1
    assert chat(server, max_tokens=2000, thinking=think, top_p=0.5).status_code == 400
    assert chat(server, max_tokens=2000, thinking=think, top_p=0.97).status_code == 200


def test_temperature_and_top_p_not_both_on_claude_4(server):
    r = chat(server, max_tokens=100, temperature=0.2, top_p=0.9)
    assert r.status_code == 400 and "cannot both be specified" in err(r)["message"]
    assert chat(server, model="claude-3-7-sonnet-20250219", max_tokens=100, temperature=0.2,
                top_p=0.9).status_code == 200


def test_n_must_be_1_and_limits(server):
    assert chat(server, max_tokens=100, n=2).status_code == 400
    assert chat(server, max_tokens=100, n=1).status_code == 200
    big = chat(server, max_tokens=100000)
    assert big.status_code == 400 and "maximum allowed number of output tokens" in err(big)["message"]
    missing = chat(server, model="claude-nope")
    assert missing.status_code == 404 and err(missing)["type"] == "not_found_error"


def test_prefill(server):
    ok = chat(server, max_tokens=100, messages=Q + [{"role": "assistant", "content": "<answer>"}])
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"].endswith("</answer>")
    assert not ok.json()["choices"][0]["message"]["content"].startswith("<answer>")  # only the continuation
    thinking = chat(server, max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 1024},
                    messages=Q + [{"role": "assistant", "content": "<answer>"}])
    assert thinking.status_code == 400 and "Expected `thinking` or `redacted_thinking`" in err(thinking)["message"]
    space = chat(server, max_tokens=100, messages=Q + [{"role": "assistant", "content": "The answer is "}])
    assert space.status_code == 400 and "trailing whitespace" in err(space)["message"]
    new = chat(server, model="claude-opus-4-6", max_tokens=100, messages=Q + [{"role": "assistant", "content": "x"}])
    assert new.status_code == 400 and "does not support assistant message prefill" in err(new)["message"]


def test_opus_4_7_rules(server):
    manual = chat(server, model="claude-opus-4-7", max_tokens=4000, thinking={"type": "enabled", "budget_tokens": 2000})
    assert manual.status_code == 400 and "thinking.type.adaptive" in err(manual)["message"]
    assert chat(server, model="claude-opus-4-7", max_tokens=100, temperature=0.3).status_code == 400
    adaptive = chat(server, model="claude-opus-4-7", max_tokens=4000, thinking={"type": "adaptive"})
    assert adaptive.status_code == 200 and adaptive.json()["choices"][0]["message"]["content"] == "<answer>85</answer>"


def test_accuracy_rises_with_budget():
    questions = [f"Compute {a} + {a * 7 % 90 + 11}." for a in range(10, 50)]
    with AnthropicServer(budget_scale=1 / 64) as s:
        def accuracy(budget):
            right = 0
            for q in questions:
                a, b = (int(x) for x in q[8:-1].split(" + "))
                r = chat(s, max_tokens=budget + 500, messages=[{"role": "user", "content": q}],
                         thinking={"type": "enabled", "budget_tokens": budget})
                right += r.json()["choices"][0]["message"]["content"] == f"<answer>{a + b}</answer>"
            return right / len(questions)
        assert accuracy(1024) < accuracy(10240) == 1.0


def test_stop_and_stream(server):
    r = chat(server, max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024}, stop=["</answer>"])
    assert r.json()["choices"][0]["message"]["content"] == "<answer>85"
    s = chat(server, max_tokens=100, stream=True, stream_options={"include_usage": True})
    assert s.headers["content-type"].startswith("text/event-stream") and s.text.endswith("data: [DONE]\n\n")
    assert '"usage"' in s.text


def test_models_endpoint_native_auth(server):
    url = server.base_url + "/models"
    r = httpx.get(url, headers={"x-api-key": "test-key", "anthropic-version": "2023-06-01"})
    body = r.json()
    assert r.status_code == 200 and {"data", "has_more", "first_id", "last_id"} <= set(body)
    assert body["data"][0]["type"] == "model" and "owned_by" not in body["data"][0]
    assert "claude-sonnet-4-5-20250929" in [m["id"] for m in body["data"]]
    no_version = httpx.get(url, headers={"x-api-key": "test-key"})
    assert no_version.status_code == 400 and no_version.json()["type"] == "error"
    bearer = httpx.get(url, headers={**AUTH, "anthropic-version": "2023-06-01"})
    assert bearer.status_code == 401 and bearer.json()["error"]["type"] == "authentication_error"
    with AnthropicServer(models_accept_bearer=True) as lenient:
        assert httpx.get(lenient.base_url + "/models", headers={**AUTH, "anthropic-version": "2023-06-01"}).status_code == 200


def test_failure_modes():
    with AnthropicServer(fail_mode="rate_limited", fail_count=1) as s:
        first = chat(s, max_tokens=100)
        assert first.status_code == 429 and first.headers["retry-after"] and err(first)["type"] == "rate_limit_error"
        assert chat(s, max_tokens=100).status_code == 200
    with AnthropicServer(fail_mode="credits_exhausted") as s:
        r = chat(s, max_tokens=100)
        assert r.status_code == 400 and "credit balance is too low" in err(r)["message"]
    with AnthropicServer(fail_mode="overloaded", error_shape="anthropic") as s:
        r = chat(s, max_tokens=100)
        assert r.status_code == 529 and r.json()["error"]["type"] == "overloaded_error"
