"""The depth claims: every criterion fed synthetic results that must pass and results that must not, the decision
rules on their own, and each measurement run on a tiny budget."""

from __future__ import annotations

import math

import pytest

from initlab.experiments.depth_claims import (DEPTH_CLAIMS, at_least, at_most, every, greater, no_worse, slope,
                                              verdict, within)

# ------------------------------------------------------------------------------------------------ decisions


def test_interval_decisions_have_three_outcomes():
    assert at_least("x", [0.9, 0.92, 0.91], 0.8).outcome == "reproduced"
    assert at_least("x", [0.5, 0.55, 0.52], 0.8).outcome == "contradicted"
    assert at_least("x", [0.6, 0.95, 0.85], 0.8).outcome == "inconclusive"
    assert at_most("x", [0.01, 0.02, 0.015], 0.1).outcome == "reproduced"
    assert within("x", [0.49, 0.51, 0.5], 0.4, 0.6).outcome == "reproduced"
    assert within("x", [0.9, 0.95, 0.92], 0.4, 0.6).outcome == "contradicted"
    assert greater("x", [1.0, 1.1, 1.2], [0.1, 0.2, 0.1], 0.5).outcome == "reproduced"
    assert no_worse("x", [0.95, 0.96, 0.97], [0.95, 0.955, 0.97], 0.01).outcome == "reproduced"
    assert no_worse("x", [0.95, 0.96, 0.97], [0.90, 0.91, 0.92], 0.01).outcome == "contradicted"
    assert every("x", [1, 1, 2], lambda v: v == 1).outcome == "contradicted"
    assert verdict([at_least("a", [1, 1.1, 1.2], 0.5), every("b", [1], bool)]) == "reproduced"


def test_the_interval_is_students_t_computed_here():
    c = at_least("x", [1.0, 2.0, 3.0, 4.0], 0.0)
    sd = math.sqrt(sum((v - 2.5) ** 2 for v in (1, 2, 3, 4)) / 3)
    half = 3.182446305284263 * sd / 2  # t(0.975, 3)
    assert c.mean == 2.5 and c.ci == pytest.approx((2.5 - half, 2.5 + half), rel=1e-12)
    assert slope([0, 1, 2], [1, 3, 5]) == 2.0


# ------------------------------------------------------------------------------------------------ synthetic results
def _deep_rows(he_acc, fixup, skipinit, he_diverged=True):
    rows = []
    for init, accs, div in (("he_normal", he_acc, he_diverged), ("fixup", fixup, False), ("skipinit", skipinit, False)):
        for seed, a in enumerate(accs):
            for epoch, acc in ((0, 0.1), (1, a)):
                rows.append({"init": init, "seed": seed, "epoch": epoch, "test_acc": acc, "train_loss": 1.0,
                             "diverged": div, "chance": 0.1})
    return rows


def test_deep_residual_judge_passes_good_and_fails_bad_results():
    claim = DEPTH_CLAIMS["deep-residual"]
    b = claim.budgets["quick"]
    good = claim.judge(_deep_rows([0.1] * 3, [0.9, 0.92, 0.91], [0.93, 0.94, 0.95]), b)
    assert verdict(good) == "reproduced"
    he_trains = claim.judge(_deep_rows([0.9, 0.91, 0.9], [0.9, 0.92, 0.91], [0.93, 0.94, 0.95], he_diverged=False), b)
    assert he_trains[0].outcome == "contradicted" and verdict(he_trains) == "contradicted"
    fixup_stalls = claim.judge(_deep_rows([0.1] * 3, [0.3, 0.25, 0.2], [0.93, 0.94, 0.95]), b)
    assert fixup_stalls[1].outcome == "contradicted"


def _stream_rows(he_exponent, scaled_growth, error):
    rows = []
    for init in ("he_normal", "scaled_residual", "depth_mup", "completep"):
        for seed in range(3):
            for L in (1, 4, 16, 64):
                std = L ** he_exponent if init == "he_normal" else 1.0 + (scaled_growth - 1) * (L - 1) / 63
                std *= 1 + 0.01 * seed
                rows.append({"init": init, "seed": seed, "blocks": L, "block": L, "std": std,
                             "pred_std": std / (1 + error), "last": True})
    return rows


def test_residual_stream_judge_passes_good_and_fails_bad_results():
    claim = DEPTH_CLAIMS["residual-stream"]
    b = claim.budgets["quick"]
    assert verdict(claim.judge(_stream_rows(0.5, 1.2, 0.03), b)) == "reproduced"
    assert claim.judge(_stream_rows(1.0, 1.2, 0.03), b)[0].outcome == "contradicted"  # linear, not √L
    assert claim.judge(_stream_rows(0.5, 8.0, 0.03), b)[1].outcome == "contradicted"  # "scaled" grows
    assert claim.judge(_stream_rows(0.5, 1.2, 0.3), b)[-1].outcome == "contradicted"  # theory off by 30 %


