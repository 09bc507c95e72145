"""The sample browser in report.html: the data it embeds (fields, the cap, escaping, no
secrets), the page itself in headless Chromium (skipped where none is installed), and
`ttc-bench view`, which serves the samples a page leaves out."""

import json
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from headless import chromium, dump_dom
from ttc_bench.adapters import get_family
from ttc_bench.reporting import regenerate
from ttc_bench.reporting.browser import MARKER, embed_json, page_data, section
from ttc_bench.reporting.browser_data import run_data
from ttc_bench.reporting.html import render_html
from ttc_bench.reporting.view import open_view

KEY_ENV = "TTC_BROWSER_TEST_KEY"
SECRET = "sk-browser-test-0123456789abcdef"
HOSTILE = '</script><img src=x onerror="alert(1)"><!--<script>alert(2)</script> & done'
BUDGETS = ["tokens:64", "tokens:128"]
LONG = "think " * 6000  # 36,000 characters: shortened on the page

needs_chromium = pytest.mark.skipif(chromium() is None, reason="no Chromium installed (apt-get install chromium)")


def _row(item: int, budget: str, j: int, **fields) -> dict:
    gold = str(10 + item)
    row = {
        "key": f"{item}/{budget}/{j}", "task": "arithmetic", "level": "add-1d", "item": f"arithmetic/add-1d/{item:04d}",
        "budget": budget, "sample": j, "seed": j, "gold": gold, "answer": gold, "correct": True, "partial": 1.0,
        "response": f"so <answer>{gold}</answer>", "reasoning": "short thought", "finish_reason": "stop",
        "truncated": False, "turns": 1, "prompt_tokens": 20, "completion_tokens": 30, "reasoning_tokens": 10,
        "latency_s": 0.5, "attempts": 1, "error": None,
    }  # fmt: skip
    return {**row, **fields}


def make_run(folder: Path, items: int = 3) -> Path:
    """3 items x 2 budgets x 4 samples of add-1d, with a split vote, a hostile response, an
    echoed key, a long reasoning, an unparsed answer, an error and a cut-off sample."""
    folder.mkdir(parents=True)
    manifest = {
        "run_id": folder.name,
        "command": ["ttc-bench", "run", "--base-url", "http://127.0.0.1:9/v1"],
        "endpoint": {"model": "tiny", "api_key_env": KEY_ENV},
        "spec": {"suite": "unit", "seed": 0, "budgets": BUDGETS, "samples": 4, "api_key_env": KEY_ENV,
                 "tasks": [{"family": "arithmetic", "name": "arithmetic", "levels": ["add-1d"], "items": items, "options": {}}]},
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))
    rows = []
    for i in range(items):
        for budget in BUDGETS:
            for j in range(4):
                rows.append(_row(i, budget, j))
    wrong = {"answer": "99", "correct": False, "partial": 0.0}
    # item 0 at tokens:64: 10, 99, 99, unparsed -> majority wrong while... 1 of 3 scored right
    rows[1] = _row(0, "tokens:64", 1, **wrong, response=HOSTILE, reasoning=LONG)
    rows[2] = _row(0, "tokens:64", 2, **wrong, response=f"my key is {SECRET}", truncated=True, finish_reason="length")
    rows[3] = _row(0, "tokens:64", 3, answer=None, correct=False, partial=0.0, response="no idea")
    # item 1 at tokens:128: one sample failed (an error row, retried later and failed again)
    rows.append(_row(1, "tokens:128", 0, answer=None, correct=False, error="timeout after 600 s"))
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "this line is not json\n")
    return folder


