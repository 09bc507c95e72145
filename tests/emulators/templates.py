"""Chat templates rendered the way the model's own template renders them, for the
emulated self-hosted servers (vLLM, SGLang, llama.cpp, Ollama serve models by these).

- ``qwen3``: the chat_template in Qwen/Qwen3-8B's tokenizer_config.json (Hugging Face).
  Rules: an assistant message's reasoning is its ``reasoning_content`` field when that is
  a string, else the text between ``<think>`` and ``</think>`` in its content (and the
  content becomes what follows ``</think>``); reasoning is rendered only for assistant
  messages *after the last user query* (earlier turns keep their bare content, so a
  follow-up user turn drops all earlier reasoning); the generation prompt is
  ``<|im_start|>assistant\n``, followed by ``<think>\n\n</think>\n\n`` when
  ``enable_thinking`` is false.
- ``r1``: DeepSeek-R1(-Distill) tokenizer_config.json: history assistant content keeps
  only what follows ``</think>``; the generation prompt is ``<｜Assistant｜><think>\n``
  (the opening tag is in the prompt, so the model's output holds only ``</think>``).
- ``chatml``: SmolLM2-Instruct's template: ``<|im_start|>role\ncontent<|im_end|>\n``,
  generation prompt ``<|im_start|>assistant\n``; no reasoning handling.

``continue_final`` applies Hugging Face transformers' ``continue_final_message`` rule
(transformers/utils/chat_template_utils.py, ``apply_chat_template``): render without a
generation prompt, then cut the text right after the final message's content; if the
template changed that content so it no longer appears, raise ValueError (transformers:
"continue_final_message is set but the final message does not appear in the chat after
applying the chat template!").
"""

from __future__ import annotations

MARKERS = {
    "qwen3": "<|im_start|>assistant\n",
    "r1": "<｜Assistant｜>",
    "chatml": "<|im_start|>assistant\n",
}


def _qwen3(messages: list[dict], add_generation_prompt: bool, enable_thinking: bool = True) -> str:
    out = []
    if messages and messages[0].get("role") == "system":
        out.append(f"<|im_start|>system\n{messages[0].get('content') or ''}<|im_end|>\n")
    last_query = len(messages) - 1
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            last_query = index
            break
    for index, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content") if isinstance(message.get("content"), str) else ""
        if role == "user" or (role == "system" and index > 0):
            out.append(f"<|im_start|>{role}\n{content}<|im_end|>\n")
        elif role == "assistant":
            reasoning = ""
            if isinstance(message.get("reasoning_content"), str):
                reasoning = message["reasoning_content"]
            elif "</think>" in content:
                reasoning = content.split("</think>")[0].rstrip("\n").split("<think>")[-1].lstrip("\n")
                content = content.split("</think>")[-1].lstrip("\n")
            is_last = index == len(messages) - 1
            if index > last_query and (is_last or reasoning):
                out.append(f"<|im_start|>assistant\n<think>\n{reasoning.strip(chr(10))}\n</think>\n\n{content.lstrip(chr(10))}")
            else:
                out.append(f"<|im_start|>assistant\n{content}")
            out.append("<|im_end|>\n")
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
        if not enable_thinking:
            out.append("<think>\n\n</think>\n\n")
    return "".join(out)


def _r1(messages: list[dict], add_generation_prompt: bool, enable_thinking: bool = True) -> str:
    out = ["<｜begin▁of▁sentence｜>"]
    system = "".join(m.get("content") or "" for m in messages if m.get("role") == "system")
    out.append(system)
    for message in messages:
        role, content = message.get("role"), message.get("content") or ""
        if role == "user":
            out.append(f"<｜User｜>{content}")
        elif role == "assistant":
            if "</think>" in content:
                content = content.split("</think>")[-1]
            out.append(f"<｜Assistant｜>{content}<｜end▁of▁sentence｜>")
    if add_generation_prompt:
        out.append("<｜Assistant｜><think>\n")
    return "".join(out)


def _chatml(messages: list[dict], add_generation_prompt: bool, enable_thinking: bool = True) -> str:
    out = [f"<|im_start|>{m.get('role')}\n{m.get('content') or ''}<|im_end|>\n" for m in messages]
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


TEMPLATES = {"qwen3": _qwen3, "r1": _r1, "chatml": _chatml}


def render(template: str, messages: list[dict], *, add_generation_prompt: bool = True, enable_thinking: bool = True) -> str:
    return TEMPLATES[template](messages, add_generation_prompt, enable_thinking)


def continue_final(template: str, messages: list[dict], *, enable_thinking: bool = True) -> str:
    """The prompt for continuing the final (assistant) message, transformers' way."""
    text = render(template, messages, add_generation_prompt=False, enable_thinking=enable_thinking)
    final = messages[-1].get("content") or ""
    if not final:  # transformers: "" is found at the very end, so nothing is cut
        return text
    if final in text:
        return text[: text.rindex(final) + len(final)]
    if final.strip() and final.strip() in text:
        return text[: text.rindex(final.strip()) + len(final.strip())]
    raise ValueError(
        "continue_final_message is set but the final message does not appear in the chat after "
        "applying the chat template!"
    )
