"""`run --shard I/N` and `ttc-bench merge`: shards split the items deterministically (stable under
--limit), share the settings hash, and merge into a run whose samples and summary equal
the unsharded run's; runs of different settings are refused with one line."""

from __future__ import annotations

import json
import shutil

import pytest

from fake_server import FakeServer
from test_batch import comparable, rows, same_samples, summary
from test_kill_resume import deterministic
from test_run_fake import run_dir
from ttc_bench.plan import shard_of

SHARDS = 4


def flags(server, out, *extra, budgets=("tokens:64", "tokens:32"), limit=6):
    return ["run", "--model", "fake-model", "--base-url", server.base_url, "--out", out, "--no-progress",
            "--tasks", "arithmetic:add-1d,add-2d", "--limit", limit, "--samples", "3", "--budgets", *budgets,
            "--concurrency", "4", *extra]


def items_of(folder) -> set[str]:
    return {row["item"] for row in rows(folder).values()}


def test_shards_partition_the_items_and_do_not_depend_on_limit():
    ids = [f"arithmetic/add-1d/{i:04d}" for i in range(200)]
    parts = [{i for i in ids if shard_of(i, SHARDS) == n} for n in range(1, SHARDS + 1)]
    assert set().union(*parts) == set(ids) and sum(map(len, parts)) == len(ids)
    assert all(20 <= len(part) <= 80 for part in parts)  # a hash, not a block split
    assert [{i for i in ids[:50] if shard_of(i, SHARDS) == n} for n in range(1, SHARDS + 1)] == [p & set(ids[:50]) for p in parts]


def test_four_shards_merged_equal_the_unsharded_run(tmp_path, run_cli):
    with FakeServer(deterministic) as server:
        assert run_cli(*flags(server, tmp_path / "whole"))[0] == 0
        for n in range(1, SHARDS + 1):
            code, _, err = run_cli(*flags(server, tmp_path / f"shard{n}", "--shard", f"{n}/{SHARDS}"))
            assert code == 0, err
        whole = run_dir(tmp_path / "whole")
        shards = [run_dir(tmp_path / f"shard{n}") for n in range(1, SHARDS + 1)]
        assert [s.name for s in shards] == [f"{whole.name}-shard{n}of{SHARDS}" for n in range(1, SHARDS + 1)]
        assert all(items_of(s) for s in shards) and sum(len(items_of(s)) for s in shards) == len(items_of(whole))
        out = tmp_path / "merged" / whole.name
        code, stdout, err = run_cli("merge", out, *shards)
        assert code == 0, err
        assert "missing" not in stdout
        same_samples(rows(whole), rows(out))
        # Latency is measured per request, so two live runs differ there and only there.
        assert comparable(summary(whole)) == comparable(summary(out)) and summary(out)["run_id"] == whole.name
        # With the unsharded run given first, every sample comes from it: the very same summary.
        again = tmp_path / "again" / whole.name
        assert run_cli("merge", again, whole, *shards)[0] == 0
        assert summary(again) == summary(whole)
        merged = json.loads((out / "manifest.json").read_text())
        assert merged["spec"]["shard"] is None
        assert [m["shard"] for m in merged["merged_from"]] == [f"{n}/{SHARDS}" for n in range(1, SHARDS + 1)]
        # The merged folder is an ordinary run: the unsharded command resumes it with nothing to do.
        before = len(server.chat_requests())
        code, stdout, _ = run_cli(*flags(server, tmp_path / "merged"))
        assert code == 0 and len(server.chat_requests()) == before
        assert "0 samples requested" in stdout


def test_merge_never_duplicates_a_sample_and_names_missing_shards(tmp_path, run_cli):
    with FakeServer(deterministic) as server:
        for n in (1, 2):
            assert run_cli(*flags(server, tmp_path / f"s{n}", "--shard", f"{n}/3"))[0] == 0
    first, second = run_dir(tmp_path / "s1"), run_dir(tmp_path / "s2")
    copy = tmp_path / "copy" / first.name
    shutil.copytree(first, copy)
    code, out, err = run_cli("merge", tmp_path / "merged", first, second, copy)
    assert code == 0, err
    merged = [json.loads(x)["key"] for x in (tmp_path / "merged" / "samples.jsonl").read_text().splitlines()]
    assert len(merged) == len(set(merged)) == len(rows(first)) + len(rows(second))
    assert "shards 3 are missing" in out.replace("\n", " ")
    code, _, err = run_cli("merge", tmp_path / "again", first, first)
    assert code == 2 and "given twice" in err


@pytest.mark.parametrize("other", [("--budgets", "tokens:64"), ("--seed", "7"), ("--samples", "2")])
def test_merging_runs_of_different_settings_is_refused_with_one_line(tmp_path, run_cli, other):
    with FakeServer(deterministic) as server:
        assert run_cli(*flags(server, tmp_path / "a", "--shard", "1/2"))[0] == 0
        argv = flags(server, tmp_path / "b", "--shard", "2/2")
        name = other[0]
        if name == "--budgets":
            argv = flags(server, tmp_path / "b", "--shard", "2/2", budgets=other[1:])
        else:
            argv = [*argv, *other]
        assert run_cli(*argv)[0] == 0
    code, _, err = run_cli("merge", tmp_path / "merged", run_dir(tmp_path / "a"), run_dir(tmp_path / "b"))
    assert code == 2
    assert err.startswith("error: cannot merge") and "different settings" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "merged" / "samples.jsonl").exists() or not (tmp_path / "merged" / "samples.jsonl").read_bytes()


def test_bad_shard_flags_are_one_line(tmp_path, run_cli):
    with FakeServer(deterministic) as server:
        for bad in ("0/4", "5/4", "2", "a/b"):
            code, _, err = run_cli(*flags(server, tmp_path, "--shard", bad))
            assert code == 2 and "--shard" in err and err.strip().count("\n") == 0
        assert server.chat_requests() == []
