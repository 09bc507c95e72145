"""Google's Gemini API through its OpenAI compatibility endpoint.

Sources (cited next to each rule below):
  [COMPAT]  https://ai.google.dev/gemini-api/docs/openai (stored copies 2025-2026): base URL
            https://generativelanguage.googleapis.com/v1beta/openai/, "Authorization: Bearer
            GEMINI_API_KEY", "Thinking": reasoning_effort "low", "medium", "high" map to 1K, 8K and 24K
            thinking token budgets; "none" disables thinking; extra_body={"google": {"thinking_config":
            {"thinking_budget": N, "include_thoughts": True}}}.
  [THINK]   https://ai.google.dev/gemini-api/docs/thinking: budgets per model (2.5 Pro 128..32768, cannot
            disable; 2.5 Flash 0..24576; 2.5 Flash-Lite 512..24576, off by default; -1 = dynamic);
            Gemini 3 thinking_level; thinking_level and thinking_budget cannot be combined.
  [CAPTURE] Real compat-endpoint answers logged by a public project (gestor_tickets validation log, 2026-06):
            GET .../openai/models rows {"id": "models/gemini-2.5-flash", "object": "model", "owned_by":
            "google", "display_name": ...}; a chat answer whose content is "<thought>...</thought>{...}" with
            message.extra_content.google.thought = true and usage {"prompt_tokens": 23, "completion_tokens": 5,
            "total_tokens": 126} (completion excludes thoughts, total includes them, no details object);
            errors as a JSON *list*: [{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": ...}}].
  Other error texts are copied from real answers quoted in public issues, cited where used; anything
  assumed is marked ASSUMED.

The emulation renders the messages with templates.render("qwen3"), runs the thinking ToyModel with the
thinking cap the request implies (thinking counts against max_tokens: googleapis/python-genai#811, #2062;
stanford-crfm/helm#3804 "max token limit during thinking, resulting in a response with no output text"),
and returns thoughts only as a summary inside content when include_thoughts is set.
Token units: toy-model words; ``budget_scale`` maps provider budgets to toy thinking caps.
"""

from __future__ import annotations

import json
import random
import string
import time
from dataclasses import dataclass

from . import templates
from .anthropic_api import generate_capped  # shared budget-forcing helper (same toy model mechanics)
from .base import EmulatedServer, Reply, Request, json_reply
from .toy_model import THINK_CLOSE, THINK_OPEN, ToyModel, count_tokens


@dataclass(frozen=True)
class GeminiModel:
    id: str
    display_name: str
    budget_range: tuple[int, int] | None  # thinking_budget bounds (2.5); None: levels model (3.x)
    can_disable: bool
    default_budget: int  # -1 dynamic
    levels: tuple[str, ...] = ()  # thinking_level values a 3.x model accepts
    max_candidates: int = 8  # n


CATALOGUE = (
    # [THINK] budget table: 2.5 Pro 128..32768 "Cannot disable thinking"; Flash 0..24576; Flash-Lite 512..24576,
    # "Model does not think" by default. Ranges also quoted in real errors: "The thinking budget 64000 is invalid.
    # Please choose a value between 128 and 32768." / "... between 0 and 24576".
    GeminiModel("gemini-2.5-pro", "Gemini 2.5 Pro", (128, 32768), False, -1),
    GeminiModel("gemini-2.5-flash", "Gemini 2.5 Flash", (0, 24576), True, -1),
    GeminiModel("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", (512, 24576), True, 0),
    # Gemini 3: thinking_level; 3 Pro accepts only low/high ("Thinking level MEDIUM is not supported for this
    # model" - discuss.ai.google.dev/t/112648); n > 1 refused on 3.x ("Multiple candidates is not enabled for
    # this model", googleapis/js-genai#1609).
    GeminiModel("gemini-3-flash-preview", "Gemini 3 Flash Preview", None, True, -1,
                ("minimal", "low", "medium", "high"), 1),
    GeminiModel("gemini-3-pro-preview", "Gemini 3 Pro Preview", None, False, -1, ("low", "high"), 1),
)

# [COMPAT] reasoning_effort -> 2.5 thinking budget ("1K, 8K, and 24K"); "none" -> 0.
EFFORT_BUDGET = {"low": 1024, "medium": 8192, "high": 24576, "none": 0}
# Gemini 3 levels -> budget the toy gets (our choice; Google publishes no token figures). "high" is the default.
LEVEL_BUDGET = {"minimal": 128, "low": 1024, "medium": 8192, "high": 24576}


