"""Sweep configs: parsing (flags' values, mappings, TOML/JSON/YAML files), validation that names the
field before anything runs, and the expansion of the grid into runs."""

from __future__ import annotations

import importlib.util
import itertools
import json

import pytest

from initlab.errors import InitlabError
from initlab.experiments.config import (AXES, SchemeSpec, SweepConfig, load_config, parse_config_text,
                                        parse_scheme)
from initlab.experiments.trainer import TrainConfig

SMALL = {"scheme": ["he_normal"], "activation": "relu", "depth": 2, "width": 8, "seed": 0, "dataset": "digits",
         "epochs": 1}


def _cfg(**over):
    return SweepConfig.from_dict({**SMALL, **over})


# ------------------------------------------------------------------------------ bad values


@pytest.mark.parametrize("field, value, needle", [
    ("scheme", "he_norml", "did you mean 'he_normal'"),
    ("scheme", "glorot_unifrom", "did you mean 'glorot_uniform'"),
    ("activation", "rleu", "did you mean 'relu'"),
    ("activation", "tanhh", "did you mean 'tanh'"),
    ("dataset", "digitz", "did you mean 'digits'"),
    ("optimizer", "adma", "did you mean 'adam'"),
])
def test_unknown_names_are_rejected_with_the_nearest_names(field, value, needle):
    with pytest.raises(InitlabError) as err:
        _cfg(**{field: value}).validate()
    msg = str(err.value)
    assert msg.startswith(f"{field}:"), msg
    assert repr(value) in msg and needle in msg


@pytest.mark.parametrize("field, value, allowed", [
    ("depth", 0, "an integer >= 1"),
    ("depth", -2, "an integer >= 1"),
    ("depth", 2.5, "an integer >= 1"),
    ("width", 0, "an integer >= 1"),
    ("width", -8, "an integer >= 1"),
    ("lr", 0, "> 0"),
    ("lr", -0.1, "> 0"),
    ("lr", float("nan"), "> 0"),
    ("epochs", 0, "an integer >= 1"),
    ("epochs", -1, "an integer >= 1"),
    ("batch_size", 0, "an integer >= 1"),
    ("seed", -1, "an integer >= 0"),
    ("momentum", 1.0, ">= 0 and < 1"),
    ("bias", "yes", "True or False"),
    ("grad_std_steps", -1, "an integer >= 0"),
])
def test_bad_numbers_name_the_field_value_and_what_is_allowed(field, value, allowed):
    with pytest.raises(InitlabError) as err:
        _cfg(**{field: value}).validate()
    msg = str(err.value)
    assert msg.startswith(f"{field}:"), msg
    assert f"got {value!r}" in msg and allowed in msg


def test_one_bad_value_in_an_axis_list_is_found():
    with pytest.raises(InitlabError, match=r"^width: got 0"):
        _cfg(width=[16, 0, 32]).validate()


def test_scheme_parameters_are_checked_by_the_registry():
    with pytest.raises(InitlabError) as err:
        _cfg(scheme=[{"name": "random_normal", "params": {"sdt": 0.01}}]).validate()
    assert "sdt" in str(err.value) and "std" in str(err.value)


def test_unknown_field_is_rejected_with_a_suggestion():
    with pytest.raises(InitlabError) as err:
        SweepConfig.from_dict({"schemez": ["he_normal"]})
    msg = str(err.value)
    assert "unknown field 'schemez'" in msg and "did you mean" in msg and "'scheme" in msg


def test_a_list_for_a_fixed_field_is_rejected():
    with pytest.raises(InitlabError, match=r"^epochs: got \[1, 2\]; allowed: one value"):
        SweepConfig.from_dict({"epochs": [1, 2]})


def test_the_same_field_twice_is_rejected():
    with pytest.raises(InitlabError, match="got field .seed. twice"):
        SweepConfig.from_dict({"seed": [0], "seeds": [1]})


def test_empty_axis_is_rejected():
    with pytest.raises(InitlabError, match=r"^depth: got an empty list"):
        _cfg(depth=[]).validate()


# ------------------------------------------------------------------------------ schemes


def test_inline_scheme_spelling_is_parsed():
    spec = parse_scheme("random_normal(std=0.01, mean=0)")
    assert spec == SchemeSpec("random_normal", {"std": 0.01, "mean": 0})
    assert parse_scheme(spec.label) == spec
    assert parse_scheme("variance_scaling(mode=fan_avg, scale=2)").params == {"mode": "fan_avg", "scale": 2}
    assert parse_scheme({"name": "constant", "params": {"value": 0.5}}) == SchemeSpec("constant", {"value": 0.5})


@pytest.mark.parametrize("text", ["random_normal(std)", "random_normal(=1)", "(std=1)", 3])
def test_malformed_scheme_spelling_is_rejected(text):
    with pytest.raises(InitlabError, match=r"^scheme"):
        parse_scheme(text)


# ------------------------------------------------------------------------------ expansion


def test_grid_is_the_cartesian_product_with_seed_fastest():
    cfg = SweepConfig(scheme=("he_normal", "lecun_normal"), activation=("relu", "tanh"), depth=(2, 3),
                      width=(8,), seed=(0, 1, 2), dataset=("digits",), epochs=1)
    runs = cfg.runs()
    assert len(runs) == 2 * 2 * 2 * 3 == cfg.size
    expected = list(itertools.product(["he_normal", "lecun_normal"], ["relu", "tanh"], [2, 3], [0, 1, 2]))
    got = [(r.params["scheme"], r.params["activation"], r.params["depth"], r.params["seed"]) for r in runs]
    assert got == expected
    assert [r.index for r in runs] == list(range(len(runs)))
    assert len({r.run_id for r in runs}) == len(runs)


