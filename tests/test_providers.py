"""ttc-bench against independent emulations of each provider's documented behaviour
(tests/emulators/, every rule cited there): every supported (profile, budget kind) pair
completes with zero error rows, every unsupported pair stops before any chat request with
one line, and budget forcing on thinking models answers at every budget."""

from __future__ import annotations

import json

import httpx
import pytest

from emulators import templates
from emulators.anthropic_api import AnthropicServer
from emulators.deepseek import DeepSeekServer
from emulators.gemini_api import GeminiServer
from emulators.llama_server import LlamaServer
from emulators.ollama import OllamaServer
from emulators.openai_api import OpenAIServer
from emulators.sglang_server import SGLangServer
from emulators.toy_model import ToyModel
from emulators.vllm_server import VLLMServer
from test_run_fake import run_dir

KEY = "test-key"

# (id, server factory, model, --api or None for auto, supported budgets, unsupported budgets)
PROVIDERS = [
    ("openai-gpt5", lambda: OpenAIServer("gpt-5-mini"), "gpt-5-mini", None,
     ["tokens:2048", "effort:minimal", "effort:high"], ["thinking:1024", "forced:256", "effort:xhigh"]),
    ("openai-o4", lambda: OpenAIServer("o4-mini"), "o4-mini", None, ["effort:low", "effort:high"], ["effort:minimal"]),
    ("openai-chat", lambda: OpenAIServer("gpt-4.1"), "gpt-4.1", None, ["tokens:256"], ["effort:low"]),
    ("anthropic", lambda: AnthropicServer(budget_scale=1 / 64), "claude-sonnet-4-5", "anthropic",
     ["tokens:1024", "thinking:2048", "thinking:8192"], ["effort:high", "forced:256", "thinking:512"]),
    ("gemini", lambda: GeminiServer(budget_scale=1 / 64), "gemini-2.5-flash", None,
     ["tokens:4096", "effort:low", "effort:high", "thinking:2048"], ["forced:256", "thinking:99999"]),
    ("deepseek", lambda: DeepSeekServer(), "deepseek-v4-flash", None,
     ["tokens:4096", "effort:low", "effort:high", "forced:64", "forced:256"], ["thinking:1024", "forced:64:min=32"]),
    ("vllm", lambda: VLLMServer(), "Qwen/Qwen3-8B", None,
     ["tokens:512", "effort:low", "thinking:64", "thinking:256", "forced:64", "forced:256"], ["forced:64:min=32"]),
    ("sglang", lambda: SGLangServer(), "Qwen/Qwen3-8B", None,
     ["tokens:512", "effort:high", "forced:64", "forced:256", "forced:256:min=128"], ["thinking:256"]),
    ("llama-server", lambda: LlamaServer(), LlamaServer.DEFAULT_MODEL, None,
     ["tokens:512", "thinking:64", "thinking:256", "forced:64", "forced:256"], ["effort:low", "forced:64:min=32"]),
    ("ollama", lambda: OllamaServer(), "qwen3:8b", None,
     ["tokens:512", "effort:low", "forced:64", "forced:256", "forced:256:min=128"], ["thinking:256"]),
]


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def run(run_cli, server, model, api, out, budgets, *extra, limit=4, samples=2):
    args = ["run", "--base-url", server.base_url, "--model", model, "--out", out, "--no-progress",
            "--tasks", "arithmetic:add-2d", "--limit", limit, "--samples", samples, "--budgets", *budgets, *extra]
    if api:
        args += ["--api", api]
    return run_cli(*args)


