"""The documentation site builds with warnings as errors, has every generated page, and every guide
in its navigation exists."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from docs_site import DOCS, ROOT, build_site

pytestmark = pytest.mark.slow


def _text(html: str) -> str:
    """A page's visible text: tags stripped, entities decoded."""
    import html as _html

    return _html.unescape(re.sub(r"<[^>]+>", "", html))


def _toctree_entries(page: Path, caption: str) -> list[str]:
    text = page.read_text()
    for m in re.finditer(r"```\{toctree\}\n(.*?)```", text, re.S):
        body = m.group(1)
        if re.search(rf"^:caption: {re.escape(caption)}$", body, re.M):
            return [ln.strip() for ln in body.splitlines() if ln.strip() and not ln.startswith(":")]
    raise AssertionError(f"{page} has no toctree captioned {caption!r}")


def test_every_guide_in_the_nav_exists_and_every_guide_is_in_the_nav():
    listed = _toctree_entries(DOCS / "index.md", "Guides")
    assert listed, "the Guides table of contents is empty"
    missing = [e for e in listed if not (DOCS / f"{e}.md").exists()]
    assert not missing, f"guides listed in the navigation without a page: {missing}"
    files = sorted(f"guides/{p.stem}" for p in (DOCS / "guides").glob("*.md"))
    assert sorted(listed) == files, f"guide pages not in the navigation: {sorted(set(files) - set(listed))}"
    for required in ("getting-started", "concepts", "models", "diagnosing", "theory", "experiments", "playground",
                     "keras-jax", "width", "scale-out", "depth"):
        assert f"guides/{required}" in listed


def test_the_site_builds_with_one_page_per_scheme(site):
    import initlab

    for row in initlab.list_schemes():
        page = site / "_generated" / "schemes" / f"{row['name']}.html"
        assert page.exists(), f"no page for scheme {row['name']}"
        html = _text(page.read_text())
        assert row["source"] in html and row["formula"] in html
        for alias in row["aliases"]:
            assert alias in html, f"{row['name']}: alias {alias} missing from its page"
        img = site / "_images" / f"{row['name']}.png"
        assert img.exists() and img.stat().st_size > 5000, f"{row['name']}: no histogram"


def test_scheme_page_states_the_law_and_its_equivalents(site):
    text = _text((site / "_generated" / "schemes" / "he_normal.html").read_text())
    assert "N(0, 2/((1+a²)·fan))" in text
    assert "torch.nn.init.kaiming_normal_(w, a, mode, nonlinearity)" in text
    assert "the same values from the same torch.Generator" in text
    # the std for 256×784 is √(2/784), computed here independently
    assert f"{(2 / 784) ** 0.5:.6g}" in text
    assert "He et al. 2015" in text


def test_cli_reference_is_every_commands_own_help(site):
    from click.testing import CliRunner

    from initlab.cli import main

    text = (site / "_generated" / "cli.html").read_text()
    for name in main.list_commands(None):
        assert f'id="initlab-{name}"' in text or f"initlab {name}" in text, f"command {name} missing"
        first_help_line = CliRunner().invoke(main, [name, "--help"]).output.split("\n\n")[1].strip().split("\n")[0]
        plain = _text(text)
        assert first_help_line.strip() in plain, f"{name}: its --help text is not on the page"


def test_api_reference_documents_the_public_names(site):
    import initlab

    index = (site / "_generated" / "api" / "initlab.html").read_text()
    for name in ("initialize", "probe", "diagnose", "lsuv", "materialize", "get", "Distribution"):
        assert f'id="initlab.{name}"' in index, f"initlab.{name} is not in the API reference"
    schemes = (site / "_generated" / "api" / "initlab.schemes.html").read_text()
    assert 'id="initlab.schemes.registry.HeNormal"' in schemes or "HeNormal" in schemes
    assert initlab.__version__ in (site / "index.html").read_text()


def _public_modules() -> list[str]:
    """Every public module of initlab (no part of its name starts with an underscore), the CLI aside."""
    import pkgutil

    import initlab

    return sorted(m.name for m in pkgutil.walk_packages(initlab.__path__, "initlab.")
                  if not any(part.startswith("_") for part in m.name.split(".")[1:])
                  and m.name.split(".")[1] not in ("cli", "__main__"))


def test_api_reference_has_a_page_per_public_module(site):
    """Every public module, nested ones included (experiments.claim/verdict/stats/claims, parametrize.rules …),
    has its page with its own description; the optional frameworks' modules are documented (the dev extras
    install Keras and JAX), not replaced by the note for a missing extra."""
    api = site / "_generated" / "api"
    missing = [m for m in _public_modules() if not (api / f"{m}.html").exists()]
    assert not missing, f"public modules without an API page: {missing}"
    for module in ("initlab.experiments.claim", "initlab.experiments.verdict", "initlab.experiments.stats",
                   "initlab.experiments.claims", "initlab.parametrize", "initlab.distributed", "initlab.adapters",
                   "initlab.keras", "initlab.jax", "initlab.serve", "initlab.activations", "initlab.errors"):
        html = (api / f"{module}.html").read_text()
        assert f'id="module-{module}"' in html, f"{module}: no module description"
        assert "reference is not on this build" not in html, f"{module}: not documented on this build"
    verdict = (api / "initlab.experiments.verdict.html").read_text()
    assert 'id="initlab.experiments.verdict.at_least"' in verdict
    claim = (api / "initlab.experiments.claim.html").read_text()  # re-exported by initlab.experiments: linked
    assert 'href="initlab.experiments.html#initlab.experiments.Preset"' in claim
    keras = (api / "initlab.keras.html").read_text()
    assert 'id="initlab.keras.get"' in keras


