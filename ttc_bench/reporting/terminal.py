"""The table printed after a run and by `ttc-bench report`: accuracy per task and budget,
the frontier in words, and where the report files are (or why some could not be written)."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

from . import format as f

TERMINAL_WIDTH = 80
FRONTIER_LINES = 4  # frontier sentences printed after a run; the report has them all


def task_table(task: str, groups: list[dict], maj_ks: list[int] | None = None, compact: bool = False):
    """A rich Table for one task: a row per budget (all levels), accuracy in percent.

    ``maj_ks``: the maj@k columns below the sample count (default: powers of two); the
    last maj@k and pass@k columns always use each budget's full sample count n.
    ``compact`` leaves two spaces between columns instead of three.
    """
    from rich import box
    from rich.table import Table

    max_n, uniform = f.sample_counts(groups)
    ks = f.ks(max_n)[1:-1] if maj_ks is None else maj_ks
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
            f.pct(g["pass@1"]),
            f.ci(g["pass@1"]),
            *[f.pct(by_k[k]["maj"]) + f.partial(g, by_k[k]) if k in by_k else "-" for k in ks],
            f.pct(top["maj"]) + f.partial(g, top) if top else "-",
            f.pct(top["pass"]) + f.partial(g, top) if top else "-",
            f"{g['mean_completion_tokens']:.0f}",
            f.rate(g["parse_failure_rate"]),
            str(g["errors"]),
        )
    return table


def strategy_table(task: str, groups: list[dict]):
    """The selection strategies a run names, side by side at each budget's k = n with 95%
    intervals (a table of its own: the accuracy table keeps its width), or None."""
    from rich import box
    from rich.table import Table

    selection = f.selection_curves(groups)
    if not selection:
        return None
    table = Table(title=f"{task}: strategies at k = n (tokens/item = n x tokens/sample)",
                  title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    names = ["maj@n"] + [m.label("n") for m in selection if m.name != "maj@k"]
    for name in ["budget", "n", *names, "tokens/item"]:
        table.add_column(name, justify="left" if name == "budget" else "right", no_wrap=True)
    keys = ["maj"] + [m.key for m in selection if m.name != "maj@k"]
    for g in groups:
        top = g["points"][-1] if g["points"] else None
        table.add_row(
            g["budget"], str(g["samples_per_item"]),
            *[f.pct_ci(top.get(key)) + f.partial(g, top) if top else "-" for key in keys],
            f"{top['tokens_per_item']:.0f}" if top else "-",
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
    max_n, _ = f.sample_counts(groups)
    ks = f.ks(max_n)[1:-1]
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

    tokens = mean completion tokens per sample; ``outputs`` is write_reports()' result
    (report files that could not be written are named in one line, after the table).
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
        for task in f.tasks(summary):
            console.print(fitting_table(task, f.overall(summary, task)))
            strategies = strategy_table(task, f.overall(summary, task))
            if strategies is not None:
                console.print(strategies)
            groups = f.overall(summary, task)
            for line in f.adaptive_lines(groups) + f.selfverify_lines(groups) + f.revise_lines(groups):
                console.print(Text(textwrap.fill(line, width=min(console.width, TERMINAL_WIDTH), initial_indent="  ",
                                                 subsequent_indent="  ")), soft_wrap=True)
            if any(f.partial(g, p) for g in f.overall(summary, task) for p in g["points"]):
                console.print(Text(f"  {f.PARTIAL_MARK} over the items with at least k scored samples (see the report)", style="dim"))
            optimal = f.optimal_lines(f.section(summary, task))
            if optimal:
                console.print(Text("  compute-optimal per level (tokens per item at most ...; % and 95% CI):", style="dim"))
            for line in optimal:
                console.print(Text(textwrap.fill(line, width=min(console.width, TERMINAL_WIDTH), initial_indent="    ",
                                                 subsequent_indent="      "), style="dim"), soft_wrap=True)
            lines = f.section(summary, task).get("frontier_text", [])
            for line in lines[:FRONTIER_LINES]:
                wrapped = textwrap.fill(line, width=min(console.width, TERMINAL_WIDTH), initial_indent="  ", subsequent_indent="  ")
                console.print(Text(wrapped, style="dim"), soft_wrap=True)
            if len(lines) > FRONTIER_LINES:
                console.print(Text(f"  ... {len(lines) - FRONTIER_LINES} more frontier segments in the report", style="dim"))
        for warning in summary.get("warnings") or []:
            console.print(Text(f"warning: {warning}", style="yellow"), soft_wrap=True)
        skipped = f.skipped_line(summary)
        if skipped:
            console.print(Text(f"warning: {skipped}", style="yellow"), soft_wrap=True)
    if outputs:
        print_outputs(outputs, console)


def print_outputs(outputs: dict, console) -> None:
    """Where the report and plots are, and one line for the files that could not be written."""
    from .files import WriteFailure

    written = {name: p for name, p in outputs.items() if not isinstance(p, WriteFailure)}
    report = written.get("report.html")
    if report is not None:
        console.print(f"report: {report} (and report.md)" if "report.md" in written else f"report: {report}", soft_wrap=True)
    plots = sorted({Path(p).parent for name, p in written.items() if name.startswith("plots/")})
    count = sum(1 for name in written if name.startswith("plots/") and name.endswith(".png"))
    for folder in plots:
        console.print(f"plots:  {folder}/ ({count} chart{'' if count == 1 else 's'}, PNG + SVG)", soft_wrap=True)
    failed = [p for p in outputs.values() if isinstance(p, WriteFailure)]
    if failed:
        from rich.text import Text

        console.print(Text(f"error: {WriteFailure.line(failed)}", style="red"), soft_wrap=True)


def print_overlay(overlay: dict, console, outputs: dict) -> None:
    """What `ttc-bench report RUN_A RUN_B` prints: the runs compared, any rows their
    samples.jsonl skipped, and where the overlay report is."""
    from rich.text import Text

    labels = ", ".join(run["label"] for run in overlay["runs"])
    console.print(f"overlay of {len(overlay['runs'])} runs: {labels}")
    for run in overlay["runs"]:
        skipped = f.skipped_line(run["summary"])
        if skipped:
            console.print(Text(f"warning: {run['label']}: {skipped}", style="yellow"), soft_wrap=True)
    print_outputs(outputs, console)
