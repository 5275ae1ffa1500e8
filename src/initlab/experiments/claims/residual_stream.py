"""Yang & Schoenholz 2017; Radford et al. 2019; Dey et al. 2025: at initialization the pre-norm residual
stream's std grows like √L unless the branches are scaled, and mean-field theory predicts it."""

from __future__ import annotations

import math

from ..claim import FigureSpec, Preset, Source, geomean, per_seed, rows_where
from ..verdict import at_most, within

INITS = ("he_normal", "scaled_residual", "depth_mup", "completep")
BUDGETS = {
    "full": {"blocks": (1, 2, 4, 8, 16, 32, 64), "width": 256, "fit_from": 8, "bounded": 2.0, "tolerance": 0.10,
             "seeds": 5},
    "quick": {"blocks": (4, 32), "width": 256, "fit_from": 4, "bounded": 2.0, "tolerance": 0.10, "seeds": 3},
}


def measure(b: dict, seeds: list[int]) -> list[dict]:
    """Yang & Schoenholz 2017 ("Mean field residual networks: on the edge of chaos"): in x + F(LN(x)) every
    branch reads a normalized input and adds about the same variance to the stream, so after L blocks its
    variance is p₀ + L·c and its std grows like √L. GPT-2 (Radford et al. 2019, §2.3) divides each branch's
    last layer by √N; depth-μP (Yang et al. 2023) multiplies each branch by L^(−1/2), CompleteP (Dey et al.
    2025) by L^(−1): the stream then stays O(1).

    Setup: pre-norm residual MLPs on digits (stem → L blocks ``x + W₂·relu(W₁·LN(x))`` of ``width`` = 256
    units) at every depth L in ``blocks``, at initialization, under plain He, GPT-2's scaled residual on He,
    depth-μP and CompleteP (base depth 1), on paired seeds. The stream's std (root mean square) after every
    block is measured on 512 training images and predicted by initlab's mean-field recursion through the
    same model (:func:`initlab.theory.residual.predict_graph`, from the batch's own input moment).

    Rows: init, seed, blocks (L), block (0 = the stream before the first block), curve (``measured`` or
    ``mean-field``), std, last (the block is the last one), deepest (L is the deepest of the budget).
    """
    from ..depth import digits_data, stream_profile

    data = digits_data()
    deepest = max(b["blocks"])
    rows = []
    for init in INITS:
        for seed in seeds:
            for L in b["blocks"]:
                for r in stream_profile(init, seed, blocks=L, width=b["width"], norm="pre", data=data):
                    common = {"init": init, "seed": seed, "blocks": L, "block": r["block"], "last": r["block"] == L,
                              "deepest": L == deepest}
                    rows += [{**common, "curve": "measured", "std": r["std"]},
                             {**common, "curve": "mean-field", "std": r["pred_std"]}]
    return rows


def _last(rs: list[dict], L: int, curve: str = "measured") -> float:
    return next(r["std"] for r in rs if r["blocks"] == L and r["last"] and r["curve"] == curve)


def _growth_exponent(rs: list[dict], fit_from: int) -> float:
    """The least-squares slope of log std(after the last block) against log L, over L ≥ ``fit_from``."""
    from ..depth import slope

    ls = sorted({r["blocks"] for r in rs if r["blocks"] >= fit_from})
    return slope([math.log(L) for L in ls], [math.log(_last(rs, L)) for L in ls])


def _ratio(rs: list[dict]) -> float:
    ls = sorted({r["blocks"] for r in rs})
    return _last(rs, ls[-1]) / _last(rs, ls[0])


def _theory_error(rs: list[dict]) -> float:
    """Mean |measured/predicted − 1| of the stream after the last block, over every depth (and recipe) in ``rs``."""
    errs = []
    for init, L in sorted({(r["init"], r["blocks"]) for r in rs}):
        own = [r for r in rs if r["init"] == init]
        errs.append(abs(_last(own, L) / _last(own, L, "mean-field") - 1))
    return math.fsum(errs) / len(errs)


def judge(rows: list[dict], b: dict) -> list:
    """Criteria, per seed: plain He's growth exponent s (std ∝ L^s, fitted over L ≥ ``fit_from``) lies in
    [0.4, 0.6] (√L: 0.5 — a linear or flat stream contradicts); each scaled recipe's std at the deepest L is at
    most ``bounded`` = 2 × its std at the shallowest (O(1)); the mean-field prediction is within ``tolerance``
    = 10 %: the mean |measured/predicted − 1| after the last block, over every depth and recipe."""
    ls = sorted(b["blocks"])
    he = per_seed(rows, lambda rs: _growth_exponent(rs, b["fit_from"]), init="he_normal")
    out = [within(f"plain He: std ∝ L^s with s in [0.4, 0.6] (√L), fitted over L ≥ {b['fit_from']}", he, 0.4, 0.6)]
    for init in INITS[1:]:
        out.append(at_most(f"{init}: std at L = {ls[-1]} ≤ {b['bounded']:g} × std at L = {ls[0]} (O(1))",
                           per_seed(rows, _ratio, init=init), b["bounded"]))
    out.append(at_most(f"theory: the stream after the last block within {100 * b['tolerance']:.0f}% of the "
                       "mean-field prediction (mean |measured/predicted − 1| over every depth and recipe)",
                       per_seed(rows, _theory_error), b["tolerance"], unit="%"))
    return out


