"""The adapters package: an explicit registry, one Level type, typed options, pinned items."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from ttc_bench.adapters import Level, Options, TaskAdapter, families, get_family, task_items
from ttc_bench.adapters.mcq import McqOptions, MultipleChoice
from ttc_bench.errors import UserError

PACKAGE = Path(__file__).resolve().parents[1] / "ttc_bench" / "adapters"
DATA = Path(__file__).parent / "data" / "mcq"


# ---- registry ---------------------------------------------------------------------------


def test_the_registry_lists_the_four_families_by_name():
    known = families()
    assert list(known) == ["arithmetic", "sudoku", "crossword", "mcq"]
    assert all(issubclass(cls, TaskAdapter) and cls.name == name for name, cls in known.items())
    known.clear()  # a copy: the registry itself is not changed
    assert get_family("mcq") is MultipleChoice


def test_an_unknown_family_is_one_line_naming_the_known_ones():
    with pytest.raises(UserError) as excinfo:
        get_family("chess")
    assert str(excinfo.value) == "unknown task family 'chess'; known: arithmetic, crossword, mcq, sudoku"


def _relative_imports(path: Path) -> set[str]:
    """The package-relative modules a file imports ("" for the package itself)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module or "")
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            found.add("<importlib>")
    return found


def test_imports_flow_one_way_inside_the_package():
    modules = {path.stem: _relative_imports(path) for path in PACKAGE.glob("*.py")}
    # base is the bottom: it imports nothing from the package (the old back-import is gone).
    assert modules["base"] == set()
    for name, imported in modules.items():
        assert "<importlib>" not in imported, f"{name} loads modules by name"
        if name not in ("__init__", "registry"):
            assert not imported & {"", "registry"}, f"{name} imports the registry: a cycle"
    # Every family the registry lists is imported by name, in plain sight.
    assert {"arithmetic", "sudoku", "crossword", "mcq"} <= modules["registry"]


# ---- levels -----------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["arithmetic", "sudoku", "crossword", "mcq"])
def test_every_family_uses_one_level_type(family):
    cls = get_family(family)
    assert cls.levels and set(cls.default_levels) <= set(cls.levels)
    for level_id, level in cls.levels.items():
        assert isinstance(level, Level) and type(level) is not Level  # typed parameters
        assert level.id == level_id and level.description and str(level) == level.description
        with pytest.raises(dataclasses.FrozenInstanceError):
            level.description = "changed"  # type: ignore[misc]


def test_a_dataset_task_has_one_plain_level():
    adapter = MultipleChoice("arc", {"preset": "arc-challenge", "path": str(DATA / "arc_challenge.jsonl")})
    (level,) = adapter.levels.values()
    assert type(level) is Level and level.id == "all" and "arc-challenge" in level.description
    assert MultipleChoice.levels is not adapter.levels and list(MultipleChoice.levels) == ["easy", "medium", "hard"]


# ---- options ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["arithmetic", "sudoku", "crossword"])
def test_families_without_options_reject_any(family):
    assert get_family(family)().options == Options()
    with pytest.raises(UserError) as excinfo:
        get_family(family)("t", {"shuffle": True, "preset": "x"})
    assert str(excinfo.value) == f"task 't': unknown option(s) preset, shuffle for family {family!r}"


def test_mcq_options_are_typed_and_checked_once():
    adapter = MultipleChoice("m", {"preset": "mmlu", "config": "anatomy", "shuffle": False})
    options = adapter.options
    assert isinstance(options, McqOptions)
    assert (options.preset, options.subset, options.shuffle) == ("mmlu", "anatomy", False)
    assert options.source is not None and options.source.config == "anatomy" and options.source.hub_id == "cais/mmlu"
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.shuffle = True  # type: ignore[misc]
    # A parsed options record is taken as it is (the Python API can build one directly).
    again = MultipleChoice("m2", options)
    assert again.options is options and again.level_ids() == ["all"]
    assert MultipleChoice().options == McqOptions() and MultipleChoice().options.source is None


@pytest.mark.parametrize(
    "table, message",
    [
        ({"source": "x"}, "task 'm': unknown option(s) source for family 'mcq'"),
        ({"shuffle": "yes"}, "mcq option shuffle must be true or false, got 'yes'"),
        ({"subset": "a", "config": "b"}, "mcq: subset 'a' and config 'b' disagree; give one"),
        ({"split": "test"}, "mcq: split need a dataset: add preset (gpqa-diamond, mmlu, mmlu-pro, arc-challenge) or path"),
        ({"header": False}, "mcq: header need a dataset: add preset (gpqa-diamond, mmlu, mmlu-pro, arc-challenge) or path"),
        ({"preset": "mmlu", "revision": 3}, "mcq option revision must be a non-empty string, got 3"),
    ],
)
def test_mcq_option_errors_are_one_line_naming_the_option(table, message):
    with pytest.raises(UserError) as excinfo:
        MultipleChoice("m", table)
    assert str(excinfo.value) == message


def test_task_items_builds_any_family_from_a_suite_task():
    from types import SimpleNamespace

    items = task_items(SimpleNamespace(family="sudoku", name="s", options={}, levels=["4x4"], items=2))
    assert [item.id for item in items] == ["s/4x4/0000", "s/4x4/0001"]
    with pytest.raises(UserError, match="unknown option"):
        task_items(SimpleNamespace(family="crossword", options={"bank": True}))


# ---- items are what they were before the redesign ---------------------------------------


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


