"""Presets: every claim runs end to end on paired seeds (at a smoke budget here: the demo's budgets are
measured, not tested), its rows carry every number its checks and figures use, the cheap claims reach
their verdict at the quick budget, results are reproducible, and bad requests are one-line errors.
The verdict logic itself is tested with synthetic rows in test_claims_synthetic.py."""

from __future__ import annotations

import json

import pytest

from initlab.errors import InitlabError
from initlab.experiments.presets import BUDGETS, PRESETS, PresetResult, run_preset
from initlab.experiments.verdict import OUTCOMES

#: tiny settings per preset: every code path, seconds in all
SMOKE = {
    "symmetry": {"epochs": 1, "seeds": 2, "width": 8},
    "vanishing": {"epochs": 1, "seeds": 2, "width": 16, "depth": 4},
    "exploding": {"epochs": 1, "seeds": 2, "width": 16, "depth": 4},
    "xavier-vs-he": {"epochs": 1, "seeds": 2, "depth": 4, "width": 16},
    "glorot2010": {"seeds": 2, "width": 32, "sigmoid_width": 16, "batch_size": 100},
    "activation-guide": {"seeds": 2, "epochs": 1, "width": 8,
                         "cells": {"sigmoid": ((2, "sgd", (0.1, 0.3)),), "relu": ((2, "adam", (1e-3,)),)}},
    "orthogonal-depth": {"depths": (2, 4), "steps": 10, "lrs": (0.1, 0.3), "seeds": 2, "n_train": 64},
    "selu": {"depth": 8, "width": 32, "seeds": 2, "last": 4},
    "mnist1d-baselines": {"epochs": {"logistic": 1, "mlp": 1, "cnn": 1}, "seeds": 2},
    "lsuv": {"depth": 4, "width": 16, "epochs": 1, "seeds": 2},
    "mup-transfer": {"seeds": 2, "coord": {"task": "mlp:depth=1", "widths": (16, 32), "steps": 1, "lr": 1e-2},
                     "tasks": {"mlp": {"task": "mlp:depth=1", "widths": (16, 128), "log2_lrs": (-8, -7, -6),
                                       "steps": 5, "batch_size": 16},
                               "lm": {"task": "lm:depth=1,heads=2,context=8", "widths": (8, 64),
                                      "log2_lrs": (-8, -7, -6), "steps": 3, "batch_size": 4}}},
    # -- depth (their synthetic cases: tests/depth/test_depth_claims.py) --
    "deep-residual": {"blocks": 3, "width": 8, "epochs": 1, "batch_size": 256, "seeds": 2},
    "residual-stream": {"blocks": (1, 2), "width": 16, "fit_from": 1, "seeds": 2},
    "depth-lm": {"depths": (1, 2), "width": 8, "context": 8, "steps": 2, "batch_size": 4, "seeds": 2},
    "zero-init": {"depth": 2, "width": 16, "epochs": 1, "batch_size": 256, "seeds": 2},
    # -- end depth --
}

_CACHE: dict[str, PresetResult] = {}


def smoke(name: str) -> PresetResult:
    if name not in _CACHE:
        _CACHE[name] = run_preset(name, budget="quick", seed=3, overrides=SMOKE[name])
    return _CACHE[name]


