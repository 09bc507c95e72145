"""Answer extraction shared by the families: bounded, linear helpers over untrusted output.

Every helper uses rfind or a linear regex on a bounded tail: no nested quantifiers, so a
megabyte of adversarial model output costs no more than its last ``MAX_PARSE_CHARS``.
"""

from __future__ import annotations

import re

# Model output is untrusted: extraction looks at most at this many trailing characters,
# which keeps every parser linear and bounded on megabyte-sized outputs.
MAX_PARSE_CHARS = 20_000


def tail(text: str | None, limit: int = MAX_PARSE_CHARS) -> str:
    if not text:
        return ""
    return text[-limit:]


def last_tagged(text: str, tag: str = "answer") -> str | None:
    """Content of the last ``<tag>...</tag>``; an unclosed last tag runs to the end."""
    low = text.lower()
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    start = low.rfind(open_tag)
    if start < 0:
        return None
    end = low.find(close_tag, start)
    body = text[start + len(open_tag) : end if end >= 0 else len(text)]
    return body.strip()


def last_answer_line(text: str) -> str | None:
    """What follows the last "Answer:" (or "final answer:") up to the end of its line."""
    low = text.lower()
    pos = low.rfind("answer:")
    if pos < 0:
        return None
    # lstrip first so that "Answer:\n42" yields "42".
    line = text[pos + len("answer:") :].lstrip().split("\n", 1)[0].strip()
    return line or None


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*-?\d+)?")


def last_number(text: str) -> str | None:
    """The last number-looking token: integers, thousands separators, decimals, fractions."""
    last = None
    for match in _NUMBER.finditer(text):
        last = match.group(0)
    return last


def strip_markup(text: str) -> str:
    """Drop the LaTeX/markdown wrappers models put around answers ($, **, \\boxed{...})."""
    out = text.strip()
    boxed = out.rfind("\\boxed{")
    if boxed >= 0:
        inner = out[boxed + len("\\boxed{") :]
        depth, end = 1, len(inner)
        for i, ch in enumerate(inner):
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        out = inner[:end]
    for wrapper in ("$", "**", "`"):
        out = out.replace(wrapper, "")
    return out.strip().rstrip(".").strip()
