"""Bad input matrix: every case ends with one ``error:`` line naming the problem, exit code 2,
no traceback, and no run folder left behind; ``--debug`` shows the traceback instead.

Most cases run the CLI in-process (an escaping exception fails the test just as a
traceback would); a few run it as a real process to prove the exit code and the clean
stderr end to end.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from fault_server import FaultServer
from test_run_fake import add_answer

NOWHERE = "http://127.0.0.1:9/v1"  # nothing listens on port 9: spec errors must come first


@pytest.fixture
def cli(capsys):
    from ttc_bench.cli import main

    def run(*argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_one_line_error(code, out, err, fragment):
    assert code == 2, (code, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert fragment in err, err
    assert "Traceback" not in out + err


def suite(tmp_path: Path, text: str, name: str = "suite.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_SUITE = 'samples = 2\nbudgets = ["tokens:8"]\n[[tasks]]\nfamily = "arithmetic"\nlevels = ["add-1d"]\nitems = 2\n'

FLAG_CASES = [
    # unknown task / level
    (["--tasks", "nonsense"], "unknown task family 'nonsense'"),
    (["--tasks", "arithmetic:L99"], "no level 'L99'"),
    (["--tasks", "arithmetic", "sudoku:huge"], "task 'sudoku' has no level 'huge'"),
    (["--tasks", ":add-1d"], "bad --tasks entry"),
    (["--tasks", "arithmetic:"], "bad --tasks entry 'arithmetic:'"),
    (["--tasks", "mcq:mmlu"], "set preset = \"gpqa-diamond\""),
    (["--tasks", "arithmetic", "extra"], "unknown task family 'extra'"),
    # malformed budgets
    (["--budgets", "tokens:lots"], "bad budget 'tokens:lots'"),
    (["--budgets", "tokens:0"], "must be between 1 and"),
    (["--budgets", "tokens:-5"], "bad budget 'tokens:-5'"),
    (["--budgets", "tokens:1e3"], "bad budget 'tokens:1e3'"),
    (["--budgets", "forced:"], "bad budget 'forced:'"),
    (["--budgets", "forced:10:min=20"], "min must be between 1 and the budget 10"),
    (["--budgets", "bogus:1"], "bad budget 'bogus:1'"),
    (["--budgets", "tokens"], "bad budget 'tokens'"),
    (["--budgets", "effort:turbo"], "effort must be one of"),
    (["--budgets", "tokens:8", "tokens:8"], "listed twice"),
    # zero or negative counts
    (["--samples", "0"], "--samples must be a positive whole number"),
    (["--samples", "-3"], "--samples must be a positive whole number"),
    (["--samples", "two"], "invalid int value: 'two'"),
    (["--limit", "0"], "--limit must be a positive whole number"),
    (["--limit", "-1"], "--limit must be a positive whole number"),
    (["--concurrency", "0"], "--concurrency must be a positive whole number"),
    # other flags
    (["--temperature", "9"], "temperature must be between 0 and 2"),
    (["--top-p", "0"], "top_p must be in (0, 1]"),
    (["--api", "martian"], "invalid choice: 'martian'"),
    (["--params", "lots"], "bad parameter count"),
    (["--suite", "no-such-suite"], "unknown suite 'no-such-suite'"),
    (["--suite", "missing.toml"], "suite file missing.toml not found"),
]


@pytest.mark.parametrize("args, fragment", FLAG_CASES, ids=[" ".join(a) for a, _ in FLAG_CASES])
def test_bad_flag_is_one_line_exit_2(tmp_path, cli, args, fragment):
    # GOOD_SUITE unless the case names its own suite; flags override the suite.
    base = [] if "--suite" in args else ["--suite", suite(tmp_path, GOOD_SUITE)]
    code, out, err = cli("run", "--model", "m", "--base-url", NOWHERE, "--out", tmp_path / "out", "--no-progress", *base, *args)
    assert_one_line_error(code, out, err, fragment)
    assert not (tmp_path / "out").exists(), "bad input left a run folder behind"


SUITE_CASES = [
    # malformed TOML: the message names the line
    ("malformed-toml", 'samples = 2\nbudgets = ["tokens:5"\n[[tasks]]\n', "malformed TOML: Unclosed array (at line 3"),
    ("bad-value", 'samples = 2\nbudgets = tokens:5\n', "malformed TOML: Invalid value (at line 2"),
    # unknown keys, with the nearest valid key suggested
    ("unknown-key", GOOD_SUITE.replace("samples", "sample"), "unknown key 'sample' (did you mean 'samples'?)"),
    ("unknown-key-2", "temprature = 0.5\n" + GOOD_SUITE, "unknown key 'temprature' (did you mean 'temperature'?)"),
    ("unknown-price-key", GOOD_SUITE.replace("[[tasks]]", "[prices]\ninput_per_milion = 1\noutput_per_million = 2\n[[tasks]]"),
     "unknown key 'input_per_milion' (did you mean 'input_per_million'?)"),
    # wrong shapes and values
    ("zero-samples", GOOD_SUITE.replace("samples = 2", "samples = 0"), "--samples must be a positive whole number, got 0"),
    ("negative-samples", GOOD_SUITE.replace("samples = 2", "samples = -4"), "got -4"),
    ("fractional-samples", GOOD_SUITE.replace("samples = 2", "samples = 2.5"), "got 2.5"),
    ("zero-items", GOOD_SUITE.replace("items = 2", "items = 0"), "items must be a positive whole number"),
    ("no-family", 'budgets = ["tokens:5"]\n[[tasks]]\nitems = 2\n', "needs a family"),
    ("unknown-family", GOOD_SUITE.replace('"arithmetic"', '"alchemy"'), "unknown task family 'alchemy'"),
    ("unknown-level", GOOD_SUITE.replace('"add-1d"', '"add-99d"'), "no level 'add-99d'"),
    ("levels-not-list", GOOD_SUITE.replace('["add-1d"]', '"add-1d"'), "levels must be a list"),
    ("tasks-not-array", 'budgets = ["tokens:5"]\ntasks = "arithmetic"\n', "tasks must be an array of tables"),
    ("no-tasks", 'budgets = ["tokens:5"]\n', "no tasks to run"),
    ("no-budgets", GOOD_SUITE.replace('budgets = ["tokens:8"]\n', ""), "no budgets given"),
    ("bad-budget", GOOD_SUITE.replace("tokens:8", "tokens:eight"), "bad budget 'tokens:eight'"),
    ("unknown-task-option", GOOD_SUITE + 'shuffle = true\n', "unknown option(s) shuffle for family 'arithmetic'"),
    # dataset file missing or without the needed columns
    ("dataset-missing", 'budgets = ["tokens:5"]\n[[tasks]]\nfamily = "mcq"\npath = "nope.jsonl"\n',
     "dataset file"),
    ("dataset-no-answer-column", 'budgets = ["tokens:5"]\n[[tasks]]\nfamily = "mcq"\npath = "q.jsonl"\n',
     "has no column 'answer'; columns present: question, choices"),
    pytest.param("dataset-bad-json", 'budgets = ["tokens:5"]\n[[tasks]]\nfamily = "mcq"\npath = "broken.jsonl"\n', "could not read"),
    ("dataset-wrong-suffix", 'budgets = ["tokens:5"]\n[[tasks]]\nfamily = "mcq"\npath = "q.txt"\n', "path must end in"),
]


def _case(c):
    if hasattr(c, "marks"):  # already a pytest.param
        return pytest.param(*c.values, marks=c.marks, id=c.values[0])
    return pytest.param(*c, id=c[0])


@pytest.mark.parametrize("name, text, fragment", [_case(c) for c in SUITE_CASES])
def test_bad_suite_is_one_line_exit_2(tmp_path, cli, name, text, fragment):
    (tmp_path / "q.jsonl").write_text('{"question": "2+2?", "choices": ["3", "4"]}\n')
    (tmp_path / "broken.jsonl").write_text('{"question": "2+2?", "choices": ["3", \n')
    (tmp_path / "q.txt").write_text("x")
    path = suite(tmp_path, text)
    code, out, err = cli("run", "--model", "m", "--base-url", NOWHERE, "--out", tmp_path / "out", "--no-progress", "--suite", path)
    assert_one_line_error(code, out, err, fragment)
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not written, "bad input wrote into the results folder"


NEEDS_LEAD_FIX = [
    pytest.param("task-key-typo", GOOD_SUITE.replace("levels", "levls"), "did you mean 'levels'?"),
    pytest.param("seed-not-a-number", 'seed = "abc"\n' + GOOD_SUITE, "seed"),
    pytest.param("temperature-not-a-number", 'temperature = "hot"\n' + GOOD_SUITE, "temperature"),
]


@pytest.mark.parametrize("name, text, fragment", NEEDS_LEAD_FIX)
def test_bad_suite_values_are_one_line_errors(tmp_path, cli, name, text, fragment):
    path = suite(tmp_path, text)
    code, out, err = cli("run", "--model", "m", "--base-url", NOWHERE, "--out", tmp_path / "out", "--no-progress", "--suite", path)
    assert_one_line_error(code, out, err, fragment)


def test_suite_that_is_not_text_is_one_line(tmp_path, cli):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe\x00\x01 not toml")
    code, out, err = cli("run", "--model", "m", "--base-url", NOWHERE, "--out", tmp_path / "out", "--no-progress", "--suite", path)
    assert_one_line_error(code, out, err, "binary.toml")


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_timeout_must_be_positive(tmp_path, cli, value):
    code, out, err = cli("run", "--model", "m", "--base-url", NOWHERE, "--out", tmp_path / "out", "--no-progress",
                         "--suite", suite(tmp_path, GOOD_SUITE), "--timeout", value)
    assert_one_line_error(code, out, err, "--timeout")


@pytest.mark.parametrize("run_id", ["../escaped", "/tmp/elsewhere", "a/b"])
def test_run_id_must_be_a_plain_folder_name(tmp_path, cli, run_id):
    code, out, err = cli("run", "--model", "m", "--base-url", NOWHERE, "--out", tmp_path / "out", "--no-progress",
                         "--suite", suite(tmp_path, GOOD_SUITE), "--run-id", run_id)
    assert_one_line_error(code, out, err, "--run-id")


def test_unreachable_base_url(tmp_path, cli):
    code, out, err = cli("run", "--model", "m", "--base-url", NOWHERE, "--out", tmp_path / "out", "--no-progress",
                         "--suite", suite(tmp_path, GOOD_SUITE))
    assert_one_line_error(code, out, err, f"cannot reach {NOWHERE}")
    assert "check --base-url" in err


def test_wrong_api_key(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("TTC_BAD_KEY", "sk-wrong-key-123")
    with FaultServer(add_answer, required_key="sk-right") as server:
        code, out, err = cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path / "out",
                             "--no-progress", "--suite", suite(tmp_path, GOOD_SUITE), "--api-key-env", "TTC_BAD_KEY")
        assert server.chat_requests() == []
    assert_one_line_error(code, out, err, "the API key was rejected (401); set $TTC_BAD_KEY to a valid key")
    assert "sk-wrong-key-123" not in out + err


@pytest.mark.parametrize("where", ["out-is-file", "parent-is-file"])
def test_out_pointing_at_a_file(tmp_path, cli, where):
    target = tmp_path / "results.txt"
    target.write_text("not a folder")
    out = target if where == "out-is-file" else target / "sub"
    with FaultServer(add_answer) as server:
        code, stdout, err = cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", out,
                                "--no-progress", "--suite", suite(tmp_path, GOOD_SUITE))
        assert server.chat_requests() == []
    assert_one_line_error(code, stdout, err, f"{target} is a file, not a folder")
    assert target.read_text() == "not a folder"


def _real(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ttc_bench.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_real_process_malformed_toml_is_one_line_exit_2(tmp_path):
    path = suite(tmp_path, 'samples = 2\nbudgets = ["tokens:5"\n[[tasks]]\n')
    proc = _real("run", "--suite", path, "--out", tmp_path / "out", "--no-progress")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: suite") and "line 3" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr + proc.stdout


def test_debug_flag_shows_the_traceback(tmp_path):
    proc = _real("--debug", "run", "--tasks", "nonsense", "--out", tmp_path / "out", "--no-progress")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "UserError: unknown task family 'nonsense'" in proc.stderr


@pytest.mark.parametrize("argv, words", [
    (["report", "some-run", "--bogus"], "unrecognized arguments: --bogus (see ttc-bench report --help)"),
    (["compare", "--metrics", "pass@1", "a", "b"], "put BASELINE CURRENT before flags that take several values"),
])
def test_argument_errors_name_the_commands_help(cli, argv, words):
    code, out, err = cli(*argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and words in err, err


def test_a_closed_pipe_is_not_a_traceback():
    proc = subprocess.run(f"{sys.executable} -m ttc_bench.cli show --suite standard -n 50 | head -1",
                          shell=True, capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("=== ") and "Traceback" not in proc.stderr, proc.stderr
