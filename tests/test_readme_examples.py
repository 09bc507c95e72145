"""Every `ttc-bench run` / `ttc-bench probe` example in README.md and docs/ runs against the
emulation of the provider it names (tests/emulators/), with zero error rows.

The examples' URLs are replaced by the emulation's address; host-based profile detection
(api.anthropic.com -> anthropic ...) cannot survive that, so its result is passed as
--api (detection from the host is tested in test_profiles.py). Examples are shortened with
--limit so the test stays fast; everything else is run as written.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from emulators.anthropic_api import AnthropicServer
from emulators.deepseek import DeepSeekServer
from emulators.gemini_api import GeminiServer
from emulators.openai_batch import OpenAIBatchServer
from emulators.vllm_server import VLLMServer

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# host of an example's base URL -> (emulation, profile that host detection picks, or None)
HOSTS = {
    "api.openai.com": (OpenAIBatchServer, None),  # the chat API plus the Batch API (docs/scale.md)
    "api.anthropic.com": (AnthropicServer, "anthropic"),
    "generativelanguage.googleapis.com": (GeminiServer, "gemini"),
    "api.deepseek.com": (DeepSeekServer, "deepseek"),
    "127.0.0.1:8000": (VLLMServer, None),
    "gpu1:8000": (VLLMServer, None),
}


def examples() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in re.findall(r"```(?:bash|sh|shell)?\n(.*?)```", doc.read_text(), flags=re.S):
            for command in block.replace("\\\n", " ").splitlines():
                command = command.split("#")[0].strip()
                # The `ttc-bench serve` example runs on the real embedded model (test_embedded.py).
                if "smollm2" in command:
                    continue
                if re.match(r"ttc-bench (run|probe)\b", command) and "://" in command or "--model o4-mini" in command:
                    found.append((doc.name, command))
    return found


def _hosts(argv: list[str]) -> list[str]:
    return [re.sub(r"^https?://([^/]+).*", r"\1", a) for a in argv if "://" in a]


def test_the_docs_have_provider_examples():
    names = {command.split("--model ")[1].split()[0] for _, command in examples()}
    assert {"o4-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "deepseek-v4-flash", "Qwen/Qwen3-8B"} <= names


@pytest.mark.parametrize("doc, command", examples(), ids=lambda v: v if len(v) < 60 else v[:60])
def test_example_runs_against_its_providers_emulation(tmp_path, run_cli, monkeypatch, doc, command):
    argv = shlex.split(command)[1:]
    hosts = _hosts(argv) or ["api.openai.com"]
    server_class, detected = HOSTS[hosts[0]]
    model = argv[argv.index("--model") + 1]
    key_var = argv[argv.index("--api-key-env") + 1] if "--api-key-env" in argv else "OPENAI_API_KEY"
    monkeypatch.setenv(key_var, "test-key")
    servers = [server_class(model) for _ in hosts]
    for server in servers:
        server.__enter__()
    try:
        urls = iter(s.base_url for s in servers)
        argv = [next(urls) if "://" in a else a for a in argv]
        if "--base-url" not in argv:
            argv += ["--base-url", servers[0].base_url]
        if detected and "--api" not in argv:
            argv += ["--api", detected]
        if argv[0] == "run":
            argv += ["--out", str(tmp_path), "--no-progress", "--limit", "2"]
        else:
            argv += ["--json", str(tmp_path / "probe.json")]
        code, out, err = run_cli(*argv)
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    assert code == 0, err
    if argv[0] == "run":
        (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
        rows = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
        assert rows and [r["error"] for r in rows if r["error"]] == []
        if len(servers) > 1:
            assert all(s.chat_bodies() for s in servers)  # replicas share the load