def rows(out) -> list[dict]:
    return [json.loads(line) for line in (run_dir(out) / "samples.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name, factory, model, api, supported, unsupported", PROVIDERS, ids=[p[0] for p in PROVIDERS])
def test_every_supported_budget_completes_without_errors(tmp_path, run_cli, name, factory, model, api, supported, unsupported):
    with factory() as server:
        code, out, err = run(run_cli, server, model, api, tmp_path, supported)
        statuses = [r for r in server.received("POST")]
    assert code == 0, err
    found = rows(tmp_path)
    assert len(found) == 4 * 2 * len(supported)
    assert [r["error"] for r in found if r["error"]] == []
    assert sum(r["parse_ok"] for r in found) >= 0.9 * len(found), "answers must reach the parser"
    assert statuses  # the emulation really served the run
    manifest = json.loads((run_dir(tmp_path) / "manifest.json").read_text())
    assert manifest["endpoint"]["api"] == (api or server.PROFILE).replace("anthropic", "anthropic")
    assert manifest["sampling"]["sent"] == {}  # nothing the user did not set


@pytest.mark.parametrize("name, factory, model, api, supported, unsupported", PROVIDERS, ids=[p[0] for p in PROVIDERS])
def test_every_unsupported_budget_stops_before_any_chat_request(tmp_path, run_cli, name, factory, model, api, supported, unsupported):
    for budget in unsupported:
        with factory() as server:
            code, out, err = run(run_cli, server, model, api, tmp_path / budget.replace(":", "-"), [budget])
            chats = server.chat_bodies()
        assert code == 2 and chats == [], (budget, err)
        assert err.startswith("error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("factory, model", [
    (lambda: VLLMServer(), "Qwen/Qwen3-8B"),
    (lambda: VLLMServer(reasoning_field="reasoning_content", reports_reasoning_tokens=False, qwen3_parser="strict"), "Qwen/Qwen3-8B"),
    (lambda: SGLangServer(), "Qwen/Qwen3-8B"),
    (lambda: LlamaServer(), LlamaServer.DEFAULT_MODEL),
    (lambda: OllamaServer(), "qwen3:8b"),
    (lambda: DeepSeekServer(), "deepseek-v4-flash"),
], ids=["vllm", "vllm-0.11", "sglang", "llama-server", "ollama", "deepseek"])
def test_forcing_a_thinking_model_answers_at_every_budget_and_accuracy_rises(tmp_path, run_cli, factory, model):
    budgets = [16, 64, 256]
    with factory() as server:
        code, out, err = run(run_cli, server, model, None, tmp_path, [f"forced:{n}" for n in budgets], limit=10, samples=2)
    assert code == 0, err
    found = rows(tmp_path)
    accuracy = []
    for n in budgets:
        group = [r for r in found if r["budget"] == f"forced:{n}"]
        assert len(group) == 20 and all(r["error"] is None for r in group)
        assert sum(r["parse_ok"] for r in group) / len(group) >= 0.9, n
        used = sorted(r["reasoning_tokens"] for r in group)
        assert used[int(0.9 * (len(used) - 1))] <= n, (n, used)
        accuracy.append(sum(r["correct"] for r in group) / len(group))
    assert accuracy == sorted(accuracy) and accuracy[-1] > accuracy[0], accuracy


