import pytest

from ttc_bench.errors import UserError
from ttc_bench.spec import SHIPPED_SUITES, build_spec, parse_count


@pytest.mark.parametrize("suite", SHIPPED_SUITES)
def test_shipped_suites_are_valid(suite):
    spec = build_spec(suite)
    assert spec.tasks and spec.budgets and spec.samples >= 1
    for task in spec.tasks:
        for level in task.levels:
            task.adapter.check_level(level)


def test_standard_suite_covers_all_four_families():
    assert {t.family for t in build_spec("standard").tasks} == {"arithmetic", "sudoku", "crossword", "mcq"}


def write(tmp_path, text, name="suite.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_unknown_suite_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, 'samples = 2\nbudget = ["tokens:5"]\n')
    with pytest.raises(UserError, match="unknown key 'budget' \\(did you mean 'budgets'\\?\\)"):
        build_spec(path)


def test_malformed_toml_names_the_line(tmp_path):
    path = write(tmp_path, 'samples = 2\nbudgets = ["tokens:5"\n[[tasks]]\nfamily = "arithmetic"\n')
    with pytest.raises(UserError, match="malformed TOML.*line"):
        build_spec(path)


def test_unknown_task_option_is_rejected(tmp_path):
    path = write(tmp_path, 'budgets = ["tokens:5"]\n[[tasks]]\nfamily = "arithmetic"\nlevel = ["add-1d"]\n')
    with pytest.raises(UserError, match="unknown key 'level' \\(did you mean 'levels'\\?\\)"):
        build_spec(path)
    path = write(tmp_path, 'budgets = ["tokens:5"]\n[[tasks]]\nfamily = "arithmetic"\ncolour = 3\n', "b.toml")
    with pytest.raises(UserError, match="unknown option"):
        build_spec(path)


def test_flags_override_the_suite_and_limit_caps_items(tmp_path):
    path = write(tmp_path, 'samples = 2\nseed = 3\nbudgets = ["tokens:5"]\n[[tasks]]\nfamily = "arithmetic"\nitems = 40\n')
    spec = build_spec(path, samples=5, limit=7, budgets=["forced:9"])
    assert spec.samples == 5 and spec.seed == 3 and spec.tasks[0].items == 7
    assert [b.label for b in spec.budgets] == ["forced:9"]
    assert spec.tasks[0].levels == ["add-1d", "add-2d", "mul-2x2"]  # the family's defaults


def test_run_id_ignores_sample_and_item_counts_but_not_budgets():
    a = build_spec("quick").default_run_id("e", "m", "generic")
    assert a == build_spec("quick", samples=9, limit=2).default_run_id("e", "m", "generic")
    assert a != build_spec("quick", budgets=["tokens:9"]).default_run_id("e", "m", "generic")
    assert a != build_spec("quick", seed=1).default_run_id("e", "m", "generic")


def test_dataset_path_in_a_suite_file_is_relative_to_the_suite(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "q.jsonl").write_text('{"question": "2+2?", "choices": ["3", "4"], "answer": 1}\n')
    path = write(tmp_path, 'budgets = ["tokens:5"]\n[[tasks]]\nfamily = "mcq"\npath = "data/q.jsonl"\nitems = 1\n')
    monkeypatch.chdir("/")
    spec = build_spec(path)
    assert spec.tasks[0].options["path"] == str(data / "q.jsonl")
    assert spec.tasks[0].adapter.items(0, "all", 1)[0].gold == "B"


@pytest.mark.parametrize("flags, message", [
    ({"price_input": 1.0}, "give both prices"),
    ({"price_input": -1.0, "price_output": 1.0}, "non-negative"),
    ({"temperature": 3.0}, "temperature"),
    ({"base_urls": ["http://x/v1"]}, "--base-url needs --model"),
    ({"n_parameter": True, "model": "m", "base_urls": ["http://x/v1"]}, "n parameter"),
])
def test_bad_flag_combinations(flags, message):
    with pytest.raises(UserError, match=message):
        build_spec("quick", **flags)


def test_prices_from_flags():
    spec = build_spec("quick", price_input=1.5, price_output=6.0)
    assert spec.prices == {"input_per_million": 1.5, "output_per_million": 6.0}


@pytest.mark.parametrize("text, value", [("135M", 135e6), ("8B", 8e9), ("1.5e9", 1.5e9), ("70b", 70e9)])
def test_parse_count(text, value):
    assert parse_count(text) == value


def test_parse_count_rejects_garbage():
    with pytest.raises(UserError):
        parse_count("lots")
