"""report.md: the report's blocks as GitHub-flavoured markdown (table links are HTML-only)."""

from __future__ import annotations


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
            headers, rows = block[1], block[2]
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |"]
            lines.append("| " + " | ".join("---" if i == 0 else "---:" for i in range(len(headers))) + " |")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("\n".join(lines))
        elif kind == "img":
            _, png, svg, alt = block
            out.append(f"![{alt}]({png})\n\n[SVG]({svg})")
    return "\n\n".join(out) + "\n"
