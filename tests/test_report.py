"""Reports rebuilt from samples.jsonl: every output written, byte-stable, self-contained."""

import io
import json
import random
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ttc_bench.errors import UserError
from ttc_bench.reporting import regenerate
from ttc_bench.summarize import summarize_run
from ttc_bench.reporting import fitting_table, print_summary
from ttc_bench.metrics import SCHEMA_VERSION, summarize

BUDGETS = ["forced:32", "forced:128", "tokens:512"]
PLOT_KINDS = ["accuracy-vs-tokens", "pass1-majority-gain", "budget-fidelity", "level-heatmap"]


def _make_run(folder: Path, model: str = "tiny-model", skill: float = 0.0, seed: int = 0, samples: int = 6) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    manifest = {
        "run_id": folder.name,
        "endpoint": {"model": model},
        "spec": {"suite": "unit", "budgets": BUDGETS, "samples": samples},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with open(folder / "samples.jsonl", "w", encoding="utf-8") as fh:
        for level, difficulty in (("easy", 0.0), ("hard", 0.25)):
            for i in range(5):
                item = f"arith/{level}/{i:04d}"
                for b, budget in enumerate(BUDGETS):
                    requested = int(budget.split(":")[1])
                    for j in range(samples):
                        p = min(0.95, 0.2 + 0.2 * b + skill - difficulty + 0.05 * i)
                        correct = rng.random() < p
                        answer = None if rng.random() < 0.1 else ("10" if correct else rng.choice(["9", "11", "12"]))
                        used = rng.randint(requested // 2, requested)
                        row = {
                            "key": f"{item}/{budget}/{j}",
                            "task": "arith",
                            "level": level,
                            "item": item,
                            "budget": budget,
                            "requested_tokens": requested,
                            "sample": j,
                            "response": "so the answer is " + str(answer),
                            "answer": answer,
                            "correct": correct and answer is not None,
                            "partial": float(correct and answer is not None),
                            "scores": None,
                            "finish_reason": "stop",
                            "truncated": used == requested,
                            "turns": 1,
                            "prompt_tokens": 50,
                            "completion_tokens": used + 6,
                            "reasoning_tokens": used if budget.startswith("forced") else 0,
                            "latency_s": used / 100,
                            "attempts": 1,
                            "error": "timeout" if (i, b, j) == (4, 2, 5) and level == "hard" else None,
                        }
                        fh.write(json.dumps(row) + "\n")
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("runs")
    a = _make_run(base / "run-a")
    b = base / "run-a-copy"
    b.mkdir()
    for name in ("manifest.json", "samples.jsonl"):
        shutil.copy(a / name, b / name)
    result_a = regenerate([a])
    result_b = regenerate([b])
    return base, a, b, result_a, result_b


def test_regenerate_writes_every_output(runs):
    _, a, _, result, _ = runs
    outputs = result["outputs"]
    expected = {"summary.json", "report.md", "report.html"}
    expected |= {f"plots/arith-{kind}.{ext}" for kind in PLOT_KINDS for ext in ("png", "svg")}
    assert set(outputs) == expected
    assert all(path.exists() and path.stat().st_size > 0 for path in outputs.values())
    assert result["out_dir"] == a
    stored = json.loads((a / "summary.json").read_text())
    assert stored == json.loads(json.dumps(result["summary"]))
    assert stored["model"] == "tiny-model" and stored["suite"] == "unit"
    assert [g["budget"] for g in stored["groups"] if g["level"] is None] == BUDGETS


def test_regeneration_is_byte_stable(runs):
    _, a, b, result_a, result_b = runs
    for name in result_a["outputs"]:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # and again in place: nothing changes
    before = {name: (a / name).read_bytes() for name in result_a["outputs"]}
    regenerate([a])
    assert {name: (a / name).read_bytes() for name in before} == before


def test_plots_open_and_carry_no_dates(runs):
    from PIL import Image

    _, a, _, _, _ = runs
    for kind in PLOT_KINDS:
        with Image.open(a / "plots" / f"arith-{kind}.png") as image:
            image.verify()
            assert image.size[0] >= 600
        svg = (a / "plots" / f"arith-{kind}.svg").read_text()
        assert "<svg" in svg and "<dc:date>" not in svg
    svg = (a / "plots" / "arith-accuracy-vs-tokens.svg").read_text()
    png = (a / "plots" / "arith-accuracy-vs-tokens.png").read_bytes()
    assert b"tIME" not in png and b"Software" not in png


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.urls, self.scripts = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "script":
            self.scripts.append(dict(attrs))


def test_report_html_is_self_contained(runs):
    _, a, _, _, _ = runs
    text = (a / "report.html").read_text()
    parser = _Collect()
    parser.feed(text)
    assert "link" not in parser.tags and "iframe" not in parser.tags
    # the sample browser: its data as JSON and one inline script, nothing loaded from elsewhere
    assert parser.scripts == [{"type": "application/json", "id": "sb-data"}, {}]
    assert "Content-Security-Policy" in text and "script-src 'sha256-" in text
    assert parser.tags.count("img") == 4
    assert parser.urls and all(url.startswith(("data:image/", "#samples")) for url in parser.urls)
    assert "url(" not in text and "@import" not in text
    assert "Compute-optimal frontier" in text and "points per doubling" in text


def test_report_md_has_key_sections(runs):
    _, a, _, result, _ = runs
    md = (a / "report.md").read_text()
    for heading in ("## arith", "### Accuracy by budget", "### Compute-optimal frontier", "### Scaling", "### Budget fidelity", "### pass@1 by level"):
        assert heading in md
    assert "at about" in md and "best strategy is budget" in md
    for kind in PLOT_KINDS:
        assert f"(plots/arith-{kind}.png)" in md
    assert "| forced:32 |" in md


def test_overlay_of_two_models(runs, tmp_path):
    base, a, _, _, _ = runs
    c = _make_run(base / "run-c", model="bigger-model", skill=0.3, seed=1)
    result = regenerate([a, c])
    out = result["out_dir"]
    assert out.parent == base and out.name.startswith("overlay-")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "overlay"
    assert [r["label"] for r in summary["runs"]] == ["tiny-model", "bigger-model"]
    md = (out / "report.md").read_text()
    assert "tiny-model vs bigger-model" in md and "| bigger-model | tokens:512 |" in md
    assert all((out / f"plots/arith-{kind}.svg").exists() for kind in PLOT_KINDS)
    assert not (a / "overlay").exists()
    # same model twice: the run id tells them apart; an explicit out_dir is honoured
    again = regenerate([a, a], tmp_path / "cmp")
    labels = [r["label"] for r in again["summary"]["runs"]]
    assert labels == ["tiny-model (run-a)", "tiny-model (run-a)"] and again["out_dir"] == tmp_path / "cmp"
    buf = io.StringIO()
    from rich.console import Console

    print_summary(result["summary"], Console(file=buf, width=80), None, result["outputs"])
    assert "bigger-model" in buf.getvalue() and "report.html" in buf.getvalue()


def test_regenerate_refuses_a_folder_without_samples(tmp_path):
    with pytest.raises(UserError, match="no samples.jsonl"):
        regenerate([tmp_path])


def test_terminal_summary_fits_80_columns_with_many_samples():
    from rich.console import Console

    rows = []
    for b, budget in enumerate(["forced:2048:min=512", "thinking:16384"]):
        for i in range(3):
            for j in range(100):
                answer = str((i + j * (b + 1)) % 3)
                rows.append(
                    {"key": f"{i}/{b}/{j}", "task": "sudoku", "level": "L1", "item": f"s/{i}", "budget": budget,
                     "requested_tokens": 2048, "answer": answer, "correct": answer == "0", "completion_tokens": 1500 + j,
                     "reasoning_tokens": 1400, "prompt_tokens": 300, "latency_s": 1.0, "error": None}
                )  # fmt: skip
    summary = summarize(rows)
    buf = io.StringIO()
    outputs = {"report.html": Path("results/run/report.html"), "plots/x.png": Path("results/run/plots/x.png")}
    print_summary(summary, Console(file=buf, width=200, color_system=None), "sudoku on a model: accuracy %", outputs)
    text = buf.getvalue()
    table_lines = [line for line in text.splitlines() if line.startswith(("budget", "forced", "thinking", "─"))]
    assert table_lines and max(len(line.rstrip()) for line in table_lines) <= 80
    assert "maj@100" in text and "pass@100" in text  # the largest k survives narrowing
    assert "results/run/report.html" in text and "results/run/plots/" in text
    groups = [g for g in summary["groups"] if g["level"] is None]
    assert fitting_table("sudoku", groups).columns  # builds without a console


def test_report_modules_do_not_import_matplotlib_at_import_time():
    code = "import sys, ttc_bench.reporting, ttc_bench.reporting.build, ttc_bench.reporting.plots, ttc_bench.reporting.view; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _keys(value, found):
    if isinstance(value, dict):
        for k, v in value.items():
            found.add(k)
            _keys(v, found)
    elif isinstance(value, list):
        for v in value:
            _keys(v, found)
    return found


def test_every_summary_field_is_documented(runs):
    _, a, _, result, _ = runs
    docs = (Path(__file__).parent.parent / "docs" / "metrics.md").read_text()
    fields = _keys(result["summary"], set())
    fields |= _keys(summarize_run(a, prices={"input_per_million": 1, "output_per_million": 2}, params=1e9), set())
    missing = sorted(f for f in fields if f"`{f}`" not in docs)
    assert not missing, f"docs/metrics.md does not document: {missing}"


def test_rebuilt_summary_does_not_flag_varied_samples_as_identical(tmp_path):
    # Regression: the streamed rows once dropped the response text, so every item looked
    # like identical samples.
    import json

    from ttc_bench.summarize import summarize_run

    run = tmp_path / "run"
    run.mkdir()
    rows = [
        {"key": f"k{j}", "task": "t", "level": "L", "item": "i1", "budget": "tokens:8", "sample": j, "answer": str(j % 2),
         "correct": j % 2 == 0, "partial": float(j % 2 == 0), "completion_tokens": 5, "response": f"text {j}",
         "error": None}
        for j in range(4)
    ]
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = summarize_run(run)
    overall = [g for g in summary["groups"] if g["level"] is None][0]
    assert overall["identical_sample_rate"] == 0.0 and not summary["warnings"]
    (run / "samples.jsonl").write_text("".join(json.dumps(dict(r, response="same")) + "\n" for r in rows))
    assert summarize_run(run)["warnings"]


def test_report_reads_a_run_written_before_schema_3(tmp_path):
    # An older run folder: rows without the fields newer writers add, and a schema 2
    # summary.json beside them. `ttc-bench report` rebuilds it with the current definitions.
    run = tmp_path / "old-run"
    run.mkdir()
    rows = [
        {"key": f"k{i}-{j}", "task": "t", "level": "L", "item": f"t/L/{i}", "budget": "forced:64:min=16",
         "answer": str((i + j) % 2), "correct": (i + j) % 2 == 0, "completion_tokens": 40 + j, "error": None}
        for i in range(6) for j in range(3)
    ]  # fmt: skip
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "summary.json").write_text(json.dumps({"schema_version": 2, "groups": [], "tasks": []}))
    result = regenerate([run])
    assert result["summary"]["schema_version"] == SCHEMA_VERSION >= 3
    assert json.loads((run / "summary.json").read_text())["schema_version"] == SCHEMA_VERSION
    assert (run / "report.md").read_text().count("## t") == 1


def _as_schema_2(summary: dict) -> dict:
    """A summary as schema 2 wrote it: the per-sample share named control, none of the
    schema 3 fields."""
    old = json.loads(json.dumps(summary))
    old["schema_version"] = 2
    for g in old["groups"]:
        f = g["fidelity"]
        f["control"] = f.pop("within_budget_share")
        f.pop("min_tokens")
        g.pop("samples_per_item_min")
        for p in g["points"]:
            p.pop("items")
            p.pop("tokens_ci95")
    for t in old["tasks"]:
        for p in t["frontier"] + t["frontier_with_oracle"]:
            p.pop("cost_ties")
            p.pop("tokens_ci95")
        for f in t["fits"]:
            f.pop("doublings")
            f.pop("undefined")
        s1 = t["fidelity"]
        s1["control"] = s1.pop("within_budget_share")
        for key in ("control_settings", "scaling_se", "scaling_ci95", "scaling_undefined"):
            s1.pop(key)
    old.pop("intervals")
    return old


def test_reports_render_a_schema_2_summary(runs, tmp_path):
    from ttc_bench.reporting import write_reports

    _, _, _, result, _ = runs
    outputs = write_reports(tmp_path / "old", _as_schema_2(result["summary"]))
    md = outputs["report.md"].read_text()
    assert "### Budget fidelity" in md and "s1 metrics: Control" in md and "of samples within budget" in md
