"""Emulation of llama.cpp's ``llama-server`` OpenAI-compatible API (tools/server).

Sources (ggml-org/llama.cpp unless noted; "current" = master of mid/late 2026):

- [COMMON] tools/server/server-common.cpp ``oaicompat_chat_params_parse`` (request parsing,
  prefill, enable_thinking, reasoning budget hand-off) and ``format_error_response``
  (error shape / status map).
- [TASK] tools/server/server-task.cpp ``params_from_json_cmpl`` (n_predict / max_tokens /
  max_completion_tokens, n_cmpl / n, seed, reasoning_format) and
  ``server_task_result_cmpl_final::to_json_oaicompat_chat`` (response + usage shape).
- [SERVER] tools/server/server.cpp ``ex_wrapper``: std::invalid_argument -> 400
  invalid_request_error, any other exception -> 500 server_error.
- [HTTP] tools/server/server-http.cpp ``middleware_validate_api_key`` (401 body, Bearer /
  X-Api-Key, public endpoints) -- as quoted line by line in a third-party source read of master
  @465e49b (2026-09-06); PR #26347 (2026-08-19) made /models and /v1/models private.
- [CTX] tools/server/server-context.cpp ``get_res_models`` / ``get_res_model_info`` (models
  list: Ollama-style ``models`` plus OpenAI-style ``data`` with ``owned_by: "llamacpp"``).
- [README] tools/server/README.md (``--reasoning-format``, ``--reasoning``,
  ``--reasoning-budget``, ``--reasoning-budget-message``, usage/timings examples).
- [PR20297] PR #20297 "Handle reasoning budget" (2026-03): the budget became a sampler that
  counts thinking tokens and then forces ``<message> + end tag``; [PR23116] PR #23116
  (2026-05-15): per-request ``reasoning_budget_tokens`` (alias ``thinking_budget_tokens``)
  overrides ``--reasoning-budget``; only active when the template has thinking tags.
- [PR19831] PR #19831 (2026-02-23): ``max_completion_tokens`` read (before: ignored).
- [ISSUES] #20861, #21889 (2026-03/04): the prefill refusal is
  ``{"error":{"code":400,"message":"Assistant response prefill is incompatible with
  enable_thinking.","type":"invalid_request_error"}}``.

``legacy=True`` emulates a late-2025 build (server-common.cpp @aa6192d3): ``n != 1`` ->
500 "Only one completion choice is allowed"; the request errors above were
``std::runtime_error`` so they came back as 500 ``server_error``; ``max_completion_tokens``
ignored; ``--reasoning-budget`` only -1 / 0 (0 = thinking disabled in the template) and no
per-request budget; /v1/models public.

The model: Qwen3-8B GGUF rendered with the Qwen3 jinja template (``thinking=True``) or a
plain ChatML model (SmolLM2, ``thinking=False``), continued by ToyModel.
"""

from __future__ import annotations

import json
import random
import time

from .base import EmulatedServer, Reply, Request, json_reply
from .templates import MARKERS, render
from .toy_model import THINK_CLOSE, THINK_OPEN, Output, ToyModel, count_tokens

# [COMMON] format_error_response: error_type -> (HTTP status, "type")
_ERRORS = {
    "invalid_request": (400, "invalid_request_error"),
    "authentication": (401, "authentication_error"),
    "not_found": (404, "not_found_error"),
    "server": (500, "server_error"),
    "not_supported": (501, "not_supported_error"),
    "unavailable": (503, "unavailable_error"),
}

# common/chat.cpp common_reasoning_format_from_name; README --reasoning-format
_REASONING_FORMATS = ("none", "auto", "deepseek", "deepseek-legacy")


class _Invalid(Exception):
    """std::invalid_argument in llama.cpp: [SERVER] ex_wrapper answers 400."""


class _Runtime(Exception):
    """std::runtime_error (or any other std::exception): [SERVER] ex_wrapper answers 500."""


def error_body(message: str, kind: str = "invalid_request") -> tuple[int, dict]:
    status, type_ = _ERRORS[kind]
    # [COMMON] format_error_response -> {"code", "message", "type"}, wrapped in {"error": ...}
    return status, {"error": {"code": status, "message": message, "type": type_}}


def _jv(body: dict, key: str, default):
    """nlohmann ``json_value``: the default when the key is absent or null."""
    value = body.get(key)
    return default if value is None else value


