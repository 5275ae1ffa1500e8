"""The coordinate check: slopes fitted exactly, a verdict that fails on results it must not pass, real runs."""

import json
import math

import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

import initlab
from initlab.cli import main
from initlab.errors import InitlabError
from initlab.parametrize.coord_check import coord_check_verdict, fit_slopes

from ._models import mlp


def power_rows(p, layer, role, t, exponent, c=3.0, widths=(64, 128, 256, 512, 1024)):
    return [{"parametrization": p, "layer": layer, "role": role, "t": t, "width": w, "l1": c * w ** exponent}
            for w in widths]


def test_fit_slopes_recovers_power_laws_exactly():
    rows = power_rows("mup", "2", "hidden", 1, 0.7) + power_rows("mup", "4", "readout", 1, -0.5, c=0.2)
    got = {s["layer"]: s for s in fit_slopes(rows)}
    assert got["2"]["slope"] == pytest.approx(0.7, abs=1e-12) and got["2"]["r2"] == pytest.approx(1.0)
    assert got["2"]["intercept"] == pytest.approx(math.log2(3.0))
    assert got["4"]["slope"] == pytest.approx(-0.5, abs=1e-12) and got["4"]["widths"] == 5
    zero = fit_slopes([{**r, "l1": 0.0} for r in power_rows("mup", "4", "readout", 0, 0.0)])
    assert zero[0]["slope"] == 0.0  # a zero-initialized readout: flat
    partly = fit_slopes([{**r, "l1": 0.0 if r["width"] == 64 else 1.0} for r in power_rows("mup", "4", "x", 0, 0)])
    assert math.isnan(partly[0]["slope"])


def synthetic(mup_hidden=0.0, mup_readout_t0=-0.5, mup_readout=0.0, sp_output=1.0, mup_nan=False):
    rows = []
    for t in range(3):
        rows += power_rows("mup", "0", "input", t, 0.0)
        rows += power_rows("mup", "2", "hidden", t, mup_hidden if t == 2 else 0.0)
        rows += power_rows("mup", "4", "readout", t, mup_readout_t0 if t == 0 else mup_readout)
        rows += power_rows("mup", "output", "output", t, mup_readout_t0 if t == 0 else mup_readout)
        rows += power_rows("sp", "2", "hidden", t, 0.0 if t == 0 else 0.5)
        rows += power_rows("sp", "output", "output", t, 0.0 if t == 0 else sp_output)
    slopes = fit_slopes(rows)
    if mup_nan:
        for s in slopes:
            if s["parametrization"] == "mup" and s["layer"] == "0" and s["t"] == 1:
                s["slope"] = math.nan
    return slopes


@pytest.mark.parametrize("kwargs,verdict,failing", [
    ({}, "reproduced", []),
    ({"mup_hidden": 0.4}, "contradicted", ["mup"]),          # a hidden layer grows under μP
    ({"mup_hidden": -0.4}, "contradicted", ["mup"]),         # or shrinks
    ({"mup_readout": 0.35}, "contradicted", ["mup"]),        # the readout grows
    ({"mup_readout_t0": -0.9}, "contradicted", ["mup"]),     # shrinks faster than width^-1/2
    ({"mup_nan": True}, "contradicted", ["mup"]),            # a scale that could not be fitted
    ({"sp_output": 0.2}, "contradicted", ["sp"]),            # SP's output does not grow
    ({"mup_hidden": 0.4, "sp_output": 0.1}, "contradicted", ["mup", "sp"]),
])
def test_the_verdict_fails_on_results_that_contradict_the_claim(kwargs, verdict, failing):
    v = coord_check_verdict(synthetic(**kwargs))
    assert v["verdict"] == verdict
    assert [c["criterion"].split(":")[0] for c in v["checks"] if not c["passed"]] == failing
    if "mup" in failing and "mup_nan" not in kwargs:
        assert v["by_parametrization"]["mup"]["worst_layer"] in ("2", "4", "output")


def test_verdict_thresholds_are_the_arguments():
    slopes = synthetic(mup_hidden=0.3)
    assert coord_check_verdict(slopes, tolerance=0.25)["verdict"] == "contradicted"
    assert coord_check_verdict(slopes, tolerance=0.35)["verdict"] == "reproduced"
    assert coord_check_verdict(synthetic(sp_output=0.6), growth=0.7)["verdict"] == "contradicted"
    with pytest.raises(InitlabError, match="tolerance: got -1"):
        coord_check_verdict(slopes, tolerance=-1)


@pytest.fixture(scope="module")
def small_run():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 40, generator=g), torch.randint(0, 10, (64,), generator=g)
    return initlab.coord_check(mlp, [32, 64, 128, 256], (x, y), parametrization=("sp", "mup", "umup"),
                               steps=2, seeds=(0, 1)), (x, y)


def test_real_coord_check_sp_grows_and_mup_and_umup_stay(small_run):
    result, _ = small_run
    v = result.verdict()
    assert v["verdict"] == "reproduced", v
    assert v["by_parametrization"]["sp"]["output_growth"] >= 0.5
    assert v["by_parametrization"]["mup"]["stable"] and v["by_parametrization"]["umup"]["stable"]
    assert not v["by_parametrization"]["sp"]["stable"]
    # a tidy row per (parametrization, width, seed, t, layer)
    keys = {(r["parametrization"], r["width"], r["seed"], r["t"], r["layer"]) for r in result.rows}
    assert len(keys) == len(result.rows) == 3 * 4 * 2 * 3 * 4


