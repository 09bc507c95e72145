"""The four report plots, as PNG and SVG, from summaries (one run or several overlaid).

1. accuracy vs tokens per item (log2 x): pass@1 across budgets, maj@k and pass@k across k
   at each budget, 95% bands, the compute-optimal frontier highlighted;
2. the o1-style chart: pass@1 bars per budget with the majority-vote gain stacked on top;
3. budget fidelity: requested vs used tokens per budget (median bar, p90 whisker, share
   cut off);
4. pass@1 by difficulty level x budget (heatmap).

matplotlib is imported inside the functions (the CLI must start fast) and always with the
Agg backend. Output is byte-stable: fixed SVG hash salt, no dates or software tags.
"""

from __future__ import annotations

from pathlib import Path

from .format import selection_curves
from .files import WriteFailure, reason
from .plot_style import (
    FRONTIER_COLOR, RUN_COLORS, SELECTION_STYLES, bound, budget_colors, caption, log2_axis, pyplot, save, slug, subtitle,
    task_groups, task_section, tokens_formatter,
)  # fmt: skip

def accuracy_vs_tokens(runs: list[tuple[str, dict]], task: str, out_dir: Path) -> dict[str, Path]:
    plt = pyplot()
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(10, 5.4))
    xs: list[float] = []
    ys: list[float] = []
    handles = []
    single = len(runs) == 1
    selection: list = []
    for r, (label, summary) in enumerate(runs):
        # A log axis cannot show 0 tokens (an endpoint that reports no usage): leave those out.
        groups = [
            {**g, "points": [p for p in g["points"] if p["tokens_per_item"] and p["tokens_per_item"] > 0]}
            for g in task_groups(summary, task)
        ]
        groups = [g for g in groups if g["points"]]
        if not groups:
            continue
        section = task_section(summary, task) or {}
        colors = budget_colors(len(groups)) if single else [RUN_COLORS[r % len(RUN_COLORS)]] * len(groups)
        # The curves of the selection strategies the run names (docs/strategies.md).
        selection = list(zip(selection_curves(groups), SELECTION_STYLES))
        if single:
            for g, color in zip(groups, colors):
                pts = g["points"]
                if g.get("adaptive"):  # beyond an item's stop the curve holds the harder items alone
                    pts = [p for p in pts if p["items"] >= g["items_scored"]] or pts[:1]
                t = [p["tokens_per_item"] for p in pts]
                maj = [100 * p["maj"]["mean"] for p in pts]
                lo = [100 * bound(p["maj"], 0) for p in pts]
                hi = [100 * bound(p["maj"], 1) for p in pts]
                ax.fill_between(t, lo, hi, color=color, alpha=0.14, linewidth=0)
                ax.plot(t, maj, "-o", color=color, markersize=3.5, linewidth=1.8)
                ax.plot(t, [100 * p["pass"]["mean"] for p in pts], "--", color=color, linewidth=1.2, alpha=0.85)
                ax.annotate(f"k={pts[-1]['k']}", (t[-1], maj[-1]), textcoords="offset points", xytext=(5, -3), fontsize=8, color=color)
                # The strategies' points (docs/strategies.md): one marker each, with its interval.
                for name, marker, size in (("adaptive", "*", 13), ("selfverify", "P", 10)):
                    point = g.get(name)
                    if point and point["accuracy"]["mean"] is not None and point["tokens_per_item"] > 0:
                        acc = 100 * point["accuracy"]["mean"]
                        ax.errorbar([point["tokens_per_item"]], [acc], fmt=marker, color=color, markersize=size, capsize=3,
                                    yerr=[[acc - 100 * bound(point["accuracy"], 0)], [100 * bound(point["accuracy"], 1) - acc]])
                        xs.append(point["tokens_per_item"])
                        ys.append(100 * bound(point["accuracy"], 1))
                for v in (g.get("revise") or {}).values():
                    if v["accuracy"]["mean"] is not None and v["tokens_per_item"] > 0:
                        acc = 100 * v["accuracy"]["mean"]
                        ax.plot([v["tokens_per_item"]], [acc], "X", color=color, markersize=9)
                        ax.annotate(f"R={v['rounds']}", (v["tokens_per_item"], acc), textcoords="offset points",
                                    xytext=(5, 3), fontsize=8, color=color)
                        xs.append(v["tokens_per_item"])
                        ys.append(acc)
                for m, (style, marker) in selection:
                    shown = [p for p in pts if (p.get(m.key) or {}).get("mean") is not None]
                    sel = [100 * p[m.key]["mean"] for p in shown]
                    ax.plot([p["tokens_per_item"] for p in shown], sel, linestyle=style, marker=marker, color=color,
                            markersize=4, linewidth=1.4)
                    ys += sel
                xs += t
                ys += hi + [100 * p["pass"]["mean"] for p in pts]
                handles.append(Line2D([], [], color=color, marker="o", markersize=4, label=f"{g['budget']} (k = 1-{pts[-1]['k']})"))
        # pass@1 across budgets: the sequential-compute curve
        t1 = [g["points"][0]["tokens_per_item"] for g in groups]
        p1 = [100 * g["pass@1"]["mean"] for g in groups]
        err = [
            [p - 100 * bound(g["pass@1"], 0) for p, g in zip(p1, groups)],
            [100 * bound(g["pass@1"], 1) - p for p, g in zip(p1, groups)],
        ]
        line_color = "black" if single else RUN_COLORS[r % len(RUN_COLORS)]
        ax.errorbar(t1, p1, yerr=err, fmt="-s", color=line_color, markersize=5, linewidth=2, capsize=3, zorder=5)
        handles.append(Line2D([], [], color=line_color, marker="s", linewidth=2, label=f"{label + ': ' if not single else ''}pass@1 across budgets (95% CI)"))
        xs += t1
        ys += [p + e for p, e in zip(p1, err[1])]
        frontier = [p for p in section.get("frontier") or [] if p["tokens_per_item"] > 0]
        if frontier:
            ft = [p["tokens_per_item"] for p in frontier]
            fa = [100 * p["accuracy"] for p in frontier]
            fcolor = FRONTIER_COLOR if single else RUN_COLORS[r % len(RUN_COLORS)]
            ax.step(ft, fa, where="post", color=fcolor, linewidth=6 if single else 2, alpha=0.35 if single else 0.9, linestyle="-" if single else ":", zorder=1)
            ax.plot(ft, fa, "o", markerfacecolor="none", markeredgecolor=fcolor, markersize=10, markeredgewidth=1.8, zorder=6)
            xs += ft
            ys += fa
            handles.append(Line2D([], [], color=fcolor, linewidth=6 if single else 2, alpha=0.5 if single else 0.9, linestyle="-" if single else ":", label=f"{label + ': ' if not single else ''}compute-optimal frontier ({', '.join(['maj@k'] + [m.name for m, _ in selection] + (['adaptive'] if any(g.get('adaptive') for g in groups) else []) + (['selfverify'] if any(g.get('selfverify') for g in groups) else []) + (['revise'] if any(g.get('revise') for g in groups) else []))})"))
    if single:
        handles += [
            Line2D([], [], color="grey", linestyle="-", label="solid: maj@k, majority vote of k samples"),
            Line2D([], [], color="grey", linestyle="--", label="dashed: pass@k, any of k correct (oracle)"),
        ]
        handles += [Line2D([], [], color="grey", linestyle=style, marker=marker, markersize=4, label=m.name)
                    for m, (style, marker) in selection]
        if any(g.get("selfverify") for _, s in runs for g in task_groups(s, task)):
            handles.append(Line2D([], [], color="grey", linestyle="none", marker="P", markersize=9,
                                  label="selfverify: vote over the answers the model judged correct (95% CI)"))
        if any(g.get("revise") for _, s in runs for g in task_groups(s, task)):
            handles.append(Line2D([], [], color="grey", linestyle="none", marker="X", markersize=8,
                                  label="revise:R: a sample, then up to R rounds of revision"))
        if any(g.get("adaptive") for _, s in runs for g in task_groups(s, task)):
            handles.append(Line2D([], [], color="grey", linestyle="none", marker="*", markersize=10,
                                  label="adaptive: majority vote of the samples drawn (95% CI)"))
    if xs:
        log2_axis(ax, xs)
    else:
        ax.set_xticks([])
        ax.text(0.5, 0.5, "the endpoint reported no completion tokens:\nnothing to place on a token axis", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, min(104, max(ys + [10]) * 1.1 + 2))
    ax.set_xlabel("tokens per item = k x mean completion tokens per sample (log2 scale)")
    ax.set_ylabel("accuracy (%)")
    caption(ax, runs, task, "accuracy vs tokens per item", handles, "budget (samples k)" if single else None)
    return save(plt, fig, out_dir, f"{slug(task)}-accuracy-vs-tokens")


