"""Human-readable output of a summary: the terminal table printed after a run, report.md,
and write_reports(), which also makes report.html and the plots.

The report is built once as a list of blocks (headings, paragraphs, lists, tables,
images) and rendered to markdown here and to HTML in report_html.py, so both say the same.
Nothing here reads samples or calls a model: a report is a pure function of summary.json.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

TERMINAL_WIDTH = 80
FRONTIER_LINES = 4  # frontier sentences printed after a run; the report has them all


# ---------------------------------------------------------------------------- formatting


def _pct(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    return f"{100 * stat['mean']:.1f}"


def _ci(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None or stat["ci95"][0] is None:
        return "-"
    lo, hi = stat["ci95"]
    return f"{100 * lo:.0f}-{100 * hi:.0f}"


def _interval(ci95) -> str:
    lo, hi = ci95
    return "-" if lo is None else f"{100 * lo:.0f}-{100 * hi:.0f}"


def _pct_ci(stat: dict | None) -> str:
    return "-" if not stat or stat.get("mean") is None else f"{_pct(stat)} ({_ci(stat)})"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.4g}" if value < 1 else f"${value:,.2f}"


def _flops(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


PARTIAL_MARK = "*"


def _partial(g: dict, point: dict | None) -> str:
    """A mark for a maj@k/pass@k figure over fewer items than the group has: each k uses
    the items with at least k scored samples (schema 3)."""
    if not point or point.get("items") is None:
        return ""
    return PARTIAL_MARK if point["items"] < g["items_scored"] else ""


def _partial_note(groups: list[dict]) -> str | None:
    marked = [
        f"{g['budget']} maj/pass@{p['k']}: {p['items']} of {g['items_scored']} items"
        for g in groups
        for p in g["points"]
        if _partial(g, p)
    ]
    if not marked:
        return None
    shown = "; ".join(marked[:6]) + ("; ..." if len(marked) > 6 else "")
    return f"{PARTIAL_MARK} over the items with at least k scored samples (an item with errors has fewer): {shown}."


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _ks(n: int) -> list[int]:
    """Powers of two below n, and n itself: the sample counts worth a column."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n] if n else ks


def _overall(summary: dict, task: str | None = None) -> list[dict]:
    return [g for g in summary["groups"] if g["level"] is None and (task is None or g["task"] == task)]


def _tasks(summary: dict) -> list[str]:
    return list(dict.fromkeys(g["task"] for g in _overall(summary)))


def _section(summary: dict, task: str) -> dict:
    return next((t for t in summary.get("tasks", []) if t["task"] == task), {})


# ---------------------------------------------------------------------------- terminal


def _sample_counts(groups: list[dict]) -> tuple[int, bool]:
    """The largest samples-per-item of the groups, and whether every group has it."""
    ns = {g["samples_per_item"] for g in groups if g["points"]}
    return max(ns, default=0), len(ns) <= 1


def task_table(task: str, groups: list[dict], maj_ks: list[int] | None = None, compact: bool = False):
    """A rich Table for one task: a row per budget (all levels), accuracy in percent.

    ``maj_ks``: the maj@k columns below the sample count (default: powers of two); the
    last maj@k and pass@k columns always use each budget's full sample count n.
    ``compact`` leaves two spaces between columns instead of three.
    """
    from rich import box
    from rich.table import Table

    max_n, uniform = _sample_counts(groups)
    ks = _ks(max_n)[1:-1] if maj_ks is None else maj_ks
    items = max((g["items_scored"] for g in groups), default=0)
    table = Table(
        title=f"{task}: {items} items, {max_n if uniform else 'up to ' + str(max_n)} samples each",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0) if compact else (0, 1),
    )
    n = str(max_n) if uniform else "n"
    headers = ["budget"] + ([] if uniform else ["n"]) + ["pass@1", "95% CI"] + [f"maj@{k}" for k in ks]
    headers += [f"maj@{n}", f"pass@{n}", "tokens", "unparsed", "err"]
    for name in headers:
        table.add_column(name, justify="left" if name == "budget" else "right", no_wrap=True)
    for g in groups:
        by_k = {p["k"]: p for p in g["points"]}
        top = g["points"][-1] if g["points"] else None
        table.add_row(
            g["budget"],
            *([] if uniform else [str(g["samples_per_item"])]),
            _pct(g["pass@1"]),
            _ci(g["pass@1"]),
            *[_pct(by_k[k]["maj"]) + _partial(g, by_k[k]) if k in by_k else "-" for k in ks],
            _pct(top["maj"]) + _partial(g, top) if top else "-",
            _pct(top["pass"]) + _partial(g, top) if top else "-",
            f"{g['mean_completion_tokens']:.0f}",
            _rate(g["parse_failure_rate"]),
            str(g["errors"]),
        )
    return table


