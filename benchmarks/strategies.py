"""Strategies side by side (docs/strategies.md): accuracy and tokens per item of each
strategy, and the tokens adaptive sampling saves, on scripted endpoints with known
behaviour and, with --embedded, on the embedded model (honest numbers, whatever they are).

1. sudoku 4x4 at k = n samples: maj, verified-maj, best-of (the gold-free checker, no extra
   tokens), selfverify (the model judges each distinct answer; its tokens count) and
   revise:2 (the first sample, then up to 2 rounds with the checker's violations). The
   scripted model solves a puzzle with probability 0.4 and otherwise always writes the same
   grid that breaks a row; asked to judge, it recognises the solution; told its
   violations, it fixes them.
2. arithmetic: fixed-n maj@n against adaptive sampling on a scripted endpoint whose items are
   mostly easy (4 in 5 always right; the rest right 60% of the time, wrong answers spread).
   Target (issue 15): at least 40% fewer tokens at maj@n within 1 point.

Run: python benchmarks/strategies.py [--items 60] [--samples 16] [--embedded]
Exit 0 when the scripted adaptive target is met, 1 when it is missed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the scripted models and fake server live with the tests

from fake_server import FakeServer  # noqa: E402
from scripted_models import AdditionModel, SudokuModel  # noqa: E402
from ttc_bench.spec import build_spec  # noqa: E402
from ttc_bench.sweep import run_sweep  # noqa: E402

TARGET_SAVING, TARGET_POINTS = 0.40, 1.0


def sweep(out: str, run_id: str, **flags) -> dict:
    spec = build_spec(None, out=out, run_id=run_id, retry_window=30, **flags)
    return run_sweep(spec, [run_id], progress="off", log=lambda m: None).summary


def groups(summary: dict) -> list[dict]:
    return [g for g in summary["groups"] if g["level"] is None]


def pct(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    lo, hi = stat["ci95"]
    return f"{100 * stat['mean']:5.1f} ({100 * lo:.0f}-{100 * hi:.0f})" if lo is not None else f"{100 * stat['mean']:5.1f}"


def selection_table(title: str, summary: dict) -> None:
    print(f"\n{title}")
    print(f"  {'task':<10} {'budget':<11} {'strategy':<16} {'accuracy % (95% CI)':<22} {'tokens/item':>11}")
    for g in groups(summary):
        top = g["points"][-1]
        n = top["k"]
        rows = [(f"pass@1", g["pass@1"], g["points"][0]["tokens_per_item"]), (f"maj@{n}", top["maj"], top["tokens_per_item"])]
        if "verified_maj" in top:
            rows.append((f"verified-maj@{n}", top["verified_maj"], top["tokens_per_item"]))
        if "best_of" in top:
            rows.append((f"best-of-{n}", top["best_of"], top["tokens_per_item"]))
        if "selfverify" in g:
            v = g["selfverify"]
            rows.append(("selfverify", v["accuracy"], v["tokens_per_item"]))
        for name, v in (g.get("revise") or {}).items():
            rows.append((name, v["accuracy"], v["tokens_per_item"]))
        for name, stat, tokens in rows:
            print(f"  {g['task']:<10} {g['budget']:<11} {name:<16} {pct(stat):<22} {tokens:>11.0f}")


def adaptive_table(title: str, fixed: dict, adaptive: dict) -> tuple[float, float]:
    """Print fixed-n maj@n beside adaptive; returns (tokens saved, accuracy gap in points)
    of the first budget."""
    print(f"\n{title}")
    print(f"  {'budget':<11} {'strategy':<22} {'accuracy % (95% CI)':<22} {'tokens/item':>11} {'samples/item':>13}")
    first = None
    for f, a in zip(groups(fixed), groups(adaptive)):
        top, point = f["points"][-1], a["adaptive"]
        saved = 1 - point["tokens_per_item"] / top["tokens_per_item"]
        gap = 100 * abs(point["accuracy"]["mean"] - top["maj"]["mean"])
        print(f"  {f['budget']:<11} {'fixed-n maj@' + str(top['k']):<22} {pct(top['maj']):<22} {top['tokens_per_item']:>11.0f} {top['k']:>13}")
        print(f"  {a['budget']:<11} {'adaptive (<= ' + str(point['samples_cap']) + ')':<22} {pct(point['accuracy']):<22} "
              f"{point['tokens_per_item']:>11.0f} {point['samples_per_item']:>13.2f}")
        print(f"  -> {100 * saved:.0f}% fewer tokens than the fixed-n run, accuracy {gap:.1f} points apart "
              f"(the summary's own estimate: {100 * point['tokens_saved']:.0f}% fewer)")
        first = first or (saved, gap)
    return first or (0.0, 100.0)


def scripted(items: int, samples: int, out: str) -> bool:
    sudoku = SudokuModel.of("4x4", items, p_right=0.4)
    with FakeServer(sudoku) as server:
        summary = sweep(out, "sudoku", model="fake-model", base_urls=[server.base_url], tasks=["sudoku:4x4"],
                        budgets=["tokens:256"], samples=4, limit=items,
                        strategies=["maj", "verified-maj", "best-of", "selfverify", "revise:2"])
    selection_table(f"scripted sudoku 4x4, {items} items x 4 samples (right 40%, the wrong grid always the same):", summary)
    model = AdditionModel()
    with FakeServer(model) as server:
        common = dict(model="fake-model", base_urls=[server.base_url], tasks=["arithmetic:add-2d"], budgets=["tokens:64"],
                      samples=samples, limit=items)
        fixed = sweep(out, "fixed", **common)
        adaptive = sweep(out, "adaptive", strategies=["adaptive"], **common)
    saved, gap = adaptive_table(f"scripted additions, {items} items, n = {samples} (4 in 5 items easy):", fixed, adaptive)
    met = saved >= TARGET_SAVING and gap <= TARGET_POINTS
    print(f"  target: >= {100 * TARGET_SAVING:.0f}% fewer tokens within {TARGET_POINTS:.0f} point: {'met' if met else 'MISSED'}")
    return met


def embedded(items: int, samples: int, out: str) -> None:
    summary = sweep(out, "emb-sudoku", tasks=["sudoku:4x4"], budgets=["tokens:256"], samples=4, limit=items,
                    strategies=["maj", "verified-maj", "best-of", "selfverify", "revise:2"])
    selection_table(f"embedded model, sudoku 4x4, {items} items x 4 samples:", summary)
    common = dict(tasks=["arithmetic:add-1d"], budgets=["tokens:64"], samples=samples, limit=items)
    fixed = sweep(out, "emb-fixed", **common)
    adaptive = sweep(out, "emb-adaptive", strategies=["adaptive"], **common)
    adaptive_table(f"embedded model, arithmetic add-1d, {items} items, n = {samples}:", fixed, adaptive)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=60, help="items per task (default 60)")
    parser.add_argument("--samples", type=int, default=16, help="n for the adaptive comparison (default 16)")
    parser.add_argument("--embedded", action="store_true", help="also run the embedded model (starts llama.cpp)")
    parser.add_argument("--embedded-items", type=int, default=8, help="items per task on the embedded model (default 8)")
    parser.add_argument("--embedded-samples", type=int, default=8, help="n on the embedded model (default 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        met = scripted(args.items, args.samples, out)
        if args.embedded:
            embedded(args.embedded_items, args.embedded_samples, out)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
