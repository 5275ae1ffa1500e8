"""``initlab sweep`` and ``initlab experiment``: flags and config files, resuming, and errors that name
the field (exit status 1, nothing written)."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from initlab.cli import main

TINY = ["--depth", "1", "--width", "4", "--epochs", "1", "--batch-size", "256", "--no-progress", "--threads", "1"]


def _invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_sweep_from_flags_writes_the_run_directory_and_resumes(tmp_path):
    out = tmp_path / "x"
    args = ["sweep", "--scheme", "he_normal", "--scheme", "random_normal(std=0.01)", "--seed", "0", "--seed", "1",
            *TINY, "--out", str(out)]
    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    assert "trained 4, reused 0" in first.output
    cfg = json.loads((out / "config.json").read_text())["sweep"]
    assert cfg["scheme"] == [{"name": "he_normal", "params": {}}, {"name": "random_normal", "params": {"std": 0.01}}]
    assert cfg["seed"] == [0, 1] and cfg["depth"] == [1] and cfg["epochs"] == 1
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 * 2 and len(list((out / "runs").glob("*.json"))) == 4
    second = _invoke(*args)
    assert second.exit_code == 0 and "trained 0, reused 4" in second.output


def test_sweep_from_a_config_file_with_flags_overriding_it(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('scheme = ["he_normal", "lecun_normal"]\nactivation = ["relu", "tanh"]\nepochs = 5\n'
                    'width = 4\ndepth = 1\n', encoding="utf-8")
    out = tmp_path / "y"
    result = _invoke("sweep", str(path), "--activation", "tanh", "--epochs", "1", "--batch-size", "256",
                     "--no-progress", "--out", str(out))
    assert result.exit_code == 0, result.output
    cfg = json.loads((out / "config.json").read_text())["sweep"]
    assert cfg["activation"] == ["tanh"] and cfg["epochs"] == 1 and cfg["width"] == [4]
    assert len(list((out / "runs").glob("*.json"))) == 2


def test_sweep_default_out_is_derived_from_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _invoke("sweep", *TINY)
    assert result.exit_code == 0, result.output
    (made,) = (tmp_path / "runs").iterdir()
    assert made.name.startswith("sweep-") and (made / "config.json").exists()
    again = _invoke("sweep", *TINY)
    assert "reused 1" in again.output and len(list((tmp_path / "runs").iterdir())) == 1


@pytest.mark.parametrize("args, needle", [
    (["--scheme", "he_norml"], "did you mean 'he_normal'"),
    (["--activation", "rleu"], "activation: got 'rleu'"),
    (["--dataset", "mnistt"], "dataset: got 'mnistt'"),
    (["--depth", "0"], "depth: got 0"),
    (["--width", "-4"], "width: got -4"),
    (["--lr", "0"], "lr: got 0.0"),
    (["--epochs", "0"], "epochs: got 0"),
])
def test_sweep_rejects_bad_values_before_running(tmp_path, args, needle):
    out = tmp_path / "never"
    result = _invoke("sweep", *args, "--no-progress", "--out", str(out))
    assert result.exit_code == 1
    assert needle in result.output
    assert not out.exists()


def test_sweep_reports_where_a_config_file_does_not_parse(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('depth = 2\nwidth = [4,\nseed = 0\n', encoding="utf-8")
    result = _invoke("sweep", str(path), "--out", str(tmp_path / "never"))
    assert result.exit_code == 1 and "line 3, column" in result.output and str(path) in result.output


def test_sweep_refuses_a_different_config_in_the_same_directory(tmp_path):
    out = tmp_path / "x"
    assert _invoke("sweep", *TINY, "--out", str(out)).exit_code == 0
    result = _invoke("sweep", *TINY, "--seed", "7", "--out", str(out))
    assert result.exit_code == 1 and "different config" in result.output and "seed" in result.output


def test_experiment_list_names_every_preset():
    from initlab.experiments.presets import PRESETS

    result = _invoke("experiment", "list")
    assert result.exit_code == 0
    for name in PRESETS:
        assert name in result.output


def test_experiment_unknown_name():
    result = _invoke("experiment", "symetry")
    assert result.exit_code == 1 and "did you mean 'symmetry'" in result.output


@pytest.mark.slow
def test_experiment_prints_the_verdict_and_writes_json(tmp_path):
    out = tmp_path / "exploding.json"
    result = _invoke("experiment", "exploding", "--quick", "--out", str(out))
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["name"] == "exploding" and saved["verdict"] in ("reproduced", "contradicted", "inconclusive")
    assert saved["verdict"] in result.output and "initlab experiment exploding --quick" in result.output
    # one line per check, and the source beside ours
    for check in saved["checks"]:
        assert check["outcome"] in ("reproduced", "contradicted", "inconclusive")
        assert check["statistics"] is None or check["statistics"]["interval"] == "t"
    assert saved["source"]["citation"] and saved["comparison"]
    assert "the source beside ours" in result.output
    as_json = _invoke("experiment", "exploding", "--quick", "--json")
    got = json.loads(as_json.output)
    assert got["checks"] == saved["checks"] and got["comparison"] == saved["comparison"]
    assert got["source"] == saved["source"] and len(got["seeds"]) == 3


SMALL = {"epochs": 1, "seeds": 2, "width": 16, "depth": 4}


def _force(monkeypatch, verdicts):
    """run_preset at a smoke budget, with the verdict replaced: the CLI's handling of each outcome."""
    from initlab.experiments import presets

    real = presets.run_preset

    def forced(name, budget="full", seed=0, overrides=None):
        r = real(name, budget, seed, overrides=SMALL)
        r.verdict = verdicts[name]
        return r

    monkeypatch.setattr(presets, "run_preset", forced)


@pytest.mark.parametrize("verdict", ["reproduced", "contradicted", "inconclusive"])
def test_every_verdict_exits_zero(monkeypatch, verdict):
    """A contradicted or inconclusive claim is a finding, not a failure: exit status 0 for all three."""
    _force(monkeypatch, {"vanishing": verdict})
    result = _invoke("experiment", "vanishing", "--quick")
    assert result.exit_code == 0 and verdict in result.output


@pytest.mark.slow
def test_the_demo_exits_zero_and_prints_one_line_per_check(tmp_path, monkeypatch):
    from initlab.experiments.presets import PRESETS

    verdicts = {"vanishing": "reproduced", "exploding": "contradicted", "xavier-vs-he": "inconclusive"}
    _force(monkeypatch, verdicts)
    monkeypatch.setenv("COLUMNS", "400")  # wide enough that no cell wraps
    args = ["demo", "--budget", "quick", "--jobs", "1", "--out", str(tmp_path / "d")]
    for name in verdicts:
        args += ["--preset", name]
    demo = CliRunner().invoke(main, args, catch_exceptions=False)
    assert demo.exit_code == 0, demo.output
    assert "1 reproduced, 1 contradicted, 1 inconclusive" in demo.output
    assert (tmp_path / "d" / "report.html").is_file()
    lines = demo.output.splitlines()
    for name, verdict in verdicts.items():
        heading = [ln for ln in lines if PRESETS[name].title in ln]
        assert len(heading) == 1 and verdict in heading[0], name
    marked = [ln for ln in lines if any(f"│ {m} │" in ln for m in "✓✗?")]
    html = (tmp_path / "d" / "report.html").read_text()
    assert len(marked) == html[html.index("id='summary'"):html.index("<nav>")].count("<tr>") - 1