def _natural_width(renderable) -> int:
    from rich.console import Console

    buf = io.StringIO()
    Console(file=buf, width=400, color_system=None, legacy_windows=False).print(renderable)
    return max((len(line.rstrip()) for line in buf.getvalue().splitlines()), default=0)


def fitting_table(task: str, groups: list[dict], width: int = TERMINAL_WIDTH):
    """task_table with as many maj@k columns as fit in ``width`` (maj@n always kept):
    columns go before gaps narrow, the largest intermediate k first."""
    max_n, _ = _sample_counts(groups)
    ks = _ks(max_n)[1:-1]
    while True:
        for compact in (False, True):
            table = task_table(task, groups, ks, compact)
            if _natural_width(table) <= width:
                return table
        if not ks:
            return table
        ks = ks[:-1]


def print_summary(summary: dict, console=None, title: str | None = None, outputs: dict | None = None) -> None:
    """Accuracy (%) per task and budget, the frontier in words, and where the report is.

    tokens = mean completion tokens per sample; ``outputs`` is write_reports()' result.
    """
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    if summary.get("kind") == "overlay":
        for run in summary["runs"]:
            print_summary(run["summary"], console, f"{run['label']}: accuracy %, maj@k = majority vote of k samples")
    else:
        if title:
            console.print(title, soft_wrap=True)
        for task in _tasks(summary):
            console.print(fitting_table(task, _overall(summary, task)))
            if any(_partial(g, p) for g in _overall(summary, task) for p in g["points"]):
                console.print(Text(f"  {PARTIAL_MARK} over the items with at least k scored samples (see the report)", style="dim"))
            lines = _section(summary, task).get("frontier_text", [])
            for line in lines[:FRONTIER_LINES]:
                wrapped = textwrap.fill(line, width=min(console.width, TERMINAL_WIDTH), initial_indent="  ", subsequent_indent="  ")
                console.print(Text(wrapped, style="dim"), soft_wrap=True)
            if len(lines) > FRONTIER_LINES:
                console.print(Text(f"  ... {len(lines) - FRONTIER_LINES} more frontier segments in the report", style="dim"))
        for warning in summary.get("warnings") or []:
            console.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
    if outputs:
        report = outputs.get("report.html")
        if report is not None:
            console.print(f"report: {report} (and report.md)", soft_wrap=True)
        plots = sorted({Path(p).parent for name, p in outputs.items() if name.startswith("plots/")})
        count = sum(1 for name in outputs if name.startswith("plots/") and name.endswith(".png"))
        for folder in plots:
            console.print(f"plots:  {folder}/ ({count} chart{'' if count == 1 else 's'}, PNG + SVG)", soft_wrap=True)


# ---------------------------------------------------------------------------- document


