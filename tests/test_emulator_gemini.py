"""Self-test of the Gemini OpenAI-compatibility emulation, driven with httpx directly. Each rule
gets one or two assertions; sources are cited in tests/emulators/gemini_api.py."""

import httpx
import pytest

from emulators.gemini_api import GeminiServer

AUTH = {"Authorization": "Bearer test-key"}
Q = [{"role": "user", "content": "Compute 37 + 48."}]


@pytest.fixture(scope="module")
def server():
    with GeminiServer() as s:
        yield s


def chat(server, headers=AUTH, **body):
    body.setdefault("model", "gemini-2.5-flash")
    body.setdefault("messages", Q)
    return httpx.post(server.base_url + "/chat/completions", json=body, headers=headers)


def google(**thinking_config):
    return {"google": {"thinking_config": thinking_config}}


def err(r):
    body = r.json()
    assert isinstance(body, list)  # errors come wrapped in a list
    return body[0]["error"]


def test_base_url_auth_and_models(server):
    assert server.base_url.endswith("/v1beta/openai")
    bad = chat(server, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 400 and err(bad)["details"][0]["reason"] == "API_KEY_INVALID"
    assert chat(server, headers={}).status_code == 403
    models = httpx.get(server.base_url + "/models", headers=AUTH).json()["data"]
    assert {"id": "models/gemini-2.5-flash", "object": "model", "owned_by": "google",
            "display_name": "Gemini 2.5 Flash"} in models


def test_dynamic_thinking_usage(server):
    body = chat(server).json()
    usage = body["usage"]
    assert body["choices"][0]["message"]["content"] == "<answer>85</answer>"
    assert usage["completion_tokens"] == 1  # visible answer only
    assert usage["total_tokens"] > usage["prompt_tokens"] + usage["completion_tokens"]  # thoughts only in total
    assert "completion_tokens_details" not in usage
    with GeminiServer(reasoning_tokens_detail=True) as s:
        u = chat(s).json()["usage"]
        assert u["completion_tokens_details"]["reasoning_tokens"] == u["total_tokens"] - u["prompt_tokens"] - 1


def test_reasoning_effort(server):
    off = chat(server, reasoning_effort="none").json()["usage"]
    assert off["total_tokens"] == off["prompt_tokens"] + off["completion_tokens"]
    pro = chat(server, model="gemini-2.5-pro", reasoning_effort="none")
    assert pro.status_code == 400 and err(pro)["message"] == "Budget 0 is invalid. This model only works in thinking mode."
    minimal = chat(server, reasoning_effort="minimal")
    assert minimal.status_code == 400 and err(minimal)["status"] == "INVALID_ARGUMENT"
    assert chat(server, model="gemini-2.5-pro", reasoning_effort="low").status_code == 200
    assert chat(server, model="models/gemini-2.5-flash", reasoning_effort="high").status_code == 200
    with GeminiServer(accept_minimal=True) as s:
        assert chat(s, model="gemini-3-flash-preview", reasoning_effort="minimal").status_code == 200


def test_thinking_config(server):
    both = chat(server, reasoning_effort="low", extra_body=google(thinking_budget=1024))
    assert both.status_code == 400
    assert chat(server, reasoning_effort="low", extra_body=google(include_thoughts=True)).status_code == 200
    flash = chat(server, extra_body=google(thinking_budget=30000))
    assert flash.status_code == 400 and "between 0 and 24576" in err(flash)["message"]
    pro = chat(server, model="gemini-2.5-pro", extra_body=google(thinking_budget=50))
    assert pro.status_code == 400 and "between 128 and 32768" in err(pro)["message"]
    assert chat(server, model="gemini-2.5-pro", extra_body=google(thinking_budget=-1)).status_code == 200
    off = chat(server, extra_body=google(thinking_budget=0)).json()["usage"]
    assert off["total_tokens"] == off["prompt_tokens"] + off["completion_tokens"]
    top_level = chat(server, google={"thinking_config": {"thinking_budget": 0}}).json()["usage"]  # not read
    assert top_level["total_tokens"] > top_level["prompt_tokens"] + top_level["completion_tokens"]


def test_thinking_levels(server):
    level = chat(server, extra_body=google(thinking_level="low"))
    assert level.status_code == 400 and "Thinking level is not supported" in err(level)["message"]
    medium = chat(server, model="gemini-3-pro-preview", reasoning_effort="medium")
    assert medium.status_code == 400 and "MEDIUM is not supported" in err(medium)["message"]
    three = chat(server, model="gemini-3-flash-preview", extra_body=google(thinking_level="LOW"))
    assert three.status_code == 200
    assert three.json()["choices"][0]["message"]["extra_content"]["google"]["thought_signature"]


def test_thought_summaries_in_content(server):
    r = chat(server, extra_body=google(thinking_budget=1024, include_thoughts=True)).json()
    msg = r["choices"][0]["message"]
    assert msg["content"].startswith("<thought>") and msg["content"].endswith("</thought><answer>85</answer>")
    assert msg["extra_content"] == {"google": {"thought": True}}
    assert "reasoning_content" not in msg and r["usage"]["completion_tokens"] == 1


def test_n_and_seed(server):
    r = chat(server, n=3, seed=7).json()
    assert [c["index"] for c in r["choices"]] == [0, 1, 2] and r["usage"]["completion_tokens"] == 3
    assert chat(server, n=9).status_code == 400
    three = chat(server, model="gemini-3-flash-preview", n=2)
    assert three.status_code == 400 and err(three)["message"] == "Multiple candidates is not enabled for this model"
    a = chat(server, seed=3, extra_body=google(thinking_budget=40)).json()["choices"][0]["message"]["content"]
    b = chat(server, seed=3, extra_body=google(thinking_budget=40)).json()["choices"][0]["message"]["content"]
    assert a == b


def test_max_tokens_include_thoughts(server):
    r = chat(server, max_tokens=20).json()
    assert r["choices"][0]["finish_reason"] == "length" and r["choices"][0]["message"]["content"] is None
    assert r["usage"]["completion_tokens"] == 0 and r["usage"]["total_tokens"] > r["usage"]["prompt_tokens"]


def test_accuracy_rises_with_budget():
    questions = [f"Compute {a} + {a * 7 % 90 + 11}." for a in range(10, 50)]
    with GeminiServer(budget_scale=1 / 32) as s:
        def accuracy(effort):
            right = 0
            for q in questions:
                a, b = (int(x) for x in q[8:-1].split(" + "))
                r = chat(s, messages=[{"role": "user", "content": q}], reasoning_effort=effort, seed=1)
                right += r.json()["choices"][0]["message"]["content"] == f"<answer>{a + b}</answer>"
            return right / len(questions)
        assert accuracy("none") < accuracy("low") < accuracy("high") == 1.0


def test_errors_and_stream(server):
    missing = chat(server, model="gemini-9")
    assert missing.status_code == 404 and err(missing)["status"] == "NOT_FOUND"
    s = chat(server, stream=True, stream_options={"include_usage": True})
    assert s.headers["content-type"].startswith("text/event-stream") and s.text.endswith("data: [DONE]\n\n")
    with GeminiServer(fail_mode="rate_limited", fail_count=1) as g:
        r = chat(g)
        e = err(r)
        assert r.status_code == 429 and e["status"] == "RESOURCE_EXHAUSTED"
        assert "PerMinute" in e["details"][0]["violations"][0]["quotaId"]
        assert chat(g).status_code == 200
    with GeminiServer(fail_mode="quota_exhausted") as g:
        e = err(chat(g))
        assert "PerDay" in e["details"][0]["violations"][0]["quotaId"] and len(e["details"]) == 1