def test_coord_check_is_reproducible_and_plots_measured_data(small_run, tmp_path):
    result, (x, y) = small_run
    again = initlab.coord_check(mlp, [32, 64], (x, y), parametrization="mup", steps=2, seeds=(1,))
    same = [r for r in result.rows if r["parametrization"] == "mup" and r["width"] in (32, 64) and r["seed"] == 1]
    assert sorted((r["width"], r["t"], r["layer"], r["l1"]) for r in again.rows) == \
        sorted((r["width"], r["t"], r["layer"], r["l1"]) for r in same)
    fig = result.plot(tmp_path / "cc.png")
    assert (tmp_path / "cc.png").stat().st_size > 10_000
    ax = fig.axes[0]
    plotted = sorted(tuple(float(v) for v in line.get_ydata()) for line in ax.get_lines())
    expected = sorted(tuple(r["l1"] for r in sorted(
        (r for r in result.mean_rows() if r["parametrization"] == "sp" and r["t"] == 0 and r["layer"] == layer),
        key=lambda r: r["width"])) for layer in ("0", "2", "4", "output"))
    assert plotted == expected


@pytest.mark.parametrize("kwargs,match", [
    ({"widths": [64]}, "widths: got \\[64\\]; allowed: at least two widths"),
    ({"widths": [64, 64]}, "widths: got \\[64\\]; allowed: at least two different widths"),
    ({"widths": [0, 64]}, "widths: got 0; allowed: an integer >= 1"),
    ({"steps": 0}, "steps: got 0; allowed: an integer >= 1"),
    ({"optimizer": "adagrad"}, "optimizer: got 'adagrad'; allowed: 'adam', 'adamw', 'sgd'"),
    ({"parametrization": "ntk"}, "parametrization: got 'ntk'"),
    ({"data": torch.zeros(3)}, "data: got 'Tensor'; allowed: one batch \\(x, y\\)"),
    ({"model_fn": lambda w: mlp(w) if w < 100 else 1 / 0},
     "widths: building the model at width 128 raised ZeroDivisionError"),
])
def test_coord_check_bad_input(kwargs, match):
    args = {"model_fn": mlp, "widths": [32, 128], "data": (torch.randn(4, 40), torch.arange(4))}
    args.update(kwargs)
    model_fn, widths, data = args.pop("model_fn"), args.pop("widths"), args.pop("data")
    with pytest.raises(InitlabError, match=match) as e:
        initlab.coord_check(model_fn, widths, data, **args)
    assert "\n" not in str(e.value)


def test_cli_coordcheck_json_and_table():
    runner = CliRunner()
    res = runner.invoke(main, ["coordcheck", "mlp:depth=2", "--widths", "32", "64", "128", "256", "--steps", "2",
                               "--seeds", "1", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["widths"] == [32, 64, 128, 256] and out["verdict"]["verdict"] in ("reproduced", "contradicted")
    assert {s["parametrization"] for s in out["slopes"]} == {"sp", "mup"}
    res = runner.invoke(main, ["coordcheck", "mlp:depth=1", "--widths", "32", "64", "--steps", "1", "--seeds", "1",
                               "-p", "mup"])
    assert res.exit_code == 0 and "mup: slope of log2 mean|x|" in res.output and "verdict:" in res.output


@pytest.mark.parametrize("args,match", [
    (["mlp", "--widths", "64"], "widths: got \\[64\\]; allowed: at least two widths"),
    (["mlpp", "--widths", "32", "64"], "task: got 'mlpp'; allowed: 'mlp', 'lm'"),
    (["mlp:depth=x", "--widths", "32", "64"], "mlp spec field 'depth': got 'x'; allowed: an integer"),
    (["lm:heads=4", "--widths", "30", "64"], "width: got 30; allowed: a multiple of heads=4"),
    (["mlp", "64", "128"], "MODEL: got 'mlp 64 128'; allowed: one model spec; widths go after --widths"),
    (["mlp", "--widths", "32", "64", "-p", "sp", "--form", "table8"], "--form: got 'table8'; allowed: table3"),
    (["nofile.py:make", "--widths", "32", "64"], "MODEL: got 'nofile.py'; allowed: an existing Python file"),
])
def test_cli_bad_input_is_one_line_without_traceback(args, match):
    res = CliRunner().invoke(main, ["coordcheck", *args])
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    import re

    assert re.search(match, res.output), res.output


def test_cli_model_from_a_file(tmp_path):
    path = tmp_path / "widenet.py"
    path.write_text("import torch, torch.nn as nn\n"
                    "def make(width):\n"
                    "    return nn.Sequential(nn.Linear(6, width), nn.Tanh(), nn.Linear(width, 3))\n"
                    "def batch():\n"
                    "    g = torch.Generator().manual_seed(0)\n"
                    "    return torch.randn(16, 6, generator=g), torch.arange(16) % 3\n")
    res = CliRunner().invoke(main, ["coordcheck", f"{path}:make", "--widths", "16", "32", "64", "--steps", "1",
                                    "--seeds", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert {s["layer"] for s in json.loads(res.output)["slopes"]} == {"0", "2", "output"}
    res = CliRunner().invoke(main, ["coordcheck", f"{path}:mkae", "--widths", "16", "32"])
    assert res.exit_code != 0 and "did you mean 'make'" in res.output
