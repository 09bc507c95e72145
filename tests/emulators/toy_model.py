"""A deterministic stand-in for a language model, for the provider emulations.

Like a real model it sees only text: the prompt the emulated server rendered with its
chat template, which it continues token by token. It never sees request fields, so
every server mechanism (templates dropping earlier reasoning, continuing a final
assistant message, prefill, thinking switches) acts on it exactly as on a real model.

Tokens are whitespace-separated words (``count_tokens``), so servers report usage in
the same unit the model generates in.

Behaviour, chosen so that accuracy depends on how long the model thought:

- It answers the arithmetic question "Compute A + B." / "Compute A * B." of the last
  user turn (the ttc-bench arithmetic prompt; anything else gets a fixed wrong answer).
- Each (question, sample) needs ``need`` thinking tokens to be right (8..160, from a hash
  of the question and the seed). An answer given after at least ``need`` thinking tokens
  is right; before that it is wrong by a small offset.
- A *thinking* model opens ``<think>``, thinks until ``need + 12`` tokens, closes the
  block and answers ``<answer>X</answer>``. If the text it continues already holds a
  closed think block (a client closed it, or a template's "thinking off" prefix), it
  answers at once from the reasoning in the last block. If the text ends with "Wait" inside
  an open think block, it thinks 24 tokens more before closing.
- A *visible* reasoner (no thinking channel, like SmolLM2) writes its reasoning as plain
  text and ends with ``<answer>X</answer>``; continuing text that ends in an answer cue
  ("answer" within the last few words, or an open ``<answer>``) makes it answer at once.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
WORDS = ("consider", "the", "digits", "carry", "one", "check", "again", "so", "then", "sum", "hence", "write")
_QUESTION = re.compile(r"Compute (-?\d+) ([+*]) (-?\d+)")


def count_tokens(text: str) -> int:
    return len(text.split())


@dataclass
class Output:
    text: str  # the continuation, exactly as generated
    tokens: int  # generated tokens
    finish_reason: str  # "stop" or "length"


def _gold(prompt: str) -> int | None:
    found = _QUESTION.findall(prompt)
    if not found:
        return None
    a, op, b = found[-1]
    return int(a) + int(b) if op == "+" else int(a) * int(b)


def _need(prompt: str, seed: int | None) -> int:
    question = _QUESTION.findall(prompt)
    digest = hashlib.sha256(f"{question[-1] if question else ''}".encode()).digest()
    base = 8 + digest[0] * 120 // 255  # 8..128 per question
    jitter = random.Random(seed).randint(0, 32) if seed is not None else 16
    return base + jitter


class ToyModel:
    """``ToyModel(thinking=True).generate(prompt, max_tokens, seed)`` continues ``prompt``.

    ``assistant_marker`` is the text that opens an assistant turn in the template in use;
    what follows its last occurrence is what the model itself has written so far.
    """

    def __init__(self, *, thinking: bool = True, assistant_marker: str = "<|im_start|>assistant\n"):
        self.thinking = thinking
        self.assistant_marker = assistant_marker

    def written_so_far(self, prompt: str) -> str:
        at = prompt.rfind(self.assistant_marker)
        return prompt[at + len(self.assistant_marker):] if at >= 0 else ""

    def generate(self, prompt: str, max_tokens: int | None, seed: int | None = None) -> Output:
        own = self.written_so_far(prompt)
        gold = _gold(prompt)
        need = _need(prompt, seed)
        rng = random.Random(seed)
        pieces: list[str] = []  # one token each
        cap = max_tokens if max_tokens is not None else 1_000_000

        def emit(piece: str) -> bool:
            if len(pieces) >= cap:
                return False
            pieces.append(piece)
            return True

        def answer(thought: int, after: str) -> None:
            value = gold if gold is not None and thought >= need else (gold or 0) + rng.choice((-2, -1, 1, 2))
            if after.rstrip().lower().endswith("<answer>"):
                emit(f"{value}</answer>")
            else:
                emit(f"<answer>{value}</answer>")

        def think(already: int, until: int) -> int | None:
            """Think until ``until`` tokens; None when the cap cut it off."""
            thought = already
            while thought < until:
                if not emit(WORDS[(thought + len(pieces)) % len(WORDS)]):
                    return None
                thought += 1
            return thought

        if self.thinking:
            opened, closed = own.rfind(THINK_OPEN), own.rfind(THINK_CLOSE)
            if closed > opened:  # the last think block is closed (its opening may be in the template)
                inside = own[:closed][opened + len(THINK_OPEN):] if opened >= 0 else own[:closed]
                answer(count_tokens(inside), own)
            else:
                if opened >= 0:
                    inside = own[opened + len(THINK_OPEN):]
                    already = count_tokens(inside)
                    goal = already + 24 if inside.rstrip().endswith(("Wait", "Wait.")) else need + 12
                else:
                    if not emit(THINK_OPEN):
                        return self._out(pieces, "length")
                    already, goal = 0, need + 12
                thought = think(already, max(goal, already))
                if thought is None or not emit(THINK_CLOSE):
                    return self._out(pieces, "length")
                answer(thought, "")
        else:
            last_words = own.lower().split()[-6:]
            if own.rstrip().lower().endswith("<answer>") or any("answer" in w for w in last_words):
                answer(count_tokens(own), own)
            else:
                thought = think(count_tokens(own), need + 12)
                if thought is None:
                    return self._out(pieces, "length")
                answer(thought, "")
        finished = len(pieces) < cap or (pieces and pieces[-1].endswith("</answer>"))
        return self._out(pieces, "stop" if finished else "length")

    @staticmethod
    def _out(pieces: list[str], finish: str) -> Output:
        return Output(" ".join(pieces), len(pieces), finish)
