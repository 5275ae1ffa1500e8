"""The demo report shows, per claim, the Keras lines that rebuild the networks it compares — generated
from the settings the claim ran, HTML-escaped, collapsed, with a copy button — and says so where a
claim states no Keras setting. Rendered from results built here (no training: the lines depend only
on the settings, and running them is tested in tests/adapters/test_keras_claims.py)."""

from __future__ import annotations

import dataclasses
import html.parser

import pytest


class _Code(html.parser.HTMLParser):
    """Per section id: the text of each <pre><code> inside its <details class='code'>, the labels, and
    whether the block is collapsed."""

    def __init__(self):
        super().__init__()
        self.sections: dict = {}
        self._sid = None
        self._in_details = self._in_code = self._in_label = False
        self.open_details = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._sid = a["id"]
            self.sections[self._sid] = {"codes": [], "labels": [], "buttons": 0}
        elif tag == "details" and a.get("class") == "code":
            self._in_details = True
            self.open_details += "open" in a
        elif self._in_details and tag == "code":
            self._in_code = True
            self.sections[self._sid]["codes"].append("")
        elif self._in_details and tag == "p" and a.get("class") == "snippet-label":
            self._in_label = True
            self.sections[self._sid]["labels"].append("")
        elif self._in_details and tag == "button" and a.get("class") == "copy":
            self.sections[self._sid]["buttons"] += 1

    def handle_endtag(self, tag):
        if tag == "details":
            self._in_details = False
        elif tag == "code":
            self._in_code = False
        elif tag == "strong":
            self._in_label = False

    def handle_data(self, data):
        if self._in_code:
            self.sections[self._sid]["codes"][-1] += data
        elif self._in_label:
            self.sections[self._sid]["labels"][-1] += data


def _result(preset, name, settings):
    from initlab.experiments.presets import PresetResult

    return PresetResult(name=name, title=preset.title if name != "bare" else "A claim without a Keras setting",
                        claim=preset.claim, verdict="inconclusive", checks=[], rows=[], budget="quick", seed=0,
                        seeds=[0], seconds=0.0, command=f"initlab experiment {name} --quick", settings=settings,
                        source=preset.source.to_dict(), explanation=preset.explanation)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Every preset's quick settings (the symmetry claim's width changed, as an override would), plus a
    claim that states no Keras setting, rendered as the demo renders them."""
    from initlab.experiments import presets as P
    from initlab.experiments.suite import SuiteResult
    from initlab.report.demo import render_demo

    settings = {name: dict(p.budgets["quick"]) for name, p in P.PRESETS.items()}
    settings["symmetry"]["width"] = 24  # the lines follow the settings the claim ran, not its budget's defaults
    bare = dataclasses.replace(P.PRESETS["symmetry"], name="bare", keras=None, keras_note="")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(P.PRESETS, "bare", bare)
        results = {name: _result(P.PRESETS[name], name, s) for name, s in settings.items()}
        results["bare"] = _result(bare, "bare", dict(bare.budgets["quick"]))
        path = render_demo(SuiteResult(results, {}, budget="quick"), tmp_path_factory.mktemp("keras-report"))
    return results, path.read_text(encoding="utf-8")


def _sections(results, text):
    from initlab.report.html import slug

    parser = _Code()
    parser.feed(text)
    return {name: parser.sections[slug(r.title)] for name, r in results.items()}, parser


def test_each_claim_shows_the_keras_lines_of_the_settings_it_ran(report):
    from initlab.experiments.claim import keras_of
    from initlab.experiments.presets import PRESETS

    results, text = report
    sections, parser = _sections(results, text)
    assert parser.open_details == 0  # collapsed
    for name, r in results.items():
        if name == "bare" or PRESETS[name].keras is None:  # a claim with no Keras MLP (mup-transfer) says so
            continue
        want, note = keras_of(PRESETS[name], r.settings)
        got = sections[name]
        assert want, name
        assert got["codes"] == [s.lines() for s in want], name  # the text a reader copies is the code, unescaped
        assert got["labels"] == [s.label for s in want] and got["buttons"] == len(want), name
        assert "keras.Sequential" in got["codes"][0] and "kernel_initializer=" in got["codes"][0], name
        if note:
            assert note.split("`")[0].replace("'", "&#x27;") in text, name
    assert "keras.layers.Dense(24, activation=&#x27;relu&#x27;" in text  # the run's width, escaped
    assert "keras.layers.Dense(32, activation=&#x27;relu&#x27;, kernel_initializer=&#x27;zeros&#x27;" not in text
    assert "initlab.keras.lsuv(model, x_train[:512], tol=0.1, max_iter=10)" in sections["lsuv"]["codes"][0]
    assert text.count("<script>") == 1 and "navigator.clipboard.writeText" in text


def _with_keras():
    from initlab.experiments.presets import PRESETS

    return {name for name, p in PRESETS.items() if p.keras is not None}


PRESETS_WITH_KERAS = _with_keras()


def test_a_claim_without_a_keras_setting_says_so(report):
    results, text = report
    sections, _ = _sections(results, text)
    assert sections["bare"]["codes"] == []
    from initlab.report.html import slug

    block = text[text.index(f"<section id='{slug(results['bare'].title)}'>"):]
    block = block[:block.index("</section>")]
    assert "This claim has no Keras equivalent" in block
    assert all("This claim has no Keras equivalent" not in
               text[text.index(f"<section id='{slug(r.title)}'>"):].split("</section>")[0]
               for name, r in results.items() if name != "bare" and r.name in PRESETS_WITH_KERAS)
    # a real claim without Keras lines (mup-transfer: μP sets per-layer learning rates) says so, with its note
    from initlab.experiments.presets import PRESETS

    for name in set(results) - PRESETS_WITH_KERAS - {"bare"}:
        block = text[text.index(f"<section id='{slug(results[name].title)}'>"):].split("</section>")[0]
        assert "This claim has no Keras equivalent" in block and PRESETS[name].keras_note[:30] in block, name


def test_code_is_escaped():
    """A label or a line with markup is shown as text, never as HTML."""
    from initlab.report.html import Report, Section, render

    page = render(Report("t", "i", [Section("s", "e", code=[("<b>x</b>", "print('<script>alert(1)</script>')")],
                                            code_title="Keras & co", code_intro="`a < b`")]))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Keras &amp; co" in page and "<code>a &lt; b</code>" in page


@pytest.mark.slow
def test_the_copy_button_copies_the_code_in_a_browser(report, tmp_path):
    """In headless Chromium: the block opens, the copy button puts the snippet's exact text on the
    clipboard, and the page has no error."""
    from browser import chromium

    from initlab.experiments.claim import keras_of
    from initlab.experiments.presets import PRESETS
    from initlab.report.html import slug

    results, text = report
    want = keras_of(PRESETS["lsuv"], results["lsuv"].settings)[0][0].lines()
    path = tmp_path / "report.html"
    path.write_text(text, encoding="utf-8")
    errors = []
    with chromium() as browser:
        context = browser.new_context()
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        section = page.locator(f"section#{slug(results['lsuv'].title)}")
        button = section.locator("button.copy").first
        assert not button.is_visible()  # collapsed
        section.locator("details.code summary").click()
        button.click()
        page.wait_for_function("document.querySelector('section#%s button.copy').textContent === 'Copied'"
                               % slug(results["lsuv"].title))
        copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == want
    assert errors == []
