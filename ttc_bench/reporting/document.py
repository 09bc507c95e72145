"""The report as a list of blocks (headings, paragraphs, lists, tables, images), built once
and rendered to markdown (markdown.py) and HTML (html.py), so both say the same.

A block is a tuple: ("h1"|"h2"|"h3", text), ("p", text), ("ul", [text]),
("table", headers, rows[, links]), ("img", png, svg, caption). A table's optional
``links`` hold, per row and cell, the sample-browser view behind that cell (a dict of
browser parameters, or None); only the HTML renders them. Nothing here reads samples: the
document is a pure function of summary.json.
"""

from __future__ import annotations

from . import format as f

INTRO = (
    "Accuracy in %, with 95% intervals over items (samples of one item are not independent). "
    "pass@1: mean share of correct samples; maj@k: expected accuracy of a majority vote over k "
    "samples (exact over all size-k subsets; ties split the credit; unparsed answers do not vote); "
    "pass@k: chance that at least one of k samples is correct (needs an oracle). "
    "Tokens per item = k x mean completion tokens per sample (usage-reported, reasoning included). "
    "Definitions: docs/metrics.md."
)
FIT_HEADERS = ["curve", "across", "points per doubling", "95% CI", "R²", "tokens/item"]


def view(run: int, task: str, budget: str | None = None, level: str | None = None, show: str | None = None) -> dict:
    """The sample-browser view of a table cell: which run, task, level and budget, and
    which samples (a filter name the browser knows: wrong, unparsed, cutoff, errored,
    split, flip)."""
    found = {"run": run, "task": task, "level": level, "budget": budget, "show": show}
    return {k: v for k, v in found.items() if v is not None}


# Key-table columns whose samples are a subset: the browser filter each one opens.
_COLUMN_FILTERS = {"unparsed": "unparsed", "cut off": "cutoff", "errors": "errored"}


def _key_table(groups: list[dict], prices: bool, run: int = 0) -> tuple:
    max_n, uniform = f.sample_counts(groups)
    ks = f.ks(max_n)[1:-1]
    n = str(max_n) if uniform else "n"
    headers = ["budget"] + ([] if uniform else ["n"]) + ["pass@1 (95% CI)"] + [f"maj@{k}" for k in ks]
    selection = f.selection_curves(groups)
    headers += [f"maj@{n} (95% CI)", *[f"{m.label(int(n)) if uniform else m.label('n')} (95% CI)" for m in selection]]
    headers += [f"pass@{n}", "tokens/sample", "unparsed", "cut off", "errors", "coverage"]
    if prices:
        headers.append("cost/sample")
    rows, links = [], []
    for g in groups:
        by_k = {p["k"]: p for p in g["points"]}
        top = g["points"][-1] if g["points"] else None
        row = [g["budget"]] + ([] if uniform else [str(g["samples_per_item"])]) + [f.pct_ci(g["pass@1"])]
        row += [f.pct(by_k[k]["maj"]) + f.partial(g, by_k[k]) if k in by_k else "-" for k in ks]
        row += [
            f.pct_ci(top["maj"]) + f.partial(g, top) if top else "-",
            *[f.pct_ci(top.get(m.key)) + f.partial(g, top) if top else "-" for m in selection],
            f.pct(top["pass"]) + f.partial(g, top) if top else "-",
            f.num(g["mean_completion_tokens"]),
            f.rate(g["parse_failure_rate"]),
            f.rate(g["truncation_rate"]),
            str(g["errors"]),
            f.rate(g["coverage"]),
        ]
        if prices:
            row.append(f.money(g.get("cost_per_sample")))
        rows.append(row)
        links.append([view(run, g["task"], g["budget"], show=_COLUMN_FILTERS.get(h)) for h in headers])
    return ("table", headers, rows, links)


def _frontier_table(frontier: list[dict], task: str, prices: bool, params: bool) -> tuple:
    from ..metrics.frontier import strategy_name

    headers = ["tokens/item", "budget", "strategy", "accuracy (95% CI)"]
    headers += ["cost/item"] if prices else []
    headers += ["FLOPs/item"] if params else []
    rows, links = [], []
    for p in frontier:
        row = [f.num(p["tokens_per_item"]), p["budget"], strategy_name(p), f"{100 * p['accuracy']:.1f} ({f.interval(p['ci95'])})"]
        row += [f.money(p.get("cost_per_item"))] if prices else []
        row += [f.flops(p.get("flops_per_item"))] if params else []
        rows.append(row)
        links.append([view(0, task, p["budget"])] * len(row))
    return ("table", headers, rows, links)


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
        # A line through two points fits them exactly: R² = 1 says nothing there.
        "-" if fit["r2"] is None or fit.get("points", 3) < 3 else f"{fit['r2']:.2f}",
        f"{f.num(fit['tokens_min'])}-{f.num(fit['tokens_max'])}",
    ]


