"""``initlab doctor`` through click's CliRunner: built-in specs, a factory from a file, --fix, errors."""

import json
import textwrap

import pytest
from click.testing import CliRunner

from initlab.cli.doctor import doctor_cmd

VANISHING = "mlp:depth=20,width=128,act=relu,init=xavier_normal"  # He et al. 2015: variance halves per layer


def run(*args, columns: int = 100):
    return CliRunner(env={"COLUMNS": str(columns)}).invoke(doctor_cmd, list(args), catch_exceptions=False)


def kinds(findings):
    return [f["kind"] for f in findings]


@pytest.mark.slow
@pytest.mark.parametrize("fix", ["auto", "lsuv"])
def test_fix_turns_a_vanishing_model_healthy(fix):
    res = run(VANISHING, "--batch-size", "128", "--json", "--fix", fix)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert "vanishing" in kinds(out["findings"]) and "healthy" not in kinds(out["findings"])
    assert kinds(out["after"]["findings"]) == ["healthy"]
    assert out["fix"]["method"] == fix
    assert (out["fix"]["lsuv"] is None) == (fix == "auto")
    assert out["data"] == "digits" and out["input_shape"] == [1, 8, 8] and out["batch_size"] == 128
    weights = [r for r in out["records"]["rows"] if r["role"] == "weight"]
    assert len(weights) == 21 and weights[0]["layer"] == "1"


def test_tables_name_layers_and_findings():
    res = run("mlp:depth=3,width=32,act=tanh,init=zeros", "--batch-size", "64")
    assert res.exit_code == 0, res.output
    assert "findings" in res.output and "symmetric" in res.output
    assert "1/32" in res.output  # distinct/units of a zero-initialized layer


