"""Self-test of the SGLang emulation (tests/emulators/sglang_server.py), driven with httpx only."""

import json

import httpx
import pytest

from emulators.sglang_server import SGLangServer

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


def processor(name):
    """What CustomLogitProcessor.to_str() sends: {"callable": <dill bytes as hex>}."""
    return json.dumps({"callable": (b"\x80\x04dill._dill " + name.encode()).hex()})


@pytest.fixture
def qwen():
    with SGLangServer(QWEN) as server:
        yield server


def test_auth_models_and_unvalidated_model_name(qwen):
    assert httpx.get(qwen.base_url + "/models").status_code == 401
    r = post(qwen, {"messages": ASK}, headers={"Authorization": "bearer test-key"})  # exact match only
    assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"})
    card = httpx.get(qwen.base_url + "/models", headers=AUTH).json()["data"][0]
    assert (card["id"], card["owned_by"], card["root"]) == (QWEN, "sglang", QWEN)
    assert chat(qwen, model="gpt-4o")["model"] == "gpt-4o"  # any model name is served
    assert post(qwen, {"messages": ASK}).json()["model"] == "default"  # protocol DEFAULT_MODEL_NAME


def test_answer_reasoning_content_and_top_level_reasoning_tokens(qwen):
    data = chat(qwen)
    msg, usage = data["choices"][0]["message"], data["usage"]
    assert "<answer>42</answer>" in msg["content"] and msg["reasoning_content"] and "reasoning" not in msg
    # Counted up to and including </think>: the reasoning words plus <think> and </think>.
    assert usage["reasoning_tokens"] == len(msg["reasoning_content"].split()) + 2
    assert "completion_tokens_details" not in usage
    assert usage["completion_tokens"] == usage["reasoning_tokens"] + 1
    assert data["choices"][0]["matched_stop"] == 151645
    assert qwen.sampling[-1]["temperature"] == 0.6  # generation_config default
    with SGLangServer(QWEN, reports_reasoning_tokens=False) as old:
        assert chat(old)["usage"]["reasoning_tokens"] == 0


def test_separate_reasoning_false_and_thinking_switches(qwen):
    raw = chat(qwen, separate_reasoning=False)["choices"][0]["message"]
    assert raw["reasoning_content"] is None and raw["content"].startswith("<think>")
    off = chat(qwen, chat_template_kwargs={"enable_thinking": False})
    assert off["choices"][0]["message"]["reasoning_content"] is None and off["usage"]["reasoning_tokens"] == 0
    assert qwen.prompts[-1].endswith("<think>\n\n</think>\n\n")
    none = chat(qwen, reasoning_effort="none")["choices"][0]["message"]
    assert none["reasoning_content"] is None  # "none" defaults enable_thinking to false
    assert chat(qwen, reasoning_effort="low")["choices"] == chat(qwen)["choices"]
    assert post(qwen, {"messages": ASK, "reasoning_effort": True}).status_code == 400
    with SGLangServer(QWEN, legacy_reasoning_effort=True) as old:
        bad = post(old, {"messages": ASK, "reasoning_effort": "none"})
        assert bad.status_code == 400 and bad.json()["object"] == "error"


def test_budget_fields_are_ignored_and_custom_processor_rules(qwen):
    plain = chat(qwen)["usage"]
    assert chat(qwen, thinking_budget=4, thinking_token_budget=4, max_thinking_tokens=4)["usage"] == plain
    r = post(qwen, {"messages": ASK, "custom_logit_processor": processor("Qwen3ThinkingBudgetLogitProcessor"),
                    "custom_params": {"thinking_budget": 4}})
    assert r.status_code == 400 and "--enable-custom-logit-processor" in r.json()["message"]
    with SGLangServer(QWEN, enable_custom_logit_processor=True) as server:
        data = chat(server, custom_logit_processor=processor("Qwen3ThinkingBudgetLogitProcessor"),
                    custom_params={"thinking_budget": 4})
        assert len(data["choices"][0]["message"]["reasoning_content"].split()) == 4
    with SGLangServer(R1, enable_custom_logit_processor=True) as server:  # ids do not match R1-Distill
        free = chat(server)["usage"]
        for name in ("Qwen3ThinkingBudgetLogitProcessor", "DeepSeekR1ThinkingBudgetLogitProcessor"):
            assert chat(server, custom_logit_processor=processor(name),
                        custom_params={"thinking_budget": 4})["usage"] == free


def test_continue_final_message(qwen):
    closed = ASK + [{"role": "assistant", "content": "<think>\nadd them\n</think>\n\n<answer>"}]
    data = chat(qwen, messages=closed, continue_final_message=True)  # no add_generation_prompt needed
    assert qwen.prompts[-1].endswith("<|im_start|>assistant\n<think>\nadd them\n</think>\n\n<answer>")
    msg = data["choices"][0]["message"]
    assert msg["reasoning_content"] is None and msg["content"].endswith("</answer>")
    assert data["usage"]["reasoning_tokens"] == data["usage"]["completion_tokens"]  # no </think> generated
    opened = chat(qwen, messages=ASK + [{"role": "assistant", "content": "<think>\nhmm Wait"}],
                  continue_final_message=True)["choices"][0]["message"]
    assert len(opened["reasoning_content"].split()) == 24 and "<answer>" in opened["content"]
    with SGLangServer(QWEN, continuation_aware_parser=False) as old:
        msg = chat(old, messages=closed, continue_final_message=True)["choices"][0]["message"]
        assert msg["content"] == "" and msg["reasoning_content"].endswith("</answer>")
    chat(qwen, messages=closed)  # no continue flag: the trailing assistant becomes a user turn
    assert qwen.prompts[-1].endswith("<|im_start|>user\n<think>\nadd them\n</think>\n\n<answer><|im_end|>\n"
                                     "<|im_start|>assistant\n")


def test_r1_distill():
    with SGLangServer(R1) as server:
        data = chat(server)
        assert server.prompts[-1].endswith("<｜Assistant｜><think>\n")
        msg = data["choices"][0]["message"]
        assert "<answer>42</answer>" in msg["content"] and msg["reasoning_content"]
        assert data["usage"]["reasoning_tokens"] == len(msg["reasoning_content"].split()) + 1


def test_n_seed_length_and_errors(qwen):
    data = chat(qwen, n=3)
    assert len(data["choices"]) == 3 and len({json.dumps(c["message"]) for c in data["choices"]}) == 1
    assert data["usage"]["completion_tokens"] == 3 * chat(qwen)["usage"]["completion_tokens"]
    cut = chat(qwen, max_tokens=5)["choices"][0]
    assert cut["finish_reason"] == "length" and cut["message"]["content"] == "" and cut["matched_stop"] is None
    big = post(qwen, {"messages": ASK, "max_tokens": 50000})
    assert big.status_code == 400
    assert big.json()["message"].startswith("Requested token count exceeds the model's maximum context length")
    assert set(big.json()) == {"object", "message", "type", "param", "code"}
    assert post(qwen, {"messages": ASK, "top_p": 0}).status_code == 400
    r = post(qwen, {"messages": ASK, "stream": True, "stream_options": {"include_usage": True}})
    events = [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: {")]
    assert any("reasoning_content" in e["choices"][0]["delta"] for e in events if e["choices"])
    assert events[-1]["usage"]["reasoning_tokens"] > 0 and r.text.rstrip().endswith("data: [DONE]")
