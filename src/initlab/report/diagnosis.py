"""Render a :class:`~initlab.diagnostics.DoctorResult` (``initlab doctor ... --report DIR`` and
``--plot PATH``): the findings, what the fix did to each, the measured depth profile and the table
of weight layers. Renders only: every number comes from the result."""

from __future__ import annotations

from pathlib import Path

from . import figures as F
from .html import Figure, Report, Section, write_report
from .profile import profile_rows

__all__ = ["render_diagnosis", "profile_png"]

_TABLE_COLS = ("layer", "kind", "activation", "units", "distinct_units", "out_std", "pred_out_std", "grad_std",
               "frac_saturated", "frac_dead", "grad_weight_ratio")


def _findings_text(findings) -> str:
    parts = []
    for f in findings:
        text = str(f)
        if f.fix_reason:
            text += f" (why: {f.fix_reason})"
        parts.append(text)
    return "\n\n".join(parts) or "No finding."


def _verdict(findings) -> str:
    kinds = sorted({f.kind for f in findings})
    return "healthy" if kinds == ["healthy"] else ", ".join(kinds)


def profile_png(result, title: str) -> bytes:
    """The measured depth profile (std of each weight layer's block output and of its gradient, with the
    mean-field prediction dashed where the model is a supported chain), before and after the fix."""
    rows = profile_rows(result.before, "as initialized")
    if result.after is not None:
        rows += profile_rows(result.after, f"after --fix {result.fix}")
    return F.layer_profile(rows, f"{title}: per weight layer (output std, gradient std; dashed = theory)")


def render_diagnosis(result, out_dir: str | Path, *, info: dict) -> Path:
    """Write ``report.html`` (+ PNGs) for a :class:`~initlab.diagnostics.DoctorResult`."""
    model = info.get("model", "model")
    fig = Figure("doctor-profile", profile_png(result, model),
                 "Per weight layer: std of its output after the activation that follows it (left) and of the "
                 "back-propagated gradient (right), measured (solid) and mean-field prediction (dashed) where "
                 "the model is a supported chain.")
    table = [{c: b[c] for c in _TABLE_COLS} for b in result.before.blocks()]
    sections = [Section("Diagnosis", _findings_text(result.findings), [fig], verdict=_verdict(result.findings),
                        command=info.get("command"), table=table)]
    if result.fix is not None:
        outcome = "\n\n".join(str(o) for o in result.outcomes) or "No finding to remove."
        text = (f"Applied: {result.applied or 'nothing (no finding prescribes an initialization)'}.\n\n{outcome}")
        if result.after is not None:
            text += "\n\nAfter the fix:\n\n" + _findings_text(result.after_findings)
        sections.append(Section(f"After --fix {result.fix}", text,
                                verdict=_verdict(result.after_findings) if result.after is not None else None,
                                table=[{c: b[c] for c in _TABLE_COLS} for b in result.after.blocks()]
                                if result.after is not None else None))
    intro = ("What this model's initialization does to a batch, layer by layer: " +
             ", ".join(f"{k}={v}" for k, v in info.items() if k != "command") + ".")
    return write_report(Report(f"initlab doctor: {model}", intro, sections), out_dir)
