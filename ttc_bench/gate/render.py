"""Writers for a Comparison: terminal table, markdown (CI step summary), JSON, JUnit XML.

JUnit XML follows the common schema CI dashboards read (Jenkins' junit-10.xsd, which GitHub,
GitLab and most report actions accept): <testsuites> with one <testsuite> per task, one
<testcase classname="ttc-bench.TASK.BUDGET" name="METRIC"> per cell, a <failure> for a
regression (and for inconclusive with --fail-inconclusive), <skipped> for a cell that is
reported but not gated, and the cell's numbers in <system-out>.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

from ..errors import UserError
from .results import Comparison, MetricResult, Outputs, exit_code, fmt_effect, fmt_mde, fmt_p

JSON_SCHEMA_VERSION = 2  # 2: p_worse, p_better, correlation, in_family, alpha; errors and pass@1-strict cells
_STYLE = {"regression": "bold red", "improvement": "green", "inconclusive": "yellow", "ok": "", "ungated": "dim"}
_ICON = {"regression": "❌", "improvement": "🟢", "inconclusive": "⚠️", "ok": "✅", "ungated": "➖"}


def _value(r: MetricResult, x: float) -> str:
    return f"{x:,.0f}" if r.kind == "tokens" else f"{100 * x:.1f}%"


def _ci(r: MetricResult) -> str:
    lo, hi = r.ci95
    if r.kind != "tokens":
        return f"{100 * lo:+.1f} to {100 * hi:+.1f}"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "n/a"
    return f"{100 * lo:+.0f}% to {100 * hi:+.0f}%"


def _p(r: MetricResult) -> str:
    return fmt_p(r.p_adjusted if r.p_adjusted is not None else r.p_value)


def _verdict_text(r: MetricResult) -> str:
    if r.verdict == "inconclusive" and r.items_needed:
        return f"inconclusive (~{r.items_needed} items)"
    return r.verdict


def _corr(r: MetricResult) -> str:
    return "-" if r.correlation is None else f"{r.correlation:.2f}"


def _row(r: MetricResult) -> list[str]:
    return [
        r.task, r.budget, r.metric, str(r.items), _value(r, r.baseline), _value(r, r.current),
        fmt_effect(r.diff, r.kind, signed=True), _ci(r), _p(r), _corr(r), fmt_mde(r), _verdict_text(r),
    ]


HEADERS = ["task", "budget", "metric", "items", "baseline", "current", "change", "95% CI", "p", "r", "MDE", "verdict"]
CAPTION = (
    "accuracy and errors in %, changes in points; tokens per item (k samples), changes in %; "
    "pass@1-strict counts errored samples as wrong; p: the change beyond the tolerance, "
    "Holm-adjusted over gated checks; r: between-run correlation of the item values; "
    "MDE: the change detected with power 0.8, tolerance included"
)


def _run_line(run: dict) -> str:
    extra = ", ".join(f"{k} {run[k]}" for k in ("model", "suite", "seed") if run.get(k) is not None)
    return f"{run['run_id']}" + (f" ({extra})" if extra else "")


def headline(c: Comparison) -> str:
    regressions = c.by_verdict("regression")
    inconclusive = c.by_verdict("inconclusive")
    if regressions:
        return f"FAIL: {len(regressions)} regression{'s' * (len(regressions) > 1)} ({', '.join(r.name for r in regressions)})"
    if c.failed:
        return f"FAIL: {len(inconclusive)} inconclusive with --fail-inconclusive"
    if inconclusive:
        return f"PASS, but {len(inconclusive)} of {len(c.gated())} gated checks are inconclusive (suite too small for the target)"
    improvements = c.by_verdict("improvement")
    tail = f", {len(improvements)} improved" if improvements else ""
    return f"PASS: no regression in {len(c.gated())} gated checks{tail}"


def render_table(c: Comparison):
    """A rich Table with one row per task x budget x metric."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"baseline {_run_line(c.baseline)}\ncurrent  {_run_line(c.current)}",
        title_justify="left",
        caption=CAPTION,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for name in HEADERS:
        table.add_column(name, justify="left" if name in ("task", "budget", "metric", "verdict") else "right", no_wrap=True)
    for r in c.results:
        table.add_row(*_row(r), style=_STYLE.get(r.verdict) or None)
    return table


