"""Self-test of the Ollama emulation (tests/emulators/ollama.py), driven with httpx."""

import httpx
import pytest

from emulators.ollama import OllamaServer

Q = {"role": "user", "content": "Compute 12 + 30."}


def post(server, body):
    return httpx.post(server.base_url + "/chat/completions", json=body, timeout=10)


@pytest.fixture
def server():
    with OllamaServer(also_pulled={"qwen2.5:7b": False}) as s:
        yield s


def test_models_and_native_listing(server):
    body = httpx.get(server.base_url + "/models").json()  # no key needed (local server has no auth)
    assert body["object"] == "list"
    assert {m["id"]: m["owned_by"] for m in body["data"]} == {"qwen3:8b": "library", "qwen2.5:7b": "library"}
    missing = httpx.get(server.base_url + "/models/llama3.2")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"message": "model 'llama3.2' not found", "type": "not_found_error",
                                        "param": None, "code": None}}
    assert [m["name"] for m in httpx.get(server.origin + "/api/tags").json()["models"]] == ["qwen3:8b", "qwen2.5:7b"]
    assert "version" in httpx.get(server.origin + "/api/version").json()
    caps = httpx.post(server.origin + "/api/show", json={"model": "qwen3:8b"}).json()["capabilities"]
    assert "thinking" in caps


def test_answer_reasoning_usage(server):
    body = post(server, {"model": "qwen3:8b", "messages": [Q], "seed": 1, "n": 3}).json()
    assert len(body["choices"]) == 1  # n is not read
    choice = body["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["content"] == "<answer>42</answer>"
    assert choice["message"]["reasoning"] and "reasoning_content" not in choice["message"]
    usage = body["usage"]
    assert set(usage) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert usage["completion_tokens"] == len(choice["message"]["reasoning"].split()) + 3
    assert body["system_fingerprint"] == "fp_ollama"


def test_token_cap(server):
    cut = post(server, {"model": "qwen3:8b", "messages": [Q], "max_tokens": 10}).json()
    assert cut["choices"][0]["finish_reason"] == "length" and cut["usage"]["completion_tokens"] == 10
    assert cut["choices"][0]["message"]["content"] == ""
    ignored = post(server, {"model": "qwen3:8b", "messages": [Q], "max_completion_tokens": 10}).json()
    assert ignored["choices"][0]["finish_reason"] == "stop" and ignored["usage"]["completion_tokens"] > 10


def test_reasoning_effort(server):
    off = post(server, {"model": "qwen3:8b", "messages": [Q], "reasoning_effort": "none"}).json()
    assert "reasoning" not in off["choices"][0]["message"]
    for effort in ("minimal", "low", "high", "xhigh", "max"):
        assert post(server, {"model": "qwen3:8b", "messages": [Q], "reasoning_effort": effort}).status_code == 200
    bad = post(server, {"model": "qwen3:8b", "messages": [Q], "reasoning_effort": "extreme"})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    assert bad.json()["error"]["message"].startswith('invalid reasoning value: "extreme"')
    plain = post(server, {"model": "qwen2.5:7b", "messages": [Q], "reasoning": {"effort": "high"}})
    assert plain.status_code == 400 and plain.json()["error"]["message"] == '"qwen2.5:7b" does not support thinking'
    assert post(server, {"model": "qwen2.5:7b", "messages": [Q], "reasoning_effort": "none"}).status_code == 200


def test_request_errors(server):
    r = post(server, {"model": "qwen3", "messages": [Q]})  # "qwen3" means qwen3:latest, not pulled
    assert r.status_code == 404 and r.json()["error"]["message"] == "model 'qwen3' not found"
    r = post(server, {"model": "qwen3:8b", "messages": []})
    assert r.status_code == 400 and r.json()["error"]["message"] == "[] is too short - 'messages'"


def test_prefill_continues_the_assistant_message(server):
    # the prompt ends with <think>: the parser starts inside the thinking block
    primed = post(server, {"model": "qwen3:8b", "messages": [Q, {"role": "assistant", "content": "<think>"}]}).json()
    assert primed["choices"][0]["message"]["reasoning"]
    # an open block that does not end the prompt: the continuation lands in content, </think> included
    partial = {"role": "assistant", "content": "<think>\nthe carry Wait"}
    msg = post(server, {"model": "qwen3:8b", "messages": [Q, partial], "seed": 1}).json()["choices"][0]["message"]
    assert "</think>" in msg["content"] and "reasoning" not in msg
    # reasoning sent in the message's "reasoning" field is rendered as a closed block: no more thinking
    closed = {"role": "assistant", "content": "", "reasoning": "the carry check"}
    msg = post(server, {"model": "qwen3:8b", "messages": [Q, closed], "seed": 1}).json()["choices"][0]["message"]
    assert msg["content"].startswith("<answer>") and "reasoning" not in msg


def test_native_chat_and_stream(server):
    r = httpx.post(server.origin + "/api/chat", json={"model": "qwen3:8b", "messages": [Q], "stream": False, "seed": 1})
    body = r.json()
    assert body["done"] is True and body["message"]["thinking"] and body["eval_count"] > 0
    bad = httpx.post(server.origin + "/api/chat", json={"model": "qwen3:8b", "messages": [Q], "think": "huge"})
    assert bad.status_code == 400 and "invalid think value" in bad.json()["error"]
    gone = httpx.post(server.origin + "/api/chat", json={"model": "nope:1b", "messages": [Q]})
    assert gone.status_code == 404 and gone.json() == {"error": "model 'nope:1b' not found"}
    text = post(server, {"model": "qwen3:8b", "messages": [Q], "stream": True,
                         "stream_options": {"include_usage": True}}).text
    assert text.endswith("data: [DONE]\n\n") and '"usage"' in text and '"reasoning"' in text


def test_accuracy_rises_with_max_tokens_only_through_truncation(server):
    # Ollama has no thinking budget: a cap only truncates (finish "length", no answer)
    cut = post(server, {"model": "qwen3:8b", "messages": [Q], "max_tokens": 30, "reasoning_effort": "low"}).json()
    assert cut["choices"][0]["finish_reason"] == "length" and "<answer>" not in cut["choices"][0]["message"]["content"]


def test_busy_queue():
    with OllamaServer(busy=True) as s:
        r = post(s, {"model": "qwen3:8b", "messages": [Q]})
        assert r.status_code == 503 and r.json()["error"]["type"] == "api_error"
