"""A GGUF model's own chat template, rendered here to continue an assistant message through
a completions endpoint (llama-cpp-python's server always closes the last assistant
message and opens a new one, so its chat endpoint cannot continue one).

The template and the BOS/EOS token strings are read from the GGUF file's metadata (the
format: github.com/ggml-org/ggml docs/gguf.md); rendering follows Hugging Face
transformers' ``continue_final_message`` rule: render without a generation prompt, then
cut right after the final message's content.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import UserError

# GGUF metadata value types (docs/gguf.md, enum gguf_metadata_value_type).
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_WANTED = ("tokenizer.chat_template", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.tokens")
# A metadata string longer than this is not a template or a token: the file is damaged.
_MAX_STRING = 1 << 24


def _read(fh: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = fh.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _string(fh: BinaryIO) -> str:
    length = _read(fh, "<Q")
    if length > _MAX_STRING:
        raise ValueError("implausible string length in the GGUF header")
    return fh.read(length).decode("utf-8", "replace")


def _value(fh: BinaryIO, kind: int, keep: bool):
    if kind in _SCALARS:
        return _read(fh, _SCALARS[kind])
    if kind == _STRING:
        return _string(fh)
    if kind == _ARRAY:
        item_kind, count = _read(fh, "<I"), _read(fh, "<Q")
        if not keep and item_kind in _SCALARS:  # skip without decoding
            fh.seek(struct.calcsize(_SCALARS[item_kind]) * count, 1)
            return None
        items = [_value(fh, item_kind, keep) for _ in range(count)]
        return items if keep else None
    raise ValueError(f"unknown GGUF value type {kind}")


def read_gguf_metadata(path: Path) -> dict:
    """The metadata keys this module needs from a GGUF file's header."""
    found = {}
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ValueError("not a GGUF file")
        version = _read(fh, "<I")
        count_fmt = "<I" if version == 1 else "<Q"
        _read(fh, count_fmt)  # tensors
        for _ in range(_read(fh, count_fmt)):
            key = _string(fh)
            kind = _read(fh, "<I")
            value = _value(fh, kind, keep=key in _WANTED)
            if key in _WANTED:
                found[key] = value
    return found


@dataclass(frozen=True)
class ChatTemplate:
    source: str
    bos_token: str = ""
    eos_token: str = ""

    @classmethod
    def from_gguf(cls, path: str | Path) -> "ChatTemplate":
        try:
            meta = read_gguf_metadata(Path(path))
        except (OSError, ValueError, struct.error) as exc:
            raise UserError(f"cannot read the chat template of {path}: {exc}") from None
        source = meta.get("tokenizer.chat_template")
        if not isinstance(source, str) or not source.strip():
            raise UserError(f"{path} carries no chat template, so forced:N cannot continue its answers")
        tokens = meta.get("tokenizer.ggml.tokens") or []

        def token(key: str) -> str:
            index = meta.get(key)
            return tokens[index] if isinstance(index, int) and 0 <= index < len(tokens) else ""

        return cls(source, token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"))

    def continue_final(self, messages: list[dict]) -> str:
        """The prompt text that continues the final (assistant) message."""
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        # A template from a model file is untrusted: the sandbox keeps it from reaching
        # Python internals. trim/lstrip blocks as transformers renders templates.
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        try:
            text = env.from_string(self.source).render(
                messages=messages, add_generation_prompt=False, bos_token=self.bos_token, eos_token=self.eos_token,
            )
        except TemplateError as exc:
            raise UserError(f"the model's chat template cannot be rendered: {exc}") from None
        final = messages[-1]["content"]
        for candidate in (final, final.strip()):
            if candidate and candidate in text:
                return text[: text.rindex(candidate) + len(candidate)]
        raise UserError("the model's chat template changes the message being continued, so forced:N cannot continue it")