def test_docstring_bars_are_escaped_outside_literals_and_maths():
    """Docstrings write |x| for absolute values; reST would read a substitution (an error with -W)."""
    import sys

    sys.path.insert(0, str(DOCS / "_ext"))
    from initlab_pages import escape_bars

    lines = ["mean |x| and ``|x|`` and :math:`|x|`", ".. math::", "", "   |x| = 1", "", "then |T| > t", "| a line block"]
    escape_bars(lines)
    assert lines == ["mean \\|x\\| and ``|x|`` and :math:`|x|`", ".. math::", "", "   |x| = 1", "",
                     "then \\|T\\| > t", "| a line block"]


def _activation_names() -> list[str]:
    try:
        from initlab.activations import CATALOGUE
    except ImportError:
        from initlab.model.activations import ACTIVATION_MODULES

        return [name for _, name in ACTIVATION_MODULES]
    return [r.name for r in CATALOGUE]


def test_activation_table_has_a_row_per_catalogue_entry(site):
    text = (site / "_generated" / "activations.html").read_text()
    rows = re.findall(r"<tr class=\"row-(?:odd|even)\">(.*?)</tr>", text, re.S)
    names = _activation_names()
    assert len(rows) == len(names) + 1  # + the header row
    for name in names:
        assert f"<strong>{name}</strong>" in text, name
    relu = next(r for r in rows if "<strong>relu</strong>" in r)
    cells = [_text(c).strip() for c in re.findall(r"<td>(.*?)</td>", relu, re.S)]
    # auto and the fix are He's; PyTorch's gain √2 = 1.4142; ReLU's edge of chaos is σ_w² = 2 (all derived here)
    assert cells[1:] == ["he_normal", "he_normal", f"{2 ** 0.5:.5g}", f"{2 ** 0.5:.5g}", "2"], cells


def test_claims_page_lists_every_preset(site):
    from initlab.experiments.presets import PRESETS

    html = (site / "_generated" / "claims.html").read_text()
    text = _text(html)
    for name, preset in PRESETS.items():
        assert f'id="claim-{name}"' in html, f"claim {name} has no anchor"
        assert f"initlab experiment {name}" in text and preset.claim.split(" (")[0] in text
        section = text[text.index(preset.claim.split(" (")[0]):]
        section = section[:section.index(f"initlab experiment {name}")]
        # the setting, the criteria (judge's own words) and how the verdict is decided, for this claim
        for heading in ("Setting", "Criteria", "Verdict"):
            assert heading in section, f"{name}: no {heading} on the claims page"
        criteria = " ".join((preset.judge.__doc__ or "").replace("``", "").split())
        assert criteria and " ".join(criteria.split()[:6]) in " ".join(section.split()), f"{name}: criteria missing"
        assert f"{preset.budgets['quick']['seeds']} (quick)" in section
    assert "inconclusive" in text and "95 % Student-t" in text


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href") and a.get("rel") not in ("canonical",):
            self.urls.append(a["href"])


def test_no_page_references_an_external_asset(site):
    bad = {}
    for page in site.rglob("*.html"):
        parser = _Assets()
        parser.feed(page.read_text())
        external = [u for u in parser.urls if re.match(r"^(https?:)?//", u)]
        if external:
            bad[str(page.relative_to(site))] = external
    assert not bad, f"pages loading assets from outside the site: {bad}"
    css = "\n".join(p.read_text(errors="replace") for p in site.rglob("*.css"))
    assert not re.search(r"@import\s+url\((['\"])?https?:|url\((['\"])?https?://", css), "a stylesheet loads a remote URL"


def test_scripts_docs_and_the_test_build_are_strict_in_the_same_way():
    """scripts/docs and the suite's build both treat warnings as errors (the suite's build is the fixture
    above: it fails on any warning, which is how CI fails on one)."""
    script = (ROOT / "scripts" / "docs").read_text()
    assert re.search(r"python -m sphinx -b html -W --keep-going .* docs site", script)
    import inspect

    assert '"-W", "--keep-going"' in inspect.getsource(build_site)


def test_a_module_page_describes_each_name_once():
    """A name listed twice (a scheme class whose constructor has the same name, as ``ZerO``) would be two
    descriptions of one object, which Sphinx refuses (-W)."""
    import sys

    sys.path.insert(0, str(DOCS / "_ext"))
    from initlab_pages import _module_page

    page = _module_page("initlab.schemes", {}, ["HeNormal", "HeNormal", "he_normal"])
    assert page.count(".. autoclass:: initlab.schemes.registry.HeNormal\n") == 1
    assert page.count(".. autofunction:: initlab.schemes.registry.he_normal\n") == 1
