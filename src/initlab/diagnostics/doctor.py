"""``doctor``: probe a model, name what its initialization does wrong, apply the fix, probe again,
and say for each finding whether the fix removed it.

This is the pipeline behind ``initlab doctor`` (which parses, loads and prints) and the report of
``initlab doctor --report`` (which renders); every number comes from :func:`initlab.probe`,
:func:`initlab.diagnose`, :func:`initlab.initialize` and :func:`initlab.lsuv`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable

from torch import Tensor, nn

from ..errors import check_int, check_type, fail
from ._state import ModelState
from .findings import Finding, Thresholds, describe_fix, diagnose
from .probe import LayerRecords, _jsonable, probe

__all__ = ["doctor", "DoctorResult", "FixOutcome", "FIXES"]

FIXES = ("auto", "lsuv")
"""What ``doctor(fix=...)`` can apply: ``auto`` — what the findings prescribe (per-layer schemes from
the activation catalogue, or LSUV where they say so); ``lsuv`` — LSUV on the whole model."""


@dataclass(frozen=True)
class FixOutcome:
    """What became of one finding: ``removed`` when the re-probed model no longer has a finding of
    its kind; ``after`` is that finding when it is still there; ``introduced`` marks a finding that
    appeared only after the fix."""

    kind: str
    removed: bool
    after: Finding | None = None
    introduced: bool = False

    def __str__(self) -> str:
        if self.introduced:
            return f"{self.kind}: appeared after the fix ({self.after.message})"
        if self.removed:
            return f"{self.kind}: removed by the fix"
        return f"{self.kind}: NOT removed by the fix ({self.after.message})"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "removed": self.removed, "introduced": self.introduced,
                "after": self.after.to_dict() if self.after is not None else None}


@dataclass(frozen=True)
class DoctorResult:
    """What :func:`doctor` found and did: the ``before`` records and their ``findings``; the ``fix``
    asked for (None, ``"auto"``, ``"lsuv"``), what was ``applied`` (a description, or None when
    nothing was), the ``plan`` (the :class:`~initlab.model.InitPlan` of the schemes applied, or the
    :class:`~initlab.diagnostics.LSUVResult`); the ``after`` records and ``after_findings``; and one
    :class:`FixOutcome` per finding (``outcomes``)."""

    before: LayerRecords
    findings: tuple[Finding, ...]
    fix: str | None = None
    applied: str | None = None
    plan: object | None = None
    after: LayerRecords | None = None
    after_findings: tuple[Finding, ...] = ()
    outcomes: tuple[FixOutcome, ...] = ()

    @property
    def healthy(self) -> bool:
        """Whether the model (after the fix, when one was applied) has no finding but ``healthy``."""
        last = self.after_findings if self.after is not None else self.findings
        return [f.kind for f in last] == ["healthy"]

    def to_dict(self) -> dict:
        """A JSON-ready dict (non-finite numbers become None)."""
        out = {"loss": _jsonable(self.before.loss), "records": self.before.to_dict(),
               "findings": [f.to_dict() for f in self.findings]}
        if self.fix is not None:
            from .lsuv import LSUVResult

            out["fix"] = {"method": self.fix, "applied": self.applied,
                          "lsuv": self.plan.to_dict() if isinstance(self.plan, LSUVResult) else None,
                          "plan": self.plan.to_dicts() if hasattr(self.plan, "to_dicts") else None}
            out["after"] = None if self.after is None else {
                "records": self.after.to_dict(), "findings": [f.to_dict() for f in self.after_findings]}
            out["outcomes"] = [o.to_dict() for o in self.outcomes]
        return out

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __str__(self) -> str:
        lines = ["findings:", *(f"  {f}" for f in self.findings)]
        if self.fix is not None:
            lines.append(f"fix ({self.fix}): {self.applied or 'nothing to apply'}")
            lines += [f"  {o}" for o in self.outcomes]
        return "\n".join(lines)


def prescription(findings) -> dict | str | None:
    """What the findings prescribe together: a model-level recipe (``"skipinit"``, ``"scaled_residual"`` …,
    :mod:`initlab.model.recipes`) if one does — it re-draws every layer from its base law too — else
    ``"lsuv"`` if any of them does, else the union of their per-layer schemes (None when none prescribes
    anything)."""
    from ..model.recipes import RECIPES

    fixes = [f.fix for f in findings if f.kind != "healthy" and f.fix is not None]
    recipes = [f for f in fixes if isinstance(f, str) and f in RECIPES]
    if recipes:
        return recipes[0]
    if "lsuv" in fixes:
        return "lsuv"
    merged: dict = {}
    for fix in fixes:
        merged.update(fix)
    return merged or None


def _apply_schemes(model: nn.Module, fix: dict, seed: int | None):
    """Re-initialize the named layers only: their weights with the prescribed scheme, their biases
    with zeros; every other parameter is kept."""
    from ..adapters import keras_model_adapter
    from ..model import initialize

    if (keras_adapter := keras_model_adapter(model)) is not None:  # Keras models: rules over variable paths
        return initialize(model, "auto", rules=keras_adapter.fix_rules(model, fix), seed=seed)
    params = dict(model.named_parameters())
    rules: dict = {"*": "keep"}
    for layer, scheme in fix.items():
        rules[f"{layer}.weight"] = scheme
        if f"{layer}.bias" in params:
            rules[f"{layer}.bias"] = "zeros"
    return initialize(model, "auto", rules=rules, seed=seed)


def _outcomes(before, after) -> tuple[FixOutcome, ...]:
    after_by_kind = {f.kind: f for f in after if f.kind != "healthy"}
    kinds = [f.kind for f in before if f.kind != "healthy"]
    out = [FixOutcome(k, k not in after_by_kind, after_by_kind.get(k)) for k in kinds]
    out += [FixOutcome(k, False, f, introduced=True) for k, f in after_by_kind.items() if k not in kinds]
    return tuple(out)


def doctor(model: nn.Module, inputs, targets: Tensor | None = None, fix: str | None = None, *,
           loss_fn: Callable | None = None, seed: int | None = None, thresholds: Thresholds | None = None,
           symmetry_rtol: float = 1e-5) -> DoctorResult:
    """Probe ``model`` on ``inputs`` (and ``targets``), diagnose it and, with ``fix``, repair it in
    place, probe it again and say for each finding whether the fix removed it.

    ``fix``: None (diagnose only; the model is left exactly as it was), ``"auto"`` (apply what the
    findings prescribe: each named layer re-drawn with its scheme and its bias zeroed, every other
    parameter kept — or LSUV on the whole model where a finding prescribes it, or a residual recipe
    on the whole model for a stream that grows with depth, which may add its scalars), ``"lsuv"`` (LSUV on
    the whole model, Mishkin & Matas 2015). ``seed`` seeds the fix. ``inputs``, ``targets``,
    ``loss_fn`` and ``symmetry_rtol`` are :func:`~initlab.probe`'s; ``thresholds`` are
    :func:`~initlab.diagnose`'s. If anything fails, the model is restored as it was.

    >>> import torch, torch.nn as nn, initlab
    >>> net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    >>> _ = initlab.initialize(net, "zeros")
    >>> result = initlab.doctor(net, torch.randn(32, 16), fix="auto", seed=0)
    >>> [f.kind for f in result.findings], result.applied, result.healthy
    (['symmetric', 'vanishing'], 'he_normal for 2 layers, glorot_normal for 1 layer', True)
    """
    from ..adapters import keras_model_adapter  # Keras models: their state is kept by initlab.adapters
    keras_adapter = keras_model_adapter(model)
    if keras_adapter is None:
        check_type("model", model, nn.Module, "a torch.nn.Module or a Keras 3 model")
    if fix is not None and fix not in FIXES:
        raise fail("fix", fix, "None, " + ", ".join(repr(f) for f in FIXES))
    if seed is not None:
        check_int("seed", seed, minimum=0)
    if thresholds is not None:
        check_type("thresholds", thresholds, Thresholds, "None or initlab.diagnostics.Thresholds")
    before = probe(model, inputs, targets, loss_fn, symmetry_rtol=symmetry_rtol)
    findings = tuple(diagnose(before, thresholds))
    if fix is None:
        return DoctorResult(before, findings)
    wanted = "lsuv" if fix == "lsuv" else prescription(findings)
    if wanted is None:
        return DoctorResult(before, findings, fix, None, outcomes=_outcomes(findings, findings))
    from ..model.recipes import unwrap, wrapped

    state = ModelState(model, keep_params=True) if keras_adapter is None else keras_adapter.saved_state(model)
    was_wrapped = keras_adapter is not None or bool(wrapped(model))
    try:
        if wanted == "lsuv":
            from .lsuv import lsuv

            plan, applied = lsuv(model, inputs, seed=seed), "lsuv"
        elif isinstance(wanted, str):  # a model-level recipe (residual networks)
            from ..model import initialize

            plan, applied = initialize(model, wanted, seed=seed), f"recipe {wanted}"
        else:
            plan, applied = _apply_schemes(model, wanted, seed), describe_fix(wanted)
        after = probe(model, inputs, targets, loss_fn, symmetry_rtol=symmetry_rtol)
        after_findings = tuple(diagnose(after, thresholds))
    except BaseException:
        if not was_wrapped:
            unwrap(model)  # a recipe's scalars added before the failure
        state.restore(params=True)
        raise
    return DoctorResult(before, findings, fix, applied, plan, after, after_findings,
                        _outcomes(findings, after_findings))
