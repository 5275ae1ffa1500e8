"""The depth claims as presets: every criterion fed synthetic rows (built here, in the shape each preset's
``measure`` writes) that satisfy the claim and, one criterion at a time, rows where that quantity comes out the
other way — which must not be reproduced; the helpers they use checked against values computed here; and the
report's depth section laid out from results. (Each preset also runs end to end at a smoke budget and has its
figures drawn from its rows in tests/experiments/test_presets.py.)"""

from __future__ import annotations

import math

import pytest

from initlab.experiments.depth import DEPTH_HEADING, DEPTH_PRESETS, depth_overview, slope
from initlab.experiments.presets import PRESETS, judge_rows

SEEDS = (0, 1, 2, 3, 4)


def wobble(seed: int, scale: float) -> float:
    """A small deterministic seed-to-seed difference, so that every interval has a width."""
    return scale * ((seed * 7919) % 11 - 5) / 5


# ------------------------------------------------------------------------------------------------ generators
def deep_rows(he=None, fixup=0.91, skipinit=0.94, he_diverges=True):
    """He diverges (or ends at ``he``), Fixup and SkipInit end at the given accuracies."""
    rows = []
    for init, acc, div in (("he_normal", he if he is not None else 0.1, he_diverges and he is None),
                           ("fixup", fixup, False), ("skipinit", skipinit, False)):
        for s in SEEDS:
            for epoch, a in ((0, 0.1), (1, 0.5), (2, acc + wobble(s, 0.01))):
                rows.append({"init": init, "seed": s, "epoch": epoch, "test_acc": a, "train_loss": 1.0,
                             "diverged": div, "chance": 0.1})
    return rows


def stream_rows(he_exponent=0.5, scaled_growth=1.1, error=0.03, blocks=(4, 8, 16, 32, 64), broken=None):
    """Stream std after every block: He's ∝ L^he_exponent, the scaled ones from 1 to ``scaled_growth``; the
    mean-field curve off by the factor 1 + ``error``. ``broken``: the one recipe that grows like He."""
    rows = []
    for init in ("he_normal", "scaled_residual", "depth_mup", "completep"):
        for s in SEEDS:
            for L in blocks:
                for block in range(L + 1):
                    if init == "he_normal":
                        std = (1 + block) ** he_exponent
                    elif init == broken:
                        std = (1 + block) ** 0.5
                    else:
                        std = 1 + (scaled_growth - 1) * block / max(blocks)
                    std *= 1 + wobble(s, 0.01)
                    common = {"init": init, "seed": s, "blocks": L, "block": block, "last": block == L,
                              "deepest": L == max(blocks)}
                    rows += [{**common, "curve": "measured", "std": std},
                             {**common, "curve": "mean-field", "std": std / (1 + error)}]
    return rows


def lm_rows(auto=0.02, scaled=0.0, completep=-0.01):
    """Validation loss 2.4 + slope·log₂ depth per initialization."""
    return [{"init": init, "seed": s, "depth": d, "diverged": False,
             "val_loss": 2.4 + k * math.log2(d) + wobble(s, 0.002) * math.log2(d)}
            for init, k in (("auto", auto), ("scaled_residual", scaled), ("completep", completep))
            for s in SEEDS for d in (2, 4, 8, 16, 32)]


def zero_rows(gap=-0.002, zero_digests=None, he_digests=None):
    """He at ≈ 96 %, ZerO ``gap`` below it (negative: above), each seed's initial-weight hashes."""
    rows = []
    for scheme in ("he_normal", "ZerO"):
        for s in SEEDS:
            he = 0.96 + wobble(s, 0.01)
            acc = he if scheme == "he_normal" else he - gap + wobble(s, 0.001)
            digest = (zero_digests or ["z"] * len(SEEDS))[s] if scheme == "ZerO" else \
                (he_digests or [f"h{i}" for i in SEEDS])[s]
            rows += [{"scheme": scheme, "seed": s, "epoch": 0, "test_acc": 0.1, "weights": digest},
                     {"scheme": scheme, "seed": s, "epoch": 5, "test_acc": acc}]
    return rows


# name → (rows that satisfy the claim, [(what goes wrong, rows, index of the criterion that must not pass)])
CASES = {
    "deep-residual": (deep_rows(), [
        ("plain He trains", deep_rows(he=0.9), 0),
        ("He stalls on one seed but trains on the others", deep_rows(he=0.6), 0),
        ("Fixup stalls", deep_rows(fixup=0.3), 1),
        ("SkipInit stalls", deep_rows(skipinit=0.35), 2)]),
    "residual-stream": (stream_rows(), [
        ("He's stream grows linearly, not like √L", stream_rows(he_exponent=1.0), 0),
        ("He's stream stays flat", stream_rows(he_exponent=0.1), 0),
        ("scaled residual grows like He", stream_rows(broken="scaled_residual"), 1),
        ("depth-μP grows like He", stream_rows(broken="depth_mup"), 2),
        ("CompleteP grows like He", stream_rows(broken="completep"), 3),
        ("the theory is 30 % off", stream_rows(error=0.3), 4)]),
    "depth-lm": (lm_rows(), [
        ("the unscaled init improves with depth", lm_rows(auto=-0.03, scaled=-0.05, completep=-0.06), 0),
        ("both scaled inits get worse", lm_rows(auto=0.05, scaled=0.03, completep=0.04), 1),
        ("the scaled ones are worse than unscaled", lm_rows(auto=0.005, scaled=0.008, completep=0.009), 2)]),
    "zero-init": (zero_rows(), [
        ("ZerO trails He by 3 points", zero_rows(gap=0.03), 0),
        ("ZerO's weights differ between seeds", zero_rows(zero_digests=[f"z{i}" for i in SEEDS]), 1),
        ("He draws the same weights on two seeds", zero_rows(he_digests=["h0", "h0", "h2", "h3", "h4"]), 2)]),
}