def test_two_turn_forcing_gets_no_answer_from_a_thinking_model():
    """What ttc-bench used to send: the cut-off turn back as an empty assistant message, then
    a user turn asking for the answer. Qwen3's template drops the reasoning and the model
    starts thinking again, so no answer comes back within the answer cap."""
    with VLLMServer() as server:
        messages = [{"role": "user", "content": "Compute 17 + 25.\nThink step by step."}]
        first = httpx.post(f"{server.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                           json={"model": "Qwen/Qwen3-8B", "messages": messages, "max_tokens": 16}).json()
        assert first["choices"][0]["finish_reason"] == "length"
        messages += [{"role": "assistant", "content": ""}, {"role": "user", "content": "Time is up. Reply with <answer>...</answer>."}]
        second = httpx.post(f"{server.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                            json={"model": "Qwen/Qwen3-8B", "messages": messages, "max_tokens": 24}).json()
    message = second["choices"][0]["message"]
    assert "<answer>" not in (message.get("content") or "") and second["choices"][0]["finish_reason"] == "length"


def test_always_sent_sampling_is_refused_by_a_reasoning_model():
    """What ttc-bench used to send on every request: temperature 0.7 and top_p 0.95."""
    with OpenAIServer("o4-mini") as server:
        answer = httpx.post(f"{server.base_url}/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                            json={"model": "o4-mini", "messages": [{"role": "user", "content": "Compute 1 + 1."}],
                                  "temperature": 0.7, "top_p": 0.95, "max_completion_tokens": 64})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "unsupported_value"


def test_sampling_a_reasoning_model_refuses_is_refused_before_any_request(tmp_path, run_cli):
    with OpenAIServer("o4-mini") as server:
        code, _, err = run(run_cli, server, "o4-mini", None, tmp_path, ["effort:low"], "--temperature", "0.7")
        assert code == 2 and server.chat_bodies() == []
    assert "does not accept temperature" in err and "--temperature" in err


def test_sampling_set_by_the_user_is_sent_where_accepted(tmp_path, run_cli):
    with OpenAIServer("gpt-4.1") as server:
        code, _, err = run(run_cli, server, "gpt-4.1", None, tmp_path, ["tokens:256"], "--temperature", "0.5")
        bodies = server.chat_bodies()
    assert code == 0, err
    assert all(b["temperature"] == 0.5 and "top_p" not in b for b in bodies)
    manifest = json.loads((run_dir(tmp_path) / "manifest.json").read_text())
    assert manifest["sampling"]["sent"] == {"temperature": 0.5}


def test_an_exhausted_quota_stops_the_run_at_the_first_request(tmp_path, run_cli):
    with OpenAIServer("gpt-5-mini", quota_exhausted=True) as server:
        code, _, err = run(run_cli, server, "gpt-5-mini", None, tmp_path, ["effort:low"])
        chats = server.chat_bodies()
    assert code == 2 and len(chats) == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and "quota" in err


@pytest.mark.parametrize("factory, model, words", [
    (lambda: LlamaServer(legacy=True), LlamaServer.DEFAULT_MODEL, "does not serve n"),
    (lambda: DeepSeekServer(), "deepseek-v4-flash", "refuses n"),
    (lambda: OllamaServer(), "qwen3:8b", "ignores n"),
], ids=["llama-server-old", "deepseek", "ollama"])
def test_n_that_a_server_refuses_or_ignores_falls_back_to_single_requests(tmp_path, run_cli, factory, model, words):
    with factory() as server:
        code, out, err = run(run_cli, server, model, None, tmp_path, ["tokens:512"], "--n-param", samples=3)
        chats = server.chat_bodies()
    assert code == 0, err
    found = rows(tmp_path)
    assert len(found) == 12 and all(r["error"] is None for r in found)
    assert len([line for line in out.splitlines() if line.startswith("warning:") and words in line]) == 1
    assert len(chats) <= 12 + 1  # never retried as a transient fault


def test_anthropic_preflight_uses_its_documented_headers(tmp_path, run_cli):
    with AnthropicServer() as server:
        code, _, err = run(run_cli, server, "claude-sonnet-4-5", "anthropic", tmp_path, ["tokens:1024"])
        (models,) = server.received("GET", "/models")
    assert code == 0, err
    assert models.header("x-api-key") == KEY and models.header("anthropic-version")


def test_hidden_reasoning_is_unknown_not_zero(tmp_path, run_cli):
    with AnthropicServer(budget_scale=1 / 64) as server:
        code, _, err = run(run_cli, server, "claude-sonnet-4-5", "anthropic", tmp_path, ["thinking:2048"])
    assert code == 0, err
    assert all(r["reasoning_tokens"] is None and r["reasoning_tokens_estimated"] for r in rows(tmp_path))


def test_gemini_thought_summaries_never_reach_the_parser_and_thoughts_are_counted(tmp_path, run_cli):
    with GeminiServer(budget_scale=1 / 64) as server:
        code, _, err = run(run_cli, server, "gemini-2.5-flash", None, tmp_path, ["thinking:4096"])
    assert code == 0, err
    for r in rows(tmp_path):
        assert "<thought>" not in r["response"] and r["reasoning"]
        # Gemini's completion count leaves the thoughts out; ttc-bench adds them back.
        assert r["reasoning_tokens"] > 0 and r["completion_tokens"] > r["reasoning_tokens"] and r["reasoning_added"]


def test_openai_reasoning_tokens_come_from_usage_details(tmp_path, run_cli):
    with OpenAIServer("o4-mini") as server:
        code, _, err = run(run_cli, server, "o4-mini", None, tmp_path, ["effort:high"])
    assert code == 0, err
    assert all(r["reasoning_tokens"] > 0 and not r["reasoning_tokens_estimated"] and r["reasoning"] is None
               for r in rows(tmp_path))


def test_sglang_reasoning_tokens_come_from_top_level_usage(tmp_path, run_cli):
    with SGLangServer() as server:
        code, _, err = run(run_cli, server, "Qwen/Qwen3-8B", None, tmp_path, ["tokens:512"])
    assert code == 0, err
    assert all(r["reasoning_tokens"] > 0 and not r["reasoning_tokens_estimated"] for r in rows(tmp_path))


def test_documented_no_op_budgets_are_warned_at_plan_time(tmp_path, run_cli):
    with VLLMServer() as server:
        code, out, err = run(run_cli, server, "Qwen/Qwen3-8B", None, tmp_path, ["effort:low", "effort:high"])
    assert code == 0, err
    assert "warning: effort:low: vLLM hands reasoning_effort to the chat template" in out


def test_the_profile_chosen_is_printed_and_recorded(tmp_path, run_cli):
    with OllamaServer() as server:
        code, out, err = run(run_cli, server, "qwen3:8b", None, tmp_path, ["tokens:512"])
    assert code == 0, err
    assert "endpoint: Ollama" in out
    manifest = json.loads((run_dir(tmp_path) / "manifest.json").read_text())
    assert manifest["endpoint"]["api"] == "ollama" and "owned_by" in manifest["endpoint"]["profile_chosen_by"]
    assert manifest["engine"]["name"] == "Ollama" and manifest["engine"]["version"]  # from GET /api/version
    assert manifest["requests"]["arithmetic tokens:512"] == {"max_tokens": 512}


def test_a_model_the_server_does_not_list_stops_at_the_preflight(tmp_path, run_cli):
    with VLLMServer() as server:
        code, _, err = run(run_cli, server, "Qwen/Qwen3-32B", None, tmp_path, ["tokens:512"])
        chats = server.chat_bodies()
    assert code == 2 and chats == []
    assert "does not serve model 'Qwen/Qwen3-32B'" in err and "Qwen/Qwen3-8B" in err


def test_r1_template_on_vllm_cannot_be_continued_and_says_so(tmp_path, run_cli):
    """DeepSeek-R1's template strips the reasoning from the message being continued, which
    vLLM answers with transformers' 400: the first forced sample stops the run in one line."""
    with VLLMServer("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B") as server:
        code, _, err = run(run_cli, server, "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", None, tmp_path, ["forced:16"])
    assert code == 2 and err.count("\n") == 1
    assert "refused to continue a cut-off forced:16 answer" in err and "final message does not appear" in err


def test_toy_thinking_model_needs_thought():
    """The emulations' model: an answer given with no thinking is wrong more often than not."""
    model = ToyModel(thinking=True)
    prompts = [templates.render("qwen3", [{"role": "user", "content": f"Compute {a} + {a + 7}."}], enable_thinking=False)
               for a in range(10, 30)]
    right = sum(f"<answer>{2 * a + 7}</answer>" in model.generate(p, 64, seed=1).text for a, p in zip(range(10, 30), prompts))
    assert right <= 5


@pytest.mark.parametrize("name, factory, model, api, supported, unsupported", PROVIDERS, ids=[p[0] for p in PROVIDERS])
def test_probe_reports_what_each_emulation_does(tmp_path, run_cli, name, factory, model, api, supported, unsupported):
    report_path = tmp_path / "probe.json"
    with factory() as server:
        args = ["probe", "--base-url", server.base_url, "--model", model, "--json", report_path] + (["--api", api] if api else [])
        code, out, err = run_cli(*args)
        chats = server.chat_bodies()
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert report["profile"] == (api or server.PROFILE)
    assert len(chats) <= 30  # a handful of requests
    checks = {f["what"]: f for f in report["findings"]}
    assert {"preflight", "reasoning text", "temperature=0.7", "n=2", "seed"} <= checks.keys()
    # The profile's documented sampling rules agree with what the emulation does.
    assert checks["temperature=0.7"]["ok"] and checks["top_p=0.9"]["ok"], checks
    budgets = {b["budget"]: b for b in report["budgets"]}
    for label in supported:
        if label in budgets:
            assert budgets[label]["status"] in ("ok", "NO EFFECT"), budgets[label]


def test_probe_flags_a_thinking_budget_the_server_silently_ignores(tmp_path, run_cli):
    report_path = tmp_path / "probe.json"
    with VLLMServer(supports_thinking_budget=False) as server:  # vLLM < 0.19 drops the field
        code, out, err = run_cli("probe", "--base-url", server.base_url, "--model", "Qwen/Qwen3-8B",
                                 "--budgets", "thinking:32", "thinking:1024", "--json", report_path)
    assert code == 0, err
    budgets = {b["budget"]: b for b in json.loads(report_path.read_text())["budgets"]}
    assert budgets["thinking:32"]["status"] in ("IGNORED", "NO EFFECT")
    assert "IGNORED" in out or "NO EFFECT" in out
    with VLLMServer() as server:  # a release that honours it
        code, out, err = run_cli("probe", "--base-url", server.base_url, "--model", "Qwen/Qwen3-8B",
                                 "--budgets", "thinking:32", "thinking:1024", "--json", report_path)
    budgets = {b["budget"]: b for b in json.loads(report_path.read_text())["budgets"]}
    assert budgets["thinking:32"]["status"] == "ok" and budgets["thinking:32"]["used"] <= 32


def test_a_refused_continuation_stops_the_run_even_after_the_first_sample(tmp_path, run_cli):
    """R1's template on vLLM: when the first sample ends on its own and a later one is cut
    off, the refused continuation still stops the run at once (the mechanism cannot work)."""
    with VLLMServer("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B") as server:
        code, _, err = run(run_cli, server, "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", None, tmp_path, ["forced:120"],
                           limit=10, samples=2)
        chats = server.chat_bodies()
    assert code == 2 and err.count("\n") == 1 and "refused to continue a cut-off forced:120 answer" in err
    assert len(chats) < 30


def test_gemini_n_requests_stay_within_its_candidate_limit(tmp_path, run_cli):
    with GeminiServer(budget_scale=1 / 64) as server:
        code, _, err = run(run_cli, server, "gemini-2.5-flash", None, tmp_path, ["tokens:4096"], "--n-param", samples=10)
        bodies = server.chat_bodies()
    assert code == 0, err
    assert max(b.get("n", 1) for b in bodies) <= 8
    assert all(r["error"] is None for r in rows(tmp_path))


def test_a_server_that_reports_zero_reasoning_tokens_beside_reasoning_is_estimated(tmp_path, run_cli):
    with SGLangServer(reports_reasoning_tokens=False) as server:
        code, _, err = run(run_cli, server, "Qwen/Qwen3-8B", None, tmp_path, ["forced:256:min=128"])
    assert code == 0, err
    for r in rows(tmp_path):
        assert r["reasoning_tokens_estimated"] and 0 < r["reasoning_tokens"] <= 256 and r["turns"] <= 4