def _key_table(groups: list[dict], prices: bool) -> tuple:
    max_n, uniform = _sample_counts(groups)
    ks = _ks(max_n)[1:-1]
    n = str(max_n) if uniform else "n"
    headers = ["budget"] + ([] if uniform else ["n"]) + ["pass@1 (95% CI)"] + [f"maj@{k}" for k in ks]
    headers += [f"maj@{n} (95% CI)", f"pass@{n}", "tokens/sample", "unparsed", "cut off", "errors", "coverage"]
    if prices:
        headers.append("cost/sample")
    rows = []
    for g in groups:
        by_k = {p["k"]: p for p in g["points"]}
        top = g["points"][-1] if g["points"] else None
        row = [g["budget"]] + ([] if uniform else [str(g["samples_per_item"])]) + [_pct_ci(g["pass@1"])]
        row += [_pct(by_k[k]["maj"]) + _partial(g, by_k[k]) if k in by_k else "-" for k in ks]
        row += [
            _pct_ci(top["maj"]) + _partial(g, top) if top else "-",
            _pct(top["pass"]) + _partial(g, top) if top else "-",
            _num(g["mean_completion_tokens"]),
            _rate(g["parse_failure_rate"]),
            _rate(g["truncation_rate"]),
            str(g["errors"]),
            _rate(g["coverage"]),
        ]
        if prices:
            row.append(_money(g.get("cost_per_sample")))
        rows.append(row)
    return ("table", headers, rows)


def _frontier_table(frontier: list[dict], prices: bool, params: bool) -> tuple:
    from .frontier import strategy_name

    headers = ["tokens/item", "budget", "strategy", "accuracy (95% CI)"]
    headers += ["cost/item"] if prices else []
    headers += ["FLOPs/item"] if params else []
    rows = []
    for p in frontier:
        row = [_num(p["tokens_per_item"]), p["budget"], strategy_name(p), f"{100 * p['accuracy']:.1f} ({_interval(p['ci95'])})"]
        row += [_money(p.get("cost_per_item"))] if prices else []
        row += [_flops(p.get("flops_per_item"))] if params else []
        rows.append(row)
    return ("table", headers, rows)


def _fit_row(fit: dict, label: str | None = None) -> list[str]:
    ci = fit["ci95"]
    interval = "-" if ci[0] is None else f"{ci[0]:+.1f} to {ci[1]:+.1f}"
    curve = fit["method"] if fit["budget"] is None else f"{fit['method']} at {fit['budget']}"
    row = [label] if label is not None else []
    slope = fit["points_per_doubling"]
    # A fit over less than half a doubling of tokens is undefined (schema 3), not a number.
    slope_text = f"undefined ({fit.get('doublings', 0):.2f} doublings)" if slope is None else f"{slope:+.1f}"
    return row + [
        curve,
        fit["over"],
        slope_text,
        interval,
        "-" if fit["r2"] is None else f"{fit['r2']:.2f}",
        f"{_num(fit['tokens_min'])}-{_num(fit['tokens_max'])}",
    ]


FIT_HEADERS = ["curve", "across", "points per doubling", "95% CI", "R²", "tokens/item"]


def _fidelity_table(groups: list[dict]) -> tuple:
    headers = ["budget", "requested", "used as", "used median", "used p90", "completion median", "completion p90", "cut off", "within budget"]
    rows = []
    for g in groups:
        f = g["fidelity"]
        rows.append(
            [
                g["budget"],
                _num(f["requested_tokens"]),
                f["used_tokens"].replace("_", " "),
                _num(f["used_median"]),
                _num(f["used_p90"]),
                _num(f["completion_median"]),
                _num(f["completion_p90"]),
                _rate(f["cut_off_rate"]),
                _rate(f.get("within_budget_share", f.get("control"))),  # schema 2 named it control
            ]
        )
    return ("table", headers, rows)


def _scaling_unit(per_1k: float) -> int:
    """Tokens per unit (1k/100/10) that keep a slope in points readable."""
    unit = 1000
    while abs(100 * per_1k * unit / 1000) >= 100 and unit > 10:
        unit //= 10
    return unit