def print_comparison(c: Comparison, console) -> None:
    console.print(render_table(c))
    for change in c.changes:
        console.print(f"changed: {change}", style="dim")
    for note in c.notes:
        console.print(f"note: {note}", style="dim")
    for r in c.results:
        if r.verdict in ("regression", "inconclusive"):
            console.print(f"{r.verdict}: {r.name}: {r.reason}", style=_STYLE[r.verdict], soft_wrap=True)
    style = "bold red" if c.failed else ("yellow" if c.by_verdict("inconclusive") else "bold green")
    console.print(f"gate: {headline(c)}", style=style, soft_wrap=True)


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|")


def to_markdown(c: Comparison) -> str:
    """A compact report for a CI step summary or a PR comment."""
    icon = "❌" if c.failed else ("⚠️" if c.by_verdict("inconclusive") else "✅")
    lines = [
        f"### {icon} ttc-bench compare: {headline(c)}",
        "",
        f"- **baseline**: `{_run_line(c.baseline)}`",
        f"- **current**: `{_run_line(c.current)}`",
        f"- paired {c.paired['items']} items, {c.paired['samples']} scored samples"
        + (f" ({c.paired['errored_pairs']} errored in one run or both)" if c.paired.get("errored_pairs") else "")
        + f"; tolerance: accuracy drop {fmt_effect(c.settings.max_drop, 'accuracy')}, "
        f"error-rate rise {fmt_effect(c.settings.max_error_increase, 'errors')}"
        + (
            f", token increase {fmt_effect(c.settings.max_token_increase, 'tokens')}"
            if c.settings.max_token_increase is not None
            else ", token cost not gated"
        ),
    ]
    lines += [f"- changed: {_md_escape(change)}" for change in c.changes]
    lines += ["", "| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" if h in ("task", "budget", "metric", "verdict") else "---:" for h in HEADERS) + "|"]
    for r in c.results:
        cells = _row(r)
        cells[-1] = f"{_ICON[r.verdict]} {cells[-1]}"
        lines.append("| " + " | ".join(_md_escape(x) for x in cells) + " |")
    details = [r for r in c.results if r.verdict in ("regression", "inconclusive", "improvement")]
    if details:
        lines += [""] + [f"- **{r.verdict}** {_md_escape(r.name)}: {_md_escape(r.reason)}" for r in details]
    if c.notes:
        lines += [""] + [f"- note: {_md_escape(n)}" for n in c.notes]
    lines += [
        "",
        "<sub>Accuracy and error rates in %, changes in points; tokens per item, changes in % of the "
        "baseline; pass@1-strict counts errored samples as wrong. p: the change beyond the tolerance "
        f"({'mid-p' if c.settings.mid_p else 'exact'} McNemar or Tango's score test for one sample per item, "
        f"the paired t-test otherwise), Holm-adjusted over {c.paired.get('holm_family', c.paired['gated_cells'])} "
        "checks in which some item differs. r: between-run correlation of the item values. MDE: the change "
        "detected with power 0.8, tolerance included. A regression needs the change to be significantly "
        "beyond the tolerance (the Holm-level interval entirely beyond it); inconclusive means the suite "
        "is too small to see the target change. See docs/ci.md.</sub>",
        "",
    ]
    return "\n".join(lines)


