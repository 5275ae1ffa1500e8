"""`initlab list` and `initlab show` print every formula and value literally: Rich markup would read
"[a, b]" as a style tag and drop it."""

from __future__ import annotations

import json

from click.testing import CliRunner

import initlab
from initlab.cli import main


def test_list_prints_bracketed_formulas_and_the_pytorch_spellings():
    result = CliRunner().invoke(main, ["list"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    for row in initlab.list_schemes():
        assert row["formula"] in result.output, row["formula"]
    assert "on [a, b] (absolute)" in result.output and "[mean+a·std, mean+b·std]" in result.output
    assert "normal_ (mean=0, std=1)" in result.output and "uniform_ (minval=0, maxval=1)" in result.output


def test_list_json_has_the_presets():
    rows = json.loads(CliRunner().invoke(main, ["list", "--json"]).output)
    assert {r["name"]: r["presets"] for r in rows}["random_normal"] == {"normal_": {"mean": 0.0, "std": 1.0}}


def test_show_prints_bounds_and_formula_literally():
    result = CliRunner().invoke(main, ["show", "trunc_normal", "--shape", "4", "5", "--param", "a=-1",
                                       "--param", "b=[2]"], env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "b: got [2]" in result.output  # a list is not a bound
    result = CliRunner().invoke(main, ["show", "trunc_normal", "--shape", "4", "5", "--param", "a=-1"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "[-1, 2]" in result.output and "N(mean, std²) on [a, b] (absolute)" in result.output


def test_show_reads_a_shape_with_commas_and_the_groups_option():
    result = CliRunner().invoke(main, ["show", "he_normal", "--shape", "64,16,3,3", "--groups", "2", "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert (d["fan_in"], d["fan_out"]) == (16 * 9, 32 * 9)


def test_show_takes_the_inline_spelling_of_sweeps_and_agrees_with_param():
    inline = CliRunner().invoke(main, ["show", "variance_scaling(scale=2.0, mode=fan_out)", "--shape", "64", "16",
                                       "--json"])
    assert inline.exit_code == 0, inline.output
    flags = CliRunner().invoke(main, ["show", "variance_scaling", "--shape", "64", "16", "--param", "scale=2.0",
                                      "--param", "mode=fan_out", "--json"])
    assert json.loads(inline.output) == json.loads(flags.output)
    assert json.loads(inline.output)["std"] == (2.0 / 64) ** 0.5  # Var = scale / fan_out, fan_out = 64
    both = CliRunner().invoke(main, ["show", "random_normal(std=0.1)", "--shape", "4", "4", "--param", "std=0.2"])
    assert both.exit_code == 1
    assert both.output.strip().splitlines() == [
        "Error: --param: got 'std'; allowed: parameters not already given in SCHEME 'random_normal(std=0.1)'"]
    broken = CliRunner().invoke(main, ["show", "random_normal(std)", "--shape", "4", "4"])
    assert broken.exit_code == 1 and len(broken.output.strip().splitlines()) == 1
    assert broken.output.startswith("Error: SCHEME: got 'random_normal(std)'; allowed: parameters written as key=value")