def _lm_rows(auto_slope, scaled_slope, completep_slope):
    rows = []
    for init, s in (("auto", auto_slope), ("scaled_residual", scaled_slope), ("completep", completep_slope)):
        for seed in range(3):
            for depth in (2, 4, 8, 16, 32):
                rows.append({"init": init, "seed": seed, "depth": depth, "diverged": False,
                             "val_loss": 2.4 + s * math.log2(depth) + 0.002 * seed})
    return rows


def test_depth_lm_judge_passes_good_and_fails_bad_results():
    claim = DEPTH_CLAIMS["depth-lm"]
    b = claim.budgets["full"]
    assert verdict(claim.judge(_lm_rows(0.02, 0.0, -0.01), b)) == "reproduced"
    worse = claim.judge(_lm_rows(0.02, 0.05, 0.04), b)  # scaled ones get worse too
    assert worse[1].outcome == "contradicted" and verdict(worse) == "contradicted"
    assert claim.judge(_lm_rows(-0.02, 0.0, -0.01), b)[0].outcome == "contradicted"  # unscaled improves


def _zero_rows(he, zero, zero_digests):
    rows = []
    for scheme, accs in (("he_normal", he), ("ZerO", zero)):
        for seed, a in enumerate(accs):
            digest = zero_digests[seed] if scheme == "ZerO" else f"he{seed}"
            rows += [{"scheme": scheme, "seed": seed, "epoch": 0, "test_acc": 0.1, "weights": digest},
                     {"scheme": scheme, "seed": seed, "epoch": 1, "test_acc": a}]
    return rows


def test_zero_init_judge_passes_good_and_fails_bad_results():
    claim = DEPTH_CLAIMS["zero-init"]
    b = claim.budgets["full"]
    he = [0.96, 0.965, 0.97, 0.96, 0.962, 0.968, 0.97, 0.961]
    assert verdict(claim.judge(_zero_rows(he, [a + 0.001 for a in he], ["z"] * 8), b)) == "reproduced"
    worse = claim.judge(_zero_rows(he, [a - 0.05 for a in he], ["z"] * 8), b)
    assert worse[0].outcome == "contradicted"
    random = claim.judge(_zero_rows(he, he, [f"z{i}" for i in range(8)]), b)
    assert random[1].outcome == "contradicted"


# ------------------------------------------------------------------------------------------------ measuring (tiny)
TINY = {
    "deep-residual": {"blocks": 3, "width": 8, "epochs": 1, "lr": 0.01, "momentum": 0.9, "batch_size": 256,
                      "train_acc": 0.8, "seeds": 2},
    "residual-stream": {"blocks": (1, 2), "width": 16, "fit_from": 1, "bounded": 2.0, "seeds": 2},
    "depth-lm": {"depths": (1, 2), "width": 8, "context": 8, "steps": 2, "batch_size": 4, "lr": 3e-3, "flat": 0.01,
                 "seeds": 2},
    "zero-init": {"depth": 2, "width": 16, "epochs": 1, "lr": 0.05, "batch_size": 256, "tolerance": 0.01,
                  "seeds": 2},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DEPTH_CLAIMS))
def test_each_measurement_runs_and_is_judged(name):
    claim = DEPTH_CLAIMS[name]
    b = TINY[name]
    rows = claim.measure(b, [0, 1])
    assert rows and {r["seed"] for r in rows} == {0, 1}
    criteria = claim.judge(rows, b)
    assert criteria and all(c.outcome in ("reproduced", "contradicted", "inconclusive") for c in criteria)
    assert claim.compare(rows, b) and set(claim.budgets) == {"full", "quick"}
    assert claim.budgets["quick"]["seeds"] >= 3 and claim.budgets["full"]["seeds"] >= 5


def test_the_section_draws_each_claim_from_its_rows(tmp_path):
    from initlab.experiments.depth_section import DepthSection

    results = {"deep-residual": {"verdict": "reproduced", "criteria": [], "rows": _deep_rows([0.1] * 3, [0.9] * 3,
                                                                                              [0.93] * 3)},
               "residual-stream": {"verdict": "reproduced", "criteria": [], "rows": _stream_rows(0.5, 1.2, 0.03)},
               "depth-lm": {"verdict": "reproduced", "criteria": [], "rows": _lm_rows(0.02, 0.0, -0.01)},
               "zero-init": {"verdict": "inconclusive", "criteria": [{"criterion": "c", "outcome": "inconclusive",
                                                                      "mean": 0.0, "ci": [0, 0], "values": [1, 2]}],
                             "rows": _zero_rows([0.9] * 3, [0.9] * 3, ["z"] * 3)}}
    section = DepthSection(results, "quick", 1.0)
    paths = section.figures(tmp_path)
    assert set(paths) == set(results) and all(p.stat().st_size > 5000 for p in paths.values())
    assert [s["command"] for s in section.summary()][0] == "initlab experiment deep-residual --quick"
    assert section.deciding() == [{"claim": "zero-init", "criterion": "c", "outcome": "inconclusive", "mean": 0.0,
                                   "ci": [0, 0], "n": 2}]