def _bars(plt, runs: list[tuple[str, dict]], task: str):
    """A bar chart's budgets (in run order), figure, axes and bar width: one bar per run
    at each budget."""
    budgets = list(dict.fromkeys(g["budget"] for _, s in runs for g in task_groups(s, task)))
    fig, ax = plt.subplots(figsize=(max(6.5, 1.3 * len(budgets) * max(1, len(runs)) + 2.5), 5))
    return budgets, fig, ax, 0.8 / len(runs)


def _bar_cells(runs: list[tuple[str, dict]], task: str, budgets: list[str], width: float, single_color: str, handles: list):
    """Each bar of a bar chart: (budget, colour, x position, group), one per run at each
    budget it has; with several runs, each run's legend patch is added to ``handles``."""
    from matplotlib.patches import Patch

    for r, (label, summary) in enumerate(runs):
        color = single_color if len(runs) == 1 else RUN_COLORS[r % len(RUN_COLORS)]
        by_budget = {g["budget"]: g for g in task_groups(summary, task)}
        for b_index, budget in enumerate(budgets):
            g = by_budget.get(budget)
            if g:
                yield budget, color, b_index + (r - (len(runs) - 1) / 2) * width, g
        if len(runs) > 1:
            handles.append(Patch(color=color, label=label))