def _scaling_text(per_1k: float | None, ci95=None) -> str:
    """Points of pass@1 per 1k/100/10 tokens, whichever keeps the number readable (the
    interval, when given, in the same unit)."""
    if per_1k is None:
        return "-"
    unit = _scaling_unit(per_1k)
    scale = 100 * unit / 1000
    text = f"{per_1k * scale:+.1f} points of pass@1 per {unit:,} tokens"
    if ci95 and ci95[0] is not None:
        text += f" (95% CI {ci95[0] * scale:+.1f} to {ci95[1] * scale:+.1f})"
    return text


def _control_text(s1: dict) -> str:
    """s1 Control per setting, and the per-sample share beside it (schema 2 had only the
    per-sample share, under the name control)."""
    if "control_settings" not in s1:
        return f"{_rate(s1.get('control'))} of samples within budget"
    settings = s1.get("control_settings") or 0
    return (
        f"{_rate(s1.get('control'))} of {settings} budget setting{'' if settings == 1 else 's'} kept their mean "
        f"within bounds ({_rate(s1.get('within_budget_share'))} of samples within budget)"
    )


def _s1_text(s1: dict) -> str:
    perf = s1.get("performance")
    pairs = s1.get("scaling_pairs", 0)
    scaling = (
        "undefined (the budgets' tokens span less than half a doubling)"
        if s1.get("scaling_undefined")
        else _scaling_text(s1.get("scaling_per_1k_tokens"), s1.get("scaling_ci95"))
    )
    return (
        f"s1 metrics: Control {_control_text(s1)}; "
        f"Scaling {scaling} "
        f"(mean slope over {pairs} budget pair{'' if pairs == 1 else 's'}); "
        f"Performance {'-' if perf is None else f'{100 * perf:.1f}%'} (best pass@1"
        f"{', at ' + s1['performance_budget'] if s1.get('performance_budget') else ''})."
    )


def _level_table(summary: dict, task: str, budgets: list[str]) -> tuple | None:
    levels = _section(summary, task).get("levels", [])
    if not levels:
        return None
    cells = {(g["level"], g["budget"]): g for g in summary["groups"] if g["task"] == task and g["level"] is not None}
    rows = []
    for level in levels:
        row = [level]
        for b in budgets:
            g = cells.get((level, b))
            row.append(_pct_ci(g["pass@1"]) if g else "-")
        rows.append(row)
    return ("table", ["level"] + budgets, rows)


def _partial_table(groups: list[dict]) -> tuple | None:
    if not any(g.get("has_partial") for g in groups):
        return None
    names = sorted({n for g in groups for n in (g.get("scores") or {})})
    rows = [[g["budget"], _pct_ci(g["partial"]), _pct(g["pass@1"])] + [_pct_ci((g.get("scores") or {}).get(n)) for n in names] for g in groups]
    return ("table", ["budget", "partial credit (95% CI)", "pass@1"] + names, rows)


def _images(images: dict, task: str) -> list[tuple]:
    from .plots import PLOT_KINDS, slug

    blocks = []
    for kind, caption in PLOT_KINDS.items():
        name = f"plots/{slug(task)}-{kind}"
        if f"{name}.png" in images:
            blocks.append(("img", f"{name}.png", f"{name}.svg", f"{task}: {caption}"))
    return blocks


INTRO = (
    "Accuracy in %, with 95% intervals over items (samples of one item are not independent). "
    "pass@1: mean share of correct samples; maj@k: expected accuracy of a majority vote over k "
    "samples (exact over all size-k subsets; ties split the credit; unparsed answers do not vote); "
    "pass@k: chance that at least one of k samples is correct (needs an oracle). "
    "Tokens per item = k x mean completion tokens per sample (usage-reported, reasoning included). "
    "Definitions: docs/metrics.md."
)