def _text_of(content) -> str:
    """Message content as text: a string, or the concatenated text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class LlamaServer(EmulatedServer):
    PROFILE = "llama-server"
    DEFAULT_MODEL = "Qwen3-8B-Q4_K_M.gguf"  # [CTX] model id = alias, else the GGUF file name
    PLAIN_MODEL = "SmolLM2-1.7B-Instruct-Q4_K_M.gguf"
    api_prefix = "/v1"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | None = "test-key",
        thinking: bool = True,
        reasoning: str = "auto",
        reasoning_format: str = "auto",
        reasoning_budget: int = -1,
        reasoning_budget_message: str = "",
        n_parallel: int = 4,
        n_predict: int = -1,
        prefill_assistant: bool = True,
        legacy: bool = False,
        loading: bool = False,
    ) -> None:
        """Options mirror the server's command line:

        ``api_key`` = ``--api-key`` (None: no auth); ``thinking`` picks the model (Qwen3 with
        its jinja template, or a plain ChatML model); ``reasoning`` = ``--reasoning on|off|auto``;
        ``reasoning_format`` = ``--reasoning-format``; ``reasoning_budget`` =
        ``--reasoning-budget`` (-1 unrestricted, 0 immediate end, N tokens);
        ``reasoning_budget_message`` = ``--reasoning-budget-message``; ``n_parallel`` = ``-np``
        (auto resolves to 4 -- assumption); ``n_predict`` = ``-n``; ``prefill_assistant`` =
        ``--prefill-assistant`` / ``--no-prefill-assistant``; ``legacy``: see module docstring;
        ``loading``: the model is still loading, so every route (even /health) answers 503
        ([HTTP] middleware_server_state, which runs before the key check).
        """
        if not thinking and model == self.DEFAULT_MODEL:
            model = self.PLAIN_MODEL
        self.model_name = model
        self.api_key = api_key
        self.template = "qwen3" if thinking else "chatml"
        self.model = ToyModel(thinking=thinking, assistant_marker=MARKERS[self.template])
        self.reasoning = reasoning
        self.reasoning_format = reasoning_format
        self.reasoning_budget = reasoning_budget
        self.reasoning_budget_message = reasoning_budget_message
        self.n_parallel = n_parallel
        self.n_predict = n_predict
        self.prefill_assistant = prefill_assistant
        self.legacy = legacy
        self.loading = loading
        super().__init__()

    def dispatch(self, request: Request) -> Reply:
        if self.loading:
            status, body = error_body("Loading model", "unavailable")
            return json_reply(body, status)
        return super().dispatch(request)

    # ---- routes ----------------------------------------------------------------------

    def routes(self) -> None:
        for prefix in ("", "/v1"):
            self.route("GET", prefix + "/health", lambda r: json_reply({"status": "ok"}))
            self.route("GET", prefix + "/models", self._guard(self.models, public=self.legacy))
            self.route("POST", prefix + "/chat/completions", self._guard(self.chat))
        self.route("GET", "/props", self._guard(self.props))
        self.route("POST", "/apply-template", self._guard(self.apply_template))

    def not_found(self, request: Request) -> Reply:
        # [HTTP] unknown route: 404 {"error":{"message":"File Not Found","type":"not_found_error","code":404}}
        if not self._authorized(request):
            return self._unauthorized()
        return json_reply({"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}, 404)

    # ---- auth ------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        if self.api_key is None:  # [HTTP] no --api-key: everything is open
            return True
        # [HTTP] Authorization first; X-Api-Key only when Authorization is empty; the literal
        # prefix "Bearer " (case-sensitive) is stripped; exact comparison.
        given = request.header("authorization") or request.header("x-api-key") or ""
        if given.startswith("Bearer "):
            given = given[len("Bearer "):]
        return given == self.api_key

    @staticmethod
    def _unauthorized() -> Reply:
        # [HTTP] missing and wrong key answer the same body
        return json_reply({"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}}, 401)

    def _guard(self, handler, public: bool = False):
        def wrapped(request: Request) -> Reply:
            if not public and not self._authorized(request):
                return self._unauthorized()
            try:
                return handler(request)
            except _Invalid as e:  # [SERVER] ex_wrapper: invalid_argument -> 400
                status, body = error_body(str(e), "invalid_request")
            except _Runtime as e:  # [SERVER] ex_wrapper: other exceptions -> 500
                status, body = error_body(str(e), "server")
            return json_reply(body, status)

        return wrapped

    def _bad(self, message: str) -> Exception:
        """Errors thrown as std::invalid_argument today but std::runtime_error in late 2025."""
        return _Runtime(message) if self.legacy else _Invalid(message)

    # ---- informational endpoints -----------------------------------------------------

    def models(self, request: Request) -> Reply:
        # [CTX] get_res_models: Ollama-style "models" plus OpenAI-style "object"/"data"
        info = {
            "id": self.model_name,
            "aliases": [],
            "tags": [],
            "object": "model",
            "created": int(time.time()),
            "owned_by": "llamacpp",
            "meta": {"vocab_type": 2, "n_vocab": 151936, "n_ctx": 40960, "n_ctx_train": 40960,
                     "n_embd": 4096, "n_params": 8190735360, "size": 5027783488},
        }
        if self.legacy:  # older builds: no aliases/tags/n_ctx
            for key in ("aliases", "tags"):
                info.pop(key)
            info["meta"].pop("n_ctx")
        listed = {
            "name": self.model_name, "model": self.model_name, "modified_at": "", "size": "", "digest": "",
            "type": "model", "description": "", "tags": [""], "capabilities": ["completion"], "parameters": "",
            "details": {"parent_model": "", "format": "gguf", "family": "", "families": [""],
                        "parameter_size": "", "quantization_level": ""},
        }
        return json_reply({"models": [listed], "object": "list", "data": [info]})

    def props(self, request: Request) -> Reply:
        # [CTX] get_res_props (subset): total_slots, model_alias, chat_template, build_info ...
        return json_reply({
            "default_generation_settings": {"n_ctx": 40960, "params": {"n_predict": self.n_predict}},
            "total_slots": self.n_parallel,
            "model_alias": self.model_name,
            "model_path": f"/models/{self.model_name}",
            "chat_template": f"<{self.template} chat template>",
            "modalities": {"vision": False, "audio": False},
            "build_info": "b7400-emulated" if self.legacy else "b9400-emulated",
        })

    def apply_template(self, request: Request) -> Reply:
        # [COMMON]/[CTX] POST /apply-template: the prompt oaicompat_chat_params_parse builds
        return json_reply({"prompt": self._parse(request.body)["prompt"]})

    # ---- chat ------------------------------------------------------------------------

    def _thinking_template(self) -> bool:
        return self.template == "qwen3"  # the Qwen3 template reads enable_thinking; ChatML does not

    def _parse(self, body) -> dict:
        """The parts of oaicompat_chat_params_parse [COMMON] that shape the prompt."""
        if not isinstance(body, dict):
            # json::parse failure is a plain std::exception -> 500 [SERVER]
            raise _Runtime("[json.exception.parse_error.101] parse error: invalid JSON request body")
        # response_format type check
        if "response_format" in body:
            kind = (body.get("response_format") or {}).get("type", "")
            if kind and kind not in ("text", "json_object", "json_schema"):
                raise self._bad(f'response_format type must be one of "text" or "json_object", but got: {kind}')
        if "messages" not in body:
            raise self._bad("'messages' is required")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise self._bad("Expected 'messages' to be an array")
        for msg in messages:
            role = msg.get("role", "")
            if role != "assistant" and "content" not in msg:
                raise self._bad("All non-assistant messages must contain 'content'")
            if role == "assistant" and "content" not in msg and "tool_calls" not in msg:
                raise self._bad("Assistant message must contain either 'content' or 'tool_calls'!")
        msgs = [dict(m, content=_text_of(m.get("content"))) for m in messages]

        reasoning_format = self.reasoning_format
        if "reasoning_format" in body:  # request-level override [COMMON]/[TASK]
            reasoning_format = body["reasoning_format"]
            if reasoning_format not in _REASONING_FORMATS:
                # common_reasoning_format_from_name throws std::runtime_error -> 500
                raise _Runtime(f"Unknown reasoning format: {reasoning_format}")

        # enable_thinking default: --reasoning auto|on and the template supports it [README]
        enable_thinking = self._thinking_template() and self.reasoning != "off"
        if self.legacy and self.reasoning_budget == 0:
            enable_thinking = False  # late 2025: --reasoning-budget 0 disabled thinking in the template
        kwargs = body.get("chat_template_kwargs") or {}
        if "enable_thinking" in kwargs:  # [COMMON] the kwarg overrides the server default
            value = kwargs["enable_thinking"]
            if value is True or value is False:
                enable_thinking = value
            elif isinstance(value, str):
                raise self._bad('invalid type for "enable_thinking" (expected boolean, got string)')
        if not self.legacy and body.get("reasoning_effort") == "none":
            # current master: reasoning_effort "none" disables thinking; other levels are
            # passed to the template as a kwarg (Qwen3's template ignores them). Source: a
            # third-party source read of server-common.cpp @1ab7e5a (not confirmed upstream).
            enable_thinking = False
        template_thinking = enable_thinking and self._thinking_template()

        add_generation_prompt = body.get("add_generation_prompt", True)
        prefill = bool(msgs) and msgs[-1].get("role") == "assistant" and self.prefill_assistant
        if prefill:
            # [COMMON] a trailing assistant message is a prefill: popped, the rest rendered
            # with the generation prompt, its content appended verbatim; the reasoning parser
            # is switched off (reasoning_format = none) for the request.
            last = msgs[-1]
            if len(msgs) >= 2 and msgs[-2].get("role") == "assistant":
                raise self._bad("Cannot have 2 or more assistant messages at the end of the list.")
            reasoning_format = "none"
            if enable_thinking:
                raise self._bad("Assistant response prefill is incompatible with enable_thinking.")
            prompt = render(self.template, msgs[:-1], add_generation_prompt=True,
                            enable_thinking=template_thinking) + last["content"]
        else:
            prompt = render(self.template, msgs, add_generation_prompt=add_generation_prompt,
                            enable_thinking=template_thinking)

        # reasoning budget [PR20297]/[PR23116]: per request, else the server's --reasoning-budget;
        # only forwarded when the template has thinking tags (Qwen3 yes, ChatML no).
        budget = -1
        if not self.legacy and self._thinking_template():
            budget = _jv(body, "reasoning_budget_tokens", _jv(body, "thinking_budget_tokens", -1))
            if budget == -1:
                budget = self.reasoning_budget
        message = _jv(body, "reasoning_budget_message", self.reasoning_budget_message)
        return {"prompt": prompt, "reasoning_format": reasoning_format, "budget": budget,
                "budget_message": message or ""}

    def chat(self, request: Request) -> Reply:
        body = request.body
        parsed = self._parse(body)

        # top_logprobs without logprobs [COMMON]
        if not body.get("logprobs") and body.get("top_logprobs") is not None:
            raise self._bad("top_logprobs requires logprobs to be set to true")

        # n: [COMMON] @aa6192d3 rejected n != 1; today n / n_cmpl ask for that many choices,
        # at most -np of them [TASK] params_from_json_cmpl.
        if self.legacy:
            if _jv(body, "n", 1) != 1:
                raise _Runtime("Only one completion choice is allowed")
            n_choices = 1
        else:
            n_choices = _jv(body, "n_cmpl", _jv(body, "n", 1))
            if n_choices < 1:
                # server-schema.cpp hard limit [1, n_parallel]; the exact wording is not confirmed
                raise _Invalid("n_cmpl must be at least 1")
            if n_choices > self.n_parallel:
                # thrown while building the tasks; handle_completions_impl answers it as
                # invalid_request_error (400)
                raise _Invalid("n_cmpl cannot be greater than the number of slots, please increase -np")

        # token cap [TASK]: n_predict, else max_completion_tokens [PR19831], else max_tokens,
        # else -n; -1 = until the model stops (or the context fills).
        cap = _jv(body, "max_tokens", self.n_predict)
        if not self.legacy:
            cap = _jv(body, "max_completion_tokens", cap)
        cap = _jv(body, "n_predict", cap)
        cap = None if cap < 0 else cap

        seed = body.get("seed")  # [TASK] sampling.seed; -1 / absent = random
        if seed is None or seed == -1:
            seed = random.randrange(2**31)

        prompt = parsed["prompt"]
        choices, first_tokens = [], 0
        for index in range(n_choices):
            # every child task shares the request's sampling params, so a fixed seed gives
            # identical choices (assumption, see the facts file)
            out = self._generate(prompt, cap, seed, parsed["budget"], parsed["budget_message"])
            text, finish = self._apply_stop(out, body.get("stop"))
            message = self._message(text, parsed["reasoning_format"])
            choices.append({"finish_reason": finish, "index": index, "message": message})
            if index == 0:
                first_tokens = out.tokens

        prompt_tokens = count_tokens(prompt)
        # [TASK] to_json_oaicompat_chat: usage = n_decoded (all generated tokens, reasoning
        # included) + prompt tokens; no reasoning-token count anywhere. With n > 1 the choices
        # of the other tasks are appended to the first result, whose usage is kept.
        usage = {"completion_tokens": first_tokens, "prompt_tokens": prompt_tokens,
                 "total_tokens": first_tokens + prompt_tokens}
        if not self.legacy:
            usage["prompt_tokens_details"] = {"cached_tokens": 0}
        reply = {
            "choices": choices,
            "created": int(time.time()),
            "model": body.get("model", self.model_name),  # the request's model is echoed, never checked
            "system_fingerprint": "b9400-emulated",
            "object": "chat.completion",
            "usage": usage,
            "id": "chatcmpl-" + "".join(random.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") for _ in range(32)),
            "timings": {  # [README] "Timings and context usage"
                "cache_n": 0, "prompt_n": prompt_tokens, "prompt_ms": 1.0,
                "prompt_per_token_ms": 1.0 / max(prompt_tokens, 1), "prompt_per_second": 1000.0,
                "predicted_n": first_tokens, "predicted_ms": 1.0,
                "predicted_per_token_ms": 1.0 / max(first_tokens, 1), "predicted_per_second": 1000.0,
            },
        }
        if body.get("stream"):
            return self._stream(reply, bool((body.get("stream_options") or {}).get("include_usage")))
        return json_reply(reply)

    # ---- generation ------------------------------------------------------------------

    def _generate(self, prompt: str, cap: int | None, seed: int, budget: int, budget_message: str) -> Output:
        """ToyModel generation under the reasoning-budget sampler [PR20297].

        The sampler waits for the start tag in the generated tokens, counts ``budget`` tokens
        after it, then forces ``budget_message`` + ``</think>`` (forced tokens count as
        generated); the model then continues after the closed block.
        """
        full = self.model.generate(prompt, cap, seed)
        if budget < 0 or not self._thinking_template():
            return full
        pieces = full.text.split(" ") if full.text else []
        if not pieces or pieces[0] != THINK_OPEN:
            return full  # the model did not open a thinking block: the sampler stays idle
        thought = pieces[1:pieces.index(THINK_CLOSE)] if THINK_CLOSE in pieces else pieces[1:]
        if len(thought) <= budget and THINK_CLOSE in pieces:
            return full  # ended naturally within budget
        kept = pieces[: 1 + budget]
        if cap is not None and len(kept) >= cap:
            return full  # the token cap cuts before the budget does
        forced = budget_message.split() + [THINK_CLOSE]
        room = None if cap is None else cap - len(kept)
        if room is not None and room < len(forced):
            return Output(" ".join(kept + forced[:room]), len(kept) + room, "length")
        head = kept + forced
        rest = None if room is None else room - len(forced)
        cont = self.model.generate(prompt + " ".join(head), rest, seed)
        tail = cont.text.split(" ") if cont.text else []
        return Output(" ".join(head + tail), len(head) + cont.tokens, cont.finish_reason)

    @staticmethod
    def _apply_stop(out: Output, stop) -> tuple[str, str]:
        # [COMMON] "stop": a string or a list of strings; generation halts at the first one
        stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if s]
        text, finish = out.text, out.finish_reason
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        if cut >= 0:
            return text[:cut], "stop"
        return text, finish

    def _message(self, text: str, reasoning_format: str) -> dict:
        """common_chat_parse for the Qwen3 / ChatML formats, then to_json_oaicompat."""
        message = {"role": "assistant", "content": text}
        if reasoning_format == "none" or not self._thinking_template():
            return message  # thoughts left unparsed in content
        stripped = text.lstrip()
        if not stripped.startswith(THINK_OPEN):
            return message
        rest = stripped[len(THINK_OPEN):]
        if THINK_CLOSE in rest:
            reasoning, content = rest.split(THINK_CLOSE, 1)
        else:  # unclosed block (cut by the token cap): everything is reasoning
            reasoning, content = rest, ""
        # deepseek / auto: reasoning_content (stripped); deepseek-legacy differs only when
        # streaming ([TASK]: reasoning_in_content = stream && legacy). reasoning_content is
        # omitted when empty; content is "" rather than null.
        message["content"] = content.lstrip()
        if reasoning.strip():
            message["reasoning_content"] = reasoning.strip()
        return message

    def _stream(self, reply: dict, include_usage: bool) -> Reply:
        """SSE stream: role chunk, reasoning / content deltas, finish chunk, optional usage."""
        base = {k: reply[k] for k in ("created", "id", "model", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"
        events = []
        for choice in reply["choices"]:
            i, msg = choice["index"], choice["message"]
            deltas = [{"role": "assistant", "content": None}]
            if msg.get("reasoning_content"):
                deltas.append({"reasoning_content": msg["reasoning_content"]})
            if msg.get("content"):
                deltas.append({"content": msg["content"]})
            for d in deltas:
                events.append(dict(base, choices=[{"finish_reason": None, "index": i, "delta": d}]))
            events.append(dict(base, choices=[{"finish_reason": choice["finish_reason"], "index": i, "delta": {}}]))
        events[-1]["timings"] = reply["timings"]
        if include_usage:
            events.append(dict(base, choices=[], usage=reply["usage"]))
        data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return Reply(200, data, content_type="text/event-stream")
