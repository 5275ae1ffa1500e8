"""Sphinx configuration of initlab's documentation site (built by ``scripts/docs`` into ``site/``).

Why Sphinx: initlab's docstrings are reStructuredText (``literal``, :class:`roles`), which autodoc
renders as written; Sphinx 9, furo and MyST are actively released; Sphinx's own search runs in the
browser from a local index (no server, works from file://); and furo ships its fonts and scripts
(no CDN, no web fonts). Pages that must stay true to the code are generated at build time by the
local extension ``_ext/initlab_pages.py`` (schemes, CLI, API, activations, claims).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

# Keras picks its backend when first imported: the torch backend (installed with initlab) lets the API
# reference document initlab.keras without TensorFlow; a backend chosen by the caller is kept
os.environ.setdefault("KERAS_BACKEND", "torch")

import initlab  # noqa: E402

project = "initlab"
author = "initlab contributors"
copyright = "initlab contributors"
release = initlab.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "initlab_pages",
    "initlab_mathml",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "README*"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc: members in source order, signatures without the noise of long defaults
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_preserve_defaults = True
add_module_names = False
# straight quotes: scheme names, shapes and commands are copied from the page as written
smartquotes = False

# HTML: furo, no external asset of any kind (no web fonts, no CDN, no analytics)
html_theme = "furo"
html_title = f"initlab {release}"
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "navigation_with_keys": True,
    "top_of_page_buttons": [],
}
# maths in docstrings (``.. math::``) becomes MathML at build time (_ext/initlab_mathml.py): no MathJax from a
# CDN; tests/docs checks in a browser that no page requests anything outside the site
html_math_renderer = "mathml"
