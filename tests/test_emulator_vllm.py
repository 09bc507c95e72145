"""Self-test of the vLLM emulation (tests/emulators/vllm_server.py), driven with httpx only."""

import json

import httpx
import pytest

from emulators.vllm_server import VLLMServer

QWEN, R1 = "Qwen/Qwen3-8B", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"
AUTH = {"Authorization": "Bearer test-key"}
ASK = [{"role": "user", "content": "Compute 12 + 30."}]


def post(server, body, headers=AUTH):
    return httpx.post(server.base_url + "/chat/completions", json=body, headers=headers, timeout=10)


def chat(server, **body):
    body.setdefault("model", server.served_model_name)
    body.setdefault("messages", ASK)
    body.setdefault("seed", 7)
    r = post(server, body)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def qwen():
    with VLLMServer(QWEN) as server:
        yield server


def test_auth_and_models(qwen):
    assert httpx.get(qwen.base_url + "/models").status_code == 401
    r = post(qwen, {"model": QWEN, "messages": ASK}, headers={"Authorization": "Bearer wrong"})
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    card = httpx.get(qwen.base_url + "/models", headers={"Authorization": "bearer test-key"}).json()["data"][0]
    assert (card["id"], card["owned_by"], card["root"], card["max_model_len"]) == (QWEN, "vllm", QWEN, 40960)
    with VLLMServer(QWEN, api_key=None) as open_server:
        assert httpx.get(open_server.base_url + "/models").status_code == 200


def test_unknown_model_is_404_with_nested_error(qwen):
    r = post(qwen, {"model": "gpt-4o", "messages": ASK})
    assert r.status_code == 404
    assert r.json() == {"error": {"message": "The model `gpt-4o` does not exist.", "type": "NotFoundError",
                                  "param": "model", "code": 404}}
    with VLLMServer(QWEN, nested_errors=False) as legacy:
        body = post(legacy, {"model": "gpt-4o", "messages": ASK}).json()
        assert body["object"] == "error" and body["code"] == 404 and "error" not in body


def test_answer_reasoning_and_usage(qwen):
    data = chat(qwen)
    msg, usage = data["choices"][0]["message"], data["usage"]
    assert "<answer>42</answer>" in msg["content"] and "<think>" not in msg["content"]
    assert msg["reasoning"] and "reasoning_content" not in msg
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len(msg["reasoning"].split())
    assert usage["completion_tokens"] > usage["completion_tokens_details"]["reasoning_tokens"]
    assert qwen.sampling[-1]["temperature"] == 0.6 and qwen.sampling[-1]["top_k"] == 20  # generation_config


@pytest.mark.parametrize("field, present", [("both", {"reasoning", "reasoning_content"}),
                                            ("reasoning_content", {"reasoning_content"})])
def test_older_reasoning_fields(field, present):
    with VLLMServer(QWEN, reasoning_field=field, reports_reasoning_tokens=False) as server:
        data = chat(server)
        msg = data["choices"][0]["message"]
        assert {k for k in ("reasoning", "reasoning_content") if k in msg} == present
        assert "completion_tokens_details" not in data["usage"]


def test_enable_thinking_false_and_reasoning_effort(qwen):
    off = chat(qwen, chat_template_kwargs={"enable_thinking": False})["choices"][0]["message"]
    assert off["reasoning"] is None and "<answer>" in off["content"]
    assert qwen.prompts[-1].endswith("<think>\n\n</think>\n\n")
    none = chat(qwen, reasoning_effort="none")["choices"][0]["message"]
    assert none["reasoning"] is None  # PR #43401: effort "none" -> enable_thinking False
    low, default = chat(qwen, reasoning_effort="low"), chat(qwen)
    assert low["choices"][0]["message"] == default["choices"][0]["message"]  # no effect on Qwen3
    assert post(qwen, {"model": QWEN, "messages": ASK, "reasoning_effort": "extreme"}).status_code == 400
    with VLLMServer(QWEN, effort_toggles_thinking=False) as old:
        assert chat(old, reasoning_effort="none")["choices"][0]["message"]["reasoning"]