def majority_gain(runs: list[tuple[str, dict]], task: str, out_dir: Path) -> dict[str, Path]:
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    budgets, fig, ax, width = _bars(plt, runs, task)
    top = 10.0
    handles = []
    ns = set()
    losses = False
    marks: dict[str, str] = {}
    for budget, color, x, g in _bar_cells(runs, task, budgets, width, "#4e79a7", handles):
        if not g["points"]:
            continue
        p1 = 100 * g["pass@1"]["mean"]
        last = g["points"][-1]
        maj = 100 * last["maj"]["mean"]
        ns.add(last["k"])
        lo, hi = 100 * bound(g["pass@1"], 0), 100 * bound(g["pass@1"], 1)
        ax.bar(x, p1, width * 0.92, color=color, zorder=2)
        ax.errorbar(x - width * 0.2, p1, yerr=[[p1 - lo], [hi - p1]], color="black", capsize=3, linewidth=1, zorder=4)
        gain = maj - p1
        if gain >= 0:
            ax.bar(x, gain, width * 0.92, bottom=p1, color=color, alpha=0.35, hatch="///", edgecolor=color, linewidth=0, zorder=2)
        else:
            ax.bar(x, -gain, width * 0.92, bottom=maj, color="none", hatch="xx", edgecolor="#c0392b", linewidth=0, zorder=3)
        ax.text(x + width * 0.08, max(hi, maj) + 1.0, f"maj@{last['k']} {maj:.0f}%", ha="center", va="bottom", fontsize=8.5, fontweight="bold")
        losses |= gain < 0
        ax.text(x + width * 0.08, p1 / 2, f"{p1:.0f}%", ha="center", va="center", fontsize=8.5, color="white" if p1 > 8 else "black", zorder=5)
        top = max(top, hi, maj)
        for i, (name, (marker, value)) in enumerate(_strategy_marks(g).items()):
            # The strategies the run names, side by side with the vote (docs/strategies.md).
            ax.plot([x + width * (0.22 + 0.07 * i)], [value], marker, color="black", markerfacecolor="white", markersize=8, zorder=6)
            marks[name] = marker
            top = max(top, value)
    k_text = f"{next(iter(ns))} samples" if len(ns) == 1 else "all k samples of an item"
    handles += [
        Patch(facecolor="#4e79a7" if len(runs) == 1 else "grey", label="pass@1 (error bar: 95% CI)"),
        Patch(facecolor="#4e79a7" if len(runs) == 1 else "grey", alpha=0.35, hatch="///", label="gain from a majority vote (maj@k)"),
    ]
    if losses:
        handles.append(Patch(facecolor="none", edgecolor="#c0392b", hatch="xx", label="majority vote below pass@1"))
    handles += [Line2D([], [], color="black", markerfacecolor="white", linestyle="none", marker=marker, markersize=7, label=name)
                for name, marker in marks.items()]
    labels = []
    for budget in budgets:
        tokens = [g["mean_completion_tokens"] for _, s in runs for g in task_groups(s, task) if g["budget"] == budget]
        labels.append(f"{budget}\n~{tokens[0]:.0f} tok/sample" if len(tokens) == 1 else budget)
    ax.set_xticks(range(len(budgets)), labels)
    ax.set_ylim(0, min(105, top * 1.12 + 4))
    ax.set_ylabel("accuracy (%)")
    ax.set_xlabel("reasoning budget (mean completion tokens per sample)" if len(runs) == 1 else "reasoning budget")
    ax.grid(axis="x", visible=False)
    strategies = "; markers: other strategies" if marks else ""
    caption(ax, runs, task, f"pass@1 per budget, shaded: gain of a majority vote over {k_text}{strategies}", handles)
    return save(plt, fig, out_dir, f"{slug(task)}-pass1-majority-gain")


