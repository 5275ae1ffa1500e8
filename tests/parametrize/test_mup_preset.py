"""The ``mup-transfer`` preset: one implementation of its criteria (``parametrize.transfer``), its rows at a
smoke budget, and its section of the demo report — the coordinate check SP beside μP and the transfer
curves drawn from the measured rows, the deciding numbers beside Tensor Programs V's."""

import json
import math
import statistics

import numpy as np
import pytest

from initlab.experiments.presets import PRESETS, judge_rows, run_preset
from initlab.parametrize import transfer

TINY = {"seeds": 2, "coord": {"task": "mlp:depth=1", "widths": (16, 32), "steps": 1, "lr": 1e-2},
        "tasks": {"mlp": {"task": "mlp:depth=1", "widths": (16, 128), "log2_lrs": (-8, -7, -6), "steps": 5,
                          "batch_size": 16},
                  "lm": {"task": "lm:depth=1,heads=2,context=8", "widths": (8, 64), "log2_lrs": (-8, -7, -6),
                         "steps": 3, "batch_size": 4}}}


def test_the_preset_is_the_transfer_module_and_its_budgets_follow_the_rules():
    p = PRESETS["mup-transfer"]
    assert p.measure is transfer.measure and p.judge is transfer.judge and p.budgets is transfer.BUDGETS
    assert p.budgets["full"]["seeds"] >= 5 and p.budgets["quick"]["seeds"] >= 3
    for budget in p.budgets.values():
        for cfg in budget["tasks"].values():
            assert max(cfg["widths"]) >= 8 * min(cfg["widths"])


@pytest.fixture(scope="module")
def smoke():
    return run_preset("mup-transfer", budget="quick", seed=1, overrides=TINY)


@pytest.mark.slow
def test_smoke_rows_checks_and_comparison(smoke):
    r = smoke
    assert r.seeds == [1, 2] and len(r.checks) == 2 + 3 * 2
    coord = [x for x in r.rows if x["part"] == "coord"]
    sweep = [x for x in r.rows if x["part"] == "transfer"]
    assert {(x["parametrization"], x["width"], x["seed"]) for x in coord} == {
        (p, w, s) for p in ("sp", "mup") for w in (16, 32) for s in (1, 2)}
    assert len(sweep) == 2 * 2 * 2 * 3 * 2  # task × parametrization × width × lr × seed
    # paired seeds: at the base width μP is SP, the same initialization and batches, so the same losses
    base = {(x["task"], x["log2_lr"], x["seed"], x["parametrization"]): x["loss"] for x in sweep
            if x["width"] in (16, 8)}
    for (task, a, s, p), loss in base.items():
        assert loss == pytest.approx(base[(task, a, s, "sp")], rel=1e-6)
    # the verdict is the one judge_rows gives the same rows: nothing else goes into it
    assert judge_rows("mup-transfer", r.rows)[0] == r.verdict
    assert "Tensor Programs V" in r.source["citation"]
    assert [c["quantity"] for c in r.comparison][:1] == [
        "coordinate check: slope of log mean|x| against log width after a step"]
    json.dumps(r.to_dict())


@pytest.mark.slow
def test_the_report_section_draws_the_measured_rows(smoke, tmp_path, monkeypatch):
    from initlab.experiments.suite import SuiteResult
    from initlab.report import figures as F
    from initlab.report.demo import render_demo

    drawn = []
    monkeypatch.setattr(F, "INSPECTORS", [lambda fig: drawn.append(
        [(ax.get_title(), [(line.get_label(), list(line.get_xdata()), list(line.get_ydata()))
                           for line in ax.get_lines()]) for ax in fig.get_axes()])])
    path = render_demo(SuiteResult({"mup-transfer": smoke}, budget="quick", seconds=1.0, cpu_seconds=1.0), tmp_path)
    html = path.read_text(encoding="utf-8")
    assert smoke.title in html and "Tensor Programs V" in html and "standard library" in html
    assert {p.stem for p in tmp_path.glob("*.png")} == {"mup-coord-check", "mup-transfer-mlp", "mup-transfer-lm"}
    coord, mlp, lm = drawn
    # the coordinate check: SP and μP side by side, each line the seed mean of the rows at the last step
    assert [title for title, _ in coord] == ["sp", "mup"]
    for title, lines in coord:
        for label, xs, ys in lines:
            rows = [x for x in smoke.rows if x["part"] == "coord" and x["final"] and x["parametrization"] == title
                    and x["curve"] == label]
            assert xs == sorted({x["width"] for x in rows})
            assert ys == pytest.approx([statistics.fmean(x["l1"] for x in rows if x["width"] == w) for w in xs])
    # a transfer panel per parametrization, a line per width: loss against log2 lr, the seed mean of the rows
    for task, panels in (("mlp", mlp), ("lm", lm)):
        assert [title for title, _ in panels] == ["sp", "mup"]
        for title, lines in panels:
            widths = [label for label, _, _ in lines]
            assert widths == [f"width {w}" for w in sorted({x["width"] for x in smoke.rows
                                                             if x["part"] == "transfer" and x["task"] == task})]
            for label, xs, ys in lines:
                w = int(label.split()[1])
                rows = [x for x in smoke.rows if x["part"] == "transfer" and x["task"] == task
                        and x["parametrization"] == title and x["width"] == w]
                want = [np.mean([x["loss"] for x in rows if x["log2_lr"] == a and math.isfinite(x["loss"])])
                        for a in xs]
                assert ys == pytest.approx(want)
    # the deciding numbers beside the paper's
    for c in smoke.checks:
        assert c["criterion"].replace("'", "&#x27;").replace("<", "&lt;").replace(">", "&gt;") in html
    for row in smoke.comparison:
        assert row["source"] in html.replace("&#x27;", "'")
