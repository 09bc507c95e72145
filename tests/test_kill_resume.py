"""Kill -9 at random points, torn lines, Ctrl-C, a full disk, two runs on one folder: the
final samples.jsonl always equals an uninterrupted run's (same keys, same answers), with
no duplicates, no finished sample requested twice and no saved line lost."""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fault_server import FaultServer, spare_first
from ttc_bench.sample import Sample
from test_run_fake import add_answer, base_args

KILLS = 20  # kill -9 rounds that hit a live process
LEVELS, LIMIT, BUDGETS, SAMPLES = ("add-1d", "add-2d"), 10, ("tokens:64", "tokens:32"), 5  # 200 samples
PLANNED = len(LEVELS) * LIMIT * len(BUDGETS) * SAMPLES


def deterministic(request):
    """A fast fake model whose answers depend on the sample seed: some right, some wrong,
    always the same for the same request, so two runs can be compared answer by answer."""
    time.sleep(0.005)
    text = add_answer(request)
    if request["seed"] % 4 == 0:
        return text.replace("<answer>", "<answer>1")  # a wrong answer, deterministically
    return text


def command(url: str, out: Path, run_id: str = "r", extra=(), limit: int = LIMIT) -> list[str]:
    return [sys.executable, "-m", "ttc_bench.cli", "run", "--model", "fake-model", "--base-url", url,
            "--out", str(out), "--no-progress", "--tasks", "arithmetic:" + ",".join(LEVELS), "--limit", str(limit),
            "--budgets", *BUDGETS, "--samples", str(SAMPLES), "--run-id", run_id, "--concurrency", "4", *extra]


def complete_lines(path: Path) -> list[bytes]:
    """Newline-terminated lines: the finished samples (a torn tail is not one)."""
    if not path.exists():
        return []
    return path.read_bytes().split(b"\n")[:-1]


def by_key(path: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in path.read_bytes().splitlines()]
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)), "a sample is stored twice"
    return {r["key"]: r for r in rows}


def same_results(a: dict[str, dict], b: dict[str, dict]) -> None:
    assert a.keys() == b.keys()
    fields = ("item", "budget", "sample", "seed", "response", "answer", "correct", "error")
    for key in a:
        assert {f: a[key][f] for f in fields} == {f: b[key][f] for f in fields}