def _strategy_marks(g: dict) -> dict[str, tuple[str, float]]:
    """A group's strategy points beside its bars: name -> (marker, accuracy %), for the
    selection curves at the group's k = n and the adaptive, selfverify and revise points."""
    last = g["points"][-1]
    found = {}
    for m, (_, marker) in zip(selection_curves([g]), SELECTION_STYLES):
        if m.name != "maj@k" and (last.get(m.key) or {}).get("mean") is not None:
            found[m.name.replace("@k", "@n").replace("-k", "-n")] = (marker, 100 * last[m.key]["mean"])
    if (g.get("selfverify") or {}).get("accuracy", {}).get("mean") is not None:
        found["selfverify"] = ("P", 100 * g["selfverify"]["accuracy"]["mean"])
    for name, v in (g.get("revise") or {}).items():
        if v["accuracy"]["mean"] is not None:
            found[name] = ("X", 100 * v["accuracy"]["mean"])
    if (g.get("adaptive") or {}).get("accuracy", {}).get("mean") is not None:
        found["adaptive"] = ("*", 100 * g["adaptive"]["accuracy"]["mean"])
    return found


def budget_fidelity(runs: list[tuple[str, dict]], task: str, out_dir: Path) -> dict[str, Path]:
    plt = pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    budgets, fig, ax, width = _bars(plt, runs, task)
    values = []
    handles = []
    fields: dict[str, str] = {}
    for budget, color, x, g in _bar_cells(runs, task, budgets, width, "#59a14f", handles):
        if g["fidelity"]["used_median"] is None:
            continue
        f = g["fidelity"]
        fields[budget] = f["used_tokens"].split("_")[0]
        if f["requested_tokens"]:
            ax.bar(x, f["requested_tokens"], width * 0.92, facecolor="none", edgecolor="#555555", linestyle="--", linewidth=1.2, zorder=3)
            values.append(f["requested_tokens"])
        ax.bar(x, max(f["used_median"], 0.5), width * 0.7, color=color, zorder=2)
        ax.errorbar(x, f["used_median"], yerr=[[0], [max(0.0, f["used_p90"] - f["used_median"])]], color="black", capsize=4, linewidth=1, zorder=4)
        values += [f["used_median"], f["used_p90"]]
        peak = max(f["used_p90"], f["requested_tokens"] or 0)
        note = f"cut off {100 * f['cut_off_rate']:.0f}%"
        # schema 3: the share of samples within budget; schema 2 called it control
        within = f.get("within_budget_share", f.get("control"))
        if within is not None:
            note += f"\nwithin {100 * within:.0f}%"
        ax.text(x, peak, note, ha="center", va="bottom", fontsize=8)
    handles = [
        Patch(facecolor="none", edgecolor="#555555", linestyle="--", label="requested budget"),
        Patch(facecolor="#59a14f" if len(runs) == 1 else "grey", label="used tokens, median"),
        Line2D([], [], color="black", marker="_", markersize=10, label="used, 90th percentile"),
    ] + handles
    positive = [v for v in values if v and v > 0]
    if positive and max(positive) / max(1.0, min(positive)) > 30:
        ax.set_yscale("log", base=2)
        ax.yaxis.set_major_formatter(tokens_formatter())
        ax.set_ylabel("tokens per sample (log2 scale)")
    else:
        ax.set_ylabel("tokens per sample")
    if positive:
        ax.set_ylim(top=max(positive) * (1.6 if ax.get_yscale() == "log" else 1.25))
    ax.set_xticks(range(len(budgets)), [f"{b}\nused = {fields.get(b, 'completion')} tokens" for b in budgets])
    ax.set_xlabel("reasoning budget")
    ax.grid(axis="x", visible=False)
    caption(ax, runs, task, "budget fidelity, requested vs used tokens", handles)
    return save(plt, fig, out_dir, f"{slug(task)}-budget-fidelity")