def _num(x):
    """JSON has no infinity: an infinite MDE (nothing detectable) is written as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, (list, tuple)):
        return [_num(v) for v in x]
    return x


def to_json(c: Comparison) -> dict:
    results = []
    for r in c.results:
        data = {k: _num(v) for k, v in asdict(r).items()}
        data["name"] = r.name
        results.append(data)
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "status": c.status,
        "passed": not c.failed,
        "exit_code": exit_code(c),
        "headline": headline(c),
        "baseline": c.baseline,
        "current": c.current,
        "settings": asdict(c.settings) | {"metrics": list(c.settings.metrics)},
        "paired": c.paired,
        "changes": c.changes,
        "notes": c.notes,
        "results": results,
    }


def _details(r: MetricResult) -> str:
    return (
        f"baseline {_value(r, r.baseline)}, current {_value(r, r.current)}, change "
        f"{fmt_effect(r.diff, r.kind, signed=True)} (95% CI {_ci(r)}), p={_p(r)} ({r.method}), "
        f"between-run r {_corr(r)}, MDE {fmt_mde(r)}, items {r.items}, k {r.k}: {r.verdict}: {r.reason}"
    )


def to_junit(c: Comparison) -> str:
    by_task: dict[str, list[MetricResult]] = defaultdict(list)
    for r in c.results:
        by_task[r.task].append(r)

    def failing(r: MetricResult) -> bool:
        return r.gated and (r.verdict == "regression" or (r.verdict == "inconclusive" and c.settings.fail_inconclusive))

    root = ET.Element("testsuites", {
        "name": "ttc-bench compare",
        "tests": str(len(c.results)),
        "failures": str(sum(failing(r) for r in c.results)),
        "errors": "0",
        "time": "0",
    })
    for task, results in by_task.items():
        suite = ET.SubElement(root, "testsuite", {
            "name": f"ttc-bench.{task}",
            "tests": str(len(results)),
            "failures": str(sum(failing(r) for r in results)),
            "errors": "0",
            "skipped": str(sum(not r.gated for r in results)),
            "time": "0",
        })
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("baseline", c.baseline["run_id"]),
            ("current", c.current["run_id"]),
            ("baseline_model", c.baseline.get("model") or ""),
            ("current_model", c.current.get("model") or ""),
            ("max_drop", str(c.settings.max_drop)),
            ("max_error_increase", str(c.settings.max_error_increase)),
            ("max_token_increase", "" if c.settings.max_token_increase is None else str(c.settings.max_token_increase)),
        ):
            ET.SubElement(props, "property", {"name": name, "value": str(value)})
        for r in results:
            case = ET.SubElement(suite, "testcase", {"classname": f"ttc-bench.{r.task}.{r.budget}", "name": r.metric, "time": "0"})
            if failing(r):
                failure = ET.SubElement(case, "failure", {"message": f"{r.name}: {r.reason}", "type": r.verdict})
                failure.text = _details(r)
            elif not r.gated:
                ET.SubElement(case, "skipped", {"message": r.reason})
            out = ET.SubElement(case, "system-out")
            out.text = _details(r)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _write(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        # The usual cause is a folder given where a file is wanted, or the reverse.
        blocker = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise UserError(f"cannot write {path}: {blocker} is a file, not a folder; give a folder for --report-dir or another path") from None
        if path.is_dir():
            raise UserError(f"cannot write {path}: it is a folder; give a file path") from None
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    return path


def write_outputs(
    comparison: Comparison,
    out_dir: Path | None = None,
    junit: Path | None = None,
    markdown: Path | None = None,
    json_path: Path | None = None,
    *,
    step_summary: bool = True,
) -> list[Path]:
    """Write the requested reports; returns the paths written.

    ``out_dir`` writes all three (compare.md, compare.json, compare-junit.xml). With
    ``step_summary`` and $GITHUB_STEP_SUMMARY set (GitHub Actions), the markdown is appended
    there too, so the job page shows the table without any extra workflow step.
    """
    written: list[Path] = []
    md = to_markdown(comparison)
    targets = []
    if out_dir is not None:
        out_dir = Path(out_dir)
        targets += [(out_dir / "compare.md", "md"), (out_dir / "compare.json", "json"), (out_dir / "compare-junit.xml", "junit")]
    targets += [(Path(p), kind) for p, kind in ((markdown, "md"), (json_path, "json"), (junit, "junit")) if p is not None]
    for path, kind in targets:
        if kind == "md":
            text = md
        elif kind == "json":
            text = json.dumps(to_json(comparison), indent=2, ensure_ascii=False) + "\n"
        else:
            text = to_junit(comparison)
        written.append(_write(path, text))
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary and summary:
        try:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(md + "\n")
        except OSError as exc:
            raise UserError(f"cannot append to $GITHUB_STEP_SUMMARY ({summary}): {exc.strerror}") from None
    return written


def write_requested(comparison: Comparison, outputs: Outputs) -> list[Path]:
    """:func:`write_outputs` for the paths of an :class:`Outputs`."""
    return write_outputs(comparison, outputs.report_dir, outputs.junit, outputs.markdown, outputs.json)
