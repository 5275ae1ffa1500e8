"""The report: built from a small real run, every figure a PNG with plotted data, the HTML
self-contained, and a real headless browser finds every section and image with no console error."""

import html.parser
import base64

import numpy as np
import pytest
from browser import chromium

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes to 0-255 pixels (Pillow, through matplotlib); raises on an invalid file."""
    import io

    import matplotlib.image

    assert data[:8] == PNG_SIGNATURE, "not a PNG signature"
    img = matplotlib.image.imread(io.BytesIO(data), format="png")
    return np.round(np.asarray(img) * 255).astype(np.int32)


def assert_has_plotted_data(png: bytes, name: str):
    img = decode_png(png)[..., :3]
    h, w, _ = img.shape
    assert h > 150 and w > 200, f"{name}: {w}×{h} is too small to be a figure"
    non_white = (img < 245).any(axis=2).mean()
    colours = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    # an empty matplotlib axes is ~2-4 % ink in a handful of greys; plotted data adds colour and ink
    coloured = ((img.max(axis=2) - img.min(axis=2)) > 40).mean()
    assert non_white > 0.05, f"{name}: only {non_white:.1%} of pixels carry ink"
    assert colours > 30, f"{name}: only {colours} distinct colours"
    assert coloured > 0.002, f"{name}: only {coloured:.2%} coloured pixels (no plotted series?)"


class _Collect(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.ids, self.links, self.scripts = [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if "id" in a and tag == "section":
            self.ids.append(a["id"])
        if tag == "link":
            self.links.append(a)
        if tag == "script":
            self.scripts.append(a)


SMOKE = {"symmetry": {"epochs": 1, "seeds": 2, "width": 8},
         "vanishing": {"epochs": 1, "seeds": 2, "width": 16, "depth": 4},
         "activation-guide": {"seeds": 2, "epochs": 1, "width": 8,
                              "cells": {"sigmoid": ((2, "sgd", (0.3,)),), "relu": ((2, "sgd", (0.03,)),)}}}


@pytest.fixture(scope="module")
def small_report(tmp_path_factory):
    """The demo's report rendered from presets run at a smoke budget and small illustrations (the
    measuring is tested in tests/experiments; here the rendering is)."""
    from initlab.experiments import illustrations
    from initlab.experiments.presets import run_preset
    from initlab.experiments.suite import SuiteResult
    from initlab.report.demo import render_demo

    out = tmp_path_factory.mktemp("report")
    results = {name: run_preset(name, budget="quick", overrides=o) for name, o in SMOKE.items()}
    suite = SuiteResult(results, {"schemes": illustrations.scheme_draws(0, shape=(64, 96)),
                                  "phase": illustrations.phase_rows(sigma_w2=np.linspace(0.5, 3, 11),
                                                                    sigma_b2=np.linspace(0, 0.2, 5))},
                        budget="quick", seconds=1.0, cpu_seconds=1.0)
    return out, suite, render_demo(suite, out)


@pytest.mark.slow
def test_report_builds_with_valid_figures(small_report):
    out, suite, path = small_report
    assert path == out / "report.html" and path.is_file()
    pngs = sorted(out.glob("*.png"))
    expected = {"weights-by-scheme", "phase-diagram"} | {f["name"] for r in suite.results.values() for f in r.figures}
    assert {p.stem for p in pngs} == expected
    for p in pngs:
        assert_has_plotted_data(p.read_bytes(), p.name)


@pytest.mark.slow
def test_the_summary_has_one_line_per_check_and_every_section_its_source(small_report):
    out, suite, path = small_report
    text = path.read_text(encoding="utf-8")
    summary = text[text.index("id='summary'"):text.index("<nav>")]
    n_checks = sum(len(r.checks) for r in suite.results.values())
    assert summary.count("<tr>") == n_checks + 1  # header + one row per check
    for r in suite.results.values():
        assert r.title in text and r.command in text
        for c in r.checks:
            assert c["criterion"].replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;") in text
        assert "The source&#x27;s figure beside ours" in text and r.source["shows"][:40] in text.replace("&#x27;", "'")
    for outcome in {r.verdict for r in suite.results.values()}:
        assert f">{outcome}</span>" in text


@pytest.mark.slow
def test_html_references_only_embedded_assets(small_report):
    out, suite, path = small_report
    text = path.read_text(encoding="utf-8")
    parser = _Collect()
    parser.feed(text)
    assert parser.imgs, "no images in the report"
    for src in parser.imgs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        assert_has_plotted_data(base64.b64decode(src.split(",", 1)[1]), "embedded image")
    assert not parser.links and not any("src" in s for s in parser.scripts)
    assert "http://" not in text and "https://" not in text and "url(" not in text
    # every section the run produced is in the table of contents
    for sid in parser.ids:
        assert f"href='#{sid}'" in text
    assert "Zero and constant weights never break symmetry" in text
    assert "initlab experiment symmetry --quick" in text  # the command that reproduces it


def test_every_figure_function_plots_measured_data(tmp_path):
    """Each figure kind, fed with data measured here (not constants), yields a PNG with plotted data."""
    import torch

    import initlab
    from initlab import theory
    from initlab.experiments import illustrations
    from initlab.report import figures as F

    pngs = {"weights": F.weight_histograms(illustrations.scheme_draws(0, shape=(32, 48)), "weights")}
    net = torch.nn.Sequential(*[m for _ in range(4) for m in (torch.nn.Linear(32, 32), torch.nn.Tanh())])
    initlab.initialize(net, seed=0)
    acts, h = [], torch.randn(256, 32, generator=torch.Generator().manual_seed(0))
    for m in net:
        h = m(h)
        if isinstance(m, torch.nn.Tanh):
            acts.append(h.detach().numpy())
    stds = [float(a.std()) for a in acts]
    pngs["profile"] = F.layer_profile([{"scheme": "glorot", "layer": i + 1, "act_std": s, "grad_std": s / 2}
                                       for i, s in enumerate(stds)], "profile")
    pngs["curves"] = F.training_curves([{"label": "a", "epoch": e, "train_loss": 1 / (1 + e + stds[0]),
                                         "test_acc": min(0.99, 0.1 * e + stds[1])} for e in range(5)], "curves", 0.1)
    pngs["gradients"] = F.gradient_profile([{"label": lab, "layer": i + 1, "grad_std": s ** (k + 1)}
                                            for k, lab in enumerate("ab") for i, s in enumerate(stds)], "gradients")
    hist = [{"layer": i + 1, "seed": 0, "bin": float(b), "fraction": float(f)} for i, a in enumerate(acts)
            for b, f in zip(*reversed(np.histogram(a, bins=20, range=(-1, 1))))]
    pngs["lines"] = F.lines(hist, "bin", "fraction", "layer", "lines", panels="", xlabel="tanh output")
    pngs["bars"] = F.bars([{"cell": c, "scheme": s, "seed": k, "acc": stds[k] * (1 + j)}
                           for c in ("a", "b") for j, s in enumerate(("x", "y")) for k in range(3)],
                          "cell", "acc", "scheme", "bars")
    pngs["heat"] = F.accuracy_heatmap([{"scheme": s, "activation": a, "test_acc": abs(np.tanh(i + j * stds[0]))}
                                       for i, s in enumerate(["he", "glorot"]) for j, a in
                                       enumerate(["relu", "tanh"])], "heat")
    pngs["phase"] = F.phase_diagram({"tanh": theory.phase_diagram("tanh", np.linspace(0.5, 3, 12),
                                                                  np.linspace(0, 0.2, 6))})
    for name, png in pngs.items():
        assert_has_plotted_data(png, name)


def test_blank_figure_is_rejected_by_the_check():
    """The plotted-data check can fail: an empty axes does not pass it."""
    from initlab.report import figures as F

    plt = F._plt()
    fig, ax = plt.subplots(figsize=(5, 3))
    with pytest.raises(AssertionError):
        assert_has_plotted_data(F.to_png(fig), "empty")


@pytest.mark.slow
def test_sweep_run_dir_renders(tmp_path):
    from initlab.experiments.sweep import run_sweep
    from initlab.report.sweep_report import render_run_dir

    out = tmp_path / "run"
    run_sweep({"scheme": ["he_normal", "glorot_normal"], "activation": ["relu", "tanh"], "depth": [2],
               "width": [16], "seed": [0], "epochs": 2, "dataset": ["digits"]}, out, progress=False)
    path = render_run_dir(out).path
    assert path.is_file()
    pngs = list(path.parent.glob("*.png"))
    assert {p.stem for p in pngs} >= {"sweep-curves", "sweep-heatmap"}
    for p in pngs:
        assert_has_plotted_data(p.read_bytes(), p.name)


def test_report_of_a_missing_run_dir_is_a_clear_error(tmp_path):
    from initlab.errors import InitlabError
    from initlab.report.sweep_report import render_run_dir

    with pytest.raises(InitlabError, match="has no config.json"):
        render_run_dir(tmp_path)


@pytest.mark.slow
def test_headless_browser_opens_the_report(small_report):
    out, suite, path = small_report
    parser = _Collect()
    parser.feed(path.read_text(encoding="utf-8"))
    errors = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        for sid in parser.ids:
            assert page.locator(f"section#{sid} h2").count() == 1, sid
        images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
    assert len(images) == len(parser.imgs) > 0
    assert all(done and width > 0 for done, width in images), images
    assert errors == []


@pytest.mark.slow
def test_doctor_report(tmp_path):
    from click.testing import CliRunner

    from initlab.cli import main

    out = tmp_path / "doc"
    res = CliRunner().invoke(main, ["doctor", "mlp:depth=20,width=128,act=relu,init=xavier_normal", "--batch-size",
                                    "128", "--fix", "auto", "--report", str(out)])
    assert res.exit_code == 0, res.output
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "vanishing" in text and "After --fix auto" in text and "healthy" in text
    assert "initlab doctor" in text and "--fix auto" in text
    assert_has_plotted_data((out / "doctor-profile.png").read_bytes(), "doctor-profile.png")


def test_profile_rows_compare_like_with_like():
    """Each layer's measured output std sits next to the prediction of the same quantity: after its
    activation (pred_out_var) when one follows, its own output (pred_preact_var) otherwise."""
    import torch

    import initlab
    from initlab.report.profile import profile_rows

    net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 4))
    initlab.initialize(net, seed=0)
    x = torch.randn(256, 16, generator=torch.Generator().manual_seed(1))
    rec = initlab.probe(net, x)
    weights, acts = rec.where("weight"), rec.where("activation")
    rows = profile_rows(rec, "glorot")
    assert [r["act_std"] for r in rows] == [acts[0]["std"], acts[1]["std"], weights[2]["std"]]
    assert rows[0]["pred_act_std"] == pytest.approx(weights[0]["pred_out_var"] ** 0.5)
    assert rows[2]["pred_act_std"] == pytest.approx(weights[2]["pred_preact_var"] ** 0.5)
    assert rows[2]["pred_grad_std"] == pytest.approx(weights[2]["grad_std"])  # the anchor
    assert len(profile_rows(rec, "glorot", hidden_only=True)) == 2


# ------------------------------------------------------------------------------ no empty panel


class AxesWalker:
    """Collects every axes of every figure rendered while it is installed."""

    def __init__(self):
        self.axes: list[tuple[str, str]] = []  # (figure title, axes title) of each empty visible axes
        self.seen = 0

    def __call__(self, fig):
        title = fig._suptitle.get_text() if fig._suptitle is not None else ""
        for ax in fig.get_axes():
            if not ax.get_visible():
                continue
            self.seen += 1
            if not ax.has_data():
                self.axes.append((title, ax.get_title()))


@pytest.fixture
def walker(monkeypatch):
    from initlab.report import figures as F

    w = AxesWalker()
    monkeypatch.setattr(F, "INSPECTORS", [w])
    return w


def test_the_walker_finds_an_empty_axes(walker):
    """The check can fail: a figure with a panel left empty is caught."""
    from initlab.report import figures as F

    # a profile with gradients only draws one panel (an empty "forward" panel was once drawn here)
    F.layer_profile([{"scheme": "a", "layer": 1, "act_std": float("nan"), "grad_std": 0.5},
                     {"scheme": "a", "layer": 2, "act_std": float("nan"), "grad_std": 0.7}], "gradients only")
    assert walker.seen == 1 and walker.axes == []
    plt = F._plt()
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([1, 2], [3, 4])
    F.to_png(fig)
    assert walker.seen == 3 and walker.axes == [("", "")]


@pytest.mark.slow
def test_the_sweep_report_has_no_empty_panel(tmp_path, walker):
    from initlab.experiments.sweep import run_sweep
    from initlab.report.sweep_report import render_run_dir

    out = tmp_path / "run"
    run_sweep({"scheme": ["he_normal", "random_normal(std=0.01)"], "activation": ["relu", "tanh"], "depth": [2],
               "width": [8], "seed": [0, 1], "epochs": 2, "grad_std_steps": [0]}, out, progress=False)
    render_run_dir(out)
    assert walker.seen >= 4 and walker.axes == []
    page = (out / "report" / "report.html").read_text()
    assert "random_normal(std=0.01)" in page  # the scheme with its parameters
    assert "scheme=" not in page and "activation=" not in page  # short legends and labels
    assert "<td>varied</td>" in page and "<td>fixed</td>" in page and '{"' not in page  # a table, not JSON