def wait_for_lines(path: Path, count: int, proc: subprocess.Popen, deadline_s: float = 60.0) -> bool:
    """Poll until ``path`` holds ``count`` newline-terminated lines; False if the process ended first."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return True
        time.sleep(0.002)
    raise AssertionError(f"no progress to {count} lines in {deadline_s}s")


def test_kill_9_at_random_points_then_rerun_equals_an_uninterrupted_run(tmp_path):
    rng = random.Random(20240607)
    with FaultServer(deterministic) as server:
        reference = subprocess.run(command(server.base_url, tmp_path / "reference"), capture_output=True, text=True, timeout=300)
        assert reference.returncode == 0, reference.stderr
        expected = by_key(tmp_path / "reference" / "r" / "samples.jsonl")
        assert len(expected) == PLANNED

        samples = tmp_path / "killed" / "r" / "samples.jsonl"
        kills = rounds = 0
        rerequested: list[int] = []
        while kills < KILLS:
            rounds += 1
            assert rounds < KILLS * 3, "the run kept finishing before it could be killed"
            finished = {json.loads(line)["seed"] for line in complete_lines(samples)}
            already = len(server.chat_requests())
            proc = subprocess.Popen(command(server.base_url, tmp_path / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if rng.random() < 0.25:
                # During start-up: imports, spec, manifest, preflight, opening the store.
                time.sleep(rng.uniform(0.0, 3.0))
                alive = proc.poll() is None
            else:
                # While rows are being written: after 0..6 new rows, plus a random sliver.
                alive = wait_for_lines(samples, len(finished) + rng.randint(0, 6), proc)
                time.sleep(rng.uniform(0.0, 0.02))
                alive = alive and proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += alive
            # No sample finished before this round was requested in it.
            rerequested += [r.get("seed") for r in server.chat_requests()[already:] if r.get("seed") in finished]
            if len(complete_lines(samples)) >= PLANNED:
                break
        assert kills == KILLS, f"only {kills} kills hit a live run"
        assert len(complete_lines(samples)) < PLANNED, "the kills left nothing for the final run to do"

        before_final = {json.loads(line)["seed"] for line in complete_lines(samples)}
        already = len(server.chat_requests())
        final = subprocess.run(command(server.base_url, tmp_path / "killed"), capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        rerequested += [r.get("seed") for r in server.chat_requests()[already:] if r.get("seed") in before_final]
    assert not rerequested, f"{len(rerequested)} finished samples were requested again"
    same_results(by_key(samples), expected)


def _finished_run(server, out: Path, run_cli) -> Path:
    code, _, err = run_cli(*base_args(server, out), "--limit", "6", "--budgets", "tokens:64", "--samples", "3", "--run-id", "r")
    assert code == 0, err
    return out / "r" / "samples.jsonl"


def test_torn_last_line_is_cut_and_the_lines_before_it_kept(tmp_path, run_cli):
    rng = random.Random(5)
    with FaultServer(deterministic) as server:
        expected = by_key(_finished_run(server, tmp_path / "reference", run_cli))
        for trial in range(5):
            samples = _finished_run(server, tmp_path / f"t{trial}", run_cli)
            data = samples.read_bytes()
            # Cut anywhere in the last few lines: mid-line, mid-character, right after a newline.
            cut = rng.randint(len(data) - 3000, len(data) - 1)
            samples.write_bytes(data[:cut])
            intact = data[: data.rfind(b"\n", 0, cut) + 1]
            already = len(server.chat_requests())
            _finished_run(server, tmp_path / f"t{trial}", run_cli)
            after = samples.read_bytes()
            assert after.startswith(intact), "a line before the torn one changed"
            same_results(by_key(samples), expected)
            # Only the samples whose lines were cut are requested again.
            assert len(server.chat_requests()) - already == len(expected) - intact.count(b"\n")


def test_store_repairs_tails_of_any_size(tmp_path):
    from ttc_bench.store import RunStore, encode_row

    store = RunStore(tmp_path / "run")
    good = b'{"key":"a","error":null}\n{"key":"b","error":null}\n'
    for tail in (b"", b'{"key":"c"', b"\x00" * 10, b"x" * (3 << 16) + b"\xe2\x82"):  # incl. a torn 192 KB line
        store.samples_path.write_bytes(good + tail)
        store.open_for_append()
        store.append(Sample("d", "t", "l", "i", "b", 0))
        store.close()
        assert store.samples_path.read_bytes() == good + encode_row(Sample("d", "t", "l", "i", "b", 0).to_json())
    store.samples_path.write_bytes(b'{"key":"half')  # nothing complete at all
    store.open_for_append()
    store.close()
    assert store.samples_path.read_bytes() == b""


def test_unreadable_lines_in_the_middle_are_skipped_and_redone(tmp_path):
    from ttc_bench.store import RunStore

    store = RunStore(tmp_path)
    store.samples_path.write_bytes(b'{"key":"a","error":null}\n\xff\xfe garbage\n[1,2]\n{"no_key":1}\n{"key":"b","error":"503"}\n')
    assert store.finished_keys() == {"a"}
    assert [r["key"] for r in store.rows()] == ["a", "b"]


def test_sigint_cancels_in_flight_requests_and_exits_130_with_a_resume_hint(tmp_path):
    # Half the requests hang far beyond the test: Ctrl-C must not wait for them.
    with FaultServer(deterministic, {"hang": 0.5}, hang_s=120, seed=3, when=spare_first()) as server:
        cmd = command(server.base_url, tmp_path, extra=("--timeout", "300"), limit=3)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = tmp_path / "r" / "samples.jsonl"
        assert wait_for_lines(samples, 3, proc)
        time.sleep(0.2)  # let the hung requests pile up: all 4 slots stuck
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
        assert proc.returncode == 130, err
        assert elapsed < 5, f"took {elapsed:.1f}s to stop"
        assert "Traceback" not in err + out
        assert "re-run the same command to resume" in err
        assert len(err.strip().splitlines()) <= 2
        saved = {json.loads(line)["key"] for line in samples.read_bytes().splitlines()}  # every line whole
        assert saved
        server.faults = {}
        final = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
    rows = by_key(samples)
    assert len(rows) == PLANNED * 3 // LIMIT and saved <= rows.keys()


def _full_disk_after(monkeypatch, rows_ok: int, error=errno.ENOSPC):
    """os.write on samples.jsonl fails after ``rows_ok`` rows, having written half a line:
    what a disk that fills up mid-run does."""
    from ttc_bench import store as store_module

    real_write = os.write
    state = {"rows": 0}

    def write(fd, data):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) != "samples.jsonl":
            return real_write(fd, data)
        state["rows"] += 1
        if state["rows"] > rows_ok:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(error, os.strerror(error))
        return real_write(fd, data)

    monkeypatch.setattr(store_module.os, "write", write)


def test_disk_full_mid_run_is_one_line_and_keeps_every_saved_line(tmp_path, run_cli, monkeypatch):
    with FaultServer(deterministic) as server:
        expected = by_key(_finished_run(server, tmp_path / "reference", run_cli))
        _full_disk_after(monkeypatch, rows_ok=7)
        code, out, err = run_cli(*base_args(server, tmp_path / "full"), "--limit", "6", "--budgets", "tokens:64",
                                 "--samples", "3", "--run-id", "r")
        samples = tmp_path / "full" / "r" / "samples.jsonl"
        data = samples.read_bytes()
        assert code == 2, err
        assert err.startswith("error: cannot write") and "No space left on device" in err and err.count("\n") == 1
        assert "Traceback" not in err
        # The half-written line was cut back: the file holds exactly the 7 whole rows.
        assert data.count(b"\n") == 7 and data.endswith(b"\n")
        monkeypatch.undo()
        code, _, err = run_cli(*base_args(server, tmp_path / "full"), "--limit", "6", "--budgets", "tokens:64",
                               "--samples", "3", "--run-id", "r")
        assert code == 0, err
    assert samples.read_bytes().startswith(data)
    same_results(by_key(samples), expected)


def test_disk_full_at_the_store_level_cuts_the_partial_line(tmp_path, monkeypatch):
    # The part of the guarantee that lives in store.py, independent of the runner.
    from ttc_bench.store import RunStore, StoreWriteError

    store = RunStore(tmp_path)
    store.open_for_append()
    for key in "abc":
        store.append(Sample(key, "t", "l", "i", "b", 0))
    _full_disk_after(monkeypatch, rows_ok=0)
    with pytest.raises(StoreWriteError, match="No space left on device.*3 samples saved so far are intact.*re-run"):
        store.append(Sample("d", "t", "l", "i", "b", 0, response="x" * 1000))
    store.close()
    assert store.samples_path.read_bytes().count(b"\n") == 3
    assert [r["key"] for r in store.rows()] == ["a", "b", "c"]


@pytest.mark.parametrize("failing", ["manifest", "summary"])
def test_unwritable_manifest_or_summary_is_one_line_and_keeps_the_old_file(tmp_path, run_cli, monkeypatch, failing):
    import builtins

    with FaultServer(deterministic) as server:
        args = (*base_args(server, tmp_path), "--limit", "2", "--budgets", "tokens:64", "--samples", "1", "--run-id", "r")
        assert run_cli(*args)[0] == 0
        target = tmp_path / "r" / f"{failing}.json"
        before = target.read_bytes()
        real_open = builtins.open

        def full_open(file, mode="r", *a, **k):
            if "w" in mode and Path(file).name.startswith(f"{failing}.json"):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
            return real_open(file, mode, *a, **k)

        monkeypatch.setattr(builtins, "open", full_open)
        code, out, err = run_cli(*args, "--samples", "2")
        monkeypatch.undo()
    assert code == 2 and err.startswith("error: cannot write") and "No space left" in err and err.count("\n") == 1
    assert target.read_bytes() == before
    assert not list((tmp_path / "r").glob("*.tmp"))


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_runs(tmp_path, run_cli):
    def slow(request):
        time.sleep(0.05)
        return add_answer(request)

    with FaultServer(slow) as server:
        proc = subprocess.Popen(command(server.base_url, tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert wait_for_lines(tmp_path / "r" / "samples.jsonl", 1, proc)
            code, _, err = run_cli("run", "--model", "fake-model", "--base-url", server.base_url, "--out", tmp_path,
                                   "--no-progress", "--tasks", "arithmetic:" + ",".join(LEVELS), "--limit", LIMIT, "--budgets", *BUDGETS,
                                   "--samples", SAMPLES, "--run-id", "r")
        finally:
            proc.kill()
            proc.wait()
    assert code == 2 and "another ttc-bench run is writing" in err and err.count("\n") == 1


def test_a_refused_second_run_changes_nothing_of_the_running_one(tmp_path):
    """A second run of the same command while the first writes big rows: every attempt is
    refused by the lock before it touches the folder, so no half-written row of the first
    run is cut and its manifest keeps its own settings."""
    from fake_server import FakeServer

    def big(request):
        time.sleep(0.3)
        return add_answer(request) + " " + "x" * 300_000

    with FakeServer(big) as server:
        cmd = command(server.base_url, tmp_path, limit=4)
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        samples = tmp_path / "r" / "samples.jsonl"
        assert wait_for_lines(samples, 1, first)
        refused, raced = 0, False
        for _ in range(12):  # bounded: each attempt is a fresh process
            if first.poll() is not None:
                break
            second = subprocess.run([*cmd, "--price-input", "9", "--price-output", "9"], capture_output=True, text=True, timeout=120)
            if second.returncode == 0 and first.poll() is not None:
                raced = True  # the first run had finished: nothing to refuse
                break
            assert second.returncode == 2 and "another ttc-bench run" in second.stderr, second.stderr
            refused += 1
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    assert refused >= 2
    rows = by_key(samples)  # every line whole JSON, no key twice
    assert len(rows) == len(LEVELS) * 4 * len(BUDGETS) * SAMPLES
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    if not raced:
        assert "--price-input" not in manifest["command"] and manifest["spec"]["prices"] is None