def _fidelity_table(groups: list[dict]) -> tuple:
    headers = ["budget", "requested", "used as", "used median", "used p90", "completion median", "completion p90", "cut off", "within budget"]
    rows, links = [], []
    for g in groups:
        fid = g["fidelity"]
        rows.append(
            [
                g["budget"],
                f.num(fid["requested_tokens"]),
                fid["used_tokens"].replace("_", " "),
                f.num(fid["used_median"]),
                f.num(fid["used_p90"]),
                f.num(fid["completion_median"]),
                f.num(fid["completion_p90"]),
                f.rate(fid["cut_off_rate"]),
                f.rate(fid.get("within_budget_share", fid.get("control"))),  # schema 2 named it control
            ]
        )
        links.append([view(0, g["task"], g["budget"], show="cutoff" if h == "cut off" else None) for h in headers])
    return ("table", headers, rows, links)


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
        return f"{f.rate(s1.get('control'))} of samples within budget"
    settings = s1.get("control_settings") or 0
    return (
        f"{f.rate(s1.get('control'))} of {settings} budget setting{'' if settings == 1 else 's'} kept their mean "
        f"within bounds ({f.rate(s1.get('within_budget_share'))} of samples within budget)"
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
    levels = f.section(summary, task).get("levels", [])
    if not levels:
        return None
    cells = {(g["level"], g["budget"]): g for g in summary["groups"] if g["task"] == task and g["level"] is not None}
    rows, links = [], []
    for level in levels:
        row = [level]
        for b in budgets:
            g = cells.get((level, b))
            row.append(f.pct_ci(g["pass@1"]) if g else "-")
        rows.append(row)
        links.append([view(0, task, level=level)] + [view(0, task, b, level) for b in budgets])
    return ("table", ["level"] + budgets, rows, links)


def _partial_table(groups: list[dict]) -> tuple | None:
    if not any(g.get("has_partial") for g in groups):
        return None
    names = sorted({n for g in groups for n in (g.get("scores") or {})})
    rows = [[g["budget"], f.pct_ci(g["partial"]), f.pct(g["pass@1"])] + [f.pct_ci((g.get("scores") or {}).get(n)) for n in names] for g in groups]
    return ("table", ["budget", "partial credit (95% CI)", "pass@1"] + names, rows)


def _images(images: dict, task: str) -> list[tuple]:
    from .plot_style import PLOT_KINDS, slug

    blocks = []
    for kind, caption in PLOT_KINDS.items():
        name = f"plots/{slug(task)}-{kind}"
        if f"{name}.png" in images:
            blocks.append(("img", f"{name}.png", f"{name}.svg", f"{task}: {caption}"))
    return blocks


def _facts(summary: dict, prices: bool, params: bool) -> str:
    facts = (
        f"Run `{summary.get('run_id', '-')}`: {f.count(summary['samples'], 'sample')}, "
        f"{f.count(summary['errors'], 'error')}, {f.count(summary['retries'], 'retry', 'retries')}."
    )
    if prices:
        p = summary["prices"]
        facts += f" Prices: ${p.get('input_per_million', 0)} per million input tokens, ${p.get('output_per_million', 0)} per million output tokens."
    if params:
        facts += f" FLOPs = 2 x {summary['params']:.3g} parameters x tokens."
    skipped = f.skipped_line(summary)
    return facts + (f" {skipped[0].upper()}{skipped[1:]}." if skipped else "")


def document(summary: dict, images: dict) -> list[tuple]:
    """The report of one run as blocks."""
    model = summary.get("model") or "model"
    title = f"ttc-bench report: {summary.get('suite') or 'run'} on {model}"
    prices = bool(summary.get("prices"))
    params = bool(summary.get("params"))
    blocks: list[tuple] = [("h1", title), ("p", _facts(summary, prices, params)), ("p", INTRO)]
    for task in f.tasks(summary):
        groups = f.overall(summary, task)
        section = f.section(summary, task)
        budgets = [g["budget"] for g in groups]
        blocks += [
            ("h2", task),
            ("p", f"{section.get('items', '-')} items; levels: {', '.join(map(str, section.get('levels', []))) or '-'}; budgets: {', '.join(budgets)}."),
            ("h3", "Accuracy by budget"),
            _key_table(groups, prices),
            *([("p", note)] if (note := f.partial_note(groups)) else []),
            *([("h3", "Adaptive sampling"),
               ("p", "Each item was sampled until its majority answer was settled (docs/strategies.md); maj@k beyond an "
                     "item's stop holds only the items that went on, so the frontier takes a curve's point only where every item reached k."),
               ("ul", lines)] if (lines := f.adaptive_lines(groups)) else []),
            *([("h3", "Self-verification"),
               ("p", "The model judged each distinct answer of an item's samples; the vote counts the samples whose answer it "
                     "judged correct, else all of them. Its tokens are the samples' and every judging request's (docs/strategies.md)."),
               ("ul", judged)] if (judged := f.selfverify_lines(groups)) else []),
            *([("h3", "Revision"),
               ("p", "From each item's first sample, up to R rounds in which the model saw its previous reply and the checker's "
                     "violations (without a checker: a request to re-check); its tokens are the first sample's and every round's (docs/strategies.md)."),
               ("ul", revised)] if (revised := f.revise_lines(groups)) else []),
            ("h3", "Compute-optimal frontier"),
            ("p", "The strategies no other strategy beats: higher accuracy for at most as many tokens per item (majority vote"
             + "".join(f", {m.name}" for m in f.selection_curves(groups))
             + "; k = 1 is a single sample; a checker spends no model tokens, so a selection strategy costs what its k samples cost)."
             if f.selection_curves(groups) else
             "The strategies no other strategy beats: higher accuracy for at most as many tokens per item (majority vote; k = 1 is a single sample)."),
            ("ul", section.get("frontier_text") or ["no scored points"]),
        ]
        if section.get("frontier"):
            blocks.append(_frontier_table(section["frontier"], task, prices, params))
        optimal = section.get("compute_optimal")
        if optimal and optimal["levels"]:
            blocks += [
                ("h3", "Compute-optimal strategy per level"),
                ("p", "For each difficulty level and compute level (tokens per item at most C), the most accurate strategy "
                      "and budget that fits, with its 95% interval, from the level's own items (Snell et al. 2024, "
                      "arXiv 2408.03314; docs/strategies.md)."),
                ("table", ["level"] + [f"≤ {f.num(c)} tokens" for c in optimal["compute_levels"]],
                 [[str(row["level"])] + [f.optimal_cell(b) for b in row["best"]] for row in optimal["levels"]]),
            ]
        oracle = section.get("frontier_with_oracle") or []
        if oracle and oracle[-1]["method"] == "pass@k":
            best = oracle[-1]
            blocks.append(
                ("p", f"With an oracle that picks a correct sample (pass@k), {100 * best['accuracy']:.1f}% is reachable at about {f.num(best['tokens_per_item'])} tokens per item ({best['budget']}, k = {best['k']}).")
            )
        fits = section.get("fits") or []
        if fits:
            blocks += [
                ("h3", "Scaling: points per doubling of compute"),
                ("p", "Least-squares fit of accuracy (%) against log2(tokens per item); the interval comes from refitting on 1,000 bootstrap resamples of the items, tokens resampled with accuracy. A fit over less than half a doubling of tokens is undefined."),
                ("table", FIT_HEADERS, [_fit_row(fit) for fit in fits]),
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
        ("ul", [f"{r['label']}: run `{r['summary'].get('run_id')}`, suite {r['summary'].get('suite') or '-'}, {f.count(r['summary']['samples'], 'sample')}, {f.count(r['summary']['errors'], 'error')}" for r in runs]),
        ("p", INTRO),
    ]
    tasks = list(dict.fromkeys(t for r in runs for t in f.tasks(r["summary"])))
    for task in tasks:
        blocks.append(("h2", task))
        rows, links = [], []
        for index, r in enumerate(runs):
            for g in f.overall(r["summary"], task):
                top = g["points"][-1] if g["points"] else None
                rows.append(
                    [
                        r["label"],
                        g["budget"],
                        f.pct_ci(g["pass@1"]),
                        f"maj@{top['k']} {f.pct(top['maj'])}" if top else "-",
                        f"pass@{top['k']} {f.pct(top['pass'])}" if top else "-",
                        f.num(g["mean_completion_tokens"]),
                        f.rate(g["parse_failure_rate"]),
                        str(g["errors"]),
                    ]
                )
                shows = [None] * 6 + ["unparsed", "errored"]
                links.append([view(index, task, g["budget"], show=show) for show in shows])
        blocks += [
            ("h3", "Accuracy by budget"),
            ("table", ["run", "budget", "pass@1 (95% CI)", "majority vote", "oracle", "tokens/sample", "unparsed", "errors"], rows, links),
            ("h3", "Compute-optimal frontier"),
            ("ul", [f"{r['label']}: {line}" for r in runs for line in f.section(r["summary"], task).get("frontier_text", [])]),
        ]
        fits = [(r["label"], fit) for r in runs for fit in f.section(r["summary"], task).get("fits", []) if fit["budget"] is None]
        if fits:
            blocks += [("h3", "Scaling: points per doubling of compute"), ("table", ["run"] + FIT_HEADERS, [_fit_row(fit, label) for label, fit in fits])]
        s1_rows = []
        for r in runs:
            s1 = f.section(r["summary"], task).get("fidelity") or {}
            s1_rows.append([r["label"], f.rate(s1.get("control")), _scaling_text(s1.get("scaling_per_1k_tokens")), f.rate(s1.get("performance")), s1.get("performance_budget") or "-"])
        blocks += [("h3", "Budget fidelity (s1 metrics)"), ("table", ["run", "Control", "Scaling", "Performance", "at budget"], s1_rows)]
        plots = _images(images, task)
        if plots:
            blocks += [("h3", "Plots")] + plots
    return blocks
