"""Emulation of the OpenAI Chat Completions API (https://api.openai.com/v1), written from
OpenAI's API reference, the openai/openai-python generated types, and real error bodies
quoted in public issue threads (each rule below names its source).

Behind it sits the toy model (tests/emulators/toy_model.py):

- non-reasoning models (gpt-3.5-turbo, gpt-4o*, gpt-4.1*) get the ChatML rendering and a
  *visible* reasoner: whatever it thinks is written into ``content``;
- reasoning models (o1, o3, o3-mini, o4-mini, gpt-5*, gpt-5.1, gpt-5.2) get the Qwen3
  rendering with an open think block and a *thinking* toy model. The reasoning is hidden:
  only ``content`` comes back, and the reasoning tokens appear only in
  ``usage.completion_tokens_details.reasoning_tokens``, counted inside
  ``completion_tokens`` (openai-python src/openai/types/completion_usage.py;
  ``max_completion_tokens`` is "an upper bound ... including visible output tokens and
  reasoning tokens", src/openai/types/chat/completion_create_params.py).

``reasoning_effort`` sets how many toy thinking tokens the model may spend before it must
answer. The numbers are this emulation's choice (the toy model needs 8..172 tokens):
minimal 8, low 32, medium 96, high 192, xhigh 384; "none" means no reasoning at all.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from dataclasses import dataclass

from . import templates
from .base import EmulatedServer, Reply, Request, json_reply
from .toy_model import THINK_CLOSE, ToyModel, count_tokens

EFFORT_THINK_CAP = {"none": 0, "minimal": 8, "low": 32, "medium": 96, "high": 192, "xhigh": 384}


@dataclass(frozen=True)
class ModelSpec:
    snapshot: str  # what the response's "model" field says (responses name the dated snapshot)
    owned_by: str
    created: int
    max_output: int  # largest max_(completion_)tokens the model accepts
    efforts: tuple[str, ...] | None = None  # None: not a reasoning model
    default_effort: str | None = None
    # How sampling parameters (temperature, top_p) are treated:
    #  "any"         non-reasoning models: 0..2 / 0..1
    #  "default"     only the default (1) is accepted, else 400 unsupported_value
    #  "rejected"    any value is 400 unsupported_parameter (o3-mini)
    #  "none-effort" accepted only when the effective reasoning effort is "none" (gpt-5.1+)
    sampling: str = "any"


# Catalog. Sources for the per-family rules:
# - reasoning_effort levels/defaults: openai-python completion_create_params.py docstring at
#   commit 87e46c25 (2026-06): "gpt-5.1 defaults to none ... supported values for gpt-5.1 are
#   none, low, medium, and high"; "All models before gpt-5.1 default to medium ... and do not
#   support none"; "xhigh is supported for all models after gpt-5.1-codex-max". Per-model
#   subsets (gpt-5/mini/nano: minimal..high; gpt-5.2: none..xhigh) as listed in
#   anomalyco/models.dev PR #2351 citing developers.openai.com model pages; o-series
#   low/medium/high: the o-series-era docstring ("Currently supported values are low, medium,
#   and high", openai/openai-ruby lib/openai/models/reasoning_effort.rb, early version).
# - sampling: "Unsupported value: 'temperature' does not support 0 with this model. Only the
#   default (1) value is supported." (gpt-5: gabrii/Cursor-Azure-GPT-5#33; o1-mini:
#   OpenHands/OpenHands#4131); o3-mini: "Unsupported parameter: 'temperature' is not supported
#   with this model." code unsupported_parameter (chatboxai/chatbox#1830); gpt-5.1+: temperature,
#   top_p and logprobs are controllable only with reasoning effort "none" (vercel/ai#10932,
#   citing the OpenAI reasoning guide).
# - max output: "max_tokens is too large: 6000. This model supports at most 4096 completion
#   tokens, whereas you provided 6000." (diffbot/code-gpt-docs#284). The per-model limits are
#   the published model-page figures (16,384 for gpt-4o, 128,000 for gpt-5 ...).
# - owned_by: openai-python src/openai/types/model.py ("The organization that owns the
#   model"); current models list "system", older ones "openai". `created` values here are
#   illustrative.
CATALOG: dict[str, ModelSpec] = {
    "gpt-3.5-turbo": ModelSpec("gpt-3.5-turbo-0125", "openai", 1677610602, 4096),
    "gpt-4o": ModelSpec("gpt-4o-2024-08-06", "system", 1715367049, 16384),
    "gpt-4o-mini": ModelSpec("gpt-4o-mini-2024-07-18", "system", 1721172741, 16384),
    "gpt-4.1": ModelSpec("gpt-4.1-2025-04-14", "system", 1744316542, 32768),
    "gpt-4.1-mini": ModelSpec("gpt-4.1-mini-2025-04-14", "system", 1744318173, 32768),
    "o1": ModelSpec("o1-2024-12-17", "system", 1734326976, 100000, ("low", "medium", "high"), "medium", "default"),
    "o3-mini": ModelSpec("o3-mini-2025-01-31", "system", 1737146383, 100000, ("low", "medium", "high"), "medium", "rejected"),
    "o3": ModelSpec("o3-2025-04-16", "system", 1744133301, 100000, ("low", "medium", "high"), "medium", "default"),
    "o4-mini": ModelSpec("o4-mini-2025-04-16", "system", 1744225351, 100000, ("low", "medium", "high"), "medium", "default"),
    "gpt-5": ModelSpec("gpt-5-2025-08-07", "system", 1754425777, 128000, ("minimal", "low", "medium", "high"), "medium", "default"),
    "gpt-5-mini": ModelSpec("gpt-5-mini-2025-08-07", "system", 1754425867, 128000, ("minimal", "low", "medium", "high"), "medium", "default"),
    "gpt-5-nano": ModelSpec("gpt-5-nano-2025-08-07", "system", 1754426384, 128000, ("minimal", "low", "medium", "high"), "medium", "default"),
    "gpt-5.1": ModelSpec("gpt-5.1-2025-11-13", "system", 1762800000, 128000, ("none", "low", "medium", "high"), "none", "none-effort"),
    "gpt-5.2": ModelSpec("gpt-5.2-2025-12-11", "system", 1765400000, 128000, ("none", "low", "medium", "high", "xhigh"), "none", "none-effort"),
}

# Top-level request fields the API knows (openai-python completion_create_params.py,
# CompletionCreateParamsBase). Anything else: 400 "Unrecognized request argument supplied: X",
# param null, code null (e.g. `thinking`: nashsu/llm_wiki#336; `top_k`: xlinx/...#29).
KNOWN_FIELDS = {
    "messages", "model", "audio", "frequency_penalty", "function_call", "functions", "logit_bias",
    "logprobs", "max_completion_tokens", "max_tokens", "metadata", "modalities", "moderation", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
    "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
}


def error(status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
          code: str | None = None) -> Reply:
    """OpenAI's error envelope: {"error": {"message", "type", "param", "code"}} (every quoted
    body in this module has these four keys)."""
    return json_reply({"error": {"message": message, "type": type_, "param": param, "code": code}}, status)


def _fmt(value) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _oxford(values) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def think_then_answer(toy: ToyModel, prompt: str, think_cap: int | None, budget: int | None, seed):
    """Run a thinking toy model whose prompt ends inside an open think block.

    The model may think at most ``think_cap`` tokens (None: as long as it likes); past that,
    the block is closed for it and it answers from what it thought. ``budget`` caps all
    generated tokens (reasoning + answer). Returns (reasoning, reasoning_tokens, answer,
    answer_tokens, finish_reason); reasoning_tokens counts the closing tag too.
    """
    out = toy.generate(prompt, budget, seed)
    text = out.text
    if THINK_CLOSE in text:
        thought, _, answer = text.partition(THINK_CLOSE)
        if think_cap is None or count_tokens(thought) <= think_cap:
            return thought.strip(), count_tokens(thought) + 1, answer.strip(), count_tokens(answer), out.finish_reason
    elif think_cap is None or count_tokens(text) <= think_cap:
        return text.strip(), count_tokens(text), "", 0, "length"  # the budget ran out mid-thought
    thought = " ".join(text.split()[:think_cap])  # effort cap reached: close the block here
    used = think_cap + 1
    rest = None if budget is None else budget - used
    if rest is not None and rest <= 0:
        return thought, used, "", 0, "length"
    out2 = toy.generate(f"{prompt}{thought}\n{THINK_CLOSE}\n\n", rest, seed)
    return thought, used, out2.text.strip(), out2.tokens, out2.finish_reason


class OpenAIServer(EmulatedServer):
    """``OpenAIServer(model, api_key=..., quota_exhausted=False, rate_limit_first=0)``.

    - ``quota_exhausted``: every chat request gets the 429 ``insufficient_quota`` body.
    - ``rate_limit_first``: the first N chat requests get the 429 ``rate_limit_exceeded`` body.
    """

    PROFILE = "openai"
    DEFAULT_MODEL = "gpt-5-mini"
    api_prefix = "/v1"

    def __init__(self, model: str = DEFAULT_MODEL, *, api_key: str | None = "test-key",
                 quota_exhausted: bool = False, rate_limit_first: int = 0):
        if model not in CATALOG:
            raise ValueError(f"unknown OpenAI model {model!r}; known: {sorted(CATALOG)}")
        self.model = model
        self.api_key = api_key
        self.quota_exhausted = quota_exhausted
        self.rate_limit_left = rate_limit_first
        self._seeds = itertools.count(1)
        super().__init__()

    def routes(self) -> None:
        self.route("GET", r"/v1/models", self.list_models)
        self.route("GET", r"/v1/models/(?P<id>[^/]+)", self.get_model)
        self.route("POST", r"/v1/chat/completions", self.chat)

    # ---- auth ---------------------------------------------------------------------------

    def auth(self, request: Request) -> Reply | None:
        """Bearer auth. Bodies: missing key -> "You didn't provide an API key. ..." code null
        (OpenAI error-codes guide https://platform.openai.com/docs/guides/error-codes; text as
        quoted in yihong0618/bilingual_book_maker#137); wrong key -> "Incorrect API key
        provided: ..." code invalid_api_key (same guide)."""
        if self.api_key is None:
            return None
        header = request.header("authorization") or ""
        if not header.startswith("Bearer ") or not header[7:].strip():
            return error(401, "You didn't provide an API key. You need to provide your API key in an "
                         "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as "
                         "the password field (with blank username) if you're accessing the API from your "
                         "browser and are prompted for a username and password. You can obtain an API key "
                         "from https://platform.openai.com/account/api-keys.")
        key = header[7:].strip()
        if key != self.api_key:
            shown = key[:3] + "*" * max(len(key) - 7, 0) + key[-4:] if len(key) > 7 else key
            return error(401, f"Incorrect API key provided: {shown}. You can find your API key at "
                         "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
        return None

    # ---- models -------------------------------------------------------------------------

    def _model_object(self, name: str) -> dict:
        spec = CATALOG[name]
        return {"id": name, "object": "model", "created": spec.created, "owned_by": spec.owned_by}

    def list_models(self, request: Request) -> Reply:
        # GET /v1/models -> {"object": "list", "data": [Model...]} (API reference, Models;
        # openai-python src/openai/resources/models.py returns SyncPage[Model]).
        return self.auth(request) or json_reply({"object": "list", "data": [self._model_object(m) for m in CATALOG]})

    def get_model(self, request: Request) -> Reply:
        refused = self.auth(request)
        if refused:
            return refused
        name = request.match.group("id")
        if name not in CATALOG:
            return error(404, f"The model '{name}' does not exist", param="model", code="model_not_found")
        return json_reply(self._model_object(name))

    # ---- chat ---------------------------------------------------------------------------

    def chat(self, request: Request) -> Reply:
        refused = self.auth(request)
        if refused:
            return refused
        if self.quota_exhausted:
            # 429 insufficient_quota: ChatGPTNextWeb/NextChat#3664 (body quoted verbatim).
            return error(429, "You exceeded your current quota, please check your plan and billing details. "
                         "For more information on this error, read the docs: "
                         "https://platform.openai.com/docs/guides/error-codes/api-errors.",
                         type_="insufficient_quota", code="insufficient_quota")
        if self.rate_limit_left > 0:
            self.rate_limit_left -= 1
            # 429 rate limit: type "tokens", code rate_limit_exceeded (TheR1D/shell_gpt#653;
            # message wording: BuilderIO/micro-agent#86, FoundationAgents/MetaGPT#523).
            name = request.body.get("model", "") if isinstance(request.body, dict) else ""
            return error(429, f"Rate limit reached for {name} in organization org-emulated on tokens per min "
                         "(TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit "
                         "https://platform.openai.com/account/rate-limits to learn more.",
                         type_="tokens", code="rate_limit_exceeded")
        body = request.body
        if not isinstance(body, dict):
            return error(400, "We could not parse the JSON body of your request. (HINT: This likely means you "
                         "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but "
                         "what was sent was not valid JSON.)")
        refused = self.validate(body)
        if refused:
            return refused
        return self.complete(body)

    def validate(self, body: dict) -> Reply | None:
        for key in body:
            if key not in KNOWN_FIELDS:
                return error(400, f"Unrecognized request argument supplied: {key}")
        name = body.get("model")
        if not name:
            return error(400, "you must provide a model parameter")
        if name not in CATALOG:
            # 404 model_not_found, message with backticks: rd-1-2022/ai-openai-helloworld#9.
            return error(404, f"The model `{name}` does not exist or you do not have access to it.",
                         code="model_not_found")
        spec = CATALOG[name]
        messages = body.get("messages")
        if messages is None:
            return error(400, "Missing required parameter: 'messages'.", param="messages",
                         code="missing_required_parameter")
        if not isinstance(messages, list) or not messages:
            return error(400, "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                         "but got an empty array instead.", param="messages", code="empty_array")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool", "function"):
                return error(400, f"Invalid value: '{(m or {}).get('role') if isinstance(m, dict) else m}'. "
                             "Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and "
                             "'developer'.", param=f"messages[{i}].role", code="invalid_value")

        effort = body.get("reasoning_effort")
        if spec.efforts is None:
            if effort is not None:
                # Non-reasoning models do not know the field at all: "Unrecognized request argument
                # supplied: reasoning_effort" for gpt-4o-mini (davidmigloz/langchain_dart#712).
                return error(400, "Unrecognized request argument supplied: reasoning_effort")
        else:
            if body.get("max_tokens") is not None:
                # Reasoning models reject max_tokens (completion_create_params.py: "not compatible
                # with o-series models"; body: griptape-ai/ComfyUI-Griptape#312, o1/o3-mini/o4-mini/
                # gpt-5/gpt-5.1 alike).
                return error(400, "Unsupported parameter: 'max_tokens' is not supported with this model. "
                             "Use 'max_completion_tokens' instead.", param="max_tokens", code="unsupported_parameter")
            if effort is not None and effort not in spec.efforts:
                # Body: egoist/chatwise-releases#1257 ("Unsupported value: 'reasoning_effort' does not
                # support 'high' with this model. Supported values are: 'medium'."), param
                # reasoning_effort, code unsupported_value.
                return error(400, f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this "
                             f"model. Supported values are: {_oxford(spec.efforts)}.",
                             param="reasoning_effort", code="unsupported_value")
            effective = effort or spec.default_effort
            sampling_free = spec.sampling == "none-effort" and effective == "none"
            if not sampling_free:
                for key in ("temperature", "top_p"):
                    value = body.get(key)
                    if value is None:
                        continue
                    if spec.sampling == "rejected":
                        return error(400, f"Unsupported parameter: '{key}' is not supported with this model.",
                                     param=key, code="unsupported_parameter")
                    if value != 1:
                        return error(400, f"Unsupported value: '{key}' does not support {_fmt(value)} with this "
                                     "model. Only the default (1) value is supported.", param=key,
                                     code="unsupported_value")
                for key in ("presence_penalty", "frequency_penalty"):
                    # "Unsupported parameter: 'presence_penalty' is not supported with this model."
                    # (gpt-5-mini: nextai-translator/nextai-translator#1781); the default 0 is accepted
                    # (zenn.dev/headwaters/articles/a5468c45ec2e52, gpt-5-mini).
                    if body.get(key) not in (None, 0):
                        return error(400, f"Unsupported parameter: '{key}' is not supported with this model.",
                                     param=key, code="unsupported_parameter")
                for key in ("logprobs", "top_logprobs"):
                    # Reasoning models return no logprobs (reasoning guide "limitations"; same body
                    # shape as above - the wording is assumed, not quoted).
                    if body.get(key) not in (None, False):
                        return error(400, f"Unsupported parameter: '{key}' is not supported with this model.",
                                     param=key, code="unsupported_parameter")

        for key, high in (("temperature", 2), ("top_p", 1)):
            value = body.get(key)
            if value is not None and not 0 <= value <= high:
                # Range errors: wording from memory of OpenAI's validation messages (unconfirmed).
                kind = "above maximum" if value > high else "below minimum"
                return error(400, f"Invalid '{key}': decimal {kind} value. Expected a value "
                             f"{'<=' if value > high else '>='} {high if value > high else 0}, but got {value} instead.",
                             param=key, code=f"decimal_{kind.replace(' ', '_')}_value")
        n = body.get("n")
        if n is not None and not 1 <= n <= 128:
            # n is supported on every model, reasoning ones included (gpt-5-mini with n=2:
            # llama-stack recording d3e27b7234e2.json). Bounds 1..128: from memory (unconfirmed).
            kind = "above maximum" if n > 128 else "below minimum"
            return error(400, f"Invalid 'n': integer {kind} value. Expected a value "
                         f"{'<= 128' if n > 128 else '>= 1'}, but got {n} instead.", param="n",
                         code=f"integer_{kind.replace(' ', '_')}_value")
        for key in ("max_completion_tokens", "max_tokens"):
            cap = body.get(key)
            if cap is None:
                continue
            if cap < 1:
                return error(400, f"Invalid '{key}': integer below minimum value. Expected a value >= 1, but "
                             f"got {cap} instead.", param=key, code="integer_below_min_value")
            if cap > spec.max_output:
                return error(400, f"max_tokens is too large: {cap}. This model supports at most {spec.max_output} "
                             f"completion tokens, whereas you provided {cap}.", param="max_tokens",
                             code="invalid_value")
        return None

    def complete(self, body: dict) -> Reply:
        name = body["model"]
        spec = CATALOG[name]
        # Roles: "developer" is the reasoning-era name of "system"; the toy templates only know
        # "system", so developer messages are rendered as system ones.
        messages = [dict(m, role="system") if m.get("role") == "developer" else m for m in body["messages"]]
        # A trailing assistant message is NOT continued: Chat Completions has no prefill (vLLM's
        # and SGLang's continue_final_message exist because "OAI API doesn't natively support
        # prefilling an assistant's response", sgl-project/sglang#3971). The message is history
        # and the model writes a new assistant turn after it, hence add_generation_prompt=True.
        budget = body.get("max_completion_tokens") or body.get("max_tokens") or spec.max_output
        n = body.get("n") or 1
        seed = body.get("seed")  # accepted (Beta, best effort): completion_create_params.py
        if spec.efforts is None:
            prompt = templates.render("chatml", messages, add_generation_prompt=True)
            toy = ToyModel(thinking=False, assistant_marker=templates.MARKERS["chatml"])
        else:
            effort = body.get("reasoning_effort") or spec.default_effort
            toy = ToyModel(thinking=True, assistant_marker=templates.MARKERS["qwen3"])
            if effort == "none":
                prompt = templates.render("qwen3", messages, add_generation_prompt=True, enable_thinking=False)
            else:
                prompt = templates.render("qwen3", messages, add_generation_prompt=True) + "<think>\n"
        choices, completion_tokens, reasoning_tokens = [], 0, 0
        for index in range(n):
            choice_seed = seed * 1_000_003 + index if seed is not None else next(self._seeds)
            if spec.efforts is None:
                out = toy.generate(prompt, budget, choice_seed)
                content, used, hidden, finish = out.text, out.tokens, 0, out.finish_reason
            elif effort == "none":
                out = toy.generate(prompt, budget, choice_seed)
                content, used, hidden, finish = out.text.strip(), out.tokens, 0, out.finish_reason
            else:
                _, hidden, content, answer_tokens, finish = think_then_answer(
                    toy, prompt, EFFORT_THINK_CAP[effort], budget, choice_seed)
                used = hidden + answer_tokens
                # Cap hit while reasoning: HTTP 200, content "" and finish_reason "length"
                # (covan-ai/covan#112 measured on gpt-5/-mini/-nano; 64bit/async-openai#424).
            completion_tokens += used
            reasoning_tokens += hidden
            choices.append({"index": index, "message": {"role": "assistant", "content": content, "refusal": None,
                                                        "annotations": []},
                            "logprobs": None, "finish_reason": finish})
        prompt_tokens = count_tokens(prompt)
        # usage: CompletionUsage with prompt/completion token details
        # (openai-python src/openai/types/completion_usage.py); reasoning tokens are inside
        # completion_tokens.
        usage = {
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": reasoning_tokens, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }
        response = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                    "model": spec.snapshot, "choices": choices, "usage": usage, "service_tier": "default",
                    "system_fingerprint": None}
        if body.get("stream"):
            return self.stream(response, bool((body.get("stream_options") or {}).get("include_usage")))
        return json_reply(response)

    @staticmethod
    def stream(response: dict, include_usage: bool) -> Reply:
        """SSE: chat.completion.chunk objects, `data: [DONE]` last; with include_usage, every
        chunk carries "usage": null and one extra chunk with empty choices carries the usage
        (completion_create_params.py, ChatCompletionStreamOptionsParam)."""
        head = {k: response[k] for k in ("id", "created", "model", "service_tier", "system_fingerprint")}
        chunks = []
        for choice in response["choices"]:
            i = choice["index"]
            chunks.append({"index": i, "delta": {"role": "assistant", "content": "", "refusal": None}, "finish_reason": None})
            if choice["message"]["content"]:
                chunks.append({"index": i, "delta": {"content": choice["message"]["content"]}, "finish_reason": None})
            chunks.append({"index": i, "delta": {}, "finish_reason": choice["finish_reason"]})
        events = []
        for c in chunks:
            event = dict(head, object="chat.completion.chunk", choices=[dict(c, logprobs=None)])
            if include_usage:
                event["usage"] = None
            events.append(event)
        if include_usage:
            events.append(dict(head, object="chat.completion.chunk", choices=[], usage=response["usage"]))
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return Reply(200, text, content_type="text/event-stream")
