"""Secrets: the API key and URL credentials never reach a file a run writes, nor the console.

A distinctive key is set in the environment and a distinctive password is put in the base
URL; the fake endpoint echoes the Authorization header back in some of its error messages
(as some gateways do), so the error reasons stored per sample are exercised too. Then
every file under the output folder and everything printed is searched, in the raw, decoded
and newline-joined forms (a console may wrap a long line in the middle of a secret).
"""

import base64
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from fault_server import FaultServer, spare_first
from test_run_fake import add_answer

TASK_ARGS = ["--tasks", "arithmetic:add-1d", "--limit", "4", "--budgets", "tokens:64", "forced:16", "--samples", "3",
             "--concurrency", "4", "--timeout", "5", "--no-progress"]


def forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]


def leaks(secrets: list[str], texts: dict[str, str]) -> list[str]:
    found = []
    for where, text in texts.items():
        joined = "".join(text.split())  # undo console wrapping
        for secret in secrets:
            if secret in text or secret in joined:
                found.append(f"{secret[:10]}... in {where}")
    return found


def written_files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_bytes().decode("utf-8", "replace") for p in out.rglob("*") if p.is_file()}


def cli(*args, env_key=None, env_name="TTC_SECRET_KEY"):
    import os

    env = {**os.environ}
    if env_key is not None:
        env[env_name] = env_key
    return subprocess.run([sys.executable, "-m", "ttc_bench.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def report_outputs(run_dir: Path) -> dict[str, str]:
    """``ttc-bench report`` output, when the command exists (it writes report files too)."""
    from ttc_bench.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    if "report" not in commands:
        return {}
    proc = cli("report", run_dir)
    return {"report stdout": proc.stdout, "report stderr": proc.stderr}


def test_api_key_never_written_or_printed(tmp_path):
    key = f"sk-test-{uuid.uuid4().hex}"
    # Half the requests fail with a 400 that echoes "Bearer <key>", a few meet transient faults.
    faults = {"echo-key": 0.3, "echo-key-ok": 0.2, "503": 0.1, "bad-json": 0.1}
    with FaultServer(add_answer, faults, seed=2, max_faults_per_request=1, when=spare_first()) as server:
        proc = cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path, "--api-key-env",
                   "TTC_SECRET_KEY", *TASK_ARGS, env_key=key)
        assert proc.returncode == 0, proc.stderr
        assert server.served["echo-key"] > 0 and server.served["echo-key-ok"] > 0
        assert all(h == f"Bearer {key}" for h in server.auth_headers)  # the key was really used
    files = written_files(tmp_path)
    assert {"samples.jsonl", "manifest.json", "summary.json"} <= {Path(f).name for f in files}
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    texts = {**files, "stdout": proc.stdout, "stderr": proc.stderr, **report_outputs(run_dir)}
    texts.update({f"after report: {k}": v for k, v in written_files(tmp_path).items() if k not in files})
    assert not leaks(forms(key), texts)
    samples = next(text for name, text in files.items() if name.endswith("samples.jsonl"))
    assert "bad request from Bearer ***" in samples  # the echoed key was scrubbed, the reason kept
    assert "you sent Bearer ***" in samples  # ... and so was a key echoed inside a 200 answer


def test_wrong_key_error_line_does_not_show_the_key(tmp_path):
    key = f"sk-test-{uuid.uuid4().hex}"
    with FaultServer(add_answer, required_key="sk-the-right-one") as server:
        proc = cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path, "--api-key-env",
                   "TTC_SECRET_KEY", *TASK_ARGS, env_key=key)
    assert proc.returncode == 2 and "401" in proc.stderr
    assert not leaks(forms(key), {"stderr": proc.stderr, "stdout": proc.stdout, **written_files(tmp_path)})


def test_credentials_in_the_base_url_are_redacted_everywhere(tmp_path):
    password = f"p4ss-{uuid.uuid4().hex[:16]}"
    user = f"user{uuid.uuid4().hex[:6]}"
    with FaultServer(add_answer, {"echo-key": 0.3, "500": 0.1}, seed=4, max_faults_per_request=1, when=spare_first()) as server:
        url = server.base_url.replace("http://", f"http://{user}:{password}@")
        proc = cli("run", "--model", "fake-model", "--base-url", url, "--out", tmp_path, *TASK_ARGS)
        assert proc.returncode == 0, proc.stderr
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        # httpx sends URL credentials as Basic auth, which the echo fault reflects back.
        assert f"Basic {basic}" in server.auth_headers
    files = written_files(tmp_path)
    manifest = next(text for name, text in files.items() if name.endswith("manifest.json"))
    assert f"http://***@127.0.0.1:{server.port}/v1" in manifest
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert password not in run_dir.name and user not in run_dir.name
    texts = {**files, "stdout": proc.stdout, "stderr": proc.stderr, **report_outputs(run_dir)}
    assert not leaks([*forms(password), basic], texts)


@pytest.mark.parametrize("debug", [False, True])
def test_unreachable_url_with_credentials_is_redacted_in_the_error(tmp_path, debug):
    password = f"p4ss-{uuid.uuid4().hex[:16]}"
    url = f"http://someone:{password}@127.0.0.1:9/v1"
    proc = cli(*(["--debug"] if debug else []), "run", "--model", "m", "--base-url", url, "--out", tmp_path, *TASK_ARGS)
    assert proc.returncode != 0
    assert "http://***@127.0.0.1:9/v1" in proc.stderr
    assert not leaks(forms(password), {"stderr": proc.stderr, "stdout": proc.stdout, **written_files(tmp_path)})


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ("https://u:secret@host.example/v1", "https://***@host.example/v1"),
    ("https://token@host.example/v1", "https://***@host.example/v1"),
    ("https://host.example/v1?api-key=secret&x=1", "https://host.example/v1?api-key=***&x=1"),
    ("https://host.example/v1?key=secret", "https://host.example/v1?key=***"),
])
def test_redact_url(url, expected):
    from ttc_bench.models.urls import redact_url

    assert redact_url(url) == expected


def test_credentials_given_as_flag_equals_url_are_redacted_in_the_manifest(tmp_path):
    password = f"p4ss-{uuid.uuid4().hex[:16]}"
    with FaultServer(add_answer) as server:
        url = server.base_url.replace("http://", f"http://user:{password}@") + "?api-key=" + password
        proc = cli("run", "--model", "fake-model", f"--base-url={url}", "--out", tmp_path, *TASK_ARGS)
        assert proc.returncode == 0, proc.stderr
    texts = {**written_files(tmp_path), "stdout": proc.stdout, "stderr": proc.stderr}
    assert not leaks(forms(password), texts)
    manifest = next(text for name, text in texts.items() if name.endswith("manifest.json"))
    assert "--base-url=http://***@127.0.0.1" in manifest and "api-key=***" in manifest


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/absolute-escape", "..", "a/../../b"])
def test_a_suite_name_never_places_the_run_folder_outside_out(tmp_path, name):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'name = "{name}"\nbudgets = ["tokens:16"]\n[[tasks]]\nfamily = "arithmetic"\nlevels = ["add-1d"]\nitems = 1\n')
    out = tmp_path / "deep" / "out"
    with FaultServer(add_answer) as server:
        proc = cli("run", "--suite", suite, "--model", "fake-model", "--base-url", server.base_url, "--out", out, "--no-progress")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = [p for p in out.iterdir()]
    assert run_dir.is_dir() and run_dir.resolve().parent == out.resolve()
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and out.resolve() not in p.resolve().parents and p != suite]
    assert outside == [] and not Path("/tmp/absolute-escape").exists()