def test_every_depth_preset_is_registered_with_cases_for_every_check():
    assert set(CASES) == set(DEPTH_PRESETS) <= set(PRESETS)
    at = [list(PRESETS).index(n) for n in DEPTH_PRESETS]  # one after another: the report's heading groups them
    assert at == list(range(at[0], at[0] + len(DEPTH_PRESETS)))
    for name, (good, bad) in CASES.items():
        _, checks = judge_rows(name, good)
        assert sorted({i for _, _, i in bad}) == list(range(len(checks))), name
        preset = PRESETS[name]
        assert preset.budgets["full"]["seeds"] >= 5 and preset.budgets["quick"]["seeds"] >= 3
        assert preset.cost > 0 and preset.figures


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("budget", ["quick", "full"])
def test_rows_that_satisfy_the_claim_are_reproduced(name, budget):
    verdict, checks = judge_rows(name, CASES[name][0], budget)
    assert verdict == "reproduced", [(c.criterion, c.outcome, c.measured) for c in checks if not c.passed]


@pytest.mark.parametrize("name, what, rows, index", [(n, w, r, i) for n, (_, bad) in CASES.items() for w, r, i in bad],
                         ids=lambda v: v if isinstance(v, str) and len(v) < 60 else None)
def test_a_result_that_contradicts_a_criterion_is_not_reproduced(name, what, rows, index):
    verdict, checks = judge_rows(name, rows)
    assert verdict != "reproduced", what
    assert checks[index].outcome != "reproduced", (what, checks[index].criterion, checks[index].measured)


def test_a_clear_failure_is_contradicted_not_merely_inconclusive():
    assert judge_rows("deep-residual", deep_rows(fixup=0.3))[1][1].outcome == "contradicted"
    assert judge_rows("residual-stream", stream_rows(error=0.3))[1][-1].outcome == "contradicted"
    assert judge_rows("zero-init", zero_rows(gap=0.05))[1][0].outcome == "contradicted"
    assert judge_rows("depth-lm", lm_rows(auto=-0.03))[1][0].outcome == "contradicted"


def test_the_deciding_numbers_are_computed_from_the_rows():
    """The growth exponent, the theory's error and the LM slope, against values derived here."""
    _, checks = judge_rows("residual-stream", stream_rows(he_exponent=0.5, error=0.25), "full")
    # He's std after the last block is (1 + L)^0.5: its log-log slope over L = 8 … 64 (fit_from 8)
    ls = [8, 16, 32, 64]
    xs, ys = [math.log(v) for v in ls], [0.5 * math.log(1 + v) for v in ls]
    mx, my = sum(xs) / 4, sum(ys) / 4
    expected = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    assert checks[0].summary.mean == pytest.approx(expected, rel=1e-9)
    assert checks[-1].summary.mean == pytest.approx(0.25, rel=1e-9)  # |measured / (measured / 1.25) − 1|
    _, checks = judge_rows("depth-lm", lm_rows(auto=0.02), "full")
    # per seed the slope is 0.02 + wobble(seed, 0.002): the loss is linear in log₂ depth
    assert checks[0].summary.mean == pytest.approx(0.02 + sum(wobble(s, 0.002) for s in SEEDS) / 5, rel=1e-9)
    assert slope([0, 1, 2], [1, 3, 5]) == 2.0 and math.isnan(slope([1, 1], [0, 2]))


def test_the_report_puts_the_depth_claims_under_one_heading(tmp_path):
    from initlab.experiments.presets import PresetResult
    from initlab.experiments.suite import SuiteResult
    from initlab.report.demo import render_demo

    results = {}
    for name in ("zero-init", "deep-residual"):
        rows = CASES[name][0]
        verdict, checks = judge_rows(name, rows, "quick")
        p = PRESETS[name]
        settings = dict(p.budgets["quick"])
        results[name] = PresetResult(
            name=name, title=p.title, claim=p.claim, verdict=verdict, checks=[c.to_dict() for c in checks],
            rows=rows, budget="quick", seed=0, seeds=list(SEEDS), seconds=1.0, command=f"initlab experiment {name}",
            source=p.source.to_dict(), comparison=p.compare(rows, settings), figures=[f.to_dict() for f in p.figures],
            explanation=p.explanation, settings=settings)
    table = depth_overview(results)
    assert [r["claim"] for r in table if r["claim"]] == ["deep-residual", "zero-init"]  # the presets' order
    assert all(r["source"] and r["ours"] for r in table)
    page = render_demo(SuiteResult(results, budget="quick"), tmp_path).read_text()
    assert page.rindex(DEPTH_HEADING) < page.rindex(PRESETS["zero-init"].title) and "digits MLP: ZerO" in page
    assert (tmp_path / "zero-init.png").stat().st_size > 5000
