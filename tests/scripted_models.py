"""Scripted models with known behaviour, for the strategy tests and benchmarks/strategies.py
(never shipped). Each is a FakeServer responder: request body -> reply.

- :class:`SudokuModel`: right with a set probability (a pure function of the request's
  seed), otherwise one fixed wrong grid that breaks a row: the checker is informative;
  asked to judge a proposed grid (selfverify), it says yes exactly for the solution.
- :class:`AdditionModel`: additions, most of them easy (adaptive sampling).
"""

from __future__ import annotations

from ttc_bench.adapters import Item, get_family


def unit(seed: int | None, salt: int = 0) -> float:
    """A uniform number in [0, 1) from a request's seed (Knuth's multiplicative hash)."""
    return (((seed or 0) + salt * 7919) * 2654435761 % 2**32) / 2**32


def user_text(request: dict) -> str:
    return next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")


class SudokuModel:
    """Answers the sudoku items it was built with: the solution with probability ``p_right``,
    else the solution with its first blank cell changed (a row then holds a digit twice).
    Reasoning text of ``words`` words precedes the answer (the fake server counts words as
    tokens). In a revision round it writes the solution when told its violations (``fixes``),
    else its wrong grid again."""

    def __init__(self, items: list[Item], p_right: float = 0.4, words: int = 40, fixes: bool = True):
        self.gold = {item.messages[-1]["content"]: item for item in items}
        self.p_right, self.words, self.fixes = p_right, words, fixes

    @classmethod
    def of(cls, level: str, count: int, seed: int = 0, **options) -> "SudokuModel":
        return cls(get_family("sudoku")().items(seed, level, count), **options)

    def wrong(self, item: Item) -> str:
        blank = next(i for i, ch in enumerate(item.meta["givens"]) if ch in ".0")
        n = item.meta["size"]
        digit = str(int(item.gold[blank]) % n + 1)
        return item.gold[:blank] + digit + item.gold[blank + 1 :]

    def grid(self, answer: str, n: int) -> str:
        return "\n".join(answer[r * n : (r + 1) * n] for r in range(n))

    def judge(self, text: str) -> str:
        """A judging request (strategies/selfverify.py): yes exactly for the solution."""
        import re

        item = next(item for content, item in self.gold.items() if content in text)
        proposed = re.search(r"Proposed answer:\n<answer>\n(.*?)\n</answer>", text, re.S).group(1).replace("\n", "")
        verdict = "yes" if proposed == item.gold else "no"
        return " ".join(["check"] * (self.words // 2)) + f" <answer>{verdict}</answer>"

    def __call__(self, request: dict) -> str:
        if "Proposed answer:" in user_text(request):
            return self.judge(user_text(request))
        if len(request["messages"]) > 1:
            # A revision round (strategies/revise.py): told its grid's violations, it fixes them.
            item = self.gold[request["messages"][0]["content"]]
            fixed = "breaks the puzzle's rules" in user_text(request) and self.fixes
            answer = item.gold if fixed else self.wrong(item)
            return " ".join(["fix"] * (self.words // 2)) + f"\n<answer>\n{self.grid(answer, item.meta['size'])}\n</answer>"
        item = self.gold[user_text(request)]
        answer = item.gold if unit(request.get("seed")) < self.p_right else self.wrong(item)
        return " ".join(["step"] * self.words) + f"\n<answer>\n{self.grid(answer, item.meta['size'])}\n</answer>"


class AdditionModel:
    """Arithmetic additions ("Compute a + b."), most of them easy: an item is hard when
    (a + b) % ``hard_every`` == 0. An easy item is always answered right; a hard one right
    with probability ``p_right``, else with one of ``wrong_answers`` different wrong sums
    (spread, so no wrong answer leads for long). ``words`` words of reasoning each."""

    def __init__(self, hard_every: int = 5, p_right: float = 0.6, wrong_answers: int = 4, words: int = 30):
        self.hard_every, self.p_right, self.wrong_answers, self.words = hard_every, p_right, wrong_answers, words

    def hard(self, a: int, b: int) -> bool:
        return (a + b) % self.hard_every == 0

    def __call__(self, request: dict) -> str:
        import re

        a, b = map(int, re.search(r"Compute (\d+) \+ (\d+)", request["messages"][0]["content"]).groups())
        answer = a + b
        u = unit(request.get("seed"))
        if self.hard(a, b) and u >= self.p_right:
            answer += 1 + int((u - self.p_right) / (1 - self.p_right) * self.wrong_answers)
        # The seed in the text: samples differ as a sampled model's do (no identical-sample warning).
        return " ".join(["think"] * self.words) + f" (seed {request.get('seed')}) <answer>{answer}</answer>"