def test_thinking_token_budget(qwen):
    data = chat(qwen, thinking_token_budget=4)
    assert data["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4
    assert "<answer>" in data["choices"][0]["message"]["content"]
    bad = post(qwen, {"model": QWEN, "messages": ASK, "thinking_token_budget": -5})
    assert bad.status_code == 400 and "non-negative integer or -1" in bad.json()["error"]["message"]
    with VLLMServer(QWEN, reasoning_parser=None) as bare:
        r = post(bare, {"model": QWEN, "messages": ASK, "thinking_token_budget": 4})
        assert r.status_code == 400 and "reasoning_config is not configured" in r.json()["error"]["message"]
    with VLLMServer(QWEN, supports_thinking_budget=False) as old:  # <= v0.18: ignored
        assert chat(old, thinking_token_budget=4)["usage"] == chat(old)["usage"]


def test_continue_final_message_rules(qwen):
    prefill = ASK + [{"role": "assistant", "content": "<think>\nadd them\n</think>\n\n<answer>"}]
    both = post(qwen, {"model": QWEN, "messages": prefill, "continue_final_message": True,
                       "add_generation_prompt": True})
    assert both.status_code == 400 and "Cannot set both `continue_final_message`" in both.json()["error"]["message"]
    default = post(qwen, {"model": QWEN, "messages": prefill, "continue_final_message": True})
    assert default.status_code == 400 and "are not compatible" in default.json()["error"]["message"]
    data = chat(qwen, messages=prefill, continue_final_message=True, add_generation_prompt=False)
    assert qwen.prompts[-1].endswith("</think>\n\n<answer>")
    msg = data["choices"][0]["message"]
    # The parser sees only generated text with no </think>: thinking is on, so it is all reasoning.
    assert msg["content"] is None and msg["reasoning"].endswith("</answer>")
    off = chat(qwen, messages=prefill, continue_final_message=True, add_generation_prompt=False,
               chat_template_kwargs={"enable_thinking": False})["choices"][0]["message"]
    assert off["reasoning"] is None and off["content"].endswith("</answer>")
    with VLLMServer(QWEN, qwen3_parser="strict") as old:
        msg = chat(old, messages=prefill, continue_final_message=True, add_generation_prompt=False)
        assert msg["choices"][0]["message"]["reasoning"] is None


def test_r1_distill_and_open_think_continuation():
    with VLLMServer(R1) as server:
        data = chat(server)
        assert server.prompts[-1].endswith("<｜Assistant｜><think>\n")
        msg = data["choices"][0]["message"]
        assert "<answer>42</answer>" in msg["content"] and msg["reasoning"]
        cont = chat(server, messages=ASK + [{"role": "assistant", "content": "<think>\nhmm Wait"}],
                    continue_final_message=True, add_generation_prompt=False)["choices"][0]["message"]
        assert len(cont["reasoning"].split()) == 24 and "<answer>" in cont["content"]
        closed = post(server, {"model": R1, "messages": ASK + [{"role": "assistant", "content": "<think>\nx\n</think>\n\nok"}],
                               "continue_final_message": True, "add_generation_prompt": False})
        assert closed.status_code == 400 and "does not appear" in closed.json()["error"]["message"]


def test_n_seed_length_and_token_caps(qwen):
    data = chat(qwen, n=3, temperature=0.7)
    assert len(data["choices"]) == 3
    assert data["usage"]["completion_tokens"] == sum(
        len(((c["message"]["reasoning"] or "") + " " + (c["message"]["content"] or "")).split()) + 2  # + the 2 tags
        for c in data["choices"])
    greedy = post(qwen, {"model": QWEN, "messages": ASK, "n": 2, "temperature": 0})
    assert greedy.status_code == 400 and "greedy" in greedy.json()["error"]["message"]
    cut = chat(qwen, max_tokens=5)["choices"][0]
    assert cut["finish_reason"] == "length" and cut["message"]["content"] is None and cut["message"]["reasoning"]
    chat(qwen, max_tokens=5, max_completion_tokens=9)
    assert qwen.sampling[-1]["max_tokens"] == 9  # max_completion_tokens wins
    assert post(qwen, {"model": QWEN, "messages": ASK, "max_tokens": 0}).status_code == 400
    assert post(qwen, {"model": QWEN, "messages": ASK, "max_tokens": 50000}).status_code == 400


def test_unknown_fields_ignored_and_stream(qwen):
    assert chat(qwen, thinking_budget=3, enable_thinking=False)["usage"] == chat(qwen)["usage"]
    r = post(qwen, {"model": QWEN, "messages": ASK, "seed": 7, "stream": True,
                    "stream_options": {"include_usage": True}})
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    assert r.text.rstrip().endswith("data: [DONE]")
    assert any("reasoning" in e["choices"][0]["delta"] for e in events if e["choices"])
    assert events[-1]["usage"]["completion_tokens"] > 0
    assert post(qwen, {"model": QWEN, "messages": ASK, "stream_options": {"include_usage": True}}).status_code == 400
