"""Per-layer profile rows from a probe: the measured std of each weight layer's block output and of
its back-propagated gradient, next to the mean-field prediction of the same quantities. The pairing
of each weight layer with its activation is the probe's (:meth:`LayerRecords.pairs`)."""

from __future__ import annotations

import math

__all__ = ["profile_rows"]


def _sqrt(v) -> float:
    return math.sqrt(v) if v == v and v >= 0 else math.nan


def profile_rows(records, label: str, *, hidden_only: bool = False) -> list[dict]:
    """One row per weight layer of ``records`` (an :func:`initlab.probe` result).

    The layer's output is the activation that follows it (the probe's pairing), measured as
    ``act_std`` and predicted by ``pred_out_var``; with no activation it is the weight layer's own
    output (``pred_preact_var``). The theory predicts gradient variances relative to the last layer,
    so ``pred_grad_std`` is anchored at the last reported layer's measured gradient std.
    ``hidden_only`` drops the last weight layer (a classifier head).
    """
    layers = records.pairs()
    if hidden_only:
        layers = layers[:-1]
    if not layers:
        return []
    anchor = layers[-1][0]
    ref_grad, ref_pred = anchor["grad_std"], anchor["pred_grad_var"]
    rows = []
    for i, (w, act) in enumerate(layers):
        out = act if act is not None else w
        pred_out = w["pred_out_var"] if act is not None else w["pred_preact_var"]
        pred_grad = math.nan
        if ref_pred == ref_pred and ref_pred > 0 and w["pred_grad_var"] == w["pred_grad_var"]:
            pred_grad = math.sqrt(w["pred_grad_var"] / ref_pred) * ref_grad
        rows.append({"scheme": label, "layer": i + 1, "name": w["layer"], "act_std": out["std"],
                     "grad_std": w["grad_std"], "pred_act_std": _sqrt(pred_out), "pred_grad_std": pred_grad,
                     "frac_saturated": out["frac_saturated"], "frac_dead": out["frac_dead"]})
    return rows