def compare(rows: list[dict], b: dict) -> list[dict]:
    he = per_seed(rows, lambda rs: _growth_exponent(rs, b["fit_from"]), init="he_normal")
    err = per_seed(rows, _theory_error)
    ratios = {init: geomean(per_seed(rows, _ratio, init=init)) for init in INITS[1:]}
    ls = sorted(b["blocks"])
    return [{"quantity": "pre-norm stream, unscaled branches",
             "source": "variance ∝ L, std ∝ L^0.5 (Yang & Schoenholz 2017; GPT-2 §2.3)",
             "ours": f"std ∝ L^{sum(he) / len(he):.2f}"},
            {"quantity": f"branches ÷ √N or × L^(−α): std(L = {ls[-1]}) / std(L = {ls[0]})",
             "source": "O(1) (Radford et al. 2019; Yang et al. 2023; Dey et al. 2025)",
             "ours": ", ".join(f"{k} ×{v:.2f}" for k, v in ratios.items())},
            {"quantity": "mean-field recursion against measurement", "source": "exact at infinite width",
             "ours": f"mean error {100 * sum(err) / len(err):.1f}% after the last block (width {b['width']})"}]


def summarize(rows: list[dict], b: dict) -> list[dict]:
    out = []
    for L in sorted(b["blocks"]):
        entry = {"L": L}
        for init in INITS:
            own = rows_where(rows, init=init, blocks=L, last=True)
            m = [r["std"] for r in own if r["curve"] == "measured"]
            p = [r["std"] for r in own if r["curve"] == "mean-field"]
            entry[init] = f"{sum(m) / len(m):.3g} (mean-field {sum(p) / len(p):.3g})"
        out.append(entry)
    return out


PRESET = Preset(
    name="residual-stream", order=130, cost=17,
    title="The residual stream grows like √L unless the branches are scaled (Yang & Schoenholz 2017)",
    claim="at init the pre-norm stream's std grows like √L under plain He and stays O(1) under scaled residual, "
          "depth-μP and CompleteP; mean-field theory predicts it within 10 % (Yang & Schoenholz 2017)",
    explanation=(
        "In x + F(LN(x)) every branch reads a normalized input, so it adds the same variance c to the stream each "
        "time: after L blocks the stream's variance is p₀ + L·c and its std grows like √L (Yang & Schoenholz 2017 "
        "give the recursion). GPT-2 divides each branch's last layer by √N, depth-μP multiplies each branch by "
        "L^(−1/2), CompleteP by L^(−1): the sum of L branches then stays O(1).\n\n"
        "The first figure is the stream's std after the last block against the depth L, one panel per "
        "initialization: measured on a batch of digits and predicted by initlab's mean-field recursion for the "
        "very same model (initlab.theory.predict_graph). The second follows the stream block by block in the "
        "deepest network."),
    source=Source("Yang & Schoenholz 2017, \"Mean field residual networks: on the edge of chaos\"; Radford et al. "
                  "2019 (GPT-2, §2.3); Yang et al. 2023 (depth-μP); Dey et al. 2025 (CompleteP)",
                  "the stream's variance adds up over the blocks; scaling the branches by 1/√N (or L^(−α)) keeps "
                  "it bounded", {"growth of the unscaled pre-norm stream": "variance ∝ L (std ∝ L^0.5)"}),
    budgets=BUDGETS, measure=measure, judge=judge, compare=compare, summarize=summarize,
    figures=(FigureSpec("residual-stream-depth", "lines", "The residual stream after the last block, against depth L",
                        "Std of the stream after the last block, measured on 512 digits and predicted by mean-field "
                        "theory, mean ± sd over paired seeds.", where={"last": True}, x="blocks", y="std",
                        series="curve", panels="init", xlabel="blocks L", ylabel="std of the stream", logx=True,
                        logy=True),
             FigureSpec("residual-stream-blocks", "lines", "The residual stream block by block, deepest network",
                        "Std of the stream after each block (0: before the first), measured and predicted, mean ± sd "
                        "over paired seeds.", where={"deepest": True}, x="block", y="std", series="curve",
                        panels="init", xlabel="block", ylabel="std of the stream", logy=True)),
)