def test_cnn_spec_and_random_data():
    res = run("cnn:channels=8,depth=2,act=relu,init=he_normal", "--data", "random", "--input-shape", "1,8,8",
              "--batch-size", "16", "--seed", "3", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [r["kind"] for r in out["records"]["rows"] if r["role"] == "weight"] == ["Conv2d", "Conv2d", "Linear"]
    assert out["data"] == "random" and out["records"]["loss_name"] == "half_mean_square"


@pytest.fixture
def factory_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(textwrap.dedent("""
        import torch.nn as nn

        def make():
            return nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 3))

        def make_number():
            return 3

        def make_broken():
            raise ValueError("no model today")

        def make_exit():
            raise SystemExit(2)
        """))
    return path


def test_factory_from_a_file(factory_file):
    res = run(f"{factory_file}:make", "--input-shape", "4", "--batch-size", "16", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [r["layer"] for r in out["records"]["rows"]] == ["<input>", "0", "1", "2"]
    assert out["data"] == "random"


@pytest.mark.parametrize("args, message", [
    (["{dir}/missing.py:make", "--input-shape", "4"], "which does not exist"),
    (["{file}:mak", "--input-shape", "4"], "has no 'mak'; allowed: a function or class defined there: "
                                          "make, make_number, make_broken, make_exit; did you mean 'make'"),
    (["{file}:make_number", "--input-shape", "4"], "whose make_number() returned int; allowed: a factory that "
                                                  "returns a torch.nn.Module"),
    (["{file}:make_broken", "--input-shape", "4"], "raised ValueError: no model today"),
    (["{file}:make_exit", "--input-shape", "4"], "whose make_exit() called sys.exit(2); allowed: a factory"),
    (["{file}:make", "--input-shape", "4", "--plot", "{file}/p.png"], "--plot: got "),
    (["{file}:make", "--input-shape", "4", "--plot", "{dir}"], "allowed: a file path (this path is a folder)"),
    (["{file}:make"], "--input-shape: got nothing for a model from a file"),
    (["{file}:make", "--input-shape", "5"], "at layer '0' (Linear) from a batch of shape (8, 5); allowed: a last "
                                            "dimension of 4"),
    (["{file}:make", "--input-shape", "a,b"], "--input-shape: got 'a,b'; allowed: positive integers"),
    (["{file}:make", "--data", "digits"], "allowed: a last dimension of 4"),
    (["mlpp:depth=2"], "did you mean 'mlp'"),
    (["mlp:depth=2", "--input-shape", "3"], "--input-shape: got 3 with --data digits"),
])
def test_errors_are_clear(factory_file, args, message):
    args = [a.format(dir=factory_file.parent, file=factory_file) for a in args]
    res = run(*args, "--batch-size", "8")
    assert res.exit_code == 1
    assert message.format(file=factory_file) in res.output
    assert res.output.startswith("Error: ") and res.output.count("\n") == 1  # one line, no traceback


def test_help_warns_that_a_file_runs_user_code():
    res = run("--help")
    assert res.exit_code == 0
    assert "RUNS YOUR OWN CODE" in res.output and "--fix [auto|lsuv]" in res.output
    assert "--report DIRECTORY" in res.output


def test_a_file_that_calls_sys_exit_at_import(tmp_path):
    path = tmp_path / "script.py"
    path.write_text("import sys\nimport torch.nn as nn\nsys.exit(3)\ndef make():\n    return nn.Linear(4, 2)\n")
    res = run(f"{path}:make", "--input-shape", "4")
    assert res.exit_code == 1
    assert f"MODEL: got '{path}', which called sys.exit(3) when run; allowed: a file that defines" in res.output


DEEP = "mlp:depth=30,width=128,act=relu,init=xavier_normal"


@pytest.mark.slow
@pytest.mark.parametrize("fix", [None, "auto"])
def test_a_30_layer_model_fits_one_screen_and_leads_with_the_findings(fix):
    args = [DEEP, "--batch-size", "64"] + (["--fix", fix] if fix else [])
    res = run(*args)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert len(lines) <= 45 and max(len(line) for line in lines) <= 100, res.output
    findings_at = lines.index("findings")
    table_at = next(i for i, line in enumerate(lines) if line.startswith("weight layers (31)"))
    assert findings_at < table_at and "vanishing" in lines[findings_at + 1]
    assert "fix: he_normal for 30 layers" in res.output
    rows = [line for line in lines[table_at:] if line[:1].isdigit()]
    assert len(rows) == 31 and all(" Linear " in r for r in rows)  # weight layers only
    if fix:
        assert "vanishing: removed by the fix" in res.output and "after the fix: healthy" in res.output
        assert lines.index("findings") < next(i for i, line in enumerate(lines) if line.startswith("fix (--fix"))


def test_all_layers_lists_every_module():
    res = run("mlp:depth=3,width=32,act=tanh,init=glorot_normal", "--batch-size", "32", "--all-layers")
    assert res.exit_code == 0, res.output
    assert "every module (as initialized)" in res.output
    assert sum(" activation " in line for line in res.output.splitlines()) == 3


@pytest.mark.slow
def test_plot_creates_its_folder_as_every_output_does(tmp_path):
    out = tmp_path / "no" / "such" / "dir" / "p.png"
    res = run("mlp:depth=2,width=8", "--batch-size", "16", "--plot", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_writes_the_measured_profile(tmp_path, monkeypatch):
    import initlab.report.figures as figures

    seen = {}
    original = figures.layer_profile

    def spy(rows, title):
        seen["rows"] = rows
        return original(rows, title)

    monkeypatch.setattr(figures, "layer_profile", spy)
    out = tmp_path / "profile.png"
    res = run("mlp:depth=4,width=32,act=relu,init=he_normal", "--batch-size", "32", "--plot", str(out), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and data["plot"] == str(out.resolve())
    rows = data["records"]["rows"]
    by_index = {r["index"]: r for r in rows}
    measured = [by_index[r["paired"]]["std"] if r["paired"] is not None else r["std"]
                for r in rows if r["role"] == "weight"]
    assert [r["act_std"] for r in seen["rows"]] == pytest.approx(measured, rel=1e-12)
    assert not [p for p in tmp_path.iterdir() if p.name != "profile.png"]  # no temporary file left
