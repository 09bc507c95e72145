"""The mcq family: presets read from local copies, column maps, determinism, option shuffling,
answer extraction and the built-in generator. Nothing here reaches the network."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

# Set before anything imports `datasets`/`huggingface_hub`, which read them at import time.
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from ttc_bench.adapters.base import Prompt
from ttc_bench.adapters.mcq import LEVELS, MultipleChoice
from ttc_bench.adapters.mcq_extract import shown_choice
from ttc_bench.adapters.mcq_datasets import LETTERS, PRESETS
from ttc_bench.errors import UserError

DATA = Path(__file__).parent / "data" / "mcq"

# file -> the correct option's text for each row, in file order
PRESET_FILES = {
    "gpqa-diamond": ("gpqa_diamond.csv", ["Photon", "1e-3", "Mitochondrion", "None"]),
    "mmlu": ("mmlu.jsonl", ["Paris", "4", "Carbon dioxide", "Shakespeare"]),
    "mmlu-pro": ("mmlu_pro.jsonl", ["13", "newton", "Argon", "It is a subset of every set", "None", "nan"]),
    "arc-challenge": ("arc_challenge.jsonl", ["Planetary days will become shorter.", "an iron nail", "liquid", "attracts iron"]),
}


def _one_line_error(excinfo: pytest.ExceptionInfo[UserError]) -> str:
    message = str(excinfo.value)
    assert message and "\n" not in message
    return message


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _adapter(**options) -> MultipleChoice:
    return MultipleChoice(options=options)


def _check_gold(adapter: MultipleChoice, expected: list[str]) -> None:
    items = adapter.items(0, "all", len(expected))
    assert sorted(item.meta["row"] for item in items) == list(range(len(expected)))
    for item in items:
        options = item.meta["options"]
        assert item.gold == LETTERS[item.meta["answer_index"]]
        assert options[LETTERS.index(item.gold)] == expected[item.meta["row"]]
        assert f"({item.gold}) {expected[item.meta['row']]}" in item.messages[0]["content"]


# ---- presets and local files --------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESET_FILES))
def test_preset_reads_a_local_copy(preset):
    name, expected = PRESET_FILES[preset]
    adapter = _adapter(preset=preset, path=str(DATA / name))
    assert adapter.level_ids() == ["all"] and adapter.default_levels == ("all",)
    assert adapter.available("all") == len(expected)
    _check_gold(adapter, expected)


def test_option_counts_and_subjects_follow_the_rows():
    adapter = _adapter(preset="mmlu-pro", path=str(DATA / "mmlu_pro.jsonl"))
    by_row = {item.meta["row"]: item for item in adapter.items(0, "all", 6)}
    assert [len(by_row[i].meta["options"]) for i in range(6)] == [10, 3, 6, 6, 4, 6]  # "N/A" padding dropped
    assert by_row[0].meta["subject"] == "math"
    content = by_row[0].messages[0]["content"]
    assert "(J) 16" in content and "Answer: X" in content


def test_arc_digit_labels_name_the_option_not_an_index():
    adapter = _adapter(preset="arc-challenge", path=str(DATA / "arc_challenge.jsonl"))
    item = next(item for item in adapter.items(0, "all", 4) if item.meta["row"] == 1)
    assert item.gold == "D"  # answerKey "4" with labels 1-4


def test_gpqa_correct_answer_is_not_always_first():
    adapter = _adapter(preset="gpqa-diamond", path=str(DATA / "gpqa_diamond.csv"))
    golds = {item.gold for item in adapter.items(0, "all", 3)}
    assert golds != {"A"}


def test_parquet_file(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (DATA / "mmlu_pro.jsonl").read_text().splitlines()]
    path = tmp_path / "mmlu_pro.parquet"
    pq.write_table(pyarrow.Table.from_pylist(rows), path)
    _check_gold(_adapter(preset="mmlu-pro", path=str(path)), PRESET_FILES["mmlu-pro"][1])


def test_columns_per_option_with_letter_text_and_index_answers(tmp_path):
    path = _write_jsonl(
        tmp_path / "custom.jsonl",
        [
            {"q": "Pick red", "o1": "blue", "o2": "red", "o3": "green", "ans": "b"},
            {"q": "Pick green", "o1": "blue", "o2": "red", "o3": "green", "ans": "green"},
            {"q": "Pick blue", "o1": "blue", "o2": "red", "o3": "green", "ans": "(A)"},
        ],
    )
    columns = {"question": "q", "options": ["o1", "o2", "o3"], "answer": "ans"}
    _check_gold(_adapter(path=str(path), columns=columns), ["red", "green", "blue"])


def test_csv_with_a_json_list_column_and_default_columns(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text('question,choices,answer\n"Largest?","[""1"", ""9"", ""5""]",1\n"Smallest?","[""7"", ""2""]",1\n')
    _check_gold(_adapter(path=str(path)), ["9", "2"])


def test_blank_and_repeated_options_are_dropped(tmp_path):
    path = _write_jsonl(
        tmp_path / "pad.jsonl",
        [{"question": "q?", "choices": ["x", "", "y", None, "x", "z"], "answer": "z", "subject": "s"}],
    )
    item = _adapter(path=str(path), columns={"choices": "choices", "answer": "answer", "subject": "subject"}).item(0, "all", 0)
    assert item.meta["options"] == ["x", "y", "z"] and item.gold == "C" and item.meta["subject"] == "s"


# ---- errors -----------------------------------------------------------------------------


def test_unknown_preset_lists_the_presets():
    with pytest.raises(UserError) as excinfo:
        _adapter(preset="gpqa")
    message = _one_line_error(excinfo)
    assert all(name in message for name in PRESETS)


def test_missing_file_fails_at_configuration(tmp_path):
    with pytest.raises(UserError) as excinfo:
        _adapter(preset="mmlu", path=str(tmp_path / "nope.jsonl"))
    assert "not found" in _one_line_error(excinfo)


def test_unsupported_extension(tmp_path):
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(tmp_path / "data.txt"))
    assert ".jsonl" in _one_line_error(excinfo)


def test_missing_column_names_it_and_the_present_columns():
    adapter = _adapter(preset="mmlu-pro", path=str(DATA / "mmlu.jsonl"))  # mmlu has no "options"
    with pytest.raises(UserError) as excinfo:
        adapter.items(0, "all", 1)
    message = _one_line_error(excinfo)
    assert "'options'" in message and "choices" in message and "question" in message


def test_missing_user_column(tmp_path):
    path = _write_jsonl(tmp_path / "a.jsonl", [{"q": "?", "c": ["a", "b"], "a": 0}])
    adapter = _adapter(path=str(path), columns={"question": "q", "choices": "c", "answer": "gold"})
    with pytest.raises(UserError) as excinfo:
        adapter.available("all")
    assert "'gold'" in _one_line_error(excinfo)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [("E", "out of range"), (7, "out of range"), ("purple", "not a letter"), (None, "not a letter")],
)
def test_bad_answer_values_name_the_row(tmp_path, answer, fragment):
    rows = [{"question": "fine", "choices": ["a", "b", "c"], "answer": 0}, {"question": "bad", "choices": ["a", "b", "c"], "answer": answer}]
    path = _write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path)).available("all")
    message = _one_line_error(excinfo)
    assert f"{path} line 2:" in message and fragment in message


def test_ambiguous_answer_asks_for_answer_format(tmp_path):
    path = _write_jsonl(tmp_path / "num.jsonl", [{"question": "1+1?", "choices": ["1", "2", "3"], "answer": "2"}])
    with pytest.raises(UserError) as excinfo:
        _adapter(path=str(path)).available("all")
    assert "answer_format" in _one_line_error(excinfo)
    columns = {"choices": "choices", "answer": "answer", "answer_format": "text"}
    assert _adapter(path=str(path), columns=columns).item(0, "all", 0).gold == "B"


@pytest.mark.parametrize(
    "options",
    [
        {"path": "x.jsonl", "columns": {"question": "q"}},  # no option layout
        {"path": "x.jsonl", "columns": {"choices": "c", "options": ["a"], "answer": "a"}},
        {"path": "x.jsonl", "columns": {"choices": "c"}},  # no answer
        {"path": "x.jsonl", "columns": {"choices": "c", "answer": "a", "colour": "x"}},
        {"preset": "mmlu", "columns": {"choices": "c", "answer": "a"}},
        {"preset": "mmlu", "path": "x.jsonl", "split": "test"},
        {"split": "test"},
        {"preset": "mmlu", "subset": "anatomy", "config": "all"},
        {"path": "x.jsonl", "columns": {"correct": "c"}},  # correct without incorrect
        {"path": "x.jsonl", "columns": {"choices": "c", "answer": "a", "answer_format": "roman"}},
        {"shuffle": "yes"},
        {"levels": "subject"},  # unknown option, rejected by the base class
    ],
)
def test_bad_configurations_fail_with_one_line(tmp_path, monkeypatch, options):
    monkeypatch.chdir(tmp_path)
    _write_jsonl(tmp_path / "x.jsonl", [{"q": "?", "c": ["a", "b"], "a": 0}])
    with pytest.raises(UserError) as excinfo:
        _adapter(**options)
    _one_line_error(excinfo)


def test_hub_is_asked_only_when_items_are_needed_and_with_the_overrides(monkeypatch):
    from ttc_bench.adapters import mcq_datasets

    requests = []

    def unreachable(request):
        requests.append(request)
        raise UserError("mcq: cannot reach the Hugging Face Hub (test)")

    monkeypatch.setattr(mcq_datasets, "fetch", unreachable)
    adapter = _adapter(preset="mmlu", subset="abstract_algebra", split="validation", revision="v1")
    assert not requests  # configuring alone does not load
    with pytest.raises(UserError):
        adapter.available("all")
    (request,) = requests
    assert (request.hub_id, request.config, request.split, request.revision) == ("cais/mmlu", "abstract_algebra", "validation", "v1")
    assert request.patterns == ("abstract_algebra/validation-*",) and request.example == ""
    # The Hub tests proper (a fake Hub, an unreachable one, offline) are in test_mcq_formats.py.


# ---- determinism ------------------------------------------------------------------------


def test_dataset_items_do_not_depend_on_how_many_are_asked():
    path = str(DATA / "arc_challenge.jsonl")
    many = _adapter(preset="arc-challenge", path=path).items(5, "all", 4)
    few = _adapter(preset="arc-challenge", path=path).items(5, "all", 2)
    assert few == many[:2]
    orders = {tuple(item.meta["row"] for item in _adapter(preset="arc-challenge", path=path).items(seed, "all", 4)) for seed in range(8)}
    assert len(orders) > 1


def test_dataset_loads_once_and_beyond_the_end_is_an_error():
    adapter = _adapter(preset="mmlu", path=str(DATA / "mmlu.jsonl"))
    assert adapter.rows() is adapter.rows()
    with pytest.raises(UserError):
        adapter.item(0, "all", 4)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_generated_items_are_deterministic(level):
    first = MultipleChoice().items(3, level, 6)
    assert MultipleChoice().items(3, level, 3) == first[:3]
    assert MultipleChoice().items(4, level, 6) != first
    assert MultipleChoice().available(level) is None


def test_generated_levels_by_default():
    adapter = MultipleChoice()
    assert adapter.level_ids() == ["easy", "medium", "hard"]
    assert set(adapter.default_levels) <= set(adapter.level_ids())
    with pytest.raises(UserError):
        adapter.items(0, "all", 1)


# ---- the generator ----------------------------------------------------------------------


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_generated_options_are_close_distinct_and_one_is_right(level):
    op, count = LEVELS[level].op, LEVELS[level].option_count
    for index in range(300):
        item = MultipleChoice().item(index % 5, level, index)
        a, b = (int(part) for part in item.meta["expression"].split(f" {op} "))
        truth = a + b if op == "+" else a * b
        values = [int(option.replace(",", "")) for option in item.meta["options"]]
        assert len(values) == count and len(set(values)) == count
        assert [value == truth for value in values].count(True) == 1
        assert values[LETTERS.index(item.gold)] == truth
        if level != "easy":  # close: same length, same last digit, few digits differ
            for value in values:
                assert len(str(value)) == len(str(truth)) and value % 10 == truth % 10
                assert sum(x != y for x, y in zip(str(value), str(truth))) <= 2


def test_generated_gold_letters_vary():
    golds = {MultipleChoice().item(0, "hard", i).gold for i in range(60)}
    assert len(golds) == 6


# ---- option shuffling -------------------------------------------------------------------


@pytest.mark.parametrize("source", [{}, {"preset": "mmlu-pro", "path": str(DATA / "mmlu_pro.jsonl")}])
def test_each_sample_sees_its_own_order_and_votes_map_back(source):
    adapter = _adapter(**source)
    level = adapter.level_ids()[-1]
    for item in adapter.items(1, level, 3):
        options = item.meta["options"]
        correct_text = options[LETTERS.index(item.gold)]
        orders = set()
        for sample in range(12):
            prompt = adapter.prompt(item, sample)
            assert prompt == adapter.prompt(item, sample)
            order = prompt.meta["order"]
            assert sorted(order) == list(range(len(options)))
            orders.add(tuple(order))
            shown = LETTERS[order.index(LETTERS.index(item.gold))]
            assert f"({shown}) {correct_text}" in prompt.messages[0]["content"]
            answer = adapter.parse(f"Reasoning...\nAnswer: {shown}", item, prompt)
            assert answer == item.gold and adapter.verify(item, answer).correct
            # A wrong pick maps back to the option the model saw, not to its letter.
            wrong = (order.index(LETTERS.index(item.gold)) + 1) % len(options)
            assert adapter.parse(f"Answer: {LETTERS[wrong]}", item, prompt) == LETTERS[order[wrong]]
        assert len(orders) > 1


def test_sample_zero_sees_the_canonical_order():
    adapter = MultipleChoice()
    item = adapter.item(0, "medium", 0)
    prompt = adapter.prompt(item, 0)
    assert prompt.messages == item.messages and prompt.meta["order"] == [0, 1, 2, 3]
    assert any(adapter.prompt(item, j).messages != item.messages for j in range(1, 6))


def test_item_messages_stay_unshuffled_and_shuffle_can_be_disabled():
    item = MultipleChoice().item(0, "medium", 0)
    assert item.messages == MultipleChoice().item(0, "medium", 0).messages
    adapter = _adapter(shuffle=False)
    for sample in range(5):
        prompt = adapter.prompt(item, sample)
        assert prompt.messages == item.messages and prompt.meta["order"] == [0, 1, 2, 3]


# ---- answer extraction ------------------------------------------------------------------

FOUR = ["w", "x", "y", "z"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", None),
        ("I am not sure at all.", None),
        ("Answer: B", 1),
        ("Answer: (B)", 1),
        ("**Answer:** C", 2),
        ("**Answer**: C", 2),
        ("answer: b.", 1),
        ("Answer: A\nwait, no.\nAnswer: D", 3),
        ("Final answer: $\\boxed{C}$", 2),
        ("so the result is \\boxed{\\text{B}}", 1),
        ("The correct answer is (C).", 2),
        ("Thus the answer is D", 3),
        ("the answer is a bit unclear; I pick (B)", 1),
        ("Answer: I think it is B", None),
        ("Answer: F", None),  # committed to a letter this item does not have
        ("Answer: Option C", 2),
        ("Answer: y", None),  # a letter first, even when an option's text is "y"; Y is out of range
        ("Answer: (A) w", 0),
        ("Looking at option (A) and (C), (C) fits.", 2),
        ("After all that:\n**D**\n", 3),
        ("A good approach is to check each. The rest is noise", None),
        ("Answer: E. \\boxed{B}", None),
    ],
)
def test_parser_edge_cases(text, expected):
    assert shown_choice(text, FOUR) == expected


def test_parser_matches_option_text_when_no_letter_is_given():
    options = ["1,483,492", "1,395,394", "1,483,523"]
    assert shown_choice("Answer: 1483523", options) == 2
    assert shown_choice("The product is \\boxed{1,395,394}", options) == 1
    assert shown_choice("Answer: 42", options) is None


def test_parser_ignores_letters_beyond_the_options_in_fallbacks():
    assert shown_choice("The answer is (E). Hmm, or (B)?", ["p", "q", "r", "s"]) == 1
    assert shown_choice("(G)\n", ["p", "q"]) is None


def test_parse_without_order_meta_is_identity():
    adapter = MultipleChoice()
    item = adapter.item(0, "easy", 0)
    assert adapter.parse("Answer: C", item, Prompt(item.messages)) == "C"
    assert adapter.verify(item, item.gold).partial == 1.0
    assert adapter.verify(item, "Z").correct is False


@pytest.mark.parametrize(
    "noise",
    [
        "x" * 1_000_000,
        "Answer: " * 130_000,
        "(A) " * 250_000,
        "\n" * 1_000_000,
        " " * 1_000_000 + "\nB",
        "\\boxed{" * 140_000,
        "the answer is " * 70_000,
        "**" * 500_000,
    ],
)
def test_parser_is_fast_on_a_megabyte(noise):
    start = time.perf_counter()
    shown_choice(noise, LETTERS[:10])
    assert time.perf_counter() - start < 2.0


def test_prompt_asks_for_the_answer_line():
    adapter = MultipleChoice()
    content = adapter.item(0, "hard", 0).messages[0]["content"]
    assert "Answer: X" in content and "(F) " in content
    assert adapter.answer_cue.endswith("Answer:") and adapter.answer_tokens <= 32