def test_every_preset_has_a_smoke_budget_and_two_real_ones():
    assert set(SMOKE) == set(PRESETS)
    for name, preset in PRESETS.items():
        assert set(preset.budgets) == set(BUDGETS)
        assert preset.budgets["full"]["seeds"] >= 5 and preset.budgets["quick"]["seeds"] >= 3, name
        assert set(SMOKE[name]) <= set(preset.budgets["quick"]), name


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_runs_end_to_end_on_paired_seeds(name):
    r = smoke(name)
    assert r.name == name and r.budget == "quick" and r.seed == 3 and r.seeds == [3, 4]
    assert r.verdict in OUTCOMES and r.checks and r.rows and r.comparison and r.figures
    for c in r.checks:
        assert c["outcome"] in OUTCOMES and c["passed"] == (c["outcome"] == "reproduced")
        assert c["criterion"] and c["measured"]
        if c["statistics"] is not None:  # an interval over the paired seeds
            st = c["statistics"]
            assert st["n"] == 2 and st["interval"] == "t" and st["level"] == 0.95 and len(st["ci"]) == 2
    # paired: every scheme/model compared was measured on every seed
    if any("seed" in row for row in r.rows):
        assert {row["seed"] for row in r.rows if "seed" in row} == {3, 4}
    assert r.command == f"initlab experiment {name} --quick --seed 3"
    assert r.source["citation"] and all(set(row) == {"quantity", "source", "ours"} for row in r.comparison)
    assert r.seconds > 0 and r.cpu_seconds > 0
    text = json.dumps(r.to_dict())  # JSON-ready, the source's figures included
    assert '"source"' in text and '"comparison"' in text
    assert r.summary().startswith(f"{name}: {r.verdict}")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_figure_is_drawn_from_the_rows_with_no_empty_panel(name, monkeypatch):
    from initlab.report import figures as F
    from initlab.report.demo import render_figure

    empty, seen = [], []

    def walk(fig):
        for ax in fig.get_axes():
            if ax.get_visible():
                seen.append(ax)
                if not ax.has_data():
                    empty.append(ax.get_title())

    monkeypatch.setattr(F, "INSPECTORS", [walk])
    r = smoke(name)
    for spec in r.figures:
        fig = render_figure(spec, r.rows)
        assert fig.png[:8] == b"\x89PNG\r\n\x1a\n" and fig.name == spec["name"]
    assert seen and not empty, (name, empty)


@pytest.mark.slow
def test_the_quick_verdicts_of_the_cheap_claims():
    """Measured, not synthetic: at the quick budget (3 paired seeds) the gradient claims are reproduced."""
    for name in ("vanishing", "exploding"):
        r = run_preset(name, budget="quick")
        assert r.verdict == "reproduced", [(c["criterion"], c["measured"]) for c in r.checks if not c["passed"]]
        assert len(r.seeds) == 3


@pytest.mark.slow
def test_symmetry_at_the_quick_budget():
    r = run_preset("symmetry", budget="quick")
    assert r.verdict == "reproduced"
    last = [row for row in r.rows if row["part"] == "distinct" and row["epoch"] == r.settings["epochs"]]
    assert {row["distinct_units"] for row in last if row["scheme"] in ("zeros", "constant")} == {1}
    assert {row["distinct_units"] for row in last if row["scheme"] == "he_normal"} == {r.settings["width"]}


@pytest.mark.slow
def test_same_seed_same_numbers():
    again = run_preset("exploding", budget="quick", seed=3, overrides=SMOKE["exploding"])
    first = smoke("exploding")
    assert json.dumps(again.rows) == json.dumps(first.rows)  # NaN-safe, bit for bit
    assert [c["measured"] for c in again.checks] == [c["measured"] for c in first.checks]


@pytest.mark.slow
def test_the_vanishing_rate_matches_mean_field_theory_within_a_few_percent():
    r = run_preset("vanishing", budget="quick", overrides={"epochs": 1})
    rate = next(c for c in r.checks if c["criterion"].startswith("tanh: at the rate"))
    lo, hi = (10 ** v for v in rate["statistics"]["ci"])
    assert 0.95 < lo <= hi < 1.05


# ------------------------------------------------------------------------------ errors


def test_unknown_preset_names_the_nearest():
    with pytest.raises(InitlabError, match=r"^preset: got 'xavier_vs_he'.*did you mean 'xavier-vs-he'"):
        run_preset("xavier_vs_he")


@pytest.mark.parametrize("kwargs, match", [
    ({"budget": "fast"}, r"^budget: got 'fast'; allowed: 'full', 'quick'"),
    ({"seed": -1}, r"^seed: got -1"),
    ({"seed": 1.5}, r"^seed: got 1.5"),
    ({"overrides": {"epoch": 2}}, r"^overrides: got 'epoch'; allowed: .*did you mean 'epochs'"),
    ({"overrides": {"seeds": 0}}, r"^seeds: got 0; allowed: an integer >= 1"),
])
def test_bad_requests(kwargs, match):
    with pytest.raises(InitlabError, match=match):
        run_preset("symmetry", **kwargs)


def test_every_preset_documents_its_setup_criteria_and_source():
    for name, preset in PRESETS.items():
        assert "Setup" in preset.measure.__doc__ and "Rows" in preset.measure.__doc__, name
        assert "Criteri" in preset.judge.__doc__, name
        assert preset.source.citation and preset.source.shows and preset.explanation, name
        assert preset.title and preset.claim
