"""``initlab demo``: every claim about initialization, reproduced on real data over paired seeds, as a
self-contained HTML report with the figures, the deciding numbers and the source's own figures beside
ours.

The measuring is done by :func:`initlab.experiments.suite.run_suite` (the presets and the
illustrations); this module only renders what they return: each figure is drawn from a preset's
result rows as its :class:`~initlab.experiments.claim.FigureSpec` describes, and each number comes
from a check or a comparison row. Nothing is computed here and nothing is typed in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import figures as F
from .html import Figure, Report, Section, write_report

__all__ = ["run_demo", "render_demo", "DemoResult", "PRESET_ORDER", "summary_rows", "EXPLANATIONS", "TITLES"]

MARKS = {"reproduced": "✓", "contradicted": "✗", "inconclusive": "?"}

EXPLANATIONS = {
    "schemes": (
        "Every scheme is a probability law for the weights of one layer, and initlab resolves it for a shape "
        "before drawing anything. Xavier/Glorot picks the variance 2/(fan_in+fan_out) so that the variance of "
        "the signal stays the same forward and backward through a layer of tanh units. He/Kaiming doubles it to "
        "2/fan_in, because ReLU zeroes half of its inputs. LeCun's 1/fan_in keeps SELU networks at mean 0 and "
        "variance 1.\n\n"
        "The histograms are the values initlab drew for a 256×784 layer. The red curve is the law computed "
        "without sampling. The truncated laws (Keras's `HeNormal` …) cut at ±2σ and widen σ so that the "
        "variance is unchanged."),
    "theory": (
        "Mean-field theory (Poole et al. 2016; Schoenholz et al. 2017) tracks the variance q of the "
        "pre-activations layer to layer, q ← σ_w²·E[φ(√q z)²] + σ_b², and the slope χ₁ = σ_w²·E[φ′(√q* z)²] at "
        "its fixed point. When χ₁ < 1 (ordered phase) gradients vanish exponentially with depth; when χ₁ > 1 "
        "(chaotic phase) they explode. Only near the critical line χ₁ = 1 can very deep networks train. For "
        "ReLU that line is σ_w² = 2, which is exactly He's variance; for tanh at σ_b = 0 it is σ_w² = 1.\n\n"
        "The colours are log χ₁ computed by numerical integration, and the black line is where χ₁ = 1."),
}

TITLES = {"schemes": "What each scheme draws", "theory": "The edge of chaos: where deep networks can train"}


def _order():
    from ..experiments.presets import PRESETS

    return tuple(PRESETS)


PRESET_ORDER = _order()
"""Every preset, in the order the report shows them."""


@dataclass
class DemoResult:
    """Where the report was written, each preset's result, and the wall and CPU seconds it took."""

    report: Path
    results: dict  # preset name -> PresetResult
    seconds: float
    cpu_seconds: float = 0.0
    jobs: int = 1


# -- figures from rows ----------------------------------------------------------------------------
def _select(rows, where):
    return [r for r in rows if all(r.get(k) == v for k, v in where.items())]


