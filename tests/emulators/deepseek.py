"""Emulation of the DeepSeek API (https://api.deepseek.com, also /v1, and /beta for Chat
Prefix Completion), written from api-docs.deepseek.com and real error bodies quoted in
public issue threads (each rule names its source).

Doc generations differ a lot; ``version`` picks one (default: the current one):

- ``"v4"`` (from 2026-04-24): models ``deepseek-v4-flash`` / ``deepseek-v4-pro``, thinking on
  by default, switched by ``thinking: {"type": "enabled"|"disabled"}``, depth by
  ``reasoning_effort``; ``deepseek-chat`` / ``deepseek-reasoner`` are compatibility aliases of
  v4-flash non-thinking / thinking until 2026-07-24 (``legacy_aliases``).
  Sources: api-docs.deepseek.com quick_start (Your First API Call, Models & Pricing),
  guides/thinking_mode, api/create-chat-completion (mirrored verbatim in public repos, e.g.
  the "Create Chat Completion" and "Thinking Mode" extracts found by find_string).
- ``"v3.2"`` (2025-12 .. 2026-04): only ``deepseek-chat`` (non-thinking) and
  ``deepseek-reasoner`` (thinking); ``thinking`` switch exists; reasoner ``max_tokens``
  "The maximum output length (including the COT part). Default to 32K, maximum to 64K";
  logprobs/top_logprobs raise an error in thinking mode (guides/thinking_mode, 2025 version).
- ``"r1"`` (2025-01): ``deepseek-reasoner`` = R1: ``max_tokens`` is "The maximum length of
  the final response after the CoT output is completed, defaulting to 4K, with a maximum of
  8K. Note that the CoT output can reach up to 32K tokens"; ``reasoning_content`` in input
  messages -> 400 (guides/reasoning_model, 2025-01 version).

The toy model (tests/emulators/toy_model.py) runs behind it with DeepSeek-R1's template
(templates.render("r1", ...)); thinking mode opens ``<think>`` in the prompt, non-thinking
mode closes it (``</think>``) and the toy then reasons visibly in ``content``.
``reasoning_effort`` caps the toy's thinking (this emulation's choice): low 48 tokens,
high 144, max unlimited (the toy needs 8..172).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid

from . import templates
from .base import EmulatedServer, Reply, Request, json_reply
from .openai_api import think_then_answer
from .toy_model import ToyModel, count_tokens

MARKER = templates.MARKERS["r1"]  # "<｜Assistant｜>"
EFFORT_THINK_CAP = {"low": 48, "high": 144, "max": None}

# guides/thinking_mode (current): "Requested effort -> Actual mapped effort": minimal->low,
# low->low, medium->high, high->high, xhigh->high, max->max, ultra->max. The create-chat-
# completion reference lists none|low|high|max; "none" disables thinking (the Responses-format
# column of the same table: "none disables thinking mode").
EFFORT_MAP = {"minimal": "low", "low": "low", "medium": "high", "high": "high", "xhigh": "high",
              "max": "max", "ultra": "max", "none": None}
# Launch-time V4 docs (2026-04): "Possible values: high, max ... For compatibility, low and
# medium are mapped to high, and xhigh is mapped to max."
EFFORT_MAP_LAUNCH = {"low": "high", "medium": "high", "high": "high", "xhigh": "max", "max": "max"}


def error(status: int, message: str, type_: str = "invalid_request_error", code: str = "invalid_request_error") -> Reply:
    """DeepSeek's JSON error envelope: {"error": {"message", "type", "param": null, "code"}};
    code is "invalid_request_error" in every quoted body (400 max_tokens: pollinations/
    pollinations#1291; 401: droidrun/mobilerun#28; 402: Aider-AI/aider#4851)."""
    return json_reply({"error": {"message": message, "type": type_, "param": None, "code": code}}, status)


class DeepSeekServer(EmulatedServer):
    """``DeepSeekServer(model, api_key=..., version="v4", ...)``.

    Options: ``version`` ("v4" | "v3.2" | "r1"); ``legacy_aliases`` (v4: accept
    deepseek-chat / deepseek-reasoner, as until 2026-07-24); ``effort_mapping`` ("current" |
    "launch"); ``insufficient_balance`` (every chat request -> 402); ``rate_limit_first``
    (first N chat requests -> 429); ``prefix_reasoning_open`` (see ``prefix_prompt``).
    """

    PROFILE = "deepseek"
    DEFAULT_MODEL = "deepseek-v4-flash"
    # "base_url https://api.deepseek.com ... To be compatible with OpenAI, you can also use
    # https://api.deepseek.com/v1 as the base_url. But note that the v1 here has NO
    # relationship with the model's version." (quick_start, Your First API Call)
    api_prefix = ""

    def __init__(self, model: str = DEFAULT_MODEL, *, api_key: str | None = "test-key", version: str = "v4",
                 legacy_aliases: bool = True, effort_mapping: str = "current", insufficient_balance: bool = False,
                 rate_limit_first: int = 0, prefix_reasoning_open: bool = False):
        if version not in ("v4", "v3.2", "r1"):
            raise ValueError(f"unknown DeepSeek docs version {version!r}")
        self.version = version
        if version == "v4":
            self.models = ["deepseek-v4-flash", "deepseek-v4-pro"] + (["deepseek-chat", "deepseek-reasoner"] if legacy_aliases else [])
        else:
            self.models = ["deepseek-chat", "deepseek-reasoner"]
        if model not in self.models:
            raise ValueError(f"{model!r} is not served by DeepSeek docs version {version}: {self.models}")
        self.model = model
        self.api_key = api_key
        self.effort_map = EFFORT_MAP if effort_mapping == "current" else EFFORT_MAP_LAUNCH
        self.insufficient_balance = insufficient_balance
        self.rate_limit_left = rate_limit_first
        self.prefix_reasoning_open = prefix_reasoning_open
        self._cache_units: list[str] = []
        self._seeds = itertools.count(1)
        super().__init__()

    @property
    def beta_url(self) -> str:
        """The base URL that enables Beta features (Chat Prefix Completion)."""
        return self.origin + "/beta"

    def routes(self) -> None:
        for prefix in ("", "/v1", "/beta"):
            self.route("GET", prefix + "/models", self.list_models)
            self.route("POST", prefix + "/chat/completions", self.chat)

    # ---- auth, models ---------------------------------------------------------------------

    def auth(self, request: Request) -> Reply | None:
        """Authorization: Bearer <key> (api/list-models, "Provide your bearer token in the
        Authorization header"). 401 body: {"message": "Authentication Fails, Your api key:
        ****18b\" is invalid", "type": "authentication_error", "code": "invalid_request_error"}
        (droidrun/mobilerun#28). The text for a *missing* header is not documented; the same
        body is used."""
        if self.api_key is None:
            return None
        header = request.header("authorization") or ""
        key = header[7:].strip() if header.startswith("Bearer ") else ""
        if key != self.api_key:
            return error(401, f"Authentication Fails, Your api key: ****{key[-4:]} is invalid", type_="authentication_error")
        return None

    def list_models(self, request: Request) -> Reply:
        # {"object": "list", "data": [{"id", "object": "model", "owned_by": "deepseek"}]}
        # (api/list-models response example; no "created" field).
        return self.auth(request) or json_reply(
            {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "deepseek"} for m in self.models]})

    # ---- chat -------------------------------------------------------------------------------

    def chat(self, request: Request) -> Reply:
        refused = self.auth(request)
        if refused:
            return refused
        if self.insufficient_balance:
            # 402 - Insufficient Balance (quick_start/error_codes); body: Aider-AI/aider#4851.
            return error(402, "Insufficient Balance", type_="unknown_error")
        if self.rate_limit_left > 0:
            self.rate_limit_left -= 1
            # 429 - Rate Limit Reached (quick_start/error_codes; v4: per-account concurrency
            # limit, quick_start/rate_limit). The JSON body is NOT documented or quoted anywhere
            # found; this one is an assumption in the same envelope.
            return error(429, "Rate Limit Reached", type_="rate_limit_error")
        body = request.body
        beta = request.path.startswith("/beta/")
        refused = self.validate(body, beta)
        if refused:
            return refused
        return self.complete(body, beta)

    def deserialize_error(self, detail: str) -> Reply:
        """Schema errors. Current: 400 invalid_request_error "Failed to deserialize the JSON body
        into the target type: messages[1].role: unknown variant `developer`, expected one of ..."
        (decolua/9router#773, 2026-05; tailcallhq/forgecode#2008, 2025-11). In 2024-early 2025
        the same text came as a plain-text 422 (cline/cline#230, chatboxai/chatbox#1740)."""
        text = f"Failed to deserialize the JSON body into the target type: {detail} at line 1 column 1"
        if self.version == "r1":
            return Reply(422, text, content_type="text/plain; charset=utf-8")
        return error(400, text)

    def validate(self, body, beta: bool = False) -> Reply | None:
        if not isinstance(body, dict):
            return self.deserialize_error("expected value")
        if "messages" not in body:
            return self.deserialize_error("missing field `messages`")
        if "model" not in body:
            return self.deserialize_error("missing field `model`")
        roles = ("system", "user", "assistant", "tool") + (("latest_reminder",) if self.version == "v4" else ())
        messages = body["messages"]
        if not isinstance(messages, list):
            return self.deserialize_error("messages: invalid type: expected a sequence")
        if not messages:
            # "messages ... Possible values: >= 1" (api/create-chat-completion); text assumed.
            return error(400, "Invalid messages: the messages list must contain at least 1 message")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in roles:
                role = m.get("role") if isinstance(m, dict) else m
                return self.deserialize_error(f"messages[{i}].role: unknown variant `{role}`, expected one of "
                                              + ", ".join(f"`{r}`" for r in roles))
            content = m.get("content")
            if isinstance(content, list) and (self.version != "v4" or m.get("role") != "user"):
                # Only V4 user messages take content parts (deepseek-harness types.ts, WireUserMessage).
                return self.deserialize_error(f"messages[{i}]: invalid type: sequence, expected a string")
        if body["model"] not in self.models:
            # 400 "Model Not Exist" (langbot-app/LangBot#1643, deepwn/addi#13).
            return error(400, "Model Not Exist")
        effort = body.get("reasoning_effort")
        if self.version == "v4" and effort is not None and effort not in self.effort_map:
            expected = ", ".join(f"`{e}`" for e in self.effort_map)
            return self.deserialize_error(f"reasoning_effort: unknown variant `{effort}`, expected one of {expected}")
        if (body.get("n") or 1) != 1:
            # 400 "Invalid n value (currently only n = 1 is supported)" (SakanaAI/AI-Scientist#177;
            # deepseek-ai/DeepSeek-V2#55 "the deepseek api only support n = 1").
            return error(400, "Invalid n value (currently only n = 1 is supported)")
        top_p = body.get("top_p")
        if top_p is not None and not 0 < top_p <= 1:
            # chatboxai/chatbox#2483 (body quoted).
            return error(400, "Invalid top_p value, the valid range of top_p is (0, 1.0]")
        temperature = body.get("temperature")
        if temperature is not None and not 0 <= temperature <= 2:
            # "Possible values: <= 2" (api/create-chat-completion); wording by analogy with top_p.
            return error(400, "Invalid temperature value, the valid range of temperature is [0, 2.0]")
        thinking = self.thinking_on(body)
        low, high = self.max_tokens_range(body, thinking)
        cap = body.get("max_tokens")
        if cap is not None and not low <= cap <= high:
            # "Invalid max_tokens value, the valid range of max_tokens is [1, 8192]" (deepseek-chat:
            # sipeed/picoclaw#1102); v4 "[1, 393216]" (quoted in a public deepseek client's notes;
            # api/create-chat-completion: "between 1 and 384K (393216)").
            return error(400, f"Invalid max_tokens value, the valid range of max_tokens is [{low}, {high}]")
        if thinking and self.version != "v4" and (body.get("logprobs") or body.get("top_logprobs") is not None):
            # "Setting logprobs, top_logprobs will trigger an error" (guides/reasoning_model, 2025);
            # the message text is not quoted anywhere found - wording modelled on "deepseek-reasoner
            # does not support the parameter `presence_penalty`" (lollipopkit/flutter_gpt_box#213).
            which = "logprobs" if body.get("logprobs") else "top_logprobs"
            return error(400, f"{body['model']} does not support the parameter `{which}`")
        last = messages[-1] if messages else {}
        # "prefix" counts only on the /beta base URL; elsewhere it is assumed ignored.
        prefix = beta and last.get("role") == "assistant" and bool(last.get("prefix"))
        for i, m in enumerate(messages):
            if self.version == "r1" and m.get("role") == "assistant" and m.get("reasoning_content") is not None \
                    and not (prefix and i == len(messages) - 1):
                # "if the reasoning_content field is included in the sequence of input messages,
                # the API will return a 400 error" (guides/reasoning_model, 2025-01); message text:
                # Euyug/Mirai-Gpt-Plugin#4.
                return error(400, "The reasoning_content is an intermediate result for display purposes only and "
                             "will not be included in the context for inference. Please remove the "
                             "reasoning_content from your message to reduce network traffic.")
        if thinking and body.get("tools") and self.version != "r1":
            # With tools, thinking mode needs every earlier assistant turn's reasoning_content
            # back, "If your code does not correctly pass back reasoning_content, the API will
            # return a 400 error" (guides/thinking_mode). Bodies: v4 JohnnyZ93/oai-compatible-
            # copilot#202; v3.2 (tool-call turns only) continuedev/continue#9831.
            for i, m in enumerate(messages):
                if m.get("role") != "assistant" or m.get("reasoning_content") is not None:
                    continue
                if self.version == "v4":
                    return error(400, "The `reasoning_content` in the thinking mode must be passed back to the API.")
                if m.get("tool_calls"):
                    return error(400, f"Missing `reasoning_content` field in the assistant message at message index "
                                 f"{i}. For more information, please refer to "
                                 "https://api-docs.deepseek.com/guides/thinking_mode#tool-calls")
        if thinking and last.get("role") == "assistant" and not prefix:
            # "The last message of deepseek-reasoner must be a user message, or an assistant message
            # with prefix mode on (refer to https://api-docs.deepseek.com/guides/chat_prefix_completion)."
            # (BerriAI/litellm#8090, 2025-01). Applied to every thinking-mode request here (assumed for v4).
            return error(400, f"The last message of {body['model']} must be a user message, or an assistant "
                         "message with prefix mode on (refer to "
                         "https://api-docs.deepseek.com/guides/chat_prefix_completion).")
        return None

    # ---- mode, limits -------------------------------------------------------------------------

    def thinking_on(self, body: dict) -> bool:
        """Thinking mode: r1 -> the reasoner model; v3.2 -> model deepseek-reasoner or
        thinking.type enabled; v4 -> thinking.type (default "enabled"), with the aliases
        defaulting to their mode and reasoning_effort "none" turning it off."""
        name = body["model"]
        if self.version == "r1":
            return name == "deepseek-reasoner"
        switch = (body.get("thinking") or {}).get("type") if isinstance(body.get("thinking"), dict) else None
        if self.version == "v3.2":
            return name == "deepseek-reasoner" or switch == "enabled"
        if body.get("reasoning_effort") == "none":
            return False
        if switch in ("enabled", "disabled"):
            return switch == "enabled"
        return name != "deepseek-chat"  # "Thinking mode is enabled by default"

    def max_tokens_range(self, body: dict, thinking: bool) -> tuple[int, int]:
        if self.version == "v4":
            return 1, 393216  # "between 1 and 384K (393216)" (api/create-chat-completion)
        if self.version == "v3.2" and thinking:
            return 1, 65536  # "Default to 32K, maximum to 64K" (guides/thinking_mode, V3.2)
        return 1, 8192  # deepseek-chat, and R1's final answer: "maximum of 8K"

    def default_max_tokens(self, body: dict, thinking: bool) -> int:
        if self.version == "v4":
            # "When not set, the default is 8K in non-thinking mode, 64K in thinking mode (128K
            # with reasoning_effort set to max)" (api/create-chat-completion, 2026-09 extract).
            if not thinking:
                return 8192
            return 131072 if self.effort_map.get(body.get("reasoning_effort") or "high") == "max" else 65536
        if self.version == "v3.2" and thinking:
            return 32768
        return 4096

    # ---- generation --------------------------------------------------------------------------

    def prefix_prompt(self, messages: list[dict], thinking: bool) -> str:
        """Chat Prefix Completion (Beta): "the role of the last message in the messages list is
        assistant and set the prefix parameter of the last message to True"; "set
        base_url=\"https://api.deepseek.com/beta\"" (guides/chat_prefix_completion). In thinking
        mode the last message's reasoning_content is "the input for the CoT in the last
        assistant message" (api/create-chat-completion, assistant message, Beta).

        How the server lays that out is not documented. Assumed: the given CoT is closed
        (``<think>\\n{cot}\\n</think>``, empty when absent) and the model continues the content;
        with ``prefix_reasoning_open`` and an empty content, the CoT stays open and the model
        continues reasoning."""
        *history, last = messages
        text = templates.render("r1", history, add_generation_prompt=False) + MARKER
        content = last.get("content") or ""
        if not thinking:
            return text + "</think>" + content
        cot = last.get("reasoning_content") or ""
        if self.prefix_reasoning_open and not content:
            return text + "<think>\n" + cot
        return text + "<think>\n" + cot + "\n</think>" + content

    def complete(self, body: dict, beta: bool) -> Reply:
        name = body["model"]
        thinking = self.thinking_on(body)
        messages = []
        for m in body["messages"]:
            content = m.get("content")
            if isinstance(content, list):
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            messages.append(dict(m, content=content))
        last = messages[-1]
        # "prefix" outside /beta: assumed ignored (the message is then ordinary history).
        prefix = beta and last.get("role") == "assistant" and bool(last.get("prefix"))
        if prefix:
            prompt = self.prefix_prompt(messages, thinking)
        elif thinking:
            # Earlier turns' reasoning_content is never concatenated into the context (no tools):
            # the r1 template drops it and keeps only the content.
            prompt = templates.render("r1", messages, add_generation_prompt=True)  # ends "<think>\n"
        else:
            # Non-thinking: a trailing assistant message without prefix is history and a new
            # turn starts (assumed; not documented).
            prompt = templates.render("r1", messages, add_generation_prompt=False) + MARKER + "</think>"
        cap = body.get("max_tokens") or self.default_max_tokens(body, thinking)
        seed = next(self._seeds)  # DeepSeek documents no seed parameter; the toy needs one
        own = prompt[prompt.rfind(MARKER) + len(MARKER):]
        think_open = "<think>" in own and "</think>" not in own
        reasoning = None
        if thinking and think_open:
            effort = self.effort_map.get(body.get("reasoning_effort") or "high") if self.version == "v4" else "max"
            think_cap = EFFORT_THINK_CAP[effort or "max"]
            toy = ToyModel(thinking=True, assistant_marker=MARKER)
            if self.version == "r1":
                # R1: the CoT (up to 32K) is not counted in max_tokens; only the final answer is.
                reasoning, hidden, content, answer_tokens, finish = think_then_answer(toy, prompt, 32768, None, seed)
                if answer_tokens > cap:
                    content, answer_tokens, finish = " ".join(content.split()[:cap]), cap, "length"
            else:
                # v3.2 / v4: "max_tokens: The maximum output length (including the COT part)".
                reasoning, hidden, content, answer_tokens, finish = think_then_answer(toy, prompt, think_cap, cap, seed)
        else:
            toy = ToyModel(thinking=thinking, assistant_marker=MARKER)
            out = toy.generate(prompt, cap, seed)
            hidden, content, answer_tokens, finish = 0, out.text.strip(), out.tokens, out.finish_reason
            if thinking:
                reasoning = ""
        prompt_tokens = count_tokens(prompt)
        hit = max((count_tokens(u) for u in self._cache_units if prompt.startswith(u)), default=0)
        self._cache_units += [prompt, prompt + content]
        completion_tokens = hidden + answer_tokens
        # usage (api/create-chat-completion): prompt_tokens = hit + miss; prompt_tokens_details.
        # cached_tokens "Same as prompt_cache_hit_tokens"; completion_tokens_details.reasoning_tokens
        # (included in completion_tokens: 92 total / 81 reasoning in the R1 example of
        # opensolon/solon .../DeepSeek.md). Outside thinking mode completion_tokens_details is
        # left out (the field is optional; its presence there is not documented).
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens,
                 "prompt_tokens_details": {"cached_tokens": hit},
                 "prompt_cache_hit_tokens": hit, "prompt_cache_miss_tokens": prompt_tokens - hit}
        message = {"role": "assistant", "content": content}
        if thinking:
            usage["completion_tokens_details"] = {"reasoning_tokens": hidden}
            # reasoning_content: "For thinking mode only ... at the same level as content".
            message["reasoning_content"] = reasoning
        response = {"id": str(uuid.uuid4()), "object": "chat.completion", "created": int(time.time()), "model": name,
                    "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                    "usage": usage, "system_fingerprint": "fp_emulated"}
        if body.get("stream"):
            return self.stream(response, bool((body.get("stream_options") or {}).get("include_usage")))
        return json_reply(response)

    @staticmethod
    def stream(response: dict, include_usage: bool) -> Reply:
        """SSE chunks; in thinking mode the first delta carries reasoning_content "" and the CoT
        comes in delta.reasoning_content before delta.content (guides/thinking_mode, streaming
        sample; deepseek-ai/deepseek-harness packages/llm/llm-deepseek/src/types.ts WireDelta).
        include_usage: a last chunk with empty choices carries usage, every other chunk
        "usage": null (api/create-chat-completion, stream_options)."""
        head = {k: response[k] for k in ("id", "created", "model", "system_fingerprint")}
        choice = response["choices"][0]
        message = choice["message"]
        deltas = [{"role": "assistant", "content": None if "reasoning_content" in message else ""}]
        if "reasoning_content" in message:
            deltas[0]["reasoning_content"] = ""
            if message["reasoning_content"]:
                deltas.append({"content": None, "reasoning_content": message["reasoning_content"]})
        if message["content"]:
            deltas.append({"content": message["content"]})
        events = [dict(head, object="chat.completion.chunk",
                       choices=[{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]) for d in deltas]
        events.append(dict(head, object="chat.completion.chunk",
                           choices=[{"index": 0, "delta": {"content": ""}, "logprobs": None,
                                     "finish_reason": choice["finish_reason"]}]))
        if include_usage:
            for e in events:
                e["usage"] = None
            events.append(dict(head, object="chat.completion.chunk", choices=[], usage=response["usage"]))
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return Reply(200, text, content_type="text/event-stream")