# (family, options, seed, level, index): id, gold, messages, meta, sample 1's messages and meta,
# computed with the code before the adapters redesign.
PINNED = [
    ("arithmetic", {}, 0, "add-1d", 0, "arithmetic/add-1d/0000", "10", "0915a0ba4367803f", "dc7f01bcf08b547f", "0915a0ba4367803f", "44136fa355b3678a"),
    ("arithmetic", {}, 7, "sum-8x3d", 3, "arithmetic/sum-8x3d/0003", "2304", "34c6544aceeff8a9", "3f63dfcc9253b1a0", "34c6544aceeff8a9", "44136fa355b3678a"),
    ("arithmetic", {}, 3, "mul-12x12", 5, "arithmetic/mul-12x12/0005", "323475809172919661302980", "f80e79373a34e383", "74efad9948f071b5", "f80e79373a34e383", "44136fa355b3678a"),
    ("arithmetic", {}, 11, "expr-d5", 2, "arithmetic/expr-d5/0002", "163/3", "daec8877e8495068", "f4e1c5587a25abd5", "daec8877e8495068", "44136fa355b3678a"),
    ("sudoku", {}, 0, "4x4", 0, "sudoku/4x4/0000", "1423231432414132", "a47f723750c42d15", "43a3fbead18e4890", "a47f723750c42d15", "44136fa355b3678a"),
    ("sudoku", {}, 5, "6x6", 1, "sudoku/6x6/0001", "321465645123264531513246132654456312", "3f19cbcb8cbf42a9", "2390b91b024ef0ec", "3f19cbcb8cbf42a9", "44136fa355b3678a"),
    ("sudoku", {}, 2, "9x9-easy", 3, "sudoku/9x9-easy/0003", "541286379967314285832957614216749538475138926389562741724691853193875462658423197", "5013aeb849ef63c5", "119d600838bd96da", "5013aeb849ef63c5", "44136fa355b3678a"),
    ("sudoku", {}, 1, "9x9-medium", 0, "sudoku/9x9-medium/0000", "798623541243951876156847329682495713534172968971386254329514687467238195815769432", "f38ab2c95bd20991", "25901aa52e531788", "f38ab2c95bd20991", "44136fa355b3678a"),
    ("sudoku", {}, 4, "9x9-hard", 2, "sudoku/9x9-hard/0002", "328476195741985632695213487287631954139754826456892371563128749912347568874569213", "5594b42f6a23a8e6", "e0035cab6fba477f", "5594b42f6a23a8e6", "44136fa355b3678a"),
    ("crossword", {}, 0, "3x3", 0, "crossword/3x3/0000", "TOW/IRE/NET", "c898e96de5a9096c", "ea9822cb7569c761", "c898e96de5a9096c", "44136fa355b3678a"),
    ("crossword", {}, 3, "4x4-rare", 1, "crossword/4x4-rare/0001", "SORT/PLEA/ALES/TALK", "34303faa62acdabf", "c70b36ea4c0bd868", "34303faa62acdabf", "44136fa355b3678a"),
    ("crossword", {}, 9, "5x5-revealed", 2, "crossword/5x5-revealed/0002", "POSER/APPLE/SERIF/TRITE/EAGER", "ad146a172e85d8c2", "d7fb646c6e907b0b", "ad146a172e85d8c2", "44136fa355b3678a"),
    ("crossword", {}, 6, "4x4-bank", 4, "crossword/4x4-bank/0004", "BEEN/AURA/TRAP/HOSE", "95830e36ade24be8", "1cb7d72b3b24d2e4", "95830e36ade24be8", "44136fa355b3678a"),
    ("mcq", {}, 0, "easy", 0, "mcq/easy/0000", "B", "f003263b0dfb3b52", "cb811c984b9f8845", "d0c28b934b87d2c6", "d4d07f45aef14735"),
    ("mcq", {}, 8, "medium", 3, "mcq/medium/0003", "A", "6a49840598741b25", "fd35e920e0a151d2", "9b60464c5ebc6903", "ba8a73d39c5db74f"),
    ("mcq", {}, 2, "hard", 7, "mcq/hard/0007", "A", "b348285a2fdae887", "105cec428c244ebc", "8ebe9a2d7ca46550", "4729c668d4528221"),
    ("mcq", {"preset": "arc-challenge"}, 5, "all", 0, "mcq/all/0000", "C", "151acbdcbb87d2d8", "40fd808db37f60bb", "5b80a4ae693f57a6", "30af846389dfbb21"),
    ("mcq", {"preset": "arc-challenge"}, 1, "all", 2, "mcq/all/0002", "D", "1ffd3b29119e503b", "3d9ca1dad65e4f64", "99c09c189b59570a", "067a7363f4a1120e"),
]


@pytest.mark.parametrize("case", PINNED, ids=lambda case: f"{case[0]}-{case[3]}-{case[2]}-{case[4]}")
def test_items_are_byte_identical_to_before_the_redesign(case):
    family, options, seed, level, index, item_id, gold, messages, meta, messages_1, meta_1 = case
    if options:  # a dataset: the local copy (its source, holding the path, is left out)
        options = {**options, "path": str(DATA / "arc_challenge.jsonl")}
    adapter = get_family(family)(family, options)
    item = adapter.item(seed, level, index)
    item_meta = {k: v for k, v in item.meta.items() if k != "source"} if options else item.meta
    prompt = adapter.prompt(item, 1)
    assert (item.id, item.gold) == (item_id, gold)
    assert (_digest(item.messages), _digest(item_meta)) == (messages, meta)
    assert (_digest(prompt.messages), _digest(prompt.meta)) == (messages_1, meta_1)