def _profile_rows(rows, series):
    """Per (series, layer): the mean over seeds of the measured and predicted stds."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r[series], r["layer"]), []).append(r)
    out = []
    for (label, layer), rs in groups.items():
        def mean(key):
            v = np.array([x.get(key, np.nan) for x in rs], dtype=float)
            v = v[np.isfinite(v)]
            return float(v.mean()) if v.size else float("nan")
        out.append({"scheme": str(label), "layer": layer, "act_std": mean("act_std"), "grad_std": mean("grad_std"),
                    "pred_act_std": mean("pred_act_std"), "pred_grad_std": mean("pred_grad_std")})
    return out


def render_figure(spec: dict, rows) -> Figure:
    """Draw the figure a :class:`~initlab.experiments.claim.FigureSpec` (as a dict) describes from rows."""
    data = _select(rows, spec.get("where") or {})
    kind = spec["kind"]
    if kind == "profile":
        png = F.layer_profile(_profile_rows(data, spec["series"]), spec["title"])
    elif kind == "bars":
        png = F.bars(data, spec["x"], spec["y"], spec["series"], spec["title"], ylabel=spec.get("ylabel", ""),
                     hline=spec.get("hline"), percent=spec.get("percent", False))
    elif kind == "lines":
        png = F.lines(data, spec["x"], spec["y"], spec.get("series", ""), spec["title"], panels=spec.get("panels", ""),
                      xlabel=spec.get("xlabel", ""), ylabel=spec.get("ylabel", ""), logx=spec.get("logx", False),
                      logy=spec.get("logy", False), hline=spec.get("hline"), percent=spec.get("percent", False))
    else:
        raise ValueError(f"figure kind {kind!r} is not one the report draws")
    return Figure(spec["name"], png, spec["caption"])


def _phase_figure(rows) -> Figure:
    diagrams = {}
    for act in dict.fromkeys(r["activation"] for r in rows if r["part"] == "chi1"):
        cells = [r for r in rows if r["part"] == "chi1" and r["activation"] == act]
        w2 = sorted({r["sigma_w2"] for r in cells})
        b2 = sorted({r["sigma_b2"] for r in cells})
        chi = np.full((len(b2), len(w2)), np.nan)
        for r in cells:
            chi[b2.index(r["sigma_b2"]), w2.index(r["sigma_w2"])] = r["chi1"]
        crit = {r["sigma_b2"]: r["critical_sigma_w2"] for r in rows if r["part"] == "critical" and r["activation"] == act}
        diagrams[act] = {"sigma_w2": np.array(w2), "sigma_b2": np.array(b2), "chi1": chi,
                         "critical_sigma_w2": np.array([crit[b] for b in b2])}
    return Figure("phase-diagram", F.phase_diagram(diagrams), "χ₁ over (σ_w², σ_b²) for tanh and ReLU; black: χ₁ = 1.")


# -- sections ---------------------------------------------------------------------------------------
def _checks_table(result) -> list[dict]:
    return [{"": MARKS[c["outcome"]], "criterion": c["criterion"], "measured": c["measured"], "outcome": c["outcome"]}
            for c in result.checks]


def _source_table(result) -> list[dict]:
    return [{"quantity": c["quantity"], f"source ({result.source.get('citation', '')})": c["source"],
             "ours": c["ours"]} for c in result.comparison]


def _section(result) -> Section:
    figures = [render_figure(spec, result.rows) for spec in result.figures]
    seeds = result.seeds
    numbers = {"seeds (paired)": f"{len(seeds)}: {', '.join(map(str, seeds))}",
               "budget": result.budget, "time": f"{result.seconds:.1f} s wall, {result.cpu_seconds:.1f} s CPU"}
    tables = [("The deciding numbers (95% t-intervals over the paired seeds)", _checks_table(result)),
              ("The source's figure beside ours", _source_table(result))]
    return Section(result.title, result.explanation, figures, numbers, result.verdict, result.command,
                   tables=tables, source=result.source.get("shows"), **_keras_block(result))


# -- the Keras lines of each claim's setting --------------------------------------------------------
KERAS_TITLE = "The same networks in Keras"


def _keras_block(result) -> dict:
    """The Keras lines of every network a claim compares, generated from the settings it ran
    (:attr:`Preset.keras <initlab.experiments.claim.Preset.keras>`), and its note on what they leave out."""
    from ..experiments.claim import keras_of
    from ..experiments.presets import PRESETS

    preset = PRESETS.get(result.name)
    settings, note = keras_of(preset, result.settings) if preset is not None else ([], "")
    if settings:
        intro = (f"The Keras 3 lines that build each network this claim compares, with the settings it ran: every "
                 f"Dense layer's `kernel_initializer` and `bias_initializer` draw the law initlab drew (the head's "
                 f"too). They build and initialize the model; the training settings are in `{result.command} --json`.")
    else:
        intro = "This claim has no Keras equivalent: it states no Keras MLP setting."
    return {"code": [(s.label, s.lines()) for s in settings], "code_title": KERAS_TITLE,
            "code_intro": intro + (f"\n\n{note}" if note else "")}


def summary_rows(results: dict) -> list[dict]:
    """The summary table: one line per check — claim (on its first line), verdict, criterion, measured,
    and the outcome's mark (✓ reproduced, ✗ contradicted, ? inconclusive)."""
    rows = []
    for r in results.values():
        for k, c in enumerate(r.checks):
            rows.append({"claim": r.title if k == 0 else "", "verdict": r.verdict if k == 0 else "",
                         "criterion": c["criterion"], "measured": c["measured"], "": MARKS[c["outcome"]]})
    return rows


