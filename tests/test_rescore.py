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