def test_embedded_data_holds_every_cell_and_sample(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    run = run_data("tiny", make_run(tmp_path / "run"))
    assert run["samples"] == 24 and run["embedded"] == 24 and run["skipped"] == 1
    assert run["budgets"] == BUDGETS and run["tasks"] == [{"name": "arithmetic", "levels": ["add-1d"]}]
    assert [i["id"] for i in run["items"]] == [f"arithmetic/add-1d/{i:04d}" for i in range(3)]
    assert [i["gold"] for i in run["items"]] == ["10", "11", "12"]
    expected = get_family("arithmetic")("arithmetic", {}).item(0, "add-1d", 1).messages
    assert run["items"][1]["prompt"] == expected and not run["prompt_notes"]
    first = run["cells"][0]
    assert (first["item"], first["budget"], first["n"], first["correct"], first["unparsed"], first["errors"]) == (0, 0, 4, 1, 1, 0)
    assert first["votes"] == [["99", 2, False], ["10", 1, True]]
    assert first["maj"] == 0.0 and first["pass1"] == 0.25 and first["split"] and not first["flip"] and first["cut_off"] == 1
    errored = next(c for c in run["cells"] if (c["item"], c["budget"]) == (1, 1))
    assert errored["n"] == 4 and errored["errors"] == 1 and errored["correct"] == 3 and not errored["split"]
    rows = run["sample_rows"]
    assert len(rows) == 24 and {r["verdict"] for r in rows} == {"correct", "wrong", "unparsed", "error"}
    hostile = next(r for r in rows if r["response"] == HOSTILE)
    head, left_out, tail = hostile["reasoning"]
    assert len(head) + len(tail) == run["text_chars"] and left_out == len(LONG) - run["text_chars"]
    assert LONG.startswith(head) and LONG.endswith(tail)
    echoed = next(r for r in rows if r["cut_off"])
    assert echoed["response"] == "my key is ***" and echoed["finish"] == "length"
    assert set(hostile) >= {"cell", "sample", "verdict", "answer", "response", "reasoning", "finish", "cut_off", "turns",
                            "attempts", "tokens", "latency", "error"}  # fmt: skip


def test_page_data_is_escaped_and_carries_no_secret(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)
    data = page_data(["tiny"], [make_run(tmp_path / "run")])
    markup = section(data).markup
    payload = re.search(r'<script type="application/json" id="sb-data">(.*?)</script>', markup, re.S).group(1)
    assert "<" not in payload and ">" not in payload and "&" not in payload
    assert json.loads(payload) == json.loads(json.dumps(data))  # the escapes decode back to the text
    assert any(r["response"] == HOSTILE for r in json.loads(payload)["runs"][0]["sample_rows"])
    assert markup.count("</script>") == 2 and "onerror=" not in markup.replace(payload, "")
    assert SECRET not in markup and "127.0.0.1:9" not in markup and "command" not in payload
    # a lone surrogate (a broken server's output) still gives valid UTF-8
    assert embed_json({"t": "bad \ud800 text"}).encode("utf-8")


def test_large_runs_embed_whole_cells_up_to_the_cap(tmp_path):
    run = run_data("tiny", make_run(tmp_path / "run", items=12), cap=20)
    embedded = [c for c in run["cells"] if c["embedded"]]
    assert run["samples"] == 96 and run["embedded"] == sum(c["n"] for c in embedded) <= 20
    assert {c["budget"] for c in embedded} == {0, 1}  # every (task, level, budget) has samples on the page
    assert {c["item"] for c in embedded} == {0, 1}  # the first items, whole
    assert len(run["sample_rows"]) == run["embedded"]
    assert {run["sample_rows"][i]["cell"] for i in range(len(run["sample_rows"]))} == {run["cells"].index(c) for c in embedded}
    assert [i["prompt"] is not None for i in run["items"]] == [True, True] + [False] * 10
    assert len(run["cells"]) == 24  # histograms for every cell, embedded or not


def test_prompts_fall_back_to_none_with_the_reason(tmp_path):
    folder = make_run(tmp_path / "run")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["spec"]["tasks"][0]["family"] = "no-such-family"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    run = run_data("tiny", folder)
    assert all(i["prompt"] is None for i in run["items"])
    assert "no-such-family" in run["prompt_notes"]["arithmetic"]
    (folder / "manifest.json").unlink()  # no manifest at all: still a browser, without prompts
    assert run_data("tiny", folder)["prompt_notes"] == {"arithmetic": "the manifest does not describe this task"}


def _count(dom: str) -> tuple[int, int]:
    found = re.search(r'id="sb-count"[^>]*data-samples="(\d+)" data-items="(\d+)"', dom)
    assert found, dom[-3000:]
    return int(found.group(1)), int(found.group(2))


@needs_chromium
def test_the_page_filters_samples_in_chromium(tmp_path):
    folder = make_run(tmp_path / "run")
    regenerate([folder])
    page = (folder / "report.html").as_uri()
    # wrong samples (unparsed included) at the largest budget: item 1 has its error, nothing else
    dom, _ = dump_dom(page + "#samples?task=arithmetic&budget=tokens%3A128&show=wrong")
    assert _count(dom) == (0, 0)
    dom, _ = dump_dom(page + "#samples?task=arithmetic&budget=tokens%3A64&show=wrong")
    assert _count(dom) == (3, 1)
    assert dom.count('class="sb-sample"') == 3 and dom.count("<img") == 4  # 4 plots, no injected image
    assert "&lt;/script&gt;&lt;img src=x onerror=" in dom  # the hostile response shown as text
    dom, _ = dump_dom(page + "#samples?show=errored")
    assert _count(dom) == (1, 1) and "timeout after 600 s" in dom
    dom, _ = dump_dom(page + "#samples?q=onerror")
    assert _count(dom) == (1, 1)
    dom, _ = dump_dom(page + "#samples?show=split")
    assert _count(dom) == (4, 1)  # item 0 at tokens:64: its votes split


def _get(url: str, host: str | None = None):
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def served(tmp_path):
    folder = make_run(tmp_path / "run", items=12)
    regenerate([folder])
    # a page that embeds only the first cells, as for a run over the cap
    from ttc_bench.reporting.browser import build_section
    from ttc_bench.reporting.document import document

    summary = json.loads((folder / "summary.json").read_text())
    (folder / "report.html").write_text(render_html(document(summary, {}), {}, build_section(["tiny"], [folder], cap=8)))
    server = open_view([folder], log=lambda m: None)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, server
    server.shutdown()
    server.server_close()


def test_view_serves_reports_and_samples_by_item(served):
    folder, server = served
    assert _get(server.url)[0] == 200  # redirected to the report
    status, body = _get(server.url + "0/report.html")
    assert status == 200 and MARKER.encode() in body
    status, body = _get(server.url + "0/samples?run=0&item=arithmetic/add-1d/0000&budget=tokens:64")
    got = json.loads(body)
    assert status == 200 and [s["sample"] for s in got["samples"]] == [0, 1, 2, 3]
    assert LONG in [s["reasoning"] for s in got["samples"]]  # served in full
    assert got["prompt"] == get_family("arithmetic")("arithmetic", {}).item(0, "add-1d", 0).messages
    assert _get(server.url + "0/report.html", host="evil.example:80")[0] == 403  # DNS rebinding
    assert _get(server.url + "0/..%2f..%2fetc%2fpasswd")[0] == 404
    assert _get(server.url + "7/report.html")[0] == 404
    assert _get(server.url + "0/samples?item=x")[0] == 400


@needs_chromium
def test_served_page_loads_the_samples_it_does_not_embed(served):
    folder, server = served
    page = server.url + "0/report.html#samples?level=add-1d&budget=tokens%3A64"
    dom, _ = dump_dom(page, wait_ms=5000)
    assert _count(dom) == (48, 12)
    # item 0 is on the page, the 11 others are fetched from the server, each with its 4 samples
    listing = dom[dom.index('<div id="sb-list">'):dom.index("show more items")]
    assert len(re.findall(r'class="sb-sample"', listing)) == 12 * 4
    assert "not embedded" not in listing and "could not load" not in listing and "loading" not in listing


def test_view_command_prints_the_address_and_stops_on_ctrl_c(tmp_path):
    folder = make_run(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "ttc_bench.cli", "view", str(folder), "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        lines = [proc.stdout.readline(), proc.stdout.readline()]
        assert "building the report" in lines[0]  # no report yet: built first
        url = re.search(r"http://127\.0\.0\.1:\d+/", lines[1]).group(0)
        status, body = _get(url)
        assert status == 200 and MARKER.encode() in body
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped." in out and "Traceback" not in err
