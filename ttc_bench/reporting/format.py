"""How summary figures read (percent, intervals, counts, money) and which groups a table
shows. Shared by the terminal table and the report document; nothing here renders."""

from __future__ import annotations

PARTIAL_MARK = "*"


def pct(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    return f"{100 * stat['mean']:.1f}"


def ci(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None or stat["ci95"][0] is None:
        return "-"
    lo, hi = stat["ci95"]
    return f"{100 * lo:.0f}-{100 * hi:.0f}"


def interval(ci95) -> str:
    lo, hi = ci95
    return "-" if lo is None else f"{100 * lo:.0f}-{100 * hi:.0f}"


def pct_ci(stat: dict | None) -> str:
    return "-" if not stat or stat.get("mean") is None else f"{pct(stat)} ({ci(stat)})"


def rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def money(value: float | None) -> str:
    if value is None:
        return "-"
    return f"${value:.4g}" if value < 1 else f"${value:,.2f}"


def flops(value: float | None) -> str:
    return "-" if value is None else f"{value:.2e}"


def count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def partial(g: dict, point: dict | None) -> str:
    """A mark for a maj@k/pass@k figure over fewer items than the group has: each k uses
    the items with at least k scored samples (schema 3)."""
    if not point or point.get("items") is None:
        return ""
    return PARTIAL_MARK if point["items"] < g["items_scored"] else ""


def partial_note(groups: list[dict]) -> str | None:
    marked = [
        f"{g['budget']} maj/pass@{p['k']}: {p['items']} of {g['items_scored']} items"
        for g in groups
        for p in g["points"]
        if partial(g, p)
    ]
    if not marked:
        return None
    shown = "; ".join(marked[:6]) + ("; ..." if len(marked) > 6 else "")
    return f"{PARTIAL_MARK} over the items with at least k scored samples (an item with errors has fewer): {shown}."


def ks(n: int) -> list[int]:
    """Powers of two below n, and n itself: the sample counts worth a column."""
    found, k = [], 1
    while k < n:
        found.append(k)
        k *= 2
    return found + [n] if n else found


def sample_counts(groups: list[dict]) -> tuple[int, bool]:
    """The largest samples-per-item of the groups, and whether every group has it."""
    ns = {g["samples_per_item"] for g in groups if g["points"]}
    return max(ns, default=0), len(ns) <= 1


def selection_curves(groups: list[dict]) -> list:
    """The registered curves of selection strategies (verified-maj@k, best-of-k) that these
    groups hold: a run that asked for them (docs/strategies.md); none otherwise."""
    from ..metrics import registry

    return [m for m in registry.metrics()
            if m.on_request and m.over_k and any(m.key in p for g in groups for p in g["points"])]


def adaptive_lines(groups: list[dict]) -> list[str]:
    """One sentence per budget of an adaptively sampled run: its point and what fixed-n
    maj@n would have spent (docs/strategies.md)."""
    lines = []
    for g in groups:
        a = g.get("adaptive")
        if not a or a["accuracy"]["mean"] is None:
            continue
        saved = "" if a["tokens_saved"] is None else f": {100 * a['tokens_saved']:.0f}% fewer tokens"
        lines.append(
            f"adaptive at {g['budget']}: {pct_ci(a['accuracy'])} with {a['samples_per_item']:.1f} of at most "
            f"{a['samples_cap']} samples per item ({num(a['tokens_per_item'])} tokens per item; "
            f"{rate(a['stopped_early'])} of items stopped early); fixed-n maj@{a['samples_cap']} would spend "
            f"{num(a['fixed_tokens_per_item'])} tokens per item{saved}"
        )
    return lines


def selfverify_lines(groups: list[dict]) -> list[str]:
    """One sentence per budget of a run with the selfverify strategy: its point, what the
    judging cost, and the plain vote of the same samples (docs/strategies.md)."""
    lines = []
    for g in groups:
        v = g.get("selfverify")
        if not v or v["accuracy"]["mean"] is None or not g["points"]:
            continue
        top = g["points"][-1]
        unjudged = f"; {count(v['items_unjudged'], 'item')} not judged yet" if v["items_unjudged"] else ""
        lines.append(
            f"selfverify at {g['budget']}: {pct_ci(v['accuracy'])} at {num(v['tokens_per_item'])} tokens per item "
            f"({top['k']} samples, {num(top['tokens_per_item'])}, plus {v['candidates_per_item']:.1f} judged answers, "
            f"{num(v['judge_tokens_per_item'])}); maj@{top['k']} of the same samples: {pct_ci(top['maj'])}{unjudged}"
        )
    return lines


def revise_lines(groups: list[dict]) -> list[str]:
    """One sentence per budget and R of a run with revise:R (docs/strategies.md)."""
    lines = []
    for g in groups:
        for name, v in (g.get("revise") or {}).items():
            if v["accuracy"]["mean"] is None:
                continue
            lines.append(
                f"{name} at {g['budget']}: {pct_ci(v['accuracy'])} at {num(v['tokens_per_item'])} tokens per item "
                f"(the first sample, {num(v['first_tokens_per_item'])}, plus {v['rounds_per_item']:.1f} rounds, "
                f"{num(v['revision_tokens_per_item'])}); a single sample: {pct_ci(g['pass@1'])}"
            )
    return lines


def optimal_cell(best: dict | None) -> str:
    """A compute-optimal table cell: strategy at budget, accuracy (95% CI)."""
    if best is None:
        return "-"
    lo, hi = best["ci95"]
    ci = "" if lo is None else f" ({100 * lo:.0f}-{100 * hi:.0f})"
    return f"{best['short']} at {best['budget']}: {100 * best['accuracy']:.1f}{ci}"


def optimal_lines(section: dict) -> list[str]:
    """Per level, where the compute-optimal strategy changes as compute grows."""
    table = section.get("compute_optimal")
    if not table:
        return []
    lines = []
    for row in table["levels"]:
        steps, last = [], None
        for best in row["best"]:
            if best is not None and (last is None or (best["method"], best["budget"], best["k"]) != last):
                steps.append(f"up to {num(best['tokens_max'])}: {optimal_cell(best)}")
                last = (best["method"], best["budget"], best["k"])
        lines.append(f"level {row['level']}: " + ("; ".join(steps) or "no scored points"))
    return lines


def overall(summary: dict, task: str | None = None) -> list[dict]:
    """The groups over all levels of a task (or of every task), one per budget."""
    return [g for g in summary["groups"] if g["level"] is None and (task is None or g["task"] == task)]


def tasks(summary: dict) -> list[str]:
    return list(dict.fromkeys(g["task"] for g in overall(summary)))


def section(summary: dict, task: str) -> dict:
    return next((t for t in summary.get("tasks", []) if t["task"] == task), {})


def skipped_line(summary: dict) -> str | None:
    """One line when reading samples.jsonl skipped rows (``rows_skipped``), else None."""
    skipped = summary.get("rows_skipped")
    if not skipped:
        return None
    return f"{count(skipped, 'row')} of samples.jsonl could not be read as samples and {'was' if skipped == 1 else 'were'} skipped"
