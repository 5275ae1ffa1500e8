"""A self-contained HTML report: figures embedded as base64 PNG, inline CSS, no external assets,
so the file opens offline and can be mailed as one attachment."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["Figure", "Section", "Report", "write_report", "slug"]


@dataclass
class Figure:
    name: str  # file stem for the PNG written beside the report
    png: bytes
    caption: str


@dataclass
class Section:
    """One claim (or one diagnosis): the explanation, figures, deciding numbers, verdict and command."""

    title: str
    explanation: str  # paragraphs separated by blank lines; `code` spans allowed
    figures: list[Figure] = field(default_factory=list)
    numbers: Mapping[str, object] = field(default_factory=dict)
    verdict: str | None = None  # "reproduced" / "contradicted" / "inconclusive" / a diagnosis / None
    command: str | None = None
    table: Sequence[Mapping] | None = None  # optional tidy rows shown as a table
    tables: Sequence[tuple[str, Sequence[Mapping]]] = ()  # (heading, rows) shown after the figures
    source: str | None = None  # what the source itself shows, in words
    code: Sequence[tuple[str, str]] = ()  # (label, code): shown in one collapsed block, each with a copy button
    code_title: str = "Code"  # the block's heading
    code_intro: str | None = None  # a paragraph above the block (also shown when there is no code)


@dataclass
class Report:
    title: str
    intro: str
    sections: list[Section]
    summary: Sequence[Mapping] | None = None  # rows: claim, verdict, deciding number
    warnings: Sequence[str] = ()  # shown above everything else


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.5}
h1{border-bottom:2px solid #4C72B0}h2{margin-top:2em;border-bottom:1px solid #ddd}
code,pre{background:#f4f4f4;border-radius:3px;padding:0 .25em;font-size:.92em}
pre{padding:.6em;overflow-x:auto}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f0f3f8}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#555}
.verdict{display:inline-block;padding:.1em .6em;border-radius:3px;font-weight:600}
.ok{background:#d9f2dd;color:#1b5e20}.no{background:#fde2e1;color:#8e1b13}.maybe{background:#fff4ce;color:#6b5300}
nav ul{columns:2}
.warning{background:#fff4ce;border-left:4px solid #c99a00;padding:.5em .8em}
details.code summary{cursor:pointer;font-weight:600}pre code{padding:0;background:none}
.snippet-label{margin:.8em 0 .2em}
button.copy{font-size:.8em;margin-left:.6em;cursor:pointer}
"""

# the copy buttons of code blocks: copy the <pre> that follows the button's paragraph
_COPY_JS = ("document.addEventListener('click',function(e){var b=e.target.closest('button.copy');if(!b)return;"
            "var t=b.parentNode.nextElementSibling.textContent;if(!navigator.clipboard)return;"
            "navigator.clipboard.writeText(t).then(function(){b.textContent='Copied';"
            "setTimeout(function(){b.textContent='Copy'},1500)});});")


def _code_block(s: "Section") -> str:
    """A section's code: the intro paragraph, then every (label, code) in one collapsed <details>."""
    parts = [f"<h3>{html.escape(s.code_title)}</h3>"]
    if s.code_intro:
        parts.append(_paragraphs(s.code_intro))
    if s.code:
        n = len(s.code)
        parts.append(f"<details class='code'><summary>{html.escape(s.code_title)}: {n} snippet{'s' if n > 1 else ''}"
                     f"</summary>")
        for label, code in s.code:
            parts.append(f"<p class='snippet-label'><strong>{html.escape(label)}</strong>"
                         f"<button type='button' class='copy'>Copy</button></p>"
                         f"<pre><code>{html.escape(code)}</code></pre>")
        parts.append("</details>")
    return "\n".join(parts)


def _inline(text: str) -> str:
    out = html.escape(text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", out)


def _paragraphs(text: str) -> str:
    return "\n".join(f"<p>{_inline(p.strip())}</p>" for p in text.strip().split("\n\n") if p.strip())


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


_MARKS = {"✓": "ok", "✗": "no", "?": "maybe"}


def _cell(col, value) -> str:
    if col in ("verdict", "outcome"):
        return _verdict(str(value))
    if col == "" and value in _MARKS:
        return f'<span class="verdict {_MARKS[value]}">{value}</span>'
    return html.escape(_fmt(value))


def _table(rows: Sequence[Mapping]) -> str:
    rows = list(rows)
    if not rows:
        return ""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c, r.get(c, ''))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _verdict(v: str | None) -> str:
    if not v:
        return ""
    cls = "ok" if v in ("reproduced", "healthy") else "maybe" if v == "inconclusive" else "no"
    return f'<span class="verdict {cls}">{html.escape(v)}</span>'


def render(report: Report) -> str:
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>{html.escape(report.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{html.escape(report.title)}</h1>"]
    for w in report.warnings:
        parts.append(f"<p class='warning'><strong>Warning:</strong> {_inline(w)}</p>")
    parts.append(_paragraphs(report.intro))
    if report.summary:
        parts.append("<h2 id='summary'>Summary</h2>")
        parts.append(_table(report.summary))
    parts.append("<nav><ul>" + "".join(f"<li><a href='#{slug(s.title)}'>{html.escape(s.title)}</a></li>"
                                       for s in report.sections) + "</ul></nav>")
    for s in report.sections:
        parts.append(f"<section id='{slug(s.title)}'><h2>{html.escape(s.title)} {_verdict(s.verdict)}</h2>")
        parts.append(_paragraphs(s.explanation))
        for f in s.figures:
            data = base64.b64encode(f.png).decode("ascii")
            parts.append(f"<figure><img alt='{html.escape(f.caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{_inline(f.caption)}</figcaption></figure>")
        if s.source:
            parts.append(f"<p><strong>The source:</strong> {_inline(s.source)}</p>")
        for heading, rows in s.tables:
            if rows:
                parts.append(f"<h3>{html.escape(heading)}</h3>")
                parts.append(_table(rows))
        if s.numbers:
            parts.append("<h3>Settings</h3>" if s.tables else "<h3>The deciding numbers</h3>")
            parts.append(_table([{"quantity": k, "value": v} for k, v in s.numbers.items()]))
        if s.table:
            parts.append(_table(s.table))
        if s.command:
            parts.append(f"<p>Reproduce it with:</p><pre>{html.escape(s.command)}</pre>")
        if s.code or s.code_intro:
            parts.append(_code_block(s))
        parts.append("</section>")
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if any(s.code for s in report.sections):
        parts.append(f"<script>{_COPY_JS}</script>")
    parts.append(f"<footer><p><small>Generated by initlab on {stamp}.</small></p></footer></body></html>")
    return "\n".join(parts)


def write_report(report: Report, out_dir: str | os.PathLike) -> Path:
    """Write ``report.html`` and every figure as PNG into ``out_dir``; return the HTML's path.

    The folder is checked (created, written to) before anything is rendered, and each file is
    written whole or not at all, so a full disk or a bad path is one line naming the path and the
    cause, with no truncated or temporary file left behind."""
    from ..experiments.files import atomic_write, writable_dir

    out = writable_dir(out_dir, "out")
    for s in report.sections:
        for f in s.figures:
            atomic_write(out / f"{slug(f.name)}.png", f.png)
    path = out / "report.html"
    atomic_write(path, render(report))
    return path
