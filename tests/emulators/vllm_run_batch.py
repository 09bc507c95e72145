"""``vllm run-batch`` emulated: its input schema check and its output lines, executed against
an emulated server (tests/emulators/vllm_server.py) instead of a GPU.

Sources (repository vllm-project/vllm):

- vllm/entrypoints/openai/run_batch.py (commit 0056ae7b): ``BatchRequestInput`` (custom_id:
  str, method: str, url: str, body validated as ``ChatCompletionRequest`` when url ==
  "/v1/chat/completions"); ``BatchRequestOutput`` {id: "vllm-<uuid>", custom_id, response:
  BatchResponseData {status_code (default 200), request_id: "vllm-batch-<uuid>", body}, error};
  ``run_request``: an ErrorResponse becomes ``response.status_code = error.code`` with the
  ErrorResponse in ``error``; a streamed request is refused with "Request must not be sent
  in stream mode"; any other exception is ``make_error_request_output`` (status 400, the
  message in ``error``); output lines are written in input order (OrderedStreamingWriter);
  ``stream_file_lines`` skips blank lines.
- vllm/entrypoints/openai/chat_completion/protocol.py ``ChatCompletionRequest``: the fields
  and types in :data:`CHAT_FIELDS`; ``seed`` within int64; ``reasoning_effort`` one of
  none, minimal, low, medium, high, xhigh, max; validators ``validate_stream_options``
  ("Stream options can only be defined when `stream=True`") and ``check_generation_prompt``
  ("Cannot set both `continue_final_message` and `add_generation_prompt` to True").
- vllm/entrypoints/openai/engine/protocol.py ``OpenAIBaseModel``: ``extra="allow"`` with a
  warning "The following fields were present in the request but ignored". An ignored field
  would silently drop part of a budget, so :func:`check_input_line` treats one as an error.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from .base import EmulatedServer, Request

INT64 = (-(2**63), 2**63 - 1)
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_INT, _FLOAT, _BOOL, _STR, _DICT, _LIST = (int,), (int, float), (bool,), (str,), (dict,), (list,)
# ChatCompletionRequest fields (protocol.py, Ordered by official OpenAI API documentation, then
# the vLLM sampling and extra params) -> accepted JSON types. None is accepted for all
# Optional fields; the ones below without None in their annotation are marked required=False
# but non-null in _NOT_NULL.
CHAT_FIELDS = {
    "messages": _LIST, "model": _STR, "frequency_penalty": _FLOAT, "logit_bias": _DICT, "logprobs": _BOOL,
    "top_logprobs": _INT, "max_tokens": _INT, "max_completion_tokens": _INT, "n": _INT,
    "presence_penalty": _FLOAT, "response_format": _DICT, "seed": _INT, "stop": (str, list), "stream": _BOOL,
    "stream_options": _DICT, "temperature": _FLOAT, "top_p": _FLOAT, "tools": _LIST, "tool_choice": (str, dict),
    "reasoning_effort": _STR, "thinking_token_budget": _INT, "include_reasoning": _BOOL,
    "parallel_tool_calls": _BOOL, "user": _STR, "use_beam_search": _BOOL, "top_k": _INT, "min_p": _FLOAT,
    "repetition_penalty": _FLOAT, "length_penalty": _FLOAT, "stop_token_ids": _LIST,
    "include_stop_str_in_output": _BOOL, "ignore_eos": _BOOL, "min_tokens": _INT, "skip_special_tokens": _BOOL,
    "spaces_between_special_tokens": _BOOL, "truncate_prompt_tokens": _INT, "prompt_logprobs": _INT,
    "allowed_token_ids": _LIST, "bad_words": _LIST, "echo": _BOOL, "add_generation_prompt": _BOOL,
    "continue_final_message": _BOOL, "add_special_tokens": _BOOL, "documents": _LIST, "chat_template": _STR,
    "chat_template_kwargs": _DICT, "mm_processor_kwargs": _DICT, "structured_outputs": _DICT, "priority": _INT,
    "request_id": _STR, "cache_salt": _STR, "kv_transfer_params": _DICT, "vllm_xargs": _DICT,
}
_NOT_NULL = {"messages", "include_reasoning", "use_beam_search", "length_penalty", "include_stop_str_in_output",
             "ignore_eos", "min_tokens", "skip_special_tokens", "spaces_between_special_tokens", "echo",
             "add_generation_prompt", "continue_final_message", "add_special_tokens", "priority"}


class SchemaError(ValueError):
    pass


def check_input_line(text: str) -> dict:
    """One line of a run-batch input file, checked as vLLM validates it; the parsed line."""
    try:
        line = json.loads(text)
    except ValueError as exc:
        raise SchemaError(f"not JSON: {exc}") from None
    if not isinstance(line, dict):
        raise SchemaError("a line must be a JSON object")
    for name in ("custom_id", "method", "url"):
        if not isinstance(line.get(name), str):
            raise SchemaError(f"{name} must be a string")
    if line["url"] != "/v1/chat/completions":
        raise SchemaError(f"url {line['url']!r}: run-batch serves /v1/chat/completions (and embeddings/score/rerank)")
    body = line.get("body")
    if not isinstance(body, dict):
        raise SchemaError("body must be an object")
    for name, value in body.items():
        if name not in CHAT_FIELDS:
            raise SchemaError(f"body field {name!r} is not a ChatCompletionRequest field (vLLM would ignore it)")
        if value is None:
            if name in _NOT_NULL:
                raise SchemaError(f"body field {name} may not be null")
            continue
        kinds = CHAT_FIELDS[name]
        if isinstance(value, bool) and bool not in kinds:
            raise SchemaError(f"body field {name} is a boolean")
        if not isinstance(value, kinds):
            raise SchemaError(f"body field {name} is {type(value).__name__}")
    if not body.get("messages") or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in body["messages"]):
        raise SchemaError("messages must be a non-empty list of {role, content} objects")
    if "seed" in body and body["seed"] is not None and not INT64[0] <= body["seed"] <= INT64[1]:
        raise SchemaError("seed out of the int64 range")
    if body.get("reasoning_effort") is not None and body["reasoning_effort"] not in EFFORTS:
        raise SchemaError(f"reasoning_effort {body['reasoning_effort']!r}")
    if body.get("stream_options") and not body.get("stream"):
        raise SchemaError("Stream options can only be defined when `stream=True`.")
    if body.get("continue_final_message") and body.get("add_generation_prompt", True):
        raise SchemaError("Cannot set both `continue_final_message` and `add_generation_prompt` to True.")
    return line


def run_batch(input_path: Path, output_path: Path, server: EmulatedServer, api_key: str | None = "test-key") -> int:
    """Execute an input file like ``vllm run-batch -i input -o output``; lines written."""
    written = 0
    with open(input_path, encoding="utf-8") as src, open(output_path, "w", encoding="utf-8") as out:
        for text in src:
            if not text.strip():
                continue
            line = check_input_line(text)
            response, error = {"status_code": 200, "request_id": f"vllm-batch-{uuid.uuid4().hex}"}, None
            if line["body"].get("stream"):
                response["status_code"], error = 400, "Request must not be sent in stream mode"
            else:
                headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
                reply = server.dispatch(Request("POST", line["url"], {}, headers, line["body"]))
                if reply.status == 200:
                    response["body"] = reply.body
                else:
                    response["status_code"], error = reply.status, reply.body
            out.write(json.dumps({"id": f"vllm-{uuid.uuid4().hex}", "custom_id": line["custom_id"],
                                  "response": response, "error": error}) + "\n")
            written += 1
    return written
