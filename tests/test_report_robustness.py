"""Report writes that fail (issue 18): each file is replaced in one step, a failure is one
line after the table (never a traceback before it), and rows samples.jsonl skipped are
said in one line."""

import errno
import json

import pytest

from fake_server import FakeServer
from test_report import _make_run
from test_run_fake import add_answer
from ttc_bench.reporting import files, plot_style


def _lines(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def test_report_html_being_a_folder_is_one_line_after_the_table(tmp_path, run_cli):
    run = _make_run(tmp_path / "run")
    (run / "report.html").mkdir()
    code, out, err = run_cli("report", run)
    assert code == 2 and "Traceback" not in out + err
    failure = _lines(out, "could not write")
    assert len(failure) == 1 and "report.html (Is a directory)" in failure[0]
    assert out.index("forced:32") < out.index("could not write")  # the table came first
    assert "ttc-bench report" in failure[0]  # and the line says how to write them again
    assert (run / "report.md").is_file() and (run / "plots" / "arith-level-heatmap.svg").is_file()
    assert not list(run.glob(".*.tmp")) and (run / "summary.json").is_file()


def test_a_disk_that_fills_while_plots_are_written(tmp_path, run_cli, monkeypatch):
    run = _make_run(tmp_path / "run")
    assert run_cli("report", run)[0] == 0
    before = {p.name: p.read_bytes() for p in (run / "plots").iterdir()}
    real = files.write_atomic
    written = []

    def fills_up(path, write):
        if len(written) == 3:  # the fourth file, the second plot's SVG: half written, then the disk is full
            def half(fh):
                fh.write(b"partial")
                raise OSError(errno.ENOSPC, "No space left on device")

            return real(path, half)
        written.append(path)
        return real(path, write)

    monkeypatch.setattr(plot_style, "write_atomic", fills_up)
    code, out, err = run_cli("report", run)
    assert code == 2 and "Traceback" not in out + err
    failure = _lines(out, "could not write")
    assert len(failure) == 1 and "3 plots (PNG + SVG) (No space left on device)" in failure[0]
    assert out.index("forced:32") < out.index("could not write")
    # the plot being written keeps its previous bytes; no temp file is left behind
    assert {p.name: p.read_bytes() for p in (run / "plots").iterdir()} == before
    assert "plots:" in out and "report:" in out  # what was written is still named
    html = (run / "report.html").read_text()
    assert html.count("<figure>") == 1  # the one plot written in full


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old")

    def broken(fh):
        fh.write(b"new, half")
        raise OSError(errno.EIO, "Input/output error")

    with pytest.raises(OSError):
        files.write_atomic(target, broken)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.md"]
    failure = files.write_text(tmp_path / "missing" / "report.html", "x")
    assert isinstance(failure, files.WriteFailure) and failure.reason == "No such file or directory"


def test_skipped_rows_are_said_in_one_line(tmp_path, run_cli):
    run = _make_run(tmp_path / "run")
    with open(run / "samples.jsonl", "a") as fh:
        fh.write("not json at all\n")
        fh.write(json.dumps({"key": "k", "task": "arith", "level": "easy"}) + "\n")  # no item, no budget
    code, out, err = run_cli("report", run)
    assert code == 0 and "Traceback" not in out + err
    assert _lines(out, "rows of samples.jsonl") == ["warning: 2 rows of samples.jsonl could not be read as samples and were skipped"]
    assert json.loads((run / "summary.json").read_text())["rows_skipped"] == 2
    assert "2 rows of samples.jsonl could not be read as samples and were skipped." in (run / "report.md").read_text()
    other = _make_run(tmp_path / "other", model="other-model")
    code, out, _ = run_cli("report", run, other)  # an overlay names the run that skipped rows
    assert code == 0 and _lines(out, "rows of samples.jsonl") == [
        "warning: tiny-model: 2 rows of samples.jsonl could not be read as samples and were skipped"
    ]


def test_a_run_prints_its_table_before_a_report_it_could_not_write(tmp_path, run_cli):
    (tmp_path / "r1" / "report.html").mkdir(parents=True)
    with FakeServer(add_answer) as server:
        code, out, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path,
                                 "--run-id", "r1", "--no-progress", "--tasks", "arithmetic:add-1d", "--limit", "2",
                                 "--budgets", "tokens:64", "--samples", "2")  # fmt: skip
    assert code == 0 and "Traceback" not in out + err  # the samples and summary.json are saved
    assert out.index("tokens:64") < out.index("could not write report.html (Is a directory)")
    assert (tmp_path / "r1" / "summary.json").is_file()