def level_heatmap(runs: list[tuple[str, dict]], task: str, out_dir: Path) -> dict[str, Path]:
    plt = pyplot()
    import numpy as np

    budgets = list(dict.fromkeys(g["budget"] for _, s in runs for g in task_groups(s, task)))
    levels = list(dict.fromkeys(lv for _, s in runs for lv in (task_section(s, task) or {}).get("levels", [])))
    panel = 0.42 * len(levels) + 0.9
    fig, axes = plt.subplots(
        len(runs),
        1,
        figsize=(max(6.0, 1.15 * len(budgets) + 3), panel * len(runs) + 1.3),
        squeeze=False,
        sharex=True,
        layout="constrained",
    )
    image = None
    for ax, (label, summary) in zip(axes[:, 0], runs):
        grid = np.full((len(levels), len(budgets)), np.nan)
        for g in summary["groups"]:
            if g["task"] == task and g["level"] is not None and g["pass@1"]["mean"] is not None:
                grid[levels.index(g["level"]), budgets.index(g["budget"])] = 100 * g["pass@1"]["mean"]
        image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
        for (i, j), v in np.ndenumerate(grid):
            text = "-" if np.isnan(v) else f"{v:.0f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if (np.isnan(v) or v < 55) else "black")
        ax.set_xticks(range(len(budgets)), budgets)
        ax.set_yticks(range(len(levels)), levels)
        ax.grid(False)
        ax.set_ylabel("difficulty level")
        ax.set_title(subtitle([(label, summary)], task), loc="left", fontsize=10)
    axes[-1, 0].set_xlabel("reasoning budget")
    fig.suptitle(f"{task}: pass@1 (%) by difficulty level and budget", x=0.01, ha="left", fontsize=12)
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="pass@1 (%)", fraction=0.05, pad=0.02)
    return save(plt, fig, out_dir, f"{slug(task)}-level-heatmap")


def task_names(runs: list[tuple[str, dict]]) -> list[str]:
    return list(dict.fromkeys(t["task"] for _, s in runs for t in s.get("tasks", [])))


PLOTTERS = {
    "accuracy-vs-tokens": accuracy_vs_tokens,
    "pass1-majority-gain": majority_gain,
    "budget-fidelity": budget_fidelity,
    "level-heatmap": level_heatmap,
}


def plot_all(runs: list[tuple[str, dict]], out_dir: Path) -> tuple[dict[str, Path], WriteFailure | None]:
    """Every plot of every task: ({"plots/x.png": path, "plots/x.svg": path, ...}, None).

    When a file cannot be written, the plots written before it and a WriteFailure naming
    the plots not written: the rest are not attempted (a full disk stays full, and each
    plot takes a second to draw)."""
    jobs = [
        (task, kind)
        for task in task_names(runs)
        if any(g["points"] for _, s in runs for g in task_groups(s, task))
        for kind in PLOTTERS
    ]
    written: dict[str, Path] = {}
    for done, (task, kind) in enumerate(jobs):
        try:
            written.update(PLOTTERS[kind](runs, task, out_dir))
        except OSError as exc:
            missing = len(jobs) - done
            what = f"{missing} plot{'' if missing == 1 else 's'} (PNG + SVG)"
            return written, WriteFailure(what, out_dir / "plots", reason(exc))
    return written, None
