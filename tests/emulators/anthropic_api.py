"""Anthropic's Claude API through its OpenAI SDK compatibility layer, plus the native Models API.

Sources (cited next to each rule below):
  [COMPAT]  https://docs.claude.com/en/api/openai-sdk (also platform.claude.com/docs/en/api/openai-sdk;
            stored copies read 2026): base URL https://api.anthropic.com/v1/, field support tables.
  [THINK]   https://platform.claude.com/docs/en/build-with-claude/extended-thinking
  [MIGR]    https://platform.claude.com/docs/en/about-claude/models/migration-guide
            and .../migrating-to-claude-4 (Claude 4.5 / 4.6 / Opus 4.7 breaking changes)
  [ERRORS]  https://platform.claude.com/docs/en/api/errors
  [MODELS]  https://docs.anthropic.com/en/api/models-list (GET /v1/models)
  Error texts that the docs do not spell out are copied from real API answers quoted in public
  issues; each is cited where used. Anything assumed is marked ASSUMED.

What the emulation does: render the (hoisted) conversation with templates.render("qwen3"), run the
thinking ToyModel with the thinking cap the request implies, and return only what the compat layer
returns: visible text in ``content`` (thinking is never returned [COMPAT "Extended thinking
support"]), ``usage.completion_tokens`` counting thinking (output tokens are billed for the full
thinking [THINK "Pricing"]), ``completion_tokens_details`` null ("Always empty" [COMPAT]).

Token units: toy-model words. ``budget_scale`` maps a provider thinking budget (>= 1024 tokens) to a
toy thinking cap (cap = budget * budget_scale), so tests can see accuracy move with the budget.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from . import templates
from .base import EmulatedServer, Reply, Request, json_reply
from .toy_model import THINK_CLOSE, THINK_OPEN, ToyModel, count_tokens


@dataclass(frozen=True)
class ClaudeModel:
    id: str
    display_name: str
    created_at: str  # RFC 3339, as the Models API returns it [MODELS]; dates illustrative
    max_output: int
    manual_thinking: bool  # thinking {type: enabled, budget_tokens}
    adaptive: bool  # thinking {type: adaptive}
    sampling: str  # "both": temperature+top_p allowed; "one_of": not both; "fixed": neither
    prefill: bool
    aliases: tuple[str, ...] = ()


# Ids, limits and capabilities: [MODELS]/models overview; [THINK] "Supported models".
# sampling: Sonnet 4.5 / Haiku 4.5 "Use only temperature OR top_p, not both" [MIGR, migrating-to-claude-4];
#   Opus 4.1 too (opencode#1644, open-webui/pipelines#546, 2025-08); Opus 4.6 too (OpenHands#12909);
#   Opus 4.7 rejects non-default temperature/top_p/top_k outright [MIGR "Migrating to Claude Opus 4.7"].
# prefill: "Prefilling assistant messages returns a 400 error on Claude 4.6 models" [MIGR]; Opus 4.7 as well.
# manual thinking: deprecated on 4.6, removed on Opus 4.7 (overview table "Extended thinking: No").
CATALOGUE = (
    ClaudeModel("claude-opus-4-7", "Claude Opus 4.7", "2026-04-16T00:00:00Z", 128000, False, True, "fixed", False),
    ClaudeModel("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z", 128000, True, True, "one_of", False),
    ClaudeModel("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z", 64000, True, True, "one_of", False),
    ClaudeModel("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z", 64000, True, False,
                "one_of", True, ("claude-haiku-4-5",)),
    ClaudeModel("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z", 64000, True, False,
                "one_of", True, ("claude-sonnet-4-5",)),
    ClaudeModel("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z", 32000, True, False,
                "one_of", True, ("claude-opus-4-1",)),
    ClaudeModel("claude-3-7-sonnet-20250219", "Claude Sonnet 3.7", "2025-02-24T00:00:00Z", 64000, True, False,
                "both", True, ("claude-3-7-sonnet-latest",)),
)

# Adaptive thinking effort -> thinking budget the toy gets (our choice; Anthropic publishes none).
EFFORT_BUDGET = {"low": 2048, "medium": 8192, "high": 16384, "max": 32768}
THINK_DOC = "Please consult our documentation at https://platform.claude.com/docs/en/build-with-claude/extended-thinking"


class AnthropicError(Exception):
    def __init__(self, status: int, etype: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.etype, self.message, self.headers = status, etype, message, headers or {}


@dataclass
class Generation:
    reasoning: str
    content: str
    finish_reason: str  # "stop" | "length"


def generate_capped(model: ToyModel, prompt: str, *, think_cap: int | None, max_tokens: int | None,
                    seed: int | None) -> Generation:
    """Generate; if the think block runs past ``think_cap`` words, close it there and let the model
    answer from what it thought (a thinking budget). ``max_tokens`` bounds thinking + answer."""
    out = model.generate(prompt, max_tokens, seed)
    text, finish = out.text, out.finish_reason
    if think_cap is not None and text.startswith(THINK_OPEN):
        inside = text[len(THINK_OPEN):].split(THINK_CLOSE)[0].split()
        if len(inside) > think_cap and (max_tokens is None or think_cap + 2 <= max_tokens):
            head = " ".join([THINK_OPEN, *inside[:think_cap], THINK_CLOSE])
            rest = None if max_tokens is None else max_tokens - count_tokens(head)
            second = model.generate(prompt + head, rest, seed) if rest != 0 else None
            text = head + (" " + second.text if second and second.text else "")
            finish = second.finish_reason if second else "length"
    if text.startswith(THINK_OPEN):
        if THINK_CLOSE not in text:
            return Generation(text, "", "length")
        at = text.index(THINK_CLOSE) + len(THINK_CLOSE)
        return Generation(text[:at], text[at:].strip(), finish)
    return Generation("", text, finish)


def _text(content) -> str:
    if isinstance(content, list):  # [COMPAT] content arrays of type "text" are supported
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else ""


class AnthropicServer(EmulatedServer):
    PROFILE = "anthropic"
    DEFAULT_MODEL = "claude-sonnet-4-5"
    api_prefix = "/v1"  # [COMPAT] base_url="https://api.anthropic.com/v1/"

    def __init__(self, model: str = DEFAULT_MODEL, *, api_key: str | None = "test-key",
                 budget_scale: float = 1.0, default_max_tokens: int = 4096,
                 models_accept_bearer: bool = False, error_shape: str = "openai",
                 fail_mode: str | None = None, fail_count: int | None = None):
        """``default_max_tokens``: used when the request has neither max_tokens nor
        max_completion_tokens (ASSUMED: the compat page does not say what it uses; the native API
        requires max_tokens). ``models_accept_bearer``: whether native GET /v1/models accepts
        ``Authorization: Bearer`` (unconfirmed; default no, see _models). ``error_shape``: "openai"
        ([COMPAT] "maintains consistent error formats with the OpenAI API") or "anthropic" (native
        envelope). ``fail_mode``: None | "rate_limited" | "credits_exhausted" | "overloaded" for the
        first ``fail_count`` chat requests (None = all)."""
        self.model = model  # the id tests ask for; every catalogue model is served
        self.api_key = api_key
        self.budget_scale = budget_scale
        self.default_max_tokens = default_max_tokens
        self.models_accept_bearer = models_accept_bearer
        self.error_shape = error_shape
        self.fail_mode, self.fail_count = fail_mode, fail_count
        self.toy = ToyModel(thinking=True, assistant_marker=templates.MARKERS["qwen3"])
        self.catalogue = {m.id: m for m in CATALOGUE}
        for m in CATALOGUE:
            self.catalogue.update({a: m for a in m.aliases})
        if model not in self.catalogue:
            raise ValueError(f"unknown Claude model {model!r}")
        super().__init__()

    def routes(self) -> None:
        self.route("POST", r"/v1/chat/completions", self._chat)
        self.route("GET", r"/v1/models", self._models)

    # ---- errors ----------------------------------------------------------------------------------

    def _native_error(self, e: AnthropicError) -> Reply:
        # [ERRORS] {"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}
        rid = "req_" + uuid.uuid4().hex[:24]
        body = {"type": "error", "error": {"type": e.etype, "message": e.message}, "request_id": rid}
        return json_reply(body, e.status, **{"request-id": rid, **e.headers})

    def _compat_error(self, e: AnthropicError) -> Reply:
        if self.error_shape == "anthropic":
            return self._native_error(e)
        # Shape observed from POST https://api.anthropic.com/v1/chat/completions (yinzara/ha-config-ai-agent#5):
        # {'error': {'code': 'invalid_request_error', 'message': ..., 'type': 'invalid_request_error', 'param': None}}
        body = {"error": {"code": e.etype, "message": e.message, "type": e.etype, "param": None}}
        return json_reply(body, e.status, **{"request-id": "req_" + uuid.uuid4().hex[:24], **e.headers})

    def _check_key(self, request: Request, *, native: bool) -> None:
        if self.api_key is None:
            return
        key = request.header("x-api-key")
        bearer = request.header("authorization") or ""
        if key is None and bearer.lower().startswith("bearer "):
            if native and not self.models_accept_bearer:
                # A Bearer value is taken as an OAuth token by the native API: "401 Invalid bearer
                # token" (anthropic-sdk-typescript#620). UNCONFIRMED for API keys after the compat launch.
                raise AnthropicError(401, "authentication_error", "Invalid bearer token")
            key = bearer[7:].strip()
        if key is None:
            # Probe of GET /v1/models without a key (QwenLM/qwen-code#3799):
            # {"type":"error","error":{"type":"authentication_error","message":"x-api-key header is required"}}
            raise AnthropicError(401, "authentication_error", "x-api-key header is required")
        if key != self.api_key:
            # "invalid x-api-key" (continuedev/continue#9595 and many others)
            raise AnthropicError(401, "authentication_error", "invalid x-api-key")

    # ---- GET /v1/models (native Models API) --------------------------------------------------------

    def _models(self, request: Request) -> Reply:
        try:
            self._check_key(request, native=True)
            if not request.header("anthropic-version"):
                # [MODELS] anthropic-version is a required header; text from real answers quoted in
                # several gateways' tests, e.g. "anthropic-version: header is required" (400).
                raise AnthropicError(400, "invalid_request_error", "anthropic-version: header is required")
        except AnthropicError as e:
            return self._native_error(e)
        limit = int((request.query.get("limit") or ["20"])[0])  # [MODELS] default 20, 1..1000
        after = (request.query.get("after_id") or [None])[0]
        rows = [{"type": "model", "id": m.id, "display_name": m.display_name, "created_at": m.created_at,
                 "max_tokens": m.max_output} for m in CATALOGUE]  # "More recently released models are listed first."
        if after:
            ids = [r["id"] for r in rows]
            rows = rows[ids.index(after) + 1:] if after in ids else []
        page = rows[:limit]
        return json_reply({"data": page, "has_more": len(rows) > limit,
                           "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None})

    # ---- POST /v1/chat/completions (compat) --------------------------------------------------------

    def _chat(self, request: Request) -> Reply:
        try:
            self._check_key(request, native=False)  # [COMPAT] header table: "authorization: Fully supported"
            body = request.body
            if not isinstance(body, dict):
                # observed: 400 {'error': {'code': 'invalid_request_error', 'message': 'Failed to parse JSON: ', ...}}
                raise AnthropicError(400, "invalid_request_error", "Failed to parse JSON: ")
            self._maybe_fail()
            return self._complete(body)
        except AnthropicError as e:
            return self._compat_error(e)

    def _maybe_fail(self) -> None:
        with self.lock:
            if self.fail_mode is None or self.fail_count == 0:
                return
            if self.fail_count is not None:
                self.fail_count -= 1
        if self.fail_mode == "rate_limited":
            # [ERRORS] 429 rate_limit_error; retry-after header [COMPAT header table]; message as quoted in
            # client fixtures of real answers ("Number of request tokens has exceeded your per-minute rate limit ...")
            raise AnthropicError(429, "rate_limit_error", "Number of request tokens has exceeded your per-minute "
                                 "rate limit (https://docs.claude.com/en/api/rate-limits); see the response headers "
                                 "for current usage. Please reduce the prompt length or the maximum tokens requested, "
                                 "or try again later.", {"retry-after": "2"})
        if self.fail_mode == "credits_exhausted":
            # Out of credit is a 400, not a 429 ([ERRORS]: 400 also for spend limits); text from real
            # answers quoted in client tests: "Your credit balance is too low to access the Anthropic API. ..."
            raise AnthropicError(400, "invalid_request_error", "Your credit balance is too low to access the "
                                 "Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.")
        if self.fail_mode == "overloaded":
            raise AnthropicError(529, "overloaded_error", "Overloaded")  # [ERRORS] 529 overloaded_error

    def _complete(self, body: dict) -> Reply:
        name = body.get("model")
        spec = self.catalogue.get(name) if isinstance(name, str) else None
        if spec is None:
            # [ERRORS] 404 not_found_error; native text is "model: <name>"
            raise AnthropicError(404, "not_found_error", f"model: {name}")
        n = body.get("n")
        if n is not None and n != 1:
            raise AnthropicError(400, "invalid_request_error", "n: must be 1")  # [COMPAT] "n: Must be exactly 1"; text ASSUMED
        # [COMPAT] max_tokens and max_completion_tokens both "Fully supported"
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or self.default_max_tokens
        if max_tokens > spec.max_output:
            # native text, e.g. "max_tokens: 10000 > 4096, which is the maximum allowed number of output
            # tokens for claude-3-5-sonnet-20240620" (ChatGPTNextWeb/NextChat#4964)
            raise AnthropicError(400, "invalid_request_error", f"max_tokens: {max_tokens} > {spec.max_output}, which "
                                 f"is the maximum allowed number of output tokens for {spec.id}")
        budget = self._thinking_budget(body, spec, max_tokens)  # extra_body={"thinking": ...} [COMPAT]
        thinking_on = budget is not None
        self._check_sampling(body, spec, thinking_on)

        # [COMPAT] "System / developer message hoisting": all system/developer messages concatenated with
        # "\n" into one initial system message.
        msgs = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        system = "\n".join(_text(m.get("content")) for m in msgs if m.get("role") in ("system", "developer"))
        convo = [{"role": m.get("role"), "content": _text(m.get("content"))}
                 for m in msgs if m.get("role") in ("user", "assistant")]
        if convo and convo[-1]["role"] == "assistant" and convo[-1]["content"] == "":
            convo.pop()  # an empty final assistant message is no prefill
        rendered = ([{"role": "system", "content": system}] if system else []) + convo
        prefill = bool(convo) and convo[-1]["role"] == "assistant"
        if prefill:
            self._check_prefill(spec, thinking_on, len(convo) - 1, convo[-1]["content"])
            prompt = templates.continue_final("qwen3", rendered, enable_thinking=False)
            gen = generate_capped(self.toy, prompt, think_cap=None, max_tokens=max_tokens, seed=None)
        else:
            prompt = templates.render("qwen3", rendered, enable_thinking=thinking_on)
            cap = None if budget is None else max(1, int(budget * self.budget_scale))
            # [COMPAT] seed: Ignored -> the model never sees it
            gen = generate_capped(self.toy, prompt, think_cap=cap, max_tokens=max_tokens, seed=None)
        content, finish = self._apply_stop(gen.content, body.get("stop"), gen.finish_reason)
        completion = count_tokens(gen.reasoning) + count_tokens(gen.content)
        prompt_tokens = count_tokens(prompt)
        return self._respond(body, name, content, finish, prompt_tokens, completion)

    @staticmethod
    def _thinking_budget(body: dict, spec: ClaudeModel, max_tokens: int) -> int | None:
        """Thinking budget in provider tokens, None when thinking is off (the default [THINK])."""
        thinking = body.get("thinking")
        if thinking is None:
            return None
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if kind == "disabled":
            return None
        if kind == "enabled":
            if not spec.manual_thinking:
                # real answer from claude-opus-4-7 (anthropics/claude-code#49219 and others)
                raise AnthropicError(400, "invalid_request_error", '"thinking.type.enabled" is not supported for '
                                     'this model. Use "thinking.type.adaptive" and "output_config.effort" to '
                                     'control thinking behavior.')
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int):
                raise AnthropicError(400, "invalid_request_error", "thinking.enabled.budget_tokens: Field required")
            if budget < 1024:
                # [THINK] "The minimum budget is 1,024 tokens"; text from a real answer (lbjlaq/Antigravity-Manager#1418)
                raise AnthropicError(400, "invalid_request_error",
                                     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
            if budget >= max_tokens:
                # [THINK] "budget_tokens must be set to a value less than max_tokens"; text: ProfSynapse/nexus#17
                raise AnthropicError(400, "invalid_request_error", "`max_tokens` must be greater than "
                                     "`thinking.budget_tokens`. Please consult our documentation at https://docs."
                                     "claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")
            return budget
        if kind == "adaptive":
            if not spec.adaptive:  # [THINK] adaptive thinking exists on 4.6+ only; text ASSUMED
                raise AnthropicError(400, "invalid_request_error", "adaptive thinking is not supported on this model")
            effort = (body.get("output_config") or {}).get("effort", "high")  # ASSUMED passed through
            return EFFORT_BUDGET.get(effort, EFFORT_BUDGET["high"])
        raise AnthropicError(400, "invalid_request_error", "thinking.type: Input tag does not match any of the "
                             "expected tags: 'enabled', 'disabled', 'adaptive'")  # text ASSUMED

    def _check_sampling(self, body: dict, spec: ClaudeModel, thinking_on: bool) -> None:
        temperature, top_p = body.get("temperature"), body.get("top_p")
        if isinstance(temperature, (int, float)) and temperature > 1:
            temperature = 1  # [COMPAT] "Values greater than 1 are capped at 1."
        if spec.sampling == "fixed":
            # [MIGR] Opus 4.7: non-default temperature/top_p/top_k return 400; text seen for Opus 4.8:
            # "`temperature` is deprecated for this model." (conselara.dev note); top_p text by analogy (ASSUMED)
            for field, value in (("temperature", temperature), ("top_p", top_p)):
                if value is not None and value != 1:
                    raise AnthropicError(400, "invalid_request_error", f"`{field}` is deprecated for this model.")
        if thinking_on and temperature is not None and temperature != 1:
            # [THINK] "Thinking isn't compatible with temperature or top_k modifications"; real text quoted in
            # many client tests: "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode."
            raise AnthropicError(400, "invalid_request_error", "`temperature` may only be set to 1 when thinking is "
                                 f"enabled or in adaptive mode. {THINK_DOC}")
        if thinking_on and top_p is not None and top_p < 0.95:
            # [THINK] "When thinking is enabled, you can set top_p to values between 1 and 0.95"; text ASSUMED
            raise AnthropicError(400, "invalid_request_error", "`top_p` must be greater than or equal to 0.95 when "
                                 f"thinking is enabled or in adaptive mode. {THINK_DOC}")
        if spec.sampling == "one_of" and temperature is not None and top_p is not None:
            # [MIGR] "Use only temperature OR top_p, not both"; real text (SalesforceAIResearch/MCP-Universe#49):
            raise AnthropicError(400, "invalid_request_error",
                                 "`temperature` and `top_p` cannot both be specified for this model. Please use only one.")

    def _check_prefill(self, spec: ClaudeModel, thinking_on: bool, index: int, content: str) -> None:
        if not spec.prefill:
            # [MIGR] 4.6: "Prefilling assistant messages returns a 400 error"; text from real answers
            # (strands-agents/sdk-python#1694, langchain-ai/deepagents#1585)
            raise AnthropicError(400, "invalid_request_error", "This model does not support assistant message "
                                 "prefill. The conversation must end with a user message.")
        if thinking_on:
            # [THINK] "You cannot pre-fill responses when thinking is enabled."; real text quoted in client code
            raise AnthropicError(400, "invalid_request_error", f"messages.{index}.content.0.type: Expected `thinking` "
                                 "or `redacted_thinking`, but found `text`. When `thinking` is enabled, a final "
                                 "`assistant` message must start with a thinking block (preceeding the lastmost set "
                                 "of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks "
                                 f"from previous turns. To avoid this requirement, disable `thinking`. {THINK_DOC}")
        if content != content.rstrip():
            # real native text, quoted in litellm and many clients
            raise AnthropicError(400, "invalid_request_error",
                                 "messages: final assistant content cannot end with trailing whitespace")

    @staticmethod
    def _apply_stop(content: str, stop, finish: str) -> tuple[str, str]:
        stops = [stop] if isinstance(stop, str) else list(stop or [])
        # [COMPAT] "stop: All non-whitespace stop sequences work" (whitespace-only ones: ignored here, ASSUMED)
        hits = [content.index(s) for s in stops if isinstance(s, str) and s.strip() and s in content]
        return (content[:min(hits)], "stop") if hits else (content, finish)

    def _respond(self, body: dict, model: str, content: str, finish: str, prompt_tokens: int,
                 completion: int) -> Reply:
        rid, created = "msg_" + uuid.uuid4().hex[:24], int(time.time())  # id format ASSUMED
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                 "total_tokens": prompt_tokens + completion,
                 # [COMPAT] response table: "usage.completion_tokens_details: Always empty" (rendered null, ASSUMED)
                 "completion_tokens_details": None, "prompt_tokens_details": None}
        headers = {"request-id": "req_" + uuid.uuid4().hex[:24], "openai-version": "2020-10-01"}  # [COMPAT] headers
        if not body.get("stream"):
            return json_reply({
                "id": rid, "object": "chat.completion", "created": created, "model": model,
                # [COMPAT] choices always length 1; refusal/logprobs/system_fingerprint/service_tier "Always empty"
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                             "finish_reason": finish, "logprobs": None}],
                "usage": usage, "system_fingerprint": None, "service_tier": None}, 200, **headers)
        base = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model}
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": content},
                                        "finish_reason": None}]},
                  {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}]
        if (body.get("stream_options") or {}).get("include_usage"):  # [COMPAT] stream_options: Fully supported
            chunks.append({**base, "choices": [], "usage": usage})
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return Reply(200, text, headers, content_type="text/event-stream")

    def not_found(self, request: Request) -> Reply:
        return self._native_error(AnthropicError(404, "not_found_error", "Not Found"))
