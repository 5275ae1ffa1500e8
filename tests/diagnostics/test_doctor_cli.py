"""``initlab doctor`` through click's CliRunner: built-in specs, a factory from a file, --fix, errors."""

import json
import textwrap

import pytest
from click.testing import CliRunner

from initlab.cli.doctor import doctor_cmd

VANISHING = "mlp:depth=20,width=128,act=relu,init=xavier_normal"  # He et al. 2015: variance halves per layer


def run(*args):
    return CliRunner().invoke(doctor_cmd, list(args), catch_exceptions=False)


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
                                          "make, make_number, make_broken; did you mean 'make'"),
    (["{file}:make_number", "--input-shape", "4"], "make_number() in '{file}' returned int; allowed: a "
                                                  "torch.nn.Module"),
    (["{file}:make_broken", "--input-shape", "4"], "raised ValueError: no model today"),
    (["{file}:make"], "--input-shape: got nothing for a model from a file"),
    (["{file}:make", "--input-shape", "5"], "layer '0' (Linear) expects a last dimension of 4"),
    (["{file}:make", "--input-shape", "a,b"], "--input-shape: got 'a,b'; allowed: positive integers"),
    (["{file}:make", "--data", "digits"], "layer '0' (Linear) expects a last dimension of 4"),
    (["mlpp:depth=2"], "did you mean 'mlp'"),
    (["mlp:depth=2", "--input-shape", "3"], "--input-shape: got 3 with --data digits"),
])
def test_errors_are_clear(factory_file, args, message):
    args = [a.format(dir=factory_file.parent, file=factory_file) for a in args]
    res = run(*args, "--batch-size", "8")
    assert res.exit_code == 1
    assert message.format(file=factory_file) in res.output


def test_help_warns_that_a_file_runs_user_code():
    res = run("--help")
    assert res.exit_code == 0
    assert "RUNS YOUR OWN CODE" in res.output and "--fix [auto|lsuv]" in res.output
    assert "--report DIRECTORY" in res.output
