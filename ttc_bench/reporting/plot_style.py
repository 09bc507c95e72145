"""What every report plot shares: the plot kinds and file names, colours, the Agg
backend loaded on demand, byte-stable PNG/SVG writes, the log2 token axis, titles and
captions (plots.py draws the charts with them)."""

from __future__ import annotations

import re
from pathlib import Path

from .files import write_atomic

PLOT_KINDS = {
    "accuracy-vs-tokens": "accuracy against tokens per item",
    "pass1-majority-gain": "pass@1 per budget with the majority-vote gain",
    "budget-fidelity": "requested vs used tokens per budget",
    "level-heatmap": "pass@1 by difficulty level and budget",
}
FRONTIER_COLOR = "#f28e2b"
RUN_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
PNG_DPI = 110
# Line style and marker of each selection strategy's curve, in registration order.
SELECTION_STYLES = ((":", "^"), ("-.", "v"), ((0, (1, 3)), "D"))


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "task"


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "svg.hashsalt": "ttc-bench",  # stable element ids: same data, same bytes
            "svg.fonttype": "path",  # text as paths: renders without the fonts installed
            "font.size": 10,
            "axes.titlesize": 12,
            "axes.labelsize": 10.5,
            "legend.fontsize": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "figure.dpi": PNG_DPI,
        }
    )
    return plt


def save(plt, fig, out_dir: Path, name: str) -> dict[str, Path]:
    """Write the figure as PNG and SVG, each file replaced in one step (OSError if not)."""
    plots = out_dir / "plots"
    written = {}
    try:
        plots.mkdir(parents=True, exist_ok=True)
        for ext, metadata in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
            path = plots / f"{name}.{ext}"
            write_atomic(path, lambda fh: fig.savefig(fh, format=ext, dpi=PNG_DPI, metadata=metadata, bbox_inches="tight"))
            written[f"plots/{name}.{ext}"] = path
    finally:
        plt.close(fig)
    return written


def task_groups(summary: dict, task: str) -> list[dict]:
    return [g for g in summary["groups"] if g["task"] == task and g["level"] is None]


def task_section(summary: dict, task: str) -> dict | None:
    return next((t for t in summary.get("tasks", []) if t["task"] == task), None)


def budget_colors(n: int):
    import matplotlib

    # Dark to green: ordered like the budgets, and clear of the orange frontier.
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.05 + 0.65 * i / max(1, n - 1)) for i in range(n)]


def tokens_formatter():
    from matplotlib.ticker import FuncFormatter

    def fmt(value, _pos):
        # Ticks sit on powers of two: 1024 reads better as 1k than as 1.024k.
        power_of_two = value >= 1 and float(value).is_integer() and (int(value) & (int(value) - 1)) == 0
        if value >= 1 << 20 and power_of_two:
            return f"{value / (1 << 20):g}M"
        if value >= 1024 and power_of_two:
            return f"{value / 1024:g}k"
        if value >= 1e6:
            return f"{value / 1e6:g}M"
        if value >= 1e3:
            return f"{value / 1e3:g}k"
        return f"{value:g}"

    return FuncFormatter(fmt)


def log2_axis(ax, values: list[float]) -> None:
    from matplotlib.ticker import LogLocator, NullFormatter

    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_locator(LogLocator(base=2))
    ax.xaxis.set_major_formatter(tokens_formatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    lo, hi = min(values), max(values)
    ax.set_xlim(lo / 1.25, hi * 1.25)


def bound(stat: dict, side: int) -> float:
    """One end of a statistic's 95% interval (the mean when no interval could be formed)."""
    value = stat["ci95"][side]
    return stat["mean"] if value is None else value


def subtitle(runs: list[tuple[str, dict]], task: str) -> str:
    if len(runs) > 1:
        return ", ".join(label for label, _ in runs)
    label, summary = runs[0]
    groups = task_groups(summary, task)
    items = max((g["items_scored"] for g in groups), default=0)
    n = max((g["samples_per_item"] for g in groups), default=0)
    return f"{label}: {items} items, {n} samples per item"


def caption(ax, runs: list[tuple[str, dict]], task: str, title: str, handles: list, legend_title: str | None = None) -> None:
    """The chart's title over its subtitle, and its legend to the right of the axes."""
    ax.set_title(f"{task}: {title}\n{subtitle(runs, task)}", loc="left")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title=legend_title)