def document(summary: dict, images: dict) -> list[tuple]:
    """The report of one run as blocks."""
    model = summary.get("model") or "model"
    title = f"ttc-bench report: {summary.get('suite') or 'run'} on {model}"
    prices = bool(summary.get("prices"))
    params = bool(summary.get("params"))
    facts = f"Run `{summary.get('run_id', '-')}`: {_count(summary['samples'], 'sample')}, {_count(summary['errors'], 'error')}, {_count(summary['retries'], 'retry', 'retries')}."
    if prices:
        p = summary["prices"]
        facts += f" Prices: ${p.get('input_per_million', 0)} per million input tokens, ${p.get('output_per_million', 0)} per million output tokens."
    if params:
        facts += f" FLOPs = 2 x {summary['params']:.3g} parameters x tokens."
    blocks: list[tuple] = [("h1", title), ("p", facts), ("p", INTRO)]
    for task in _tasks(summary):
        groups = _overall(summary, task)
        section = _section(summary, task)
        budgets = [g["budget"] for g in groups]
        blocks += [
            ("h2", task),
            ("p", f"{section.get('items', '-')} items; levels: {', '.join(map(str, section.get('levels', []))) or '-'}; budgets: {', '.join(budgets)}."),
            ("h3", "Accuracy by budget"),
            _key_table(groups, prices),
            *([("p", note)] if (note := _partial_note(groups)) else []),
            ("h3", "Compute-optimal frontier"),
            ("p", "The strategies no other strategy beats: higher accuracy for at most as many tokens per item (majority vote; k = 1 is a single sample)."),
            ("ul", section.get("frontier_text") or ["no scored points"]),
        ]
        if section.get("frontier"):
            blocks.append(_frontier_table(section["frontier"], prices, params))
        oracle = section.get("frontier_with_oracle") or []
        if oracle and oracle[-1]["method"] == "pass@k":
            best = oracle[-1]
            blocks.append(
                ("p", f"With an oracle that picks a correct sample (pass@k), {100 * best['accuracy']:.1f}% is reachable at about {_num(best['tokens_per_item'])} tokens per item ({best['budget']}, k = {best['k']}).")
            )
        fits = section.get("fits") or []
        if fits:
            blocks += [
                ("h3", "Scaling: points per doubling of compute"),
                ("p", "Least-squares fit of accuracy (%) against log2(tokens per item); the interval comes from refitting on 1,000 bootstrap resamples of the items, tokens resampled with accuracy. A fit over less than half a doubling of tokens is undefined."),
                ("table", FIT_HEADERS, [_fit_row(f) for f in fits]),
            ]
        blocks += [
            ("h3", "Budget fidelity"),
            ("p", "Used = reasoning tokens for forced:N and thinking:N budgets, completion tokens otherwise; cut off = the budget ended the reasoning or the answer."),
            _fidelity_table(groups),
            ("p", _s1_text(section.get("fidelity") or {})),
        ]
        level_table = _level_table(summary, task, budgets)
        if level_table:
            blocks += [("h3", "pass@1 by level (95% CI)"), level_table]
        partial = _partial_table(groups)
        if partial:
            blocks += [("h3", "Partial credit"), partial]
        plots = _images(images, task)
        if plots:
            blocks += [("h3", "Plots")] + plots
    return blocks


