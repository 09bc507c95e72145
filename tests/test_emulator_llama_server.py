"""Self-test of the llama-server emulation (tests/emulators/llama_server.py), driven with httpx."""

import httpx
import pytest

from emulators.llama_server import LlamaServer

KEY = {"Authorization": "Bearer test-key"}
Q = {"role": "user", "content": "Compute 12 + 30."}


def post(server, body, headers=KEY):
    return httpx.post(server.base_url + "/chat/completions", json=body, headers=headers, timeout=10)


@pytest.fixture
def server():
    with LlamaServer() as s:
        yield s


def test_auth_and_models(server):
    assert httpx.get(server.origin + "/health").status_code == 200  # public
    r = httpx.get(server.base_url + "/models")
    assert r.status_code == 401
    assert r.json() == {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}
    assert post(server, {"messages": [Q]}, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert httpx.get(server.base_url + "/models", headers={"X-Api-Key": "test-key"}).status_code == 200
    body = httpx.get(server.base_url + "/models", headers=KEY).json()
    assert body["object"] == "list" and body["data"][0]["owned_by"] == "llamacpp"
    assert body["data"][0]["id"] == LlamaServer.DEFAULT_MODEL and "meta" in body["data"][0] and "models" in body
    with LlamaServer(api_key=None) as open_server:
        assert post(open_server, {"messages": [Q]}, headers={}).status_code == 200
    with LlamaServer(legacy=True) as old:  # before PR #26347 the model list was public
        assert httpx.get(old.base_url + "/models").status_code == 200


def test_answer_reasoning_and_usage(server):
    r = post(server, {"model": "whatever", "messages": [Q], "seed": 1})
    body = r.json()
    assert r.status_code == 200 and body["model"] == "whatever"  # echoed, never validated
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["content"] == "<answer>42</answer>"
    reasoning = choice["message"]["reasoning_content"]
    assert "<think>" not in choice["message"]["content"]
    usage = body["usage"]
    assert usage["completion_tokens"] == len(reasoning.split()) + 3  # <think>, </think>, answer
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "completion_tokens_details" not in usage and "timings" in body


def test_token_caps(server):
    cut = post(server, {"messages": [Q], "max_tokens": 10, "seed": 1}).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 10
    assert cut["choices"][0]["message"]["content"] == "" and cut["choices"][0]["message"]["reasoning_content"]
    assert post(server, {"messages": [Q], "max_completion_tokens": 7}).json()["usage"]["completion_tokens"] == 7
    assert post(server, {"messages": [Q], "max_tokens": 7, "n_predict": 5}).json()["usage"]["completion_tokens"] == 5
    with LlamaServer(legacy=True) as old:  # before PR #19831 max_completion_tokens was ignored
        assert post(old, {"messages": [Q], "max_completion_tokens": 7}).json()["choices"][0]["finish_reason"] == "stop"


def test_n(server):
    body = post(server, {"messages": [Q], "n": 3, "seed": 2}).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    r = post(server, {"messages": [Q], "n": 5})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "n_cmpl cannot be greater than the number of slots, please increase -np"
    with LlamaServer(legacy=True) as old:
        r = post(old, {"messages": [Q], "n": 2})
        assert r.status_code == 500
        assert r.json()["error"] == {"code": 500, "message": "Only one completion choice is allowed", "type": "server_error"}


def test_prefill_rules(server):
    prefill = {"role": "assistant", "content": "<think>\nthe carry Wait"}
    r = post(server, {"messages": [Q, prefill]})
    assert r.status_code == 400
    assert r.json() == {"error": {"code": 400, "message": "Assistant response prefill is incompatible with enable_thinking.",
                                  "type": "invalid_request_error"}}
    two = post(server, {"messages": [Q, {"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]})
    assert two.json()["error"]["message"] == "Cannot have 2 or more assistant messages at the end of the list."
    # thinking off: allowed; the prefill is appended after the (closed, empty) think block and
    # the reasoning parser is off, so the output stays raw in content
    off = {"messages": [Q, prefill], "chat_template_kwargs": {"enable_thinking": False}}
    prompt = httpx.post(server.origin + "/apply-template", json=off, headers=KEY).json()["prompt"]
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n<think>\nthe carry Wait")
    msg = post(server, off).json()["choices"][0]["message"]
    assert "reasoning_content" not in msg
    with LlamaServer(thinking=False, api_key=None) as plain:
        body = {"messages": [Q, {"role": "assistant", "content": "Let me think. The answer"}]}
        prompt = httpx.post(plain.origin + "/apply-template", json=body).json()["prompt"]
        assert prompt.endswith("<|im_start|>assistant\nLet me think. The answer")
        assert post(plain, body, headers={}).json()["choices"][0]["message"]["content"].startswith("<answer>")
    with LlamaServer(legacy=True) as old:
        assert post(old, {"messages": [Q, prefill]}).status_code == 500


def test_thinking_switches(server):
    raw = post(server, {"messages": [Q], "reasoning_format": "none", "seed": 1}).json()["choices"][0]["message"]
    assert raw["content"].startswith("<think>") and "reasoning_content" not in raw
    for body in ({"chat_template_kwargs": {"enable_thinking": False}}, {"reasoning_effort": "none"}):
        msg = post(server, dict(body, messages=[Q])).json()["choices"][0]["message"]
        assert "reasoning_content" not in msg and msg["content"].startswith("<answer>")
    bad = post(server, {"messages": [Q], "chat_template_kwargs": {"enable_thinking": "false"}})
    assert bad.status_code == 400 and "expected boolean, got string" in bad.json()["error"]["message"]
    assert post(server, {"messages": [Q], "reasoning_format": "hidden"}).status_code == 500
    with LlamaServer(reasoning="off") as off:
        assert "reasoning_content" not in post(off, {"messages": [Q]}).json()["choices"][0]["message"]


def test_reasoning_budget(server):
    body = {"messages": [Q], "seed": 1, "reasoning_budget_tokens": 5, "reasoning_budget_message": "Time is up."}
    msg = post(server, body).json()["choices"][0]["message"]
    assert msg["reasoning_content"].split()[:5] and msg["reasoning_content"].endswith("Time is up.")
    assert len(msg["reasoning_content"].split()) == 5 + 3 and msg["content"].startswith("<answer>")
    zero = post(server, {"messages": [Q], "thinking_budget_tokens": 0}).json()["choices"][0]["message"]
    assert "reasoning_content" not in zero
    with LlamaServer(reasoning_budget=4) as capped:
        capped_msg = post(capped, {"messages": [Q], "seed": 1}).json()["choices"][0]["message"]
        assert len(capped_msg["reasoning_content"].split()) == 4
        wider = post(capped, {"messages": [Q], "seed": 1, "reasoning_budget_tokens": 9}).json()
        assert len(wider["choices"][0]["message"]["reasoning_content"].split()) == 9  # request wins
    with LlamaServer(legacy=True) as old:  # no per-request budget before PR #23116 / #20297
        assert len(post(old, body).json()["choices"][0]["message"]["reasoning_content"].split()) > 8


def test_accuracy_rises_with_budget(server):
    def accuracy(budget):
        right = 0
        for a in range(20):
            q = {"role": "user", "content": f"Compute {a} + {a * 7 + 3}."}
            msg = post(server, {"messages": [q], "seed": a, "reasoning_budget_tokens": budget}).json()["choices"][0]["message"]
            right += msg["content"] == f"<answer>{a + a * 7 + 3}</answer>"
        return right

    assert accuracy(4) < accuracy(200) == 20


def test_loading_gate():
    with LlamaServer(loading=True) as s:
        r = httpx.get(s.origin + "/health")
        assert r.status_code == 503
        assert r.json() == {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}
