import ast
import time
from fractions import Fraction

import pytest

from ttc_bench.adapters.arithmetic import Arithmetic, LEVELS, digit_accuracy, parse_value
from ttc_bench.adapters.base import Prompt, item_rng
from ttc_bench.errors import UserError

A = Arithmetic()


def parse(text, item=None):
    item = item or A.item(0, "add-1d", 0)
    return A.parse(text, item, Prompt(item.messages))


@pytest.mark.parametrize("level", list(LEVELS))
def test_items_are_deterministic_and_independent_of_count(level):
    few = A.items(7, level, 3)
    many = A.items(7, level, 12)
    assert few == many[:3]
    assert A.item(7, level, 5) == many[5]
    assert [i.gold for i in A.items(8, level, 12)] != [i.gold for i in many]


def ast_value(node):
    """An independent evaluator of the generated text (ast + Fraction; no eval)."""
    if isinstance(node, ast.Expression):
        return ast_value(node.body)
    if isinstance(node, ast.Constant):
        return Fraction(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -ast_value(node.operand)
    left, right = ast_value(node.left), ast_value(node.right)
    ops = {ast.Add: lambda: left + right, ast.Sub: lambda: left - right, ast.Mult: lambda: left * right,
           ast.Div: lambda: left / right, ast.Pow: lambda: left ** int(right)}
    return ops[type(node.op)]()


@pytest.mark.parametrize("level", list(LEVELS))
def test_gold_matches_an_independent_evaluation(level):
    for item in A.items(3, level, 20):
        tree = ast.parse(item.meta["expression"].replace("^", "**"), mode="eval")
        assert ast_value(tree) == Fraction(item.gold)


def test_expression_levels_have_the_stated_depth_and_rational_answers():
    for item in A.items(1, "expr-d4", 30):
        assert item.meta["params"] == [4]
        assert "/" in item.gold or item.gold.lstrip("-").isdigit()


def test_multiplication_operands_have_the_stated_digit_counts():
    for item in A.items(2, "mul-12x12", 10):
        a, b = item.meta["expression"].split(" * ")
        assert len(a) == 12 and len(b) == 12
        assert int(item.gold) == int(a) * int(b)


def test_level_one_is_one_digit_addition():
    for item in A.items(0, "add-1d", 50):
        a, b = item.meta["expression"].split(" + ")
        assert 1 <= int(a) <= 9 and 1 <= int(b) <= 9


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Let me think. 3+4=7. <answer>7</answer>", "7"),
        ("<answer>5</answer> wait no <answer>8</answer>", "8"),
        ("Answer: 12", "12"),
        ("so the answer:\n 42", "42"),
        ("first 3, then 9", "9"),
        ("<answer>1,234</answer>", "1234"),
        ("<answer>$\\boxed{-3/4}$</answer>", "-3/4"),
        ("**Answer:** 6/8", "3/4"),
        ("<answer>2.50</answer>", "5/2"),
        ("<answer>twelve</answer> Answer: 12", "12"),
        ("no digits here", None),
        ("", None),
        ("<answer>1/0</answer>", None),
        # An expression still being written has no answer: its last number is an operand.
        ("1 + 2 =", None),
        ("To compute 7 + 8:\n\n7 +", None),
        ("1 + 2 = 3", "3"),
        ("Answer: 9 + 4 =\nso 13", "13"),
    ],
)
def test_parse(text, expected):
    assert parse(text) == expected


def test_parse_is_bounded_on_hostile_output():
    hostile = ["9" * 1_000_000, "<answer>" * 100_000, "1," * 500_000, "(" * 1_000_000 + "1"]
    for text in hostile:
        start = time.perf_counter()
        parse(text)
        assert time.perf_counter() - start < 1.0


def test_verify_exact_and_partial_credit():
    item = A.item(0, "mul-3x3", 0)
    assert A.verify(item, item.gold).correct
    wrong = item.gold[:-1] + str((int(item.gold[-1]) + 1) % 10)
    verdict = A.verify(item, wrong)
    assert not verdict.correct
    assert verdict.partial == pytest.approx((len(item.gold) - 1) / len(item.gold))


def test_digit_accuracy_is_right_aligned():
    assert digit_accuracy("1234", "234") == pytest.approx(3 / 4)
    assert digit_accuracy("1234", "1234") == 1.0
    assert digit_accuracy("10", "99") == 0.0


def test_parse_value_fraction_forms():
    assert parse_value("-3 / 4") == Fraction(-3, 4)
    assert parse_value("nothing") is None


def test_unknown_level_is_a_user_error():
    with pytest.raises(UserError, match="no level 'nope'"):
        A.items(0, "nope", 1)


def test_item_rng_does_not_depend_on_python_hash_seed():
    # The same (seed, task, level, index) always gives the same stream.
    assert item_rng(1, "t", "l", 2).random() == item_rng(1, "t", "l", 2).random()
    assert item_rng(1, "t", "l", 2).random() != item_rng(1, "t", "l", 3).random()
