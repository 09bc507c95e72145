"""`ttc-bench compare` and `ttc-bench run --baseline` through the CLI on fake endpoints."""

import random
import re
import xml.etree.ElementTree as ET

from fake_server import FakeServer
from test_run_fake import add_answer


def sloppy(request):
    """Right on about a third of the items only (deterministic per question)."""
    text = request["messages"][0]["content"]
    a, b = map(int, re.search(r"Compute (\d+) \+ (\d+)", text).groups())
    wrong = random.Random(a * 100 + b).random() < 0.7
    return f"<answer>{a + b + (1 if wrong else 0)}</answer>"


def args(server, out, run_id):
    return ["run", "--model", "m", "--base-url", server.base_url, "--out", out, "--no-progress", "--tasks",
            "arithmetic:add-2d", "--limit", "40", "--budgets", "tokens:32", "--samples", "2", "--run-id", run_id]


def test_compare_and_run_baseline_gate_a_real_drop(tmp_path, run_cli):
    with FakeServer(add_answer) as good:
        assert run_cli(*args(good, tmp_path, "base"))[0] == 0
        assert run_cli(*args(good, tmp_path, "same"))[0] == 0
    code, out, err = run_cli("compare", tmp_path / "base", tmp_path / "same")
    assert code == 0, err
    junit = tmp_path / "junit.xml"
    code, out, err = run_cli("compare", tmp_path / "base", tmp_path / "same", "--junit", junit)
    assert code == 0 and ET.parse(junit).getroot().tag in ("testsuites", "testsuite")
    with FakeServer(sloppy) as bad:
        code, out, err = run_cli(*args(bad, tmp_path, "worse"), "--baseline", tmp_path / "base", "--junit", junit)
    assert code == 1, err
    assert "regression" in out
    failures = ET.parse(junit).getroot().iter("failure")
    assert any(True for _ in failures)


def test_compare_with_missing_folder_is_exit_2(tmp_path, run_cli):
    code, _, err = run_cli("compare", tmp_path / "nope", tmp_path / "nope2")
    assert code == 2 and err.startswith("error:") and err.count("\n") == 1


def test_run_checks_its_baseline_and_gate_flags_before_sending_anything(tmp_path, run_cli):
    """A typo in --baseline or --metrics must not cost a whole run; gate flags without
    --baseline are refused rather than silently ignored."""
    with FakeServer(add_answer) as server:
        common = ["run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path / "out",
                  "--no-progress", "--tasks", "arithmetic:add-1d", "--limit", "2", "--budgets", "tokens:64"]
        code, _, err = run_cli(*common, "--baseline", tmp_path / "no-such-run")
        assert code == 2 and "no-such-run does not exist" in err
        code, _, err = run_cli(*common, "--max-drop", "2%")
        assert code == 2 and "--max-drop sets the regression gate" in err and "--baseline" in err
        code, out, err = run_cli(*common)
        assert code == 0, err
        baseline = next((tmp_path / "out").iterdir())
        sent = len(server.chat_requests())
        code, _, err = run_cli(*common, "--baseline", baseline, "--metrics", "pass@one")
        assert code == 2 and "unknown metric 'pass@one'" in err
        assert len(server.chat_requests()) == sent
