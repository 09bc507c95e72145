"""Rescoring stored responses with today's adapters, without a request."""

import json

from fake_server import FakeServer
from test_run_fake import add_answer, base_args, rows_of, run_dir


def test_rescore_after_a_parser_change_updates_scores_without_requests(tmp_path, run_cli, monkeypatch):
    from ttc_bench.adapters.arithmetic import Arithmetic
    from ttc_bench.rescore import rescore

    with FakeServer(add_answer) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "2")
        assert code == 0, err
        sent = len(server.chat_requests())
        assert all(r["correct"] for r in rows_of(tmp_path))
        # A "parser fix" that reads the first number instead of the tagged answer.
        monkeypatch.setattr(Arithmetic, "parse", lambda self, text, item, prompt: text.split()[0])
        result = rescore(run_dir(tmp_path))
        assert len(server.chat_requests()) == sent  # not a single request
    rows = rows_of(tmp_path)
    assert len(rows) == 6 and not any(r["correct"] for r in rows)
    assert result.rescored == 6 and result.changed["correct"] == 6 and result.changed["answer"] == 6
    manifest = json.loads((run_dir(tmp_path) / "manifest.json").read_text())
    assert manifest["rescored"][-1]["changed"]["correct"] == 6


def test_rescore_leaves_errored_samples_alone(tmp_path, run_cli):
    from fault_server import spare_first
    from fake_server import Fault
    from ttc_bench.rescore import rescore

    spared = spare_first()
    with FakeServer(lambda r: Fault(400) if spared(r) and r["seed"] % 2 else add_answer(r)) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "2")
        assert code == 0, err
    before = rows_of(tmp_path)
    result = rescore(run_dir(tmp_path))
    assert result.skipped == sum(r["error"] is not None for r in before) > 0
    assert [r["error"] for r in rows_of(tmp_path)] == [r["error"] for r in before]


def test_a_corrected_answer_key_plus_a_resumed_run_gives_the_new_scores(tmp_path, run_cli):
    """The sample key holds the gold: rows of items whose answer changed are requested again,
    the run says how many, and the summary scores today's answer key (never the stale rows)."""
    data = tmp_path / "quiz.jsonl"
    rows = [{"question": f"Question {i}?", "choices": ["yes", "no", "maybe"], "answer": "A"} for i in range(3)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite = tmp_path / "quiz.toml"
    suite.write_text('budgets = ["tokens:64"]\nsamples = 1\n[[tasks]]\nfamily = "mcq"\npath = "quiz.jsonl"\nitems = 3\n')
    out = tmp_path / "out"
    args = ["run", "--suite", suite, "--model", "fake-model", "--out", out, "--no-progress"]
    with FakeServer(lambda request: "Answer: A") as server:
        code, _, err = run_cli(*args, "--base-url", server.base_url)
        assert code == 0, err
        first = len(server.chat_requests())
        rows[1]["answer"] = rows[2]["answer"] = "B"  # the published key is corrected
        data.write_text("".join(json.dumps(r) + "\n" for r in rows))
        code, stdout, err = run_cli(*args, "--base-url", server.base_url)
        assert code == 0, err
        assert len(server.chat_requests()) == first + 2  # only the changed items
    assert "2 samples were stored for items that have changed" in stdout
    summary = json.loads((run_dir(out) / "summary.json").read_text())
    (overall,) = [g for g in summary["groups"] if g["level"] is None]
    assert abs(overall["pass@1"]["mean"] - 1 / 3) < 1e-9 and overall["samples"] == 3


def test_report_rescore_from_the_command_line(tmp_path, run_cli):
    with FakeServer(add_answer) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "tokens:64", "--samples", "1")
        assert code == 0, err
        sent = len(server.chat_requests())
        code, out, err = run_cli("report", run_dir(tmp_path), "--rescore")
        assert code == 0, err and len(server.chat_requests()) == sent
    assert "rescored 3 of 3 samples without a request; changed: nothing" in out


def test_show_a_suites_dataset_task_with_gold_and_source(tmp_path, run_cli):
    data = tmp_path / "quiz.jsonl"
    data.write_text(json.dumps({"id": "q-17", "question": "Is it?", "choices": ["yes", "no"], "answer": "B"}) + "\n")
    suite = tmp_path / "quiz.toml"
    suite.write_text('budgets = ["tokens:64"]\n[[tasks]]\nfamily = "mcq"\nname = "quiz"\npath = "quiz.jsonl"\n'
                     'columns = {question = "question", choices = "choices", answer = "answer", id = "id"}\n')
    code, out, err = run_cli("show", "--suite", suite, "quiz", "-n", "1")
    assert code == 0, err
    assert "Is it?" in out and "(B) no" in out and "[gold] B" in out and "id q-17" in out


def test_rescoring_an_unchanged_run_changes_nothing_even_after_budget_forcing(tmp_path, run_cli):
    """A forced sample stores the cut-off reasoning, then the cue and the answer asked for;
    the run parsed only the answer. Here the reasoning holds numbers and the forced answer
    holds none: the run scores it unparsed, and so must a rescore (it once took the last
    number of the reasoning)."""
    from ttc_bench.rescore import rescore

    def responder(request):
        last = request["messages"][-1]
        if last["role"] == "user":
            return {"content": "so 12 + 3 = 4 and then 7 " * 3, "finish_reason": "length",
                    "usage": {"prompt_tokens": 10, "completion_tokens": request["max_tokens"], "total_tokens": 0}}
        return {"content": "Number</answer>", "usage": {"prompt_tokens": 30, "completion_tokens": 3, "total_tokens": 0}}

    with FakeServer(responder) as server:
        code, _, err = run_cli(*base_args(server, tmp_path), "--budgets", "forced:16", "tokens:64", "--samples", "1")
        assert code == 0, err
    before = rows_of(tmp_path)
    forced = [r for r in before if r["budget"] == "forced:16"]
    assert forced and all(r["forced_answer"] and r["answer"] is None for r in forced)
    result = rescore(run_dir(tmp_path))
    assert result.rescored == len(before) and not any(result.changed.values()), result.changed
    assert [r["answer"] for r in rows_of(tmp_path)] == [r["answer"] for r in before]


def test_show_suite_uses_the_suites_own_seed(tmp_path, run_cli):
    suite = tmp_path / "s.toml"
    suite.write_text('seed = 7\nbudgets = ["tokens:8"]\n[[tasks]]\nfamily = "arithmetic"\nlevels = ["add-1d"]\n')
    from ttc_bench.adapters import get_family

    expected = get_family("arithmetic")().item(7, "add-1d", 0).messages[0]["content"]
    code, out, err = run_cli("show", "--suite", suite, "-n", "1")
    assert code == 0, err
    assert expected in out
    code, out, err = run_cli("show", "--suite", suite, "-n", "1", "--seed", "0")
    assert code == 0 and get_family("arithmetic")().item(0, "add-1d", 0).messages[0]["content"] in out
    code, _, err = run_cli("show", "--suite", suite, "nosuch")
    assert code == 2 and "its tasks: arithmetic" in err