def test_every_run_is_a_valid_train_config_with_the_fixed_fields():
    cfg = _cfg(scheme=["he_normal", "random_normal(std=0.01)"], lr=[0.1, 0.01], momentum=0.5, batch_size=16)
    runs = cfg.runs()
    for run in runs:
        tc = run.train_config()
        assert isinstance(tc, TrainConfig)
        tc.validate()
        assert (tc.momentum, tc.batch_size, tc.epochs, tc.width) == (0.5, 16, 1, 8)
    assert {r.params["lr"] for r in runs} == {0.1, 0.01}
    assert [r.params["scheme_params"] for r in runs[2:]] == [{"std": 0.01}, {"std": 0.01}]


def test_defaults_come_from_train_config():
    resolved = SweepConfig().resolve()
    default = TrainConfig()
    for name in AXES:
        if name != "scheme":
            assert getattr(resolved, name) == (getattr(default, name),)
    assert resolved.scheme == (SchemeSpec(default.scheme),)
    assert (resolved.epochs, resolved.batch_size, resolved.momentum) == (default.epochs, default.batch_size,
                                                                         default.momentum)


def test_run_ids_are_stable_and_depend_on_the_whole_config():
    a = [r.run_id for r in _cfg(seed=[0, 1]).runs()]
    b = [r.run_id for r in _cfg(seed=[0, 1]).runs()]
    c = [r.run_id for r in _cfg(seed=[0, 1], epochs=2).runs()]
    assert a == b
    assert not set(a) & set(c)


def test_duplicates_in_an_axis_collapse():
    cfg = _cfg(seed=[0, 0, 1], lr=[0.1, 0.10])
    assert cfg.resolve().seed == (0, 1) and cfg.resolve().lr == (0.1,)
    assert len(cfg.runs()) == 2


def test_plural_spellings_and_round_trip():
    cfg = SweepConfig.from_dict({"schemes": ["he_normal", {"name": "constant", "params": {"value": 0.5}}],
                                 "depths": [2, 4], "seeds": [3], "datasets": "digits", "width": 8})
    resolved = cfg.resolve()
    assert resolved.depth == (2, 4) and resolved.seed == (3,)
    again = SweepConfig.from_dict(json.loads(json.dumps(resolved.to_dict()))).resolve()
    assert again == resolved


def test_a_sweep_table_is_accepted():
    cfg = SweepConfig.from_dict({"sweep": {"depth": [2, 3], "width": 8}})
    assert cfg.resolve().depth == (2, 3)


# ------------------------------------------------------------------------------ files


def test_toml_file(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text('scheme = ["he_normal", "random_normal(std=0.01)"]\nactivation = "tanh"\n'
                    'depth = [2, 3]\nwidth = 8\nseed = [0, 1]\nepochs = 1\n', encoding="utf-8")
    cfg = SweepConfig.load(path)
    assert len(cfg.runs()) == 2 * 2 * 2
    assert cfg.resolve().activation == ("tanh",)


def test_json_file(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text(json.dumps({"scheme": [{"name": "random_normal", "params": {"std": 0.01}}], "depth": 2,
                                "width": 8}), encoding="utf-8")
    (run,) = SweepConfig.load(path).runs()
    assert run.params["scheme_params"] == {"std": 0.01}


def test_toml_syntax_error_reports_line_and_column(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('scheme = "he_normal"\ndepth = [2, 3\nwidth = 8\n', encoding="utf-8")
    with pytest.raises(InitlabError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg and "line 3, column 1" in msg and "TOML" in msg


def test_toml_error_at_end_of_document():
    with pytest.raises(InitlabError, match=r"line 2, column \d+ \(.*\); allowed: TOML"):
        parse_config_text('depth = 2\nwidth = "8', "toml")


def test_json_syntax_error_reports_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "depth": [2, 3],\n  "width": 8,,\n}\n', encoding="utf-8")
    with pytest.raises(InitlabError) as err:
        load_config(path)
    msg = str(err.value)
    assert "line 3, column 14" in msg and "JSON" in msg


def test_yaml_file_or_a_clear_error_without_pyyaml(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("scheme: [he_normal]\ndepth: [2, 3]\nwidth: 8\n", encoding="utf-8")
    if importlib.util.find_spec("yaml") is None:
        with pytest.raises(InitlabError, match="PyYAML"):
            load_config(path)
    else:
        assert SweepConfig.load(path).resolve().depth == (2, 3)


def test_yaml_syntax_error_reports_line_and_column(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "bad.yaml"
    path.write_text("depth: [2, 3\nwidth: 8\n", encoding="utf-8")
    with pytest.raises(InitlabError, match=r"line \d+, column \d+ \(.*\); allowed: YAML"):
        load_config(path)


def test_unknown_suffix_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(InitlabError, match="allowed: .toml, .json"):
        load_config(tmp_path / "grid.ini")
    with pytest.raises(InitlabError, match="no such file"):
        load_config(tmp_path / "missing.toml")
    path = tmp_path / "list.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(InitlabError, match="at the top level"):
        load_config(path)
