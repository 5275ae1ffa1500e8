"""Careless and hostile inputs that once ended in a raw traceback, a silent exit or the wrong argument
named: each is now one line in the standard form, exit code non-zero, and nothing changed.

A user's file that exits or whose model fails on the batch (``doctor``, ``coordcheck``), a batch of the
wrong dtype (``probe``, ``lsuv``), a device this machine lacks (``materialize``), a seed of the wrong type
in a config (``get``), an address this machine does not have (``serve``), an unwritable ``--report``
(checked before the work), a layer name that is not in the model.
"""

from __future__ import annotations

import textwrap

import pytest
import torch
import torch.nn as nn
from click.testing import CliRunner

import initlab
from initlab.cli import main
from initlab.errors import InitlabError


def cli(*args):
    return CliRunner(env={"COLUMNS": "120"}).invoke(main, [str(a) for a in args], catch_exceptions=False)


def one_line_error(res, fragment: str):
    assert res.exit_code != 0, res.output
    assert "Traceback" not in res.output, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error: ")]
    assert len(lines) == 1, res.output
    assert fragment in lines[0], lines[0]
    return lines[0]


def _file(tmp_path, body: str):
    path = tmp_path / "user_model.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_coordcheck_on_a_file_that_calls_sys_exit(tmp_path):
    path = _file(tmp_path, """
        import sys
        sys.exit(3)
        def make(width):
            return None
    """)
    one_line_error(cli("coordcheck", f"{path}:make", "--widths", 8, 16),
                   f"MODEL: got '{path}', which called sys.exit(3) when run; allowed:")


def test_coordcheck_on_a_model_that_does_not_take_the_batch(tmp_path):
    path = _file(tmp_path, """
        import torch.nn as nn
        def make(width):
            return nn.Linear(width, width)   # the default batch is mnist1d's 40 features
    """)
    line = one_line_error(cli("coordcheck", f"{path}:make", "--widths", 8, 16, "--steps", 1, "--seeds", 1),
                          f"MODEL: got '{path}:make'; allowed: a factory whose model takes the batch")
    assert "RuntimeError" in line


BOOM = """
    import torch.nn as nn
    class Boom(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
        def forward(self, x):
            raise ValueError("boom")
    def make():
        return Boom()
"""


@pytest.mark.parametrize("fix", [[], ["--fix", "lsuv"], ["--fix", "auto"]], ids=["none", "lsuv", "auto"])
def test_doctor_on_a_model_whose_forward_raises(tmp_path, fix):
    path = _file(tmp_path, BOOM)
    one_line_error(cli("doctor", f"{path}:make", "--input-shape", 3, *fix),
                   f"MODEL: got '{path}:make'; allowed: a model that runs forward and backward on the batch; "
                   "it raised ValueError: boom")


def test_doctor_checks_report_before_the_work(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")

    def no_work(*a, **k):
        raise AssertionError("the work started before --report was checked")

    monkeypatch.setattr(initlab, "doctor", no_work)
    one_line_error(cli("doctor", "mlp:depth=2,width=8", "--report", blocker / "report"), "--report: got ")


@pytest.mark.parametrize("make_input", [lambda: torch.ones(8, 4, dtype=torch.long), lambda: torch.randn(8, 4).double()],
                         ids=["int64 batch", "float64 batch"])
@pytest.mark.parametrize("entry", ["probe", "lsuv", "doctor"])
def test_a_batch_of_another_dtype_is_one_line_and_changes_nothing(make_input, entry):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(InitlabError, match=r"^inputs: got a tensor of shape \(8, 4\), dtype torch\.(int64|float64) "
                                           r"at layer '0' \(Linear\) .*; allowed: a tensor of the layer's dtype there, "
                                           r"torch\.float32"):
        getattr(initlab, entry)(model, make_input())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_a_bf16_model_under_autocast_is_still_probed():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        records = initlab.probe(model, torch.randn(8, 4))
    linear = [r for r in records if r["kind"] == "Linear"]
    assert len(linear) == 2 and all(r["std"] > 0 and r["grad_std"] > 0 for r in linear)


def test_a_linear_that_casts_its_own_input_is_not_refused():
    class Casting(nn.Linear):
        def forward(self, x):
            return super().forward(x.to(self.weight.dtype))

    model = nn.Sequential(Casting(4, 8), nn.ReLU(), nn.Linear(8, 2))
    records = initlab.probe(model, torch.ones(8, 4, dtype=torch.long))
    assert [r["kind"] for r in records if r["kind"] in ("Casting", "Linear")] == ["Casting", "Linear"]


def test_materialize_on_a_device_this_machine_lacks():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InitlabError, match=r"^device: got 'cuda'; allowed: a device this machine has \("):
        initlab.materialize(lambda: nn.Linear(4, 2), device="cuda")


@pytest.mark.parametrize("identifier", [
    {"name": "he_normal", "seed": "x"},
    {"name": "he_normal", "seed": 1.5},
    {"name": "orthogonal", "seed": True},
    {"class_name": "HeNormal", "config": {"seed": "x"}},
    {"class_name": "VarianceScaling", "config": {"scale": 2.0, "seed": 2.5}},
], ids=repr)
def test_a_seed_of_the_wrong_type_in_a_config_fails_when_it_is_read(identifier):
    with pytest.raises(InitlabError, match=r"^seed: got .*; allowed: an integer$"):
        initlab.get(identifier)


def test_serve_on_an_address_this_machine_lacks_names_the_host():
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine
    one_line_error(cli("serve", "--host", "192.0.2.1", "--port", 0),
                   "host: got '192.0.2.1'; allowed: an address of this machine")


def test_a_layer_that_is_not_in_the_model_is_named_in_the_form():
    from initlab.model.structure import find_structure

    s = find_structure(nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2)))
    with pytest.raises(KeyError, match=r"name: got '3'; allowed: a layer of the model"):
        s.layer("3")


def test_a_yaml_config_cannot_run_code(tmp_path):
    pytest.importorskip("yaml")
    from initlab.experiments.config import load_config

    marker = tmp_path / "ran"
    path = tmp_path / "sweep.yaml"
    path.write_text(f"scheme: !!python/object/apply:os.system ['touch {marker}']\ndepth: 2\n")
    with pytest.raises(InitlabError, match=r"sweep.yaml: got .*could not determine a constructor.*; allowed: YAML$"):
        load_config(path)
    assert not marker.exists()


@pytest.mark.parametrize("spec, fragment", [
    ("mlp:depth=2,depth=3", "model spec: got 'mlp:depth=2,depth=3'; allowed: each field once ('depth' is given twice)"),
    ("mlp:act=relu,activation=tanh", "mlp spec: got 'mlp:act=relu,activation=tanh'; allowed: each field once ('act'"),
])
def test_a_model_spec_field_given_twice_is_refused_not_overwritten(spec, fragment):
    one_line_error(cli("doctor", spec), fragment)


def test_doctor_says_how_much_memory_a_random_batch_would_need(monkeypatch):
    import initlab.experiments.models as models

    monkeypatch.setattr(models, "available_memory", lambda: 2**30)
    line = one_line_error(cli("doctor", "mlp:depth=2,width=8", "--data", "random", "--input-shape", 64,
                              "--batch-size", 10**7), "--batch-size: got 10000000; allowed: a batch that fits in the 1 GiB")
    assert "2.38 GiB in fp32" in line
