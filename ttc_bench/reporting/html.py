"""report.html: the report's blocks as one self-contained page, with the sample browser
(browser.py) below them when the run's samples were at hand.

No network: the CSS is inline and every plot is embedded as an SVG data URI (an <img>
keeps each SVG's element ids in its own document, so several plots never clash). A
Content-Security-Policy allows only the page's own script (by hash), inline styles and
data: images, and requests only to the server the page came from (`ttc-bench view`), so
model output on the page can neither run code nor reach the network.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from urllib.parse import urlencode

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1d1d1f; margin: 0 auto; padding: 1.5rem 2rem 4rem; max-width: 1180px; }
h1 { font-size: 1.6rem; margin: 0.2rem 0 0.8rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.2rem; border-bottom: 2px solid #e3e3e8; }
h3 { font-size: 1.05rem; margin: 1.6rem 0 0.4rem; color: #333; }
p, li { max-width: 60rem; }
code { background: #f2f2f5; padding: 0 0.25em; border-radius: 3px; font-size: 0.92em; }
.table-wrap { overflow-x: auto; margin: 0.5rem 0 1rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid #e6e6ea; text-align: right; white-space: nowrap; }
th { background: #f6f6f8; font-weight: 600; border-bottom: 2px solid #d6d6dc; }
th:first-child, td:first-child { text-align: left; }
tr:hover td { background: #fafafc; }
td a { color: inherit; text-decoration: none; border-bottom: 1px dotted #8a8a99; }
td a:hover { color: #1a5fb4; border-bottom-color: #1a5fb4; }
figure { margin: 1rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #ececf0; border-radius: 4px; }
figcaption { color: #555; font-size: 0.88rem; margin-top: 0.3rem; }
"""


def _inline(text: str) -> str:
    """Escape text; `code` spans become <code>."""
    parts = re.split(r"`([^`]*)`", str(text))
    return "".join(f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts))


def _data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def sample_href(params: dict) -> str:
    """The in-page address of a sample-browser view (the browser reads it from the hash)."""
    return "#samples?" + urlencode(params)


def _cell(text, params: dict | None) -> str:
    if params is None:
        return f"<td>{_inline(text)}</td>"
    return f'<td><a href="{html.escape(sample_href(params))}">{_inline(text)}</a></td>'


def _table(block: tuple, linked: bool) -> str:
    headers, rows = block[1], block[2]
    links = block[3] if linked and len(block) > 3 else [[None] * len(row) for row in rows]
    head = "".join(f"<th>{_inline(h)}</th>" for h in headers)
    cells = "".join("<tr>" + "".join(_cell(c, p) for c, p in zip(row, ps)) + "</tr>" for row, ps in zip(rows, links))
    return f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></div>'


def _csp(script_hashes: list[str]) -> str:
    scripts = " ".join(f"'sha256-{h}'" for h in script_hashes) or "'none'"
    return f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src {scripts}; connect-src 'self'"


def render_html(blocks: list[tuple], images: dict[str, Path], browser=None) -> str:
    """The page. ``browser``: a browser.Section (its markup, CSS and script hash), or None
    for a report without samples (table cells are then plain text)."""
    title = next((b[1] for b in blocks if b[0] == "h1"), "ttc-bench report")
    body: list[str] = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2", "h3"):
            body.append(f"<{kind}>{_inline(block[1])}</{kind}>")
            if kind == "h1" and browser is not None:
                body.append(f'<p><a href="{sample_href({})}">Browse the samples</a>. {html.escape(browser.blurb)}</p>')
        elif kind == "p":
            body.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "ul":
            body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        elif kind == "table":
            body.append(_table(block, browser is not None))
        elif kind == "img":
            _, png, svg, alt = block
            if svg in images:
                src = _data_uri(images[svg], "image/svg+xml")
            elif png in images:
                src = _data_uri(images[png], "image/png")
            else:
                continue
            body.append(f'<figure><img src="{src}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}</figcaption></figure>')
    hashes = [] if browser is None else [browser.script_hash]
    css = CSS + ("" if browser is None else browser.css)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_csp(hashes)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + ("" if browser is None else "\n" + browser.markup)
        + "\n</body>\n</html>\n"
    )
