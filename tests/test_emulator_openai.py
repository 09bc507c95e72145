"""Self-test of the OpenAI emulation (tests/emulators/openai_api.py), driven with httpx."""

import json

import httpx
import pytest

from emulators.openai_api import OpenAIServer

KEY = {"Authorization": "Bearer test-key"}
QUESTION = {"role": "user", "content": "Compute 37 + 48."}


@pytest.fixture(scope="module")
def server():
    with OpenAIServer() as s:
        yield s


def chat(server, headers=KEY, **body):
    body.setdefault("messages", [QUESTION])
    body.setdefault("model", "gpt-5-mini")
    return httpx.post(server.base_url + "/chat/completions", json=body, headers=headers, timeout=30)


def err(response):
    return response.json()["error"]


def test_models_list_and_auth(server):
    assert server.base_url.endswith("/v1")
    listing = httpx.get(server.base_url + "/models", headers=KEY).json()
    assert listing["object"] == "list"
    owners = {m["id"]: m["owned_by"] for m in listing["data"]}
    assert owners["gpt-5-mini"] == "system" and owners["gpt-3.5-turbo"] == "openai"
    missing = httpx.get(server.base_url + "/models")
    assert missing.status_code == 401 and err(missing)["message"].startswith("You didn't provide an API key")
    wrong = chat(server, headers={"Authorization": "Bearer sk-wrong-key-1234"})
    assert wrong.status_code == 401 and err(wrong)["code"] == "invalid_api_key"


def test_unknown_model_and_unknown_argument(server):
    r = chat(server, model="gpt-9")
    assert r.status_code == 404
    assert err(r) == {"message": "The model `gpt-9` does not exist or you do not have access to it.",
                      "type": "invalid_request_error", "param": None, "code": "model_not_found"}
    r = chat(server, thinking={"type": "enabled"})
    assert r.status_code == 400 and err(r)["message"] == "Unrecognized request argument supplied: thinking"


def test_reasoning_model_rejects_max_tokens_and_sampling(server):
    r = chat(server, max_tokens=100)
    assert r.status_code == 400 and err(r)["param"] == "max_tokens" and err(r)["code"] == "unsupported_parameter"
    r = chat(server, temperature=0.7)
    assert r.status_code == 400
    assert err(r) == {"message": "Unsupported value: 'temperature' does not support 0.7 with this model. "
                                 "Only the default (1) value is supported.",
                      "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}
    assert chat(server, temperature=1).status_code == 200
    assert chat(server, model="o3-mini", temperature=1).json()["error"]["code"] == "unsupported_parameter"
    assert chat(server, presence_penalty=0.5).status_code == 400


def test_reasoning_effort_levels_per_family(server):
    r = chat(server, reasoning_effort="none")  # gpt-5: no "none"
    assert r.status_code == 400 and err(r)["code"] == "unsupported_value"
    assert "'minimal', 'low', 'medium', and 'high'" in err(r)["message"]
    assert chat(server, model="gpt-5.1", reasoning_effort="minimal").status_code == 400
    assert chat(server, model="gpt-5.2", reasoning_effort="xhigh").status_code == 200
    assert chat(server, model="o3", reasoning_effort="minimal").status_code == 400
    # Non-reasoning models do not know the field.
    r = chat(server, model="gpt-4o", reasoning_effort="low")
    assert r.status_code == 400 and err(r)["message"] == "Unrecognized request argument supplied: reasoning_effort"
    # gpt-5.1 defaults to effort "none", where temperature is allowed; not with reasoning on.
    assert chat(server, model="gpt-5.1", temperature=0.2).status_code == 200
    assert chat(server, model="gpt-5.1", temperature=0.2, reasoning_effort="high").status_code == 400


def test_hidden_reasoning_and_usage(server):
    r = chat(server, reasoning_effort="high", max_completion_tokens=4000, seed=7)
    body = r.json()
    message = body["choices"][0]["message"]
    assert message["content"] == "<answer>85</answer>" and "reasoning_content" not in message
    usage = body["usage"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert 0 < reasoning < usage["completion_tokens"]  # counted inside completion_tokens
    assert body["model"] == "gpt-5-mini-2025-08-07" and body["choices"][0]["finish_reason"] == "stop"


def test_accuracy_rises_with_effort(server):
    right = {effort: 0 for effort in ("minimal", "high")}
    for a in range(12):
        for effort in right:
            q = {"role": "user", "content": f"Compute {a * 17 + 3} + {a * 29 + 11}."}
            content = chat(server, messages=[q], reasoning_effort=effort, seed=a).json()["choices"][0]["message"]["content"]
            right[effort] += content == f"<answer>{a * 46 + 14}</answer>"
    assert right["high"] == 12 and right["minimal"] < 6


def test_cap_hit_while_reasoning_gives_empty_content(server):
    choice = chat(server, max_completion_tokens=10).json()["choices"][0]
    assert choice["message"]["content"] == "" and choice["finish_reason"] == "length"


def test_n_seed_and_trailing_assistant(server):
    r = chat(server, n=3, seed=1)
    assert len(r.json()["choices"]) == 3
    # A trailing assistant message is not continued: a fresh answer comes back.
    messages = [QUESTION, {"role": "assistant", "content": "Let me think: <answer>"}]
    content = chat(server, model="gpt-4o", messages=messages).json()["choices"][0]["message"]["content"]
    assert not content.startswith("85") and content.endswith("</answer>") and "<answer>" in content


def test_non_reasoning_model_visible_reasoning_and_cap(server):
    r = chat(server, model="gpt-4o", max_tokens=5, temperature=0.3)
    body = r.json()
    assert body["choices"][0]["finish_reason"] == "length" and body["usage"]["completion_tokens"] == 5
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0
    r = chat(server, model="gpt-4o", max_tokens=100000)
    assert r.status_code == 400 and "supports at most 16384 completion tokens" in err(r)["message"]


def test_streaming_with_usage(server):
    r = chat(server, stream=True, stream_options={"include_usage": True})
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == "<answer>85</answer>"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


def test_quota_exhausted_and_rate_limited():
    with OpenAIServer(quota_exhausted=True) as s:
        r = chat(s)
        assert r.status_code == 429 and err(r)["type"] == "insufficient_quota" and err(r)["code"] == "insufficient_quota"
    with OpenAIServer(rate_limit_first=1) as s:
        r = chat(s)
        assert r.status_code == 429 and err(r)["code"] == "rate_limit_exceeded" and err(r)["type"] == "tokens"
        assert chat(s).status_code == 200
