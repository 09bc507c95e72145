"""`ttc-bench view`: report folders served on 127.0.0.1, with the samples a report.html
leaves out served per item from samples.jsonl, so the browser can show a run of any size.

Routes (one folder per run given, numbered from 0):
  /                      the only report, or a list of the reports
  /<n>/<file>            a file of folder n (report.html, plots/..., samples.jsonl)
  /<n>/samples?run=R&item=ID&budget=B
                         the samples of one item at one budget, as JSON
                         {"samples": [...], "prompt": [...] or null}; R is the run's
                         place in the report (an overlay holds several)

Only requests addressed to 127.0.0.1 or localhost at the server's port are answered (a
web page elsewhere cannot reach the server through DNS rebinding); files outside the
folders are never served.
"""

from __future__ import annotations

import html
import json
import mimetypes
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import UserError
from ..sample import BadRow, Sample
from ..store import SAMPLES, SUMMARY, RunFolder
from .browser import MARKER
from .browser_data import SERVED_FIELD_MAX, sample_record, secrets_of
from .prompts import Prompts

_ITEM = re.compile(rb'"item":\s*"((?:[^"\\]|\\.)*)"')


class SampleIndex:
    """Where each item's rows start in a samples.jsonl (built once, on first use)."""

    def __init__(self, run_dir: Path):
        self.dir = run_dir
        self.path = run_dir / SAMPLES
        self.offsets: dict[str, list[int]] | None = None
        self.lock = threading.Lock()
        manifest = RunFolder(run_dir).manifest()
        self.prompts = Prompts(manifest)
        self.secrets = secrets_of(manifest)

    def _build(self) -> dict[str, list[int]]:
        offsets: dict[str, list[int]] = {}
        with open(self.path, "rb") as fh:
            pos = 0
            for line in fh:
                found = _ITEM.search(line)
                if found:
                    try:
                        item = json.loads(b'"' + found.group(1) + b'"')
                    except ValueError:
                        item = None
                    if isinstance(item, str):
                        offsets.setdefault(item, []).append(pos)
                pos += len(line)
        return offsets

    def item(self, item: str, budget: str) -> dict:
        with self.lock:  # one build; prompts rebuild under the lock (they set HF offline flags)
            if self.offsets is None:
                self.offsets = self._build()
            starts = self.offsets.get(item, [])
            latest: dict[str, Sample] = {}
            with open(self.path, "rb") as fh:
                for start in starts:
                    fh.seek(start)
                    try:
                        sample = Sample.from_json(json.loads(fh.readline()))
                    except (ValueError, BadRow):
                        continue
                    if sample.item == item and sample.budget == budget:
                        latest[sample.key] = sample
            samples = sorted(latest.values(), key=lambda s: (s.sample, s.key))
            prompt = self.prompts.messages(samples[0].task, samples[0].level, item) if samples else None
        return {
            "samples": [sample_record(s, SERVED_FIELD_MAX, self.secrets) for s in samples],
            "prompt": prompt,
        }


class Served:
    """One folder served: its report and the run folders whose samples back it."""

    def __init__(self, folder: Path, sources: list[Path]):
        self.folder = folder.resolve()
        self.sources = [SampleIndex(s) for s in sources]


def prepare(path: Path, log) -> Served:
    """A run folder (its report rebuilt first when it has none with the browser) or an
    overlay folder written by `ttc-bench report RUN_A RUN_B`."""
    path = Path(path)
    summary_path = path / SUMMARY
    if path.is_dir() and not (path / SAMPLES).exists() and summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{summary_path} cannot be read ({exc})") from None
        if isinstance(summary, dict) and summary.get("kind") == "overlay":
            if not (path / "report.html").is_file():
                raise UserError(f"{path} has no report.html; run ttc-bench report on its runs again")
            return Served(path, [Path(r.get("run_dir", "")) for r in summary.get("runs", [])])
    folder = RunFolder.resolve(path)
    report = folder.dir / "report.html"
    if not _has_browser(report):
        from .build import regenerate

        log(f"building the report of {folder.dir} (its report.html has no sample browser)")
        regenerate([folder.dir])
    return Served(folder.dir, [folder.dir])


def _has_browser(report: Path) -> bool:
    try:
        with open(report, "rb") as fh:
            fh.seek(max(0, report.stat().st_size - (64 << 20)))
            return MARKER.encode() in fh.read()
    except OSError:
        return False


class _Handler(BaseHTTPRequestHandler):
    server: "ViewServer"

    def log_message(self, format, *args):  # quiet: the terminal shows the URL and errors only
        pass

    def do_GET(self):
        if not self.server.host_ok(self.headers.get("Host", "")):
            return self._send(403, b"forbidden: use the address ttc-bench view printed\n", "text/plain")
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        served = self.server.served
        if path == "/":
            if len(served) == 1:
                return self._redirect("/0/report.html")
            return self._send(200, self.server.index_page(), "text/html; charset=utf-8")
        match = re.fullmatch(r"/(\d+)/(.*)", path)
        if not match or int(match.group(1)) >= len(served):
            return self._send(404, b"not found\n", "text/plain")
        folder = served[int(match.group(1))]
        if match.group(2) == "samples":
            return self._samples(folder, parse_qs(parts.query))
        return self._file(folder.folder, match.group(2) or "report.html")

    def _samples(self, folder: Served, query: dict):
        try:
            run = int(query.get("run", ["0"])[0])
            item, budget = query["item"][0], query["budget"][0]
            index = folder.sources[run]
        except (KeyError, ValueError, IndexError):
            return self._send(400, b"give run, item and budget\n", "text/plain")
        try:
            body = json.dumps(index.item(item, budget), ensure_ascii=True, allow_nan=False)
        except (OSError, ValueError) as exc:
            return self._send(500, f"cannot read the samples: {exc}\n".encode(), "text/plain")
        return self._send(200, body.encode("ascii"), "application/json")

    def _file(self, folder: Path, name: str):
        target = (folder / name).resolve()
        if folder not in target.parents or not target.is_file():
            return self._send(404, b"not found\n", "text/plain")
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/json":
            kind += "; charset=utf-8"
        try:
            size = target.stat().st_size
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(size))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            with open(target, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away mid-file
        except OSError:
            self.close_connection = True

    def _redirect(self, where: str):
        self.send_response(302)
        self.send_header("Location", where)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes, kind: str):
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away before the answer: nobody is left to tell


class ViewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, served: list[Served], port: int = 0):
        try:
            super().__init__(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise UserError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
        self.served = served
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"

    def host_ok(self, host: str) -> bool:
        return host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    def index_page(self) -> bytes:
        links = "".join(
            f'<li><a href="/{i}/report.html">{html.escape(s.folder.name)}</a> <small>{html.escape(str(s.folder))}</small></li>'
            for i, s in enumerate(self.served)
        )
        return (
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>ttc-bench reports</title></head>'
            f"<body><h1>ttc-bench reports</h1><ul>{links}</ul></body></html>"
        ).encode("utf-8")


def open_view(paths: list[Path], port: int = 0, log=print) -> ViewServer:
    """The server for these run (or overlay) folders, listening but not yet serving."""
    if not paths:
        raise UserError("give at least one run folder")
    return ViewServer([prepare(p, log) for p in paths], port)


def open_browser(url: str) -> bool:
    """Open ``url`` where a graphical browser can be: never a console browser taking over
    the terminal, never an error when there is none."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd")) and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    import webbrowser

    try:
        return bool(webbrowser.open(url))
    except Exception:  # webbrowser raises whatever the platform's launcher raises
        return False