def render_demo(suite, out_dir: str | Path) -> Path:
    """Write ``report.html`` and the PNGs for a :class:`~initlab.experiments.suite.SuiteResult`."""
    sections = []
    if "schemes" in suite.illustrations:
        sections.append(Section(TITLES["schemes"], EXPLANATIONS["schemes"], [Figure(
            "weights-by-scheme", F.weight_histograms(suite.illustrations["schemes"], "Weight distribution of each "
                                                     "scheme, layer shape (256, 784) (torch layout)"),
            "Weights drawn for a 256×784 layer (histogram) and the law each scheme resolves to before sampling "
            "(red). Orthogonal has no closed-form density per entry.")]))
    preset_sections = [(name, _section(r)) for name, r in suite.results.items()]
    # -- depth: the residual-network claims under one heading with their sources' numbers beside ours --
    from ..experiments.depth import DEPTH_HEADING, DEPTH_INTRO, DEPTH_PRESETS, depth_overview

    first = next((k for k, (name, _) in enumerate(preset_sections) if name in DEPTH_PRESETS), None)
    if first is not None:
        preset_sections.insert(first, ("depth", Section(DEPTH_HEADING, DEPTH_INTRO, tables=[
            ("The sources' numbers beside ours", depth_overview(suite.results))])))
    # -- end depth --
    sections += [s for _, s in preset_sections]
    if "phase" in suite.illustrations:
        rows = suite.illustrations["phase"]
        points = {f"critical σ_w² for {r['activation']} at σ_b² = {r['sigma_b2']:g}": round(r["critical_sigma_w2"], 4)
                  for r in rows if r["part"] == "point"}
        sections.append(Section(TITLES["theory"], EXPLANATIONS["theory"], [_phase_figure(rows)], points))
    counts = {v: sum(r.verdict == v for r in suite.results.values()) for v in MARKS}
    intro = (f"Each section states a claim about weight initialization, explains it, shows it on real data "
             f"(scikit-learn's handwritten digits; MNIST-1D for its own baselines"
             # -- width (μP): the mup-transfer section also trains on the standard library's source --
             f" and μP's learning-rate transfer; the Python standard library's own source for μP's "
             f"character-level transformer"
             # -- end width --
             f"), and gives the numbers that "
             f"decide it: every criterion is measured on paired seeds (the same data order and initialization "
             f"seed for every scheme compared), reported as mean ± sd with a 95% Student-t interval, and is "
             f"reproduced when the whole interval supports the claim, contradicted when it excludes it, and "
             f"inconclusive when it straddles the line. The source's own figure stands beside ours. "
             f"Budget: {suite.budget}, seeds from {suite.seed}; {counts['reproduced']} reproduced, "
             f"{counts['contradicted']} contradicted, {counts['inconclusive']} inconclusive. Measured in "
             f"{suite.seconds:.0f} s wall ({suite.cpu_seconds:.0f} s CPU, {suite.jobs} process"
             f"{'es' if suite.jobs > 1 else ''}). Reproduce everything with `initlab demo`"
             f"{' --budget quick' if suite.budget == 'quick' else ''}.")
    return write_report(Report("initlab: weight initialization, reproduced", intro, sections,
                               summary_rows(suite.results)), out_dir)


def run_demo(out_dir: str | Path = "initlab-out", *, budget: str = "full", seed: int = 0,
             presets: Sequence[str] | None = None, progress: Callable[[str], None] | None = None,
             jobs: int | None = None) -> DemoResult:
    """Run the presets (all by default) and the illustrations, and write ``report.html`` + PNGs to
    ``out_dir``. Every argument and ``out_dir`` are checked before any work. ``jobs``: worker processes
    (default: up to 2, one per core)."""
    from ..errors import check_int
    from ..experiments import presets as P
    from ..experiments.files import writable_dir
    from ..experiments.suite import default_jobs, run_suite

    presets = tuple(P.PRESETS) if presets is None else tuple(presets)
    for name in presets:
        P.check_request(name, budget, seed)
    jobs = default_jobs() if jobs is None else check_int("jobs", jobs, minimum=1)
    out_dir = writable_dir(out_dir, "out")
    start = time.perf_counter()
    suite = run_suite(presets, budget=budget, seed=seed, jobs=jobs, progress=progress)
    (progress or (lambda m: None))("writing the report")
    cpu = time.process_time()
    path = render_demo(suite, out_dir)
    cpu = time.process_time() - cpu
    return DemoResult(path, suite.results, time.perf_counter() - start, suite.cpu_seconds + cpu, jobs)
