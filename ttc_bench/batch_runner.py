"""``ttc-bench run --batch``: the plan through a provider's Batch API, in rounds, resumable.

A round writes every pending request (rounds.py) into input files of at most the API's
request and byte limits, then each file goes through one state machine, recorded in the
run folder's batch.json (written atomically) before every step that costs or creates
something:

    prepared -> uploaded -> submitting -> submitted -> downloaded -> (done)

- ``submitting`` is saved *before* the create call, with a marker in the batch's
  metadata. A process killed before it could save the batch id finds its batch again by
  that marker (``GET /batches``) instead of creating a second one.
- ``submitted`` is polled (with a progress line) until the batch is completed, expired,
  failed or cancelled; its output and error files are downloaded whole, then imported
  (idempotently, so a crash between import and the next save imports nothing twice).

After a round, what is still missing goes out in the next one: continuations of forced
budgets, requests that expired, were cancelled with the batch, or failed transiently
(429, 5xx). Requests that failed for good stay error rows (the next invocation of the same
command retries them, like a live run). Re-running the same command after a crash or
Ctrl-C picks up the recorded batches and never submits twice.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from .errors import UserError
from .models.batch import POLL_FIRST_S, POLL_MAX_S, BatchAPI, BatchClient
from .models.client import Endpoint
from .plan import Plan
from .rounds import Imported, Rounds
from .runner import RunStats
from .store import RunStore, encode_row, write_json_atomic

STATE = "batch.json"
FOLDER = "batch"  # input files and downloaded results, inside the run folder
MARKER = "ttc_bench_submission"  # metadata key naming a submission (<= 64 characters)
TERMINAL = ("completed", "expired", "failed", "cancelled")
# Rounds per invocation: turns of forced budgets plus resubmissions of what expired or
# failed transiently; past this the run stops and the next invocation goes on.
MAX_ROUNDS = 12
LOG_EVERY_S = 300.0  # a progress line at least this often while nothing changes


class BatchRun:
    def __init__(self, plan: Plan, endpoint: Endpoint, store: RunStore, api: BatchAPI, *, scrub=None, log=print,
                 progress: bool = True):
        self.plan, self.api, self.store, self.log, self.progress = plan, api, store, log, progress
        self.rounds = Rounds(plan, endpoint, store, scrub)
        self.client = BatchClient(endpoint.base_urls[0], endpoint.api_key_env, endpoint.timeout_s)
        self.path = store.dir / STATE
        self.folder = store.dir / FOLDER
        self.state = self._load(endpoint)
        # Entries found mid-submission: their create call may have succeeded unrecorded.
        self.resumed = {e["name"] for e in self.state["active"] if e["state"] == "submitting"}
        self.stats = RunStats(planned=plan.planned)
        self.given_up: set[str] = set()
        self.first_walk = True

    def _load(self, endpoint: Endpoint) -> dict:
        if not self.path.exists():
            return {"version": 1, "api": endpoint.profile.name, "round": 0, "active": [], "done": []}
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(state.get("active"), list) or not isinstance(state.get("done"), list):
                raise ValueError("no active/done lists")
        except (OSError, ValueError, AttributeError) as exc:
            raise UserError(f"{self.path} cannot be read ({exc}); it names this run's batches: repair it, or delete it "
                            "to submit what is missing again") from None
        return state

    def _save(self) -> None:
        write_json_atomic(self.path, self.state)

    def run(self) -> RunStats:
        self.stats.started = time.perf_counter()
        prepared = 0
        try:
            while True:
                if not self.state["active"]:  # the recorded round is done: the next one
                    if prepared == MAX_ROUNDS:
                        self.log(f"stopped after {MAX_ROUNDS} rounds; re-run the same command to send what is still missing")
                        break
                    if not self._prepare():
                        break
                    prepared += 1
                for entry in list(self.state["active"]):
                    self._submit(entry)
                self._wait()
        finally:
            self.client.close()
            self.stats.finished = time.perf_counter()
        return self.stats

    # ---- a round ---------------------------------------------------------------------------

    def _prepare(self) -> bool:
        """Write the pending requests into input files; False when nothing is pending."""
        number = self.state["round"] + 1
        self.folder.mkdir(exist_ok=True)
        files: list[list] = []  # [path, requests, bytes]
        out = None
        try:
            for _, line in self.rounds.pending(self.given_up):
                data = encode_row(line)
                if out is None or files[-1][1] >= self.api.max_requests or files[-1][2] + len(data) > self.api.max_bytes:
                    if out is not None:
                        out.close()
                    files.append([self.folder / f"round{number}-{len(files) + 1}.jsonl", 0, 0])
                    out = open(files[-1][0], "wb")
                out.write(data)
                files[-1][1] += 1
                files[-1][2] += len(data)
        finally:
            if out is not None:
                out.close()
        if self.first_walk:  # samples finished before this invocation (imports since excluded)
            self.stats.skipped, self.first_walk = self.plan.skipped - self.stats.done, False
        if not files:
            return False
        self.state["round"] = number
        self.state["active"] = [
            {"name": path.stem, "input": f"{FOLDER}/{path.name}", "requests": requests, "state": "prepared",
             "marker": f"{self.plan.run_id[:40]}/{path.stem}/{uuid.uuid4().hex[:12]}"}
            for path, requests, _ in files
        ]
        self._save()
        total = sum(requests for _, requests, _ in files)
        self.log(f"round {number}: {total:,} requests in {len(files)} batch{'es' if len(files) > 1 else ''}")
        return True

    def _submit(self, entry: dict) -> None:
        if entry["state"] == "prepared":
            path = self.store.dir / entry["input"]
            if not path.exists():  # deleted by hand: the next round writes it again
                self.state["active"].remove(entry)
                self._save()
                return
            entry["input_file_id"] = self.client.upload(path)
            entry["state"] = "uploaded"
            self._save()
        if entry["state"] == "uploaded":
            entry["state"] = "submitting"
            self._save()
        if entry["state"] == "submitting":
            found = self.client.find(MARKER, entry["marker"]) if entry["name"] in self.resumed else None
            batch = found or self.client.create(entry["input_file_id"], self.api, {MARKER: entry["marker"]})
            entry.update(batch_id=batch["id"], status=batch.get("status"), state="submitted")
            self._save()
            again = " (found again after a restart)" if found else ""
            self.log(f"batch {batch['id']}: {entry['requests']:,} requests submitted{again}")

    def _wait(self) -> None:
        delay, shown = POLL_FIRST_S, {}
        while True:
            for entry in [e for e in self.state["active"] if e["state"] == "submitted"]:
                batch = self.client.retrieve(entry["batch_id"])
                entry.update(status=batch.get("status"), counts=batch.get("request_counts"),
                             output_file_id=batch.get("output_file_id"), error_file_id=batch.get("error_file_id"))
                now, seen = time.monotonic(), shown.get(entry["name"])
                figures = (entry["status"], json.dumps(entry["counts"], sort_keys=True))
                if seen is None or seen[0] != figures or now - seen[1] > LOG_EVERY_S:
                    shown[entry["name"]] = (figures, now)
                    self._progress(entry)
                if entry["status"] in TERMINAL:
                    entry["errors"] = ((batch.get("errors") or {}).get("data") or [])[:5]
                    self._download(entry)
            if not any(e["state"] == "submitted" for e in self.state["active"]):
                break
            self._save()
            time.sleep(delay)
            delay = min(POLL_MAX_S, delay * 1.5)
        for entry in [e for e in self.state["active"] if e["state"] == "downloaded"]:
            self._import(entry)

    def _progress(self, entry: dict) -> None:
        if not self.progress:
            return
        counts = entry.get("counts") or {}
        total = counts.get("total") or entry["requests"]
        self.log(f"batch {entry['batch_id']}: {entry['status']}, {counts.get('completed', 0):,}/{total:,} done, "
                 f"{counts.get('failed', 0):,} failed")

    def _download(self, entry: dict) -> None:
        files = []
        for kind in ("output", "error"):
            file_id = entry.get(f"{kind}_file_id")
            if file_id:
                path = self.folder / f"{entry['batch_id']}-{kind}.jsonl"
                self.client.download(file_id, path)
                files.append(f"{FOLDER}/{path.name}")
        entry.update(results=files, state="downloaded")
        self._save()

    def _import(self, entry: dict) -> None:
        report = self.rounds.import_files([self.store.dir / name for name in entry["results"]])
        self._count(report)
        problems = report.problems()
        if problems:
            self.log(f"warning: batch {entry['batch_id']}: {problems}")
        self.state["active"].remove(entry)
        entry["state"] = "imported"
        self.state["done"].append({k: entry.get(k) for k in ("name", "batch_id", "status", "requests", "counts", "results")})
        self._save()
        self.log(f"batch {entry['batch_id']} {entry['status']}: {report.describe()}")
        if entry["status"] == "failed":
            reasons = "; ".join(str(e.get("message") or e.get("code")) for e in entry.get("errors") or []) or "no reason given"
            raise UserError(f"batch {entry['batch_id']} failed validation: {reasons[:300]}; fix it and re-run the same command")
        if entry["status"] == "cancelled":
            raise UserError(f"batch {entry['batch_id']} was cancelled; what it finished is imported, "
                            "re-run the same command to send the rest")

    def _count(self, report: Imported) -> None:
        self.stats.done += report.answers + report.errors
        self.stats.errors += report.errors
        # Failed for good: not sent again by this invocation (the next one retries them).
        self.given_up |= report.failed - report.transient


def scaled_prices(prices: dict | None, factor: float) -> dict | None:
    """The batch prices: the live ones times the provider's batch factor."""
    return {name: value * factor for name, value in prices.items()} if prices else None


def batch_manifest(provider: str, api: BatchAPI, list_prices: dict | None) -> dict:
    """What manifest.json records of a batch run: the spec's prices are the batch ones
    (``list_prices`` x ``price_factor``)."""
    return {"provider": provider, "price_factor": api.price_factor, "list_prices": list_prices, "source": api.source}
