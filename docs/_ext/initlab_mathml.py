"""Maths in the docstrings rendered as MathML when the site is built: no MathJax, nothing loaded
from a CDN, nothing to run in the browser (Chromium, Firefox and Safari render MathML natively).

The LaTeX-to-MathML converter is docutils' own (``docutils.utils.math.latex2mathml``). initlab's
docstrings mix Unicode into their LaTeX (σ_w², ·, ∼); the characters it does not read are mapped
to their LaTeX commands first. A formula it cannot convert is a build warning (an error under -W),
never a silently missing formula.
"""

from __future__ import annotations

import html
import re

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

UNICODE_TO_LATEX = {
    "∼": r"\sim ", "²": "^{2}", "³": "^{3}", "·": r"\cdot ", "−": "-", "≤": r"\le ", "≥": r"\ge ",
    "≈": r"\approx ", "∞": r"\infty ", "₀": "_{0}", "₁": "_{1}", "₂": "_{2}", "×": r"\times ",
    "→": r"\to ", "′": "'", "∈": r"\in ", "∑": r"\sum ", "∏": r"\prod ", "≠": r"\ne ",
}


def to_mathml(latex: str, block: bool) -> str:
    from docutils.utils.math import latex2mathml

    for uni, tex in UNICODE_TO_LATEX.items():
        latex = latex.replace(uni, tex)
    latex = re.sub(r"\\[Bb]igg?[lr]?(?![A-Za-z])", "", latex)  # size hints: MathML stretches delimiters itself
    return latex2mathml.tex2mathml(latex, as_block=block)


def _render(self, node, latex: str, block: bool) -> str:
    try:
        return to_mathml(latex, block)
    except Exception as e:  # noqa: BLE001 - docutils raises its own MathError and SyntaxErrors
        logger.warning("maths that cannot be rendered as MathML (%s): %s", e, latex, location=node)
        return f'<code class="math">{html.escape(latex)}</code>'


def visit_math(self, node):
    self.body.append(_render(self, node, node.astext(), block=False))
    raise nodes.SkipNode


def visit_displaymath(self, node):
    parts = [p for p in node.astext().split("\n\n") if p.strip()] if not node.get("nowrap") else [node.astext()]
    self.body.append('<div class="math notranslate">' + "".join(_render(self, node, p, True) for p in parts)
                     + "</div>")
    raise nodes.SkipNode


def setup(app):
    app.add_html_math_renderer("mathml", (visit_math, None), (visit_displaymath, None))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
