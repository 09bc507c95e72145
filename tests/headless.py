"""Headless Chromium for the report tests and benchmarks: the DOM of a page after its
scripts ran, with no network and a fresh profile (Debian's /usr/bin/chromium, run as root
here, needs --no-sandbox)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-extensions", "--mute-audio",
]  # fmt: skip


def chromium() -> str | None:
    """The Chromium or Chrome binary, if one is installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def dump_dom(url: str, *, wait_ms: int | None = None, timeout: float = 120) -> tuple[str, float]:
    """(the serialized DOM once the page loaded, wall seconds the browser took). ``wait_ms``:
    virtual time to let timers and fetches finish before the dump."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("no Chromium installed")
    with tempfile.TemporaryDirectory() as profile:
        args = [binary, *FLAGS, f"--user-data-dir={profile}"]
        if wait_ms is not None:
            args.append(f"--virtual-time-budget={wait_ms}")
        env = {**os.environ, "HOME": profile}
        start = time.perf_counter()
        proc = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=timeout, env=env)
        elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"chromium exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc.stdout, elapsed