def overlay_document(overlay: dict, images: dict) -> list[tuple]:
    """The report comparing several runs as blocks."""
    runs = overlay["runs"]
    blocks: list[tuple] = [
        ("h1", "ttc-bench overlay: " + " vs ".join(r["label"] for r in runs)),
        ("ul", [f"{r['label']}: run `{r['summary'].get('run_id')}`, suite {r['summary'].get('suite') or '-'}, {_count(r['summary']['samples'], 'sample')}, {_count(r['summary']['errors'], 'error')}" for r in runs]),
        ("p", INTRO),
    ]
    tasks = list(dict.fromkeys(t for r in runs for t in _tasks(r["summary"])))
    for task in tasks:
        blocks.append(("h2", task))
        rows = []
        for r in runs:
            for g in _overall(r["summary"], task):
                top = g["points"][-1] if g["points"] else None
                rows.append(
                    [
                        r["label"],
                        g["budget"],
                        _pct_ci(g["pass@1"]),
                        f"maj@{top['k']} {_pct(top['maj'])}" if top else "-",
                        f"pass@{top['k']} {_pct(top['pass'])}" if top else "-",
                        _num(g["mean_completion_tokens"]),
                        _rate(g["parse_failure_rate"]),
                        str(g["errors"]),
                    ]
                )
        blocks += [
            ("h3", "Accuracy by budget"),
            ("table", ["run", "budget", "pass@1 (95% CI)", "majority vote", "oracle", "tokens/sample", "unparsed", "errors"], rows),
            ("h3", "Compute-optimal frontier"),
            ("ul", [f"{r['label']}: {line}" for r in runs for line in _section(r["summary"], task).get("frontier_text", [])]),
        ]
        fits = [(r["label"], f) for r in runs for f in _section(r["summary"], task).get("fits", []) if f["budget"] is None]
        if fits:
            blocks += [("h3", "Scaling: points per doubling of compute"), ("table", ["run"] + FIT_HEADERS, [_fit_row(f, label) for label, f in fits])]
        s1_rows = []
        for r in runs:
            s1 = _section(r["summary"], task).get("fidelity") or {}
            s1_rows.append([r["label"], _rate(s1.get("control")), _scaling_text(s1.get("scaling_per_1k_tokens")), _rate(s1.get("performance")), s1.get("performance_budget") or "-"])
        blocks += [("h3", "Budget fidelity (s1 metrics)"), ("table", ["run", "Control", "Scaling", "Performance", "at budget"], s1_rows)]
        plots = _images(images, task)
        if plots:
            blocks += [("h3", "Plots")] + plots
    return blocks


# ---------------------------------------------------------------------------- markdown


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: list[tuple]) -> str:
    out: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + block[1])
        elif kind == "p":
            out.append(block[1])
        elif kind == "ul":
            out.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "table":
            _, headers, rows = block
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
            lines.append("| " + " | ".join("---" if i == 0 else "---:" for i in range(len(headers))) + " |")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            _, png, svg, alt = block
            out.append(f"![{alt}]({png})\n\n[SVG]({svg})")
    return "\n\n".join(out) + "\n"


# ---------------------------------------------------------------------------- files


def report_runs(summary: dict) -> list[tuple[str, dict]]:
    """(label, run summary) pairs a summary describes: one run, or an overlay's runs."""
    if summary.get("kind") == "overlay":
        return [(r["label"], r["summary"]) for r in summary["runs"]]
    return [(summary.get("model") or summary.get("run_id") or "run", summary)]


def write_reports(run_dir: Path, summary: dict, *, plots: bool = True) -> dict[str, Path]:
    """Write report.md, report.html and plots/*.png|svg into ``run_dir`` from ``summary``.

    Returns {relative name: path}, e.g. {"report.md": ..., "report.html": ...,
    "plots/arithmetic-accuracy-vs-tokens.png": ...}.
    """
    from .plots import plot_all
    from .report_html import render_html

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    made = plot_all(report_runs(summary), run_dir) if plots else {}
    images = {name: path for kinds in made.values() for files in kinds.values() for name, path in files.items()}
    overlay = summary.get("kind") == "overlay"
    blocks = overlay_document(summary, images) if overlay else document(summary, images)
    outputs: dict[str, Path] = {}
    md = run_dir / "report.md"
    md.write_text(render_markdown(blocks), encoding="utf-8")
    outputs["report.md"] = md
    html = run_dir / "report.html"
    html.write_text(render_html(blocks, images), encoding="utf-8")
    outputs["report.html"] = html
    outputs.update(sorted(images.items()))
    return outputs
