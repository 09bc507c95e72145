"""Human-readable output of a summary: the terminal tables printed after a run."""

from __future__ import annotations


def _pct(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    return f"{100 * stat['mean']:.1f}"


def _ci(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None or stat["ci95"][0] is None:
        return "-"
    lo, hi = stat["ci95"]
    return f"{100 * lo:.0f}-{100 * hi:.0f}"


def _ks(n: int) -> list[int]:
    """Powers of two below n, and n itself: the sample counts worth a column."""
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n] if n else ks


def task_table(task: str, groups: list[dict]):
    """A rich Table for one task: a row per budget (all levels), accuracy in percent."""
    from rich import box
    from rich.table import Table

    max_n = max((g["samples_per_item"] for g in groups), default=0)
    ks = _ks(max_n)
    items = max((g["items_scored"] for g in groups), default=0)
    table = Table(
        title=f"{task}: {items} items, {max_n} samples each",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    headers = ["budget", "pass@1", "95% CI"] + [f"maj@{k}" for k in ks[1:]]
    headers += [f"pass@{max_n}", "tokens", "unparsed", "err"]
    for name in headers:
        table.add_column(name, justify="left" if name == "budget" else "right", no_wrap=True)
    for g in groups:
        by_k = {p["k"]: p for p in g["points"]}
        top = by_k.get(g["samples_per_item"])
        table.add_row(
            g["budget"],
            _pct(g["pass@1"]),
            _ci(g["pass@1"]),
            *[_pct(by_k[k]["maj"]) if k in by_k else "-" for k in ks[1:]],
            _pct(top["pass"]) if top else "-",
            f"{g['mean_completion_tokens']:.0f}",
            "-" if g["parse_failure_rate"] is None else f"{100 * g['parse_failure_rate']:.0f}%",
            str(g["errors"]),
        )
    return table


def print_summary(summary: dict, console=None, title: str | None = None) -> None:
    """Accuracy (%) per task and budget; tokens = mean completion tokens per sample."""
    from rich.console import Console

    console = console or Console()
    if title:
        console.print(title)
    overall = [g for g in summary["groups"] if g["level"] is None]
    for task in dict.fromkeys(g["task"] for g in overall):
        console.print(task_table(task, [g for g in overall if g["task"] == task]))
