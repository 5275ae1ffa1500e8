"""Render a diagnosis (``initlab doctor ... --report PATH``): findings, per-layer profile, table."""

from __future__ import annotations

from pathlib import Path

from . import figures as F
from .html import Figure, Report, Section, write_report
from .profile import profile_rows

__all__ = ["render_diagnosis"]

_TABLE_COLS = ("layer", "kind", "role", "activation", "units", "distinct_units", "mean", "std", "frac_saturated",
               "frac_dead", "grad_std", "grad_weight_ratio", "pred_out_var")


def _findings_text(findings) -> str:
    return "\n\n".join(str(f) for f in findings) or "No finding."


def _verdict(findings) -> str:
    kinds = sorted({f.kind for f in findings})
    return "healthy" if kinds == ["healthy"] else ", ".join(kinds)


def render_diagnosis(records, findings, out_dir: str | Path, *, info: dict, after=None, fix: str | None = None) -> Path:
    """Write ``report.html`` (+ PNGs) for a probe's ``records`` and ``findings``; ``after`` is the
    (records, findings) pair after ``--fix``."""
    model = info.get("model", "model")
    rows = profile_rows(records, "as initialized")
    if after is not None:
        rows += profile_rows(after[0], f"after --fix {fix}")
    fig = Figure("doctor-profile", F.layer_profile(rows, f"{model}: per weight layer (output std, "
                                                         "gradient std; dashed = theory)"),
                 "Per weight layer: std of its output after the activation that follows it (left) and of the "
                 "back-propagated gradient (right), "
                 "measured (solid) and mean-field prediction (dashed) where the model is a supported chain.")
    table = [{c: r[c] for c in _TABLE_COLS} for r in records.rows if r["role"] != "input"]
    sections = [Section("Diagnosis", _findings_text(findings), [fig], verdict=_verdict(findings),
                        command=info.get("command"), table=table)]
    if after is not None:
        sections.append(Section(f"After --fix {fix}", _findings_text(after[1]), verdict=_verdict(after[1]),
                                table=[{c: r[c] for c in _TABLE_COLS} for r in after[0].rows
                                       if r["role"] != "input"]))
    intro = ("What this model's initialization does to a batch, layer by layer: " +
             ", ".join(f"{k}={v}" for k, v in info.items() if k != "command") + ".")
    return write_report(Report(f"initlab doctor: {model}", intro, sections), out_dir)