class GeminiError(Exception):
    def __init__(self, code: int, status: str, message: str, details: list | None = None):
        super().__init__(message)
        self.code, self.status, self.message, self.details = code, status, message, details


class GeminiServer(EmulatedServer):
    PROFILE = "gemini"
    DEFAULT_MODEL = "gemini-2.5-flash"
    api_prefix = "/v1beta/openai"  # [COMPAT] base_url ".../v1beta/openai/"

    def __init__(self, model: str = DEFAULT_MODEL, *, api_key: str | None = "test-key",
                 budget_scale: float = 1.0, accept_minimal: bool = False, reasoning_tokens_detail: bool = False,
                 fail_mode: str | None = None, fail_count: int | None = None):
        """``accept_minimal``: reasoning_effort "minimal" is in the docs' mapping table for Gemini 3, but the
        live endpoint answered "Invalid reasoning_effort: minimal. Valid values are: high, low, medium, none"
        (discuss.ai.google.dev/t/117875, /t/118724, 2026); default follows the live endpoint.
        ``reasoning_tokens_detail``: also report usage.completion_tokens_details.reasoning_tokens (not seen in
        [CAPTURE]; a possible newer variant). ``fail_mode``: None | "rate_limited" | "quota_exhausted" |
        "overloaded" for the first ``fail_count`` chat requests (None = all)."""
        self.catalogue = {m.id: m for m in CATALOGUE}
        if model.removeprefix("models/") not in self.catalogue:
            raise ValueError(f"unknown Gemini model {model!r}")
        self.model = model
        self.api_key = api_key
        self.budget_scale = budget_scale
        self.accept_minimal = accept_minimal
        self.reasoning_tokens_detail = reasoning_tokens_detail
        self.fail_mode, self.fail_count = fail_mode, fail_count
        self.toy = ToyModel(thinking=True, assistant_marker=templates.MARKERS["qwen3"])
        super().__init__()

    def routes(self) -> None:
        self.route("POST", r"/v1beta/openai/chat/completions", self._chat)
        self.route("GET", r"/v1beta/openai/models", self._models)

    # ---- plumbing --------------------------------------------------------------------------------------

    @staticmethod
    def _error(e: GeminiError) -> Reply:
        # [CAPTURE] the compat endpoint wraps Google's error object in a list
        err = {"code": e.code, "message": e.message, "status": e.status}
        if e.details:
            err["details"] = e.details
        return json_reply([{"error": err}], e.code)

    def _check_key(self, request: Request) -> None:
        if self.api_key is None:
            return
        auth = request.header("authorization") or ""
        key = auth[7:].strip() if auth.lower().startswith("bearer ") else None  # [COMPAT] Bearer
        key = key or request.header("x-goog-api-key") or (request.query.get("key") or [None])[0]
        if key is None:
            # Google APIs' answer to a call without credentials; ASSUMED for the compat endpoint
            raise GeminiError(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without "
                              "established identity). Please use API Key or other form of API consumer identity "
                              "to call this API.")
        if key != self.api_key:
            # a wrong key is a 400, not a 401 (continuedev/continue#8516, list-shaped body)
            raise GeminiError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                 "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])

    def _models(self, request: Request) -> Reply:
        try:
            self._check_key(request)
        except GeminiError as e:
            return self._error(e)
        # [CAPTURE] ids carry the "models/" prefix; owned_by "google"
        return json_reply({"object": "list", "data": [
            {"id": f"models/{m.id}", "object": "model", "owned_by": "google", "display_name": m.display_name}
            for m in CATALOGUE]})

    def _maybe_fail(self) -> None:
        with self.lock:
            if self.fail_mode is None or self.fail_count == 0:
                return
            if self.fail_count is not None:
                self.fail_count -= 1
        if self.fail_mode == "overloaded":
            raise GeminiError(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
        # 429 RESOURCE_EXHAUSTED with a QuotaFailure naming the exhausted quota; per-minute vs per-day is told
        # apart only by quotaId (real bodies quoted in client tests, e.g. "GenerateRequestsPerDayPerProjectPerModel
        # -FreeTier"; "Please retry in 51.98s." in the message, RetryInfo sometimes absent).
        daily = self.fail_mode == "quota_exhausted"
        quota = "GenerateRequestsPerDayPerProjectPerModel-FreeTier" if daily else \
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        details: list = [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": quota, "quotaDimensions": {"location": "global", "model": self.model}, "quotaValue": "20"}]}]
        if not daily:
            details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "23s"})
        raise GeminiError(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and "
                          "billing details." + ("" if daily else " Please retry in 23s."), details)

    # ---- POST /chat/completions ---------------------------------------------------------------------

    def _chat(self, request: Request) -> Reply:
        try:
            self._check_key(request)
            if not isinstance(request.body, dict):
                raise GeminiError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
            self._maybe_fail()
            return self._complete(request.body)
        except GeminiError as e:
            return self._error(e)

    def _complete(self, body: dict) -> Reply:
        name = body.get("model")
        spec = self.catalogue.get(name.removeprefix("models/")) if isinstance(name, str) else None
        if spec is None:
            # Google's not-found text for generateContent; list wrapper as [CAPTURE]
            raise GeminiError(404, "NOT_FOUND", f"models/{name} is not found for API version v1beta, or is not "
                              "supported for generateContent. Call ListModels to see the list of available models "
                              "and their supported methods.")
        n = body.get("n") or 1
        if n > 1 and spec.max_candidates == 1:
            raise GeminiError(400, "INVALID_ARGUMENT", "Multiple candidates is not enabled for this model")
        if n > spec.max_candidates:
            # 2.5 accepts up to 8 candidates (one-api#2209 shows n=5 answered by the compat endpoint); text
            # follows Google's candidateCount range message (python-aiplatform#3603), ASSUMED in detail
            raise GeminiError(400, "INVALID_ARGUMENT", f"Unable to submit request because it has a candidateCount "
                              f"value of {n} but the supported range is from 1 (inclusive) to "
                              f"{spec.max_candidates + 1} (exclusive). Update the value and try again.")
        budget, include_thoughts = self._thinking(body, spec)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")  # maxOutputTokens
        msgs = [{"role": "system" if m.get("role") == "developer" else m.get("role"), "content": _text(m.get("content"))}
                for m in body.get("messages") or [] if isinstance(m, dict)]
        # A final assistant message is context, not a prefix to continue (no prefill in [COMPAT]; ASSUMED):
        # the answer is a fresh model turn.
        thinking_on = budget != 0
        prompt = templates.render("qwen3", msgs, enable_thinking=thinking_on)
        cap = None if budget < 0 else max(1, int(budget * self.budget_scale))
        seed = body.get("seed")  # seed is passed to generationConfig.seed (reproducible sampling)
        choices, visible, thoughts = [], 0, 0
        for index in range(n):
            gen = generate_capped(self.toy, prompt, think_cap=cap if thinking_on else None, max_tokens=max_tokens,
                                  seed=None if seed is None else seed + index)
            content, finish = _apply_stop(gen.content, body.get("stop"), gen.finish_reason)
            visible += count_tokens(gen.content)
            thoughts += count_tokens(gen.reasoning)
            message: dict = {"role": "assistant", "content": content or None}
            extra: dict = {}
            if include_thoughts and gen.reasoning:
                # [CAPTURE] thought summary inside content: "<thought>...</thought>" then the answer, flagged
                # by extra_content.google.thought. A summary, so shorter than the thinking that is billed.
                words = [w for w in gen.reasoning.split() if w not in (THINK_OPEN, THINK_CLOSE)]
                message["content"] = f"<thought>**Thinking** {' '.join(words[:12])}</thought>" + (content or "")
                extra["thought"] = True
            if spec.budget_range is None:  # Gemini 3 attaches a thought signature ([CAPTURE], gemini-3.5-flash)
                extra["thought_signature"] = "EjQKMgEMOdbH" + "".join(random.choices(string.ascii_letters, k=24))
            if extra:
                message["extra_content"] = {"google": extra}
            choices.append({"index": index, "message": message, "finish_reason": finish})
        prompt_tokens = count_tokens(prompt)
        # [CAPTURE] completion_tokens = visible answer only; total_tokens also counts the thoughts
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": visible,
                 "total_tokens": prompt_tokens + visible + thoughts}
        if self.reasoning_tokens_detail:
            usage["completion_tokens_details"] = {"reasoning_tokens": thoughts}
        return self._respond(body, name, choices, usage)

    def _thinking(self, body: dict, spec: GeminiModel) -> tuple[int, bool]:
        """(thinking budget in provider tokens, -1 dynamic, 0 off; include_thoughts)."""
        # [COMPAT] REST form: the request JSON carries a literal "extra_body" key ({"extra_body": {"google":
        # {"thinking_config": ...}}}), which is why the Python example nests extra_body={"extra_body": {...}}.
        # A top-level "google" key is not read here (not documented).
        extra = body.get("extra_body") if isinstance(body.get("extra_body"), dict) else {}
        config = (extra.get("google") or {}).get("thinking_config") or {}
        effort = body.get("reasoning_effort")
        has_budget, has_level = "thinking_budget" in config, "thinking_level" in config
        if effort is not None and (has_budget or has_level):
            # [THINK]/[COMPAT]: reasoning_effort and a native thinking_budget/thinking_level overlap and are
            # rejected together (also noted by clients, e.g. kodo's Gemini adapter); text ASSUMED
            raise GeminiError(400, "INVALID_ARGUMENT", "reasoning_effort and thinking_config.thinking_budget / "
                              "thinking_level cannot both be set.")
        if has_budget and has_level:  # [THINK] "You cannot use both thinking_level and thinking_budget"; text ASSUMED
            raise GeminiError(400, "INVALID_ARGUMENT", "thinking_budget and thinking_level cannot both be set.")
        include = bool(config.get("include_thoughts"))
        if effort is not None:
            valid = ("high", "low", "medium", "none") + (("minimal",) if self.accept_minimal else ())
            if effort not in valid:
                # live answer (discuss.ai.google.dev/t/117875)
                raise GeminiError(400, "INVALID_ARGUMENT", f"Invalid reasoning_effort: {effort}. Valid values "
                                  "are: high, low, medium, none")
            if spec.budget_range is None:
                return self._level("minimal" if effort == "none" else effort, spec), include  # none -> minimal, ASSUMED
            return self._budget(EFFORT_BUDGET.get(effort, 1024), spec), include
        if has_level:
            if spec.budget_range is not None:
                # real answer for a 2.5 model given a thinking level (quoted in a client test)
                raise GeminiError(400, "INVALID_ARGUMENT", "Thinking level is not supported for this model.")
            return self._level(str(config["thinking_level"]).lower(), spec), include
        if has_budget:
            return self._budget(int(config["thinking_budget"]), spec), include
        if spec.budget_range is None:
            return LEVEL_BUDGET["high"], include  # [THINK] Gemini 3 default level is high
        return spec.default_budget, include

    @staticmethod
    def _budget(budget: int, spec: GeminiModel) -> int:
        if spec.budget_range is None:
            return budget  # Gemini 3 still takes thinking_budget for backwards compatibility [THINK]
        lo, hi = spec.budget_range
        if budget == -1:
            return -1  # [THINK] dynamic thinking
        if budget == 0 and not spec.can_disable:
            # real answer from 2.5 Pro (several projects quote it, e.g. LibreChat deployment notes)
            raise GeminiError(400, "INVALID_ARGUMENT", "Budget 0 is invalid. This model only works in thinking mode.")
        if budget != 0 and not lo <= budget <= hi or budget < -1:
            raise GeminiError(400, "INVALID_ARGUMENT",
                              f"The thinking budget {budget} is invalid. Please choose a value between {lo} and {hi}.")
        return budget

    @staticmethod
    def _level(level: str, spec: GeminiModel) -> int:
        if level not in spec.levels:
            # live answer from gemini-3-pro-preview (discuss.ai.google.dev/t/112648)
            raise GeminiError(400, "INVALID_ARGUMENT", f"Thinking level {level.upper()} is not supported for this "
                              "model. Please retry with other thinking level")
        return LEVEL_BUDGET[level]

    def _respond(self, body: dict, model: str, choices: list, usage: dict) -> Reply:
        rid = "".join(random.choices(string.ascii_letters + string.digits, k=22))  # [CAPTURE] id shape
        created = int(time.time())
        if not body.get("stream"):
            return json_reply({"id": rid, "object": "chat.completion", "created": created, "model": model,
                               "choices": choices, "usage": usage})
        chunks = []
        for c in choices:
            delta = {"role": "assistant", "content": c["message"]["content"]}
            if "extra_content" in c["message"]:
                delta["extra_content"] = c["message"]["extra_content"]
            chunks.append({"index": c["index"], "delta": delta, "finish_reason": c["finish_reason"]})
        events = [{"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [chunk]} for chunk in chunks]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [], "usage": usage})
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return Reply(200, text, {}, content_type="text/event-stream")

    def not_found(self, request: Request) -> Reply:
        return self._error(GeminiError(404, "NOT_FOUND", "Requested entity was not found."))


def _text(content) -> str:
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content if isinstance(content, str) else ""


def _apply_stop(content: str, stop, finish: str) -> tuple[str, str]:
    stops = [stop] if isinstance(stop, str) else list(stop or [])  # stop -> generationConfig.stopSequences
    hits = [content.index(s) for s in stops if isinstance(s, str) and s and s in content]
    return (content[:min(hits)], "stop") if hits else (content, finish)
