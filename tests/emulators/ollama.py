"""Emulation of Ollama's OpenAI-compatible API (/v1) and the native API it sits on (/api).

Sources (ollama/ollama @fb30760, 2026-08-21, unless noted):

- [OPENAI] openai/openai.go: ``ChatCompletionRequest`` (the only fields read),
  ``FromChatRequest`` (max_tokens -> num_predict, temperature / top_p defaults 1.0, seed,
  stop), ``thinkFromReasoningEffort`` (effort -> think), ``ToChatCompletion`` (response,
  ``message.reasoning``, usage), ``ToListCompletion`` / ``ToModel`` (``owned_by`` = namespace),
  ``NewError`` (error shape and ``type`` by status).
- [MW] middleware/openai.go ``ChatMiddleware`` (400 "[] is too short - 'messages'", conversion
  errors -> 400), ``ChatWriter`` (native errors re-wrapped with ``NewError``; SSE stream with a
  finish chunk and an optional usage chunk).
- [ROUTES] server/routes.go ``ChatHandler``: 404 "model '%s' not found"; a thinking-capable
  model gets ``think = true`` when unset; ``think`` on a model without the thinking capability
  -> 400 "%q does not support thinking"; the generic ``thinking.Parser`` (tags inferred from
  the template) splits thinking from content; ``filterThinkTags``.
- [TEMPLATE] template/template.go ``Execute`` / ``collate`` (system messages collected into
  ``.System``, consecutive same-role messages merged with "\\n\\n"), server/prompt.go
  ``renderPrompt`` (``IsThinkSet`` = think != nil).
- [QWEN3] the Go TEMPLATE of ollama.com/library/qwen3 (as printed by ``ollama show
  --modelfile qwen3``; quoted verbatim in public Modelfiles): " /think" or " /no_think" after
  the last user message when think is set; a trailing assistant message is left open (no
  ``<|im_end|>``, no generation prompt) so the model continues it; its ``thinking`` is rendered
  as a closed ``<think>...</think>`` block; think=false adds an empty think block to the
  generation prompt.
- [THINKING] thinking/parser.go: output must start (after whitespace) with the opening tag to be
  read as thinking -- unless the prompt itself ends with it; the rest is content.
- [API] api/types.go ``ThinkValue`` (bool or "high" | "medium" | "low" | "max"), ``ChatRequest``.
- [DOCS] docs/api/openai-compatibility.mdx (supported fields: no ``n``; ``owned_by`` is the
  ollama username, default "library"; api_key "required but ignored"), docs/api.md.

The models: ``qwen3:8b`` (thinking capability, Qwen3 template) and ``qwen2.5:7b`` (plain ChatML,
no thinking capability), each continued by ToyModel.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime, timezone

from .base import EmulatedServer, Reply, Request, json_reply
from .toy_model import THINK_CLOSE, THINK_OPEN, Output, ToyModel, count_tokens

_MODIFIED = datetime(2025, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
_EFFORTS = '"minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none"'


class _Fail(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def openai_error(status: int, message: str) -> Reply:
    # [OPENAI] NewError: type by status; param and code are always null
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return json_reply({"error": {"message": message, "type": kind, "param": None, "code": None}}, status)


def _think_from_effort(effort: str):
    """[OPENAI] thinkFromReasoningEffort; returns (think value or None)."""
    if effort == "":
        return None
    if effort == "none":
        return False
    if effort == "minimal":
        return "low"
    if effort in ("low", "medium", "high", "max"):
        return effort
    if effort in ("xhigh", "ultra"):
        return "max"
    raise _Fail(400, f'invalid reasoning value: "{effort}" (must be {_EFFORTS})')


def _think_bool(think) -> bool:
    # [API] ThinkValue.Bool: true, or any level string
    return think is True or think in ("high", "medium", "low", "max")


class OllamaServer(EmulatedServer):
    PROFILE = "ollama"
    DEFAULT_MODEL = "qwen3:8b"
    PLAIN_MODEL = "qwen2.5:7b"
    api_prefix = "/v1"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        thinking: bool | None = None,
        also_pulled: dict[str, bool] | None = None,
        version: str = "0.13.5",
        busy: bool = False,
    ) -> None:
        """``model`` is pulled (plus ``also_pulled``: name -> has the thinking capability).

        ``thinking`` says whether ``model`` is a thinking model (default: names starting with
        "qwen3"). ``api_key`` is accepted and ignored: a local Ollama has no authentication
        ([DOCS]: "required but ignored"). ``busy``: the queue is full (OLLAMA_MAX_QUEUE), so
        chat requests get the scheduler's 503 ([ROUTES] handleScheduleError, server/sched.go
        ErrMaxQueue).
        """
        self.api_key = api_key
        self.busy = busy
        self.version = version
        self.pulled: dict[str, bool] = {}
        self._add(model, model.startswith("qwen3") if thinking is None else thinking)
        for name, capable in (also_pulled or {}).items():
            self._add(name, capable)
        super().__init__()

    def _add(self, name: str, thinking: bool) -> None:
        self.pulled[self._canonical(name)] = thinking

    @staticmethod
    def _canonical(name: str) -> str:
        # a name without a tag means ":latest" (types/model ParseName)
        name = name.strip()
        return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"

    # ---- routes ----------------------------------------------------------------------

    def routes(self) -> None:
        self.route("GET", "/", lambda r: Reply(200, "Ollama is running", content_type="text/plain; charset=utf-8"))
        self.route("GET", "/api/version", lambda r: json_reply({"version": self.version}))
        self.route("GET", "/api/tags", self.tags)
        self.route("POST", "/api/show", self.show)
        self.route("POST", "/api/chat", self.native_chat)
        self.route("GET", "/v1/models", self.list_models)
        self.route("GET", "/v1/models/(?P<name>.+)", self.retrieve_model)
        self.route("POST", "/v1/chat/completions", self.chat)

    def not_found(self, request: Request) -> Reply:
        return Reply(404, "404 page not found", content_type="text/plain")  # gin's default

    # ---- model listing ---------------------------------------------------------------

    def _find(self, name) -> tuple[str, bool]:
        if not isinstance(name, str) or not name.strip():
            raise _Fail(400, "model is required")
        key = self._canonical(name)
        if key not in self.pulled:
            raise _Fail(404, f"model '{name}' not found")  # [ROUTES]
        return key, self.pulled[key]

    @staticmethod
    def _namespace(name: str) -> str:
        # types/model ParseName: "library" unless the name carries its own namespace
        parts = name.split(":")[0].split("/")
        return parts[-2] if len(parts) >= 2 else "library"

    def tags(self, request: Request) -> Reply:
        models = []
        for name, thinking in self.pulled.items():
            family = name.split(":")[0].split("/")[-1].split(".")[0]
            models.append({
                "name": name, "model": name, "modified_at": _MODIFIED.isoformat(),
                "size": 5225388164, "digest": "%064x" % abs(hash(name)),
                "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                            "parameter_size": "8.2B", "quantization_level": "Q4_K_M"},
            })
        return json_reply({"models": models})

    def show(self, request: Request) -> Reply:
        body = request.body if isinstance(request.body, dict) else {}
        try:
            key, thinking = self._find(body.get("model") or body.get("name"))
        except _Fail as e:
            return json_reply({"error": e.message}, e.status)
        caps = ["completion", "tools"] + (["thinking"] if thinking else [])
        return json_reply({"capabilities": caps, "details": {"format": "gguf"}, "modified_at": _MODIFIED.isoformat()})

    def list_models(self, request: Request) -> Reply:
        # [OPENAI] ToListCompletion: id, object "model", created = modified_at, owned_by = namespace
        data = [{"id": name, "object": "model", "created": int(_MODIFIED.timestamp()),
                 "owned_by": self._namespace(name)} for name in self.pulled]
        return json_reply({"object": "list", "data": data})

    def retrieve_model(self, request: Request) -> Reply:
        name = request.match.group("name")
        try:
            self._find(name)
        except _Fail as e:
            return openai_error(e.status, e.message)
        return json_reply({"id": name, "object": "model", "created": int(_MODIFIED.timestamp()),
                           "owned_by": self._namespace(name)})

    # ---- prompt ----------------------------------------------------------------------

    @staticmethod
    def _render(messages: list[dict], think, thinking_model: bool) -> str:
        """[TEMPLATE] collate + [QWEN3] (thinking model) or the qwen2.5 ChatML template."""
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        msgs: list[dict] = []
        for m in messages:  # collate: merge consecutive same-role messages (tools excepted)
            if msgs and msgs[-1]["role"] == m["role"] and m["role"] != "tool":
                msgs[-1] = dict(msgs[-1], content=msgs[-1]["content"] + "\n\n" + m["content"])
            else:
                msgs.append(dict(m))
        is_think_set = think is not None and thinking_model
        think_on = _think_bool(think)
        last_user = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=-1)
        out = []
        if system:
            # qwen3: "{{ .System }}\n\n" then the tools block trims up to <|im_end|>
            out.append(f"<|im_start|>system\n{system}\n\n<|im_end|>\n" if thinking_model
                       else f"<|im_start|>system\n{system}<|im_end|>\n")
        for i, m in enumerate(msgs):
            last = i == len(msgs) - 1
            if m["role"] == "user":
                suffix = ""
                if is_think_set and i == last_user:
                    suffix = " /think" if think_on else " /no_think"
                out.append(f"<|im_start|>user\n{m['content']}{suffix}<|im_end|>\n")
            elif m["role"] == "assistant":
                out.append("<|im_start|>assistant\n")
                if is_think_set and m.get("thinking") and (last or i > last_user):
                    out.append(f"{THINK_OPEN}{m['thinking']}{THINK_CLOSE}\n")
                out.append(m["content"])
                if not last:
                    out.append("<|im_end|>\n")
            elif m["role"] == "tool":
                out.append(f"<|im_start|>user\n<tool_response>\n{m['content']}\n</tool_response><|im_end|>\n")
            if m["role"] != "assistant" and last:
                out.append("<|im_start|>assistant\n")
                if is_think_set and not think_on:
                    out.append(f"{THINK_OPEN}\n\n{THINK_CLOSE}\n\n")
        return "".join(out)

    @staticmethod
    def _parse_thinking(output: str, primed: bool) -> tuple[str, str]:
        """[THINKING] Parser.AddContent over the whole output: (thinking, content)."""
        text = output
        if not primed:
            trimmed = text.lstrip()
            if not trimmed.startswith(THINK_OPEN):
                return "", text  # thinking skipped: everything is content, untrimmed
            text = trimmed[len(THINK_OPEN):]
        text = text.lstrip()
        if THINK_CLOSE in text:
            thinking, rest = text.split(THINK_CLOSE, 1)
            return thinking, rest.lstrip()
        return text, ""

    # ---- generation (ChatHandler) ----------------------------------------------------

    def _run(self, name: str, messages: list[dict], think, options: dict) -> dict:
        """[ROUTES] ChatHandler after the request is in native form."""
        key, thinking_model = self._find(name)
        if thinking_model:
            if think is None:
                think = True  # thinking-capable models think unless told otherwise
        elif think is not None and _think_bool(think):
            raise _Fail(400, f'"{name}" does not support thinking')
        if self.busy:
            raise _Fail(503, "server busy, please try again.  maximum pending requests exceeded")
        if not messages:
            return {"model": name, "content": "", "thinking": "", "done_reason": "load", "prompt": 0, "eval": 0}
        if thinking_model:
            # filterThinkTags: <think> blocks dropped from assistant turns before the last user turn
            last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
            messages = [dict(m, content=self._parse_thinking(m["content"], False)[1])
                        if m["role"] == "assistant" and i < last_user else m
                        for i, m in enumerate(messages)]
        prompt = self._render(messages, think, thinking_model)
        num_predict = options.get("num_predict", -1)
        cap = num_predict if isinstance(num_predict, int) and num_predict > 0 else None
        seed = options.get("seed")
        if seed is None or seed < 0:
            seed = random.randrange(2**31)
        model = ToyModel(thinking=thinking_model, assistant_marker="<|im_start|>assistant\n")
        out: Output = model.generate(prompt, cap, seed)
        text = out.text
        for stop in options.get("stop") or []:
            if stop and stop in text:
                text = text[: text.find(stop)]
        thinking, content = "", text
        if thinking_model and _think_bool(think):
            # generic thinking parser; primed when the prompt already ends with <think>
            thinking, content = self._parse_thinking(text, prompt.strip().endswith(THINK_OPEN))
        return {"model": name, "content": content, "thinking": thinking, "done_reason": out.finish_reason,
                "prompt": count_tokens(prompt), "eval": out.tokens}

    # ---- /v1/chat/completions --------------------------------------------------------

    def _from_openai(self, body) -> tuple[str, list[dict], object, dict]:
        """[MW] ChatMiddleware + [OPENAI] FromChatRequest."""
        if not isinstance(body, dict):
            raise _Fail(400, "invalid character looking for beginning of value")
        for field, kinds, go in (("max_tokens", (int,), "int"), ("seed", (int,), "int"),
                                 ("temperature", (int, float), "float64"), ("top_p", (int, float), "float64")):
            value = body.get(field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise _Fail(400, f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                                 f"ChatCompletionRequest.{field} of type {go}")
        raw = body.get("messages") or []
        if not raw:
            raise _Fail(400, "[] is too short - 'messages'")
        messages = []
        for msg in raw:
            role, content = msg.get("role", ""), msg.get("content")
            thinking = msg.get("reasoning") or ""  # Message.Reasoning -> api.Message.Thinking
            if isinstance(content, str):
                messages.append({"role": role, "content": content, "thinking": thinking})
            elif isinstance(content, list):
                for part in content:  # each text part becomes its own message (collated later)
                    if not isinstance(part, dict) or part.get("type") not in ("text", "image_url", "input_audio"):
                        raise _Fail(400, "invalid message format")
                    if part["type"] == "text":
                        if not isinstance(part.get("text"), str):
                            raise _Fail(400, "invalid message format")
                        messages.append({"role": role, "content": part["text"], "thinking": ""})
            elif msg.get("tool_calls") is None:
                raise _Fail(400, f"invalid message content type: {'<nil>' if content is None else type(content).__name__}")
            else:
                messages.append({"role": role, "content": "", "thinking": thinking})
        options: dict = {}
        stop = body.get("stop")
        if isinstance(stop, str):
            options["stop"] = [stop]
        elif isinstance(stop, list):
            options["stop"] = [s for s in stop if isinstance(s, str)]
        if body.get("max_tokens") is not None:
            options["num_predict"] = body["max_tokens"]  # max_completion_tokens is not read
        options["temperature"] = body["temperature"] if body.get("temperature") is not None else 1.0
        if body.get("seed") is not None:
            options["seed"] = body["seed"]
        options["top_p"] = body["top_p"] if body.get("top_p") is not None else 1.0
        # reasoning.effort wins over reasoning_effort when the object is present
        if isinstance(body.get("reasoning"), dict):
            effort = body["reasoning"].get("effort") or ""
        else:
            effort = body.get("reasoning_effort") or ""
        think = _think_from_effort(effort)
        return body.get("model", ""), messages, think, options

    def chat(self, request: Request) -> Reply:
        try:
            name, messages, think, options = self._from_openai(request.body)
            result = self._run(name, messages, think, options)
        except _Fail as e:
            return openai_error(e.status, e.message)
        body = request.body
        message = {"role": "assistant", "content": result["content"]}
        if result["thinking"]:
            message["reasoning"] = result["thinking"]  # omitempty
        usage = {"prompt_tokens": result["prompt"], "completion_tokens": result["eval"],
                 "total_tokens": result["prompt"] + result["eval"]}
        reply = {
            "id": f"chatcmpl-{random.randrange(999)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": name,
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": message, "finish_reason": result["done_reason"] or None}],
            "usage": usage,
        }
        if body.get("stream"):
            return self._sse(reply, bool((body.get("stream_options") or {}).get("include_usage")))
        return json_reply(reply)

    @staticmethod
    def _sse(reply: dict, include_usage: bool) -> Reply:
        """[MW] ChatWriter streaming: content chunks, a finish chunk, an optional usage chunk."""
        base = {k: reply[k] for k in ("id", "object", "created", "model", "system_fingerprint")}
        base["object"] = "chat.completion.chunk"
        msg = reply["choices"][0]["message"]
        deltas = []
        if msg.get("reasoning"):
            deltas.append({"role": "assistant", "content": "", "reasoning": msg["reasoning"]})
        if msg["content"] or not deltas:
            deltas.append({"content": msg["content"]} if deltas else {"role": "assistant", "content": msg["content"]})
        events = [dict(base, choices=[{"index": 0, "delta": d, "finish_reason": None}]) for d in deltas]
        finish = dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": reply["choices"][0]["finish_reason"] or "stop"}])
        events.append(finish)
        if include_usage:
            events.append(dict(finish, choices=[], usage=reply["usage"]))
        data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return Reply(200, data, content_type="text/event-stream")

    # ---- /api/chat (native) ----------------------------------------------------------

    def native_chat(self, request: Request) -> Reply:
        body = request.body
        if not isinstance(body, dict):
            return json_reply({"error": "missing request body"}, 400)
        think = body.get("think")
        if isinstance(think, str) and think not in ("high", "medium", "low", "max"):
            # [API] ThinkValue.UnmarshalJSON
            return json_reply({"error": f'invalid think value: "{think}" (must be "high", "medium", "low", "max", true, or false)'}, 400)
        messages = [{"role": m.get("role", ""), "content": m.get("content") or "", "thinking": m.get("thinking") or ""}
                    for m in body.get("messages") or []]
        try:
            result = self._run(body.get("model"), messages, think, body.get("options") or {})
        except _Fail as e:
            return json_reply({"error": e.message}, e.status)
        created = datetime.now(timezone.utc).isoformat()
        message = {"role": "assistant", "content": result["content"]}
        if result["thinking"]:
            message["thinking"] = result["thinking"]
        final = {"model": result["model"], "created_at": created, "message": message,
                 "done_reason": result["done_reason"], "done": True, "total_duration": 1000000,
                 "load_duration": 1000, "prompt_eval_count": result["prompt"], "prompt_eval_duration": 1000,
                 "eval_count": result["eval"], "eval_duration": 1000}
        if body.get("stream", True) is False:
            return json_reply(final)
        # default: NDJSON stream -- the message, then a done record carrying the metrics
        first = {"model": result["model"], "created_at": created, "message": message, "done": False}
        last = dict(final, message={"role": "assistant", "content": ""})
        return Reply(200, json.dumps(first) + "\n" + json.dumps(last) + "\n", content_type="application/x-ndjson")
