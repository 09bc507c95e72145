"""Arithmetic: one-digit sums up to 12x12-digit products and nested expressions with powers.

Values are computed with Python integers and fractions from the generated expression tree;
model output is never evaluated.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from fractions import Fraction

from .base import Item, Level, Prompt, TaskAdapter, Verdict, item_id, item_rng, level_table
from .extract import last_answer_line, last_number, last_tagged, strip_markup, tail


@dataclass(frozen=True)
class ArithmeticLevel(Level):
    kind: str  # "sum": (terms, digits); "mul": (digits of a, digits of b); "expr": (depth,)
    params: tuple[int, ...]


LEVELS: dict[str, ArithmeticLevel] = level_table(
    ArithmeticLevel("add-1d", "a + b with one-digit numbers", "sum", (2, 1)),
    ArithmeticLevel("add-2d", "a + b with two-digit numbers", "sum", (2, 2)),
    ArithmeticLevel("sum-4x2d", "chained sum/difference of four two-digit numbers", "sum", (4, 2)),
    ArithmeticLevel("sum-8x3d", "chained sum/difference of eight three-digit numbers", "sum", (8, 3)),
    ArithmeticLevel("mul-2x2", "2-digit x 2-digit multiplication", "mul", (2, 2)),
    ArithmeticLevel("mul-3x3", "3-digit x 3-digit multiplication", "mul", (3, 3)),
    ArithmeticLevel("mul-4x4", "4-digit x 4-digit multiplication", "mul", (4, 4)),
    ArithmeticLevel("mul-6x6", "6-digit x 6-digit multiplication", "mul", (6, 6)),
    ArithmeticLevel("mul-8x8", "8-digit x 8-digit multiplication", "mul", (8, 8)),
    ArithmeticLevel("mul-12x12", "12-digit x 12-digit multiplication", "mul", (12, 12)),
    ArithmeticLevel("expr-d2", "nested expression of depth 2 with + - * / ^", "expr", (2,)),
    ArithmeticLevel("expr-d3", "nested expression of depth 3 with + - * / ^", "expr", (3,)),
    ArithmeticLevel("expr-d4", "nested expression of depth 4 with + - * / ^", "expr", (4,)),
    ArithmeticLevel("expr-d5", "nested expression of depth 5 with + - * / ^", "expr", (5,)),
)

# Keeps nested expressions readable and their answers short enough to type out.
MAX_ABS_NUMERATOR = 10**7
MAX_DENOMINATOR = 1000


def _digits(rng: random.Random, n: int) -> int:
    return rng.randint(10 ** (n - 1) if n > 1 else 1, 10**n - 1)


def _sum_problem(rng: random.Random, terms: int, digits: int) -> tuple[str, Fraction]:
    values = [_digits(rng, digits) for _ in range(terms)]
    text, total = str(values[0]), values[0]
    for value in values[1:]:
        # Two-term levels are pure additions (the easiest thing a tiny model can do).
        if terms > 2 and rng.random() < 0.4:
            text += f" - {value}"
            total -= value
        else:
            text += f" + {value}"
            total += value
    return text, Fraction(total)


def _mul_problem(rng: random.Random, a_digits: int, b_digits: int) -> tuple[str, Fraction]:
    a, b = _digits(rng, a_digits), _digits(rng, b_digits)
    return f"{a} * {b}", Fraction(a * b)


def _expr_tree(rng: random.Random, depth: int) -> tuple[str, Fraction]:
    """A random expression of exactly ``depth`` nested operations; returns (text, value)."""
    if depth == 0:
        value = rng.randint(1, 9)
        return str(value), Fraction(value)
    op = rng.choice("+-*/^")
    if op == "^":
        base_text, base = _expr_tree(rng, depth - 1)
        exponent = rng.choice((2, 3)) if abs(base) <= 12 else 2
        # Leaves and binary operations "(l op r)" need no extra parentheses; a power does.
        if not (base_text.isdigit() or base_text.endswith(")")):
            base_text = f"({base_text})"
        return f"{base_text}^{exponent}", base**exponent
    # One side carries the full depth so the tree's depth is exact.
    deep_text, deep = _expr_tree(rng, depth - 1)
    shallow_text, shallow = _expr_tree(rng, rng.randint(0, depth - 1))
    if rng.random() < 0.5:
        (left_text, left), (right_text, right) = (deep_text, deep), (shallow_text, shallow)
    else:
        (left_text, left), (right_text, right) = (shallow_text, shallow), (deep_text, deep)
    if op == "/" and right == 0:
        op = "+"
    if op == "+":
        value = left + right
    elif op == "-":
        value = left - right
    elif op == "*":
        value = left * right
    else:
        value = left / right
    return f"({left_text} {op} {right_text})", value


def _expr_problem(rng: random.Random, depth: int) -> tuple[str, Fraction]:
    while True:
        text, value = _expr_tree(rng, depth)
        if abs(value.numerator) <= MAX_ABS_NUMERATOR and value.denominator <= MAX_DENOMINATOR:
            # A binary operation's text is "(left op right)": the outer pair adds nothing.
            if text.startswith("(") and text.endswith(")"):
                text = text[1:-1]
            return text, value


def format_value(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# Text that stops right after an operator or "=": an expression still being written.
_UNFINISHED = re.compile(r"[-+*/×÷=^(]\s*$")


def parse_value(text: str) -> Fraction | None:
    """A number as written by a model ("1,234", "-3/4", "2.50") as an exact fraction."""
    token = last_number(text)
    if token is None:
        return None
    token = token.replace(",", "").replace(" ", "")
    try:
        return Fraction(token)
    except (ValueError, ZeroDivisionError):
        return None


def digit_accuracy(gold: str, answer: str) -> float:
    """Share of positions that match when both strings are right-aligned."""
    width = max(len(gold), len(answer))
    if width == 0:
        return 0.0
    gold, answer = gold.rjust(width), answer.rjust(width)
    return sum(g == a for g, a in zip(gold, answer)) / width


class Arithmetic(TaskAdapter):
    name = "arithmetic"
    summary = "exact arithmetic: sums, long multiplication, nested expressions with powers"
    levels = LEVELS
    default_levels = ("add-1d", "add-2d", "mul-2x2")
    answer_tokens = 24
    # No gold-free checker: the only constraint a number must meet is being the value,
    # and checking that is computing the gold.
    has_checker = False

    def item(self, seed: int, level: str, index: int) -> Item:
        spec = LEVELS[self.check_level(level)]
        kind, params = spec.kind, spec.params
        rng = item_rng(seed, self.task, level, index)
        if kind == "sum":
            text, value = _sum_problem(rng, *params)
        elif kind == "mul":
            text, value = _mul_problem(rng, *params)
        else:
            text, value = _expr_problem(rng, *params)
        fraction_note = (
            " If the result is not an integer, give it as a reduced fraction p/q." if kind == "expr" else ""
        )
        content = (
            f"Compute {text}.{fraction_note}\n"
            "Think step by step, then give the final answer as <answer>NUMBER</answer>."
        )
        return Item(
            id=item_id(self.task, level, index),
            task=self.task,
            level=level,
            messages=[{"role": "user", "content": content}],
            gold=format_value(value),
            meta={"kind": kind, "params": list(params), "expression": text},
        )

    def parse(self, text: str, item: Item, prompt: Prompt) -> str | None:
        text = tail(text)
        for candidate in (last_tagged(text), last_answer_line(text), text):
            if candidate:
                candidate = strip_markup(candidate)
                if _UNFINISHED.search(candidate):
                    # "1 + 2 =" is a sum being written, not an answer: its last number is an
                    # operand, and counting it would put a vote on the question's own digits.
                    continue
                value = parse_value(candidate)
                if value is not None:
                    return format_value(value)
        return None

    def verify(self, item: Item, answer: str) -> Verdict:
        if answer == item.gold:
            return Verdict(True, 1.0)
        return Verdict(False, digit_accuracy(item.gold, answer))
