"""Configs and ``get()``: JSON round trips, Keras's serialisation, every spelling of every name."""

from __future__ import annotations

import json

import pytest
import torch

import initlab
from initlab import InitlabError

# every registered scheme with parameters that differ from its defaults
NON_DEFAULT = {
    "zeros": {},
    "ones": {},
    "constant": {"value": 0.25},
    "random_normal": {"mean": 0.1, "std": 0.2},
    "random_uniform": {"minval": -0.1, "maxval": 0.3},
    "truncated_normal": {"mean": 0.1, "std": 0.2, "a": -1.0, "b": 1.5},
    "trunc_normal": {"mean": 0.0, "std": 0.02, "a": -0.04, "b": 0.03},
    "variance_scaling": {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform"},
    "glorot_normal": {"gain": 1.5},
    "glorot_uniform": {"gain": 1.5},
    "glorot_truncated_normal": {"gain": 1.5},
    "he_normal": {"a": 0.2, "mode": "fan_out", "nonlinearity": "leaky_relu"},
    "he_uniform": {"a": 0.0, "mode": "fan_out", "nonlinearity": "tanh"},
    "he_truncated_normal": {"a": 0.1, "mode": "fan_avg", "nonlinearity": "leaky_relu"},
    "lecun_normal": {"gain": 2.0},
    "lecun_uniform": {"gain": 2.0},
    "lecun_truncated_normal": {"gain": 2.0},
    "orthogonal": {"gain": 1.4},
    "identity": {"gain": 0.5},
    "dirac": {"groups": 2, "gain": 0.5},
    "delta_orthogonal": {"gain": 2.0},
    "sparse": {"sparsity": 0.3, "std": 0.05},
    "torch_default": {"fan_in": 128},
    "small_init": {"dim": 64},
    "wang_init": {"n_layers": 6, "dim": 64},
    "mitchell": {"dim": 64, "layer": 2},
    "ZerO": {},
    "idinit": {"tau": 0.5},
}


def _shape(name):
    return (8, 12) if name in ("identity", "sparse", "idinit") else (8, 4, 3, 3)


def test_the_table_covers_every_registered_scheme():
    assert set(NON_DEFAULT) == {row["name"] for row in initlab.list_schemes()}


@pytest.mark.parametrize("name", sorted(NON_DEFAULT))
@pytest.mark.parametrize("seed", [None, 17])
def test_config_json_round_trip(name, seed):
    init = initlab.create(name, **NON_DEFAULT[name], seed=seed)
    cfg = json.loads(json.dumps(init.to_config()))
    back = initlab.get(cfg)
    assert type(back) is type(init)
    assert back == init
    assert back.params() == NON_DEFAULT[name]
    assert back.seed == seed
    assert type(init).from_config(cfg) == init
    # and it draws the same values
    a, b = torch.empty(_shape(name)), torch.empty(_shape(name))
    init(a, seed=5)
    back(b, seed=5)
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(NON_DEFAULT))
def test_flat_dict_config(name):
    """``{"name": ..., **params}`` is accepted as well as ``{"name": ..., "params": {...}}``."""
    assert initlab.get({"name": name, **NON_DEFAULT[name]}) == initlab.create(name, **NON_DEFAULT[name])


def test_keras_style_config():
    init = initlab.get({"class_name": "RandomNormal", "config": {"mean": 0, "stddev": 0.2, "seed": 3}})
    assert init == initlab.random_normal(mean=0, std=0.2, seed=3)
    d = init.distribution((10, 10))
    assert (d.family, d.mean, d.std) == ("normal", 0.0, 0.2)
    a = torch.empty(10, 10)
    init(a)
    assert torch.equal(a, initlab.random_normal(mean=0.0, std=0.2)(torch.empty(10, 10), seed=3))


@pytest.mark.parametrize("cfg, expected", [
    ({"class_name": "RandomUniform", "config": {"minval": -0.1, "maxval": 0.1, "seed": None}},
     initlab.random_uniform(minval=-0.1, maxval=0.1)),
    ({"class_name": "TruncatedNormal", "config": {"mean": 0.0, "stddev": 0.02, "seed": 1}},
     initlab.truncated_normal(mean=0.0, std=0.02, seed=1)),
    ({"class_name": "VarianceScaling", "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal",
                                                  "seed": None}},
     initlab.variance_scaling(scale=2.0, mode="fan_out", distribution="untruncated_normal")),
    ({"class_name": "GlorotUniform", "config": {"seed": 4}}, initlab.glorot_uniform(seed=4)),
    ({"class_name": "HeNormal", "config": {"seed": None}}, initlab.he_truncated_normal()),
    ({"class_name": "Constant", "config": {"value": 0.5}}, initlab.constant(value=0.5)),
    ({"class_name": "Orthogonal", "config": {"gain": 2.0, "seed": None}}, initlab.orthogonal(gain=2.0)),
    ({"class_name": "Identity", "config": {"gain": 3.0}}, initlab.identity(gain=3.0)),
    ({"class_name": "Zeros", "config": {}}, initlab.zeros()),
], ids=lambda v: v["class_name"] if isinstance(v, dict) else "")
def test_more_keras_configs(cfg, expected):
    assert initlab.get(cfg) == expected


# (spelling, canonical name): initlab, PyTorch and Keras spellings, any case
SPELLINGS = [
    ("he_normal", "he_normal"), ("HE_NORMAL", "he_normal"), ("kaiming_normal", "he_normal"),
    ("Kaiming_Normal_", "he_normal"), ("kaiming_uniform_", "he_uniform"), ("HeUniform", "he_uniform"),
    ("HeNormal", "he_truncated_normal"), ("xavier_uniform_", "glorot_uniform"), ("Xavier_Normal", "glorot_normal"),
    ("GlorotUniform", "glorot_uniform"), ("GlorotNormal", "glorot_truncated_normal"),
    ("LecunNormal", "lecun_truncated_normal"), ("lecun_normal", "lecun_normal"), ("LecunUniform", "lecun_uniform"),
    ("RandomNormal", "random_normal"), ("normal", "random_normal"), ("uniform", "random_uniform"),
    ("TruncatedNormal", "truncated_normal"), ("trunc_normal_", "trunc_normal"), ("eye_", "identity"),
    ("Identity", "identity"), ("dirac_", "dirac"), ("orthogonal_", "orthogonal"), ("Orthogonal", "orthogonal"),
    ("zeros_", "zeros"), ("Zeros", "zeros"), ("ones_", "ones"), ("constant_", "constant"), ("sparse_", "sparse"),
    ("VarianceScaling", "variance_scaling"), ("DeltaOrthogonal", "delta_orthogonal"),
    ("pytorch_default", "torch_default"), ("  he_normal  ", "he_normal"),
]


@pytest.mark.parametrize("spelling, canonical", SPELLINGS)
def test_get_accepts_every_spelling(spelling, canonical):
    init = initlab.get(spelling)
    assert init.name == canonical
    assert init == initlab.create(canonical)


def test_get_returns_instances_as_they_are():
    init = initlab.he_normal(a=0.1, seed=3)
    assert initlab.get(init) is init


def test_get_wraps_callables():
    init = initlab.get(torch.nn.init.ones_)
    t = torch.zeros(3, 4)
    assert init(t) is t
    assert torch.equal(t, torch.ones(3, 4))
    init = initlab.get(lambda w: w.fill_(0.5))
    t = torch.zeros(2, 2)
    init(t)
    assert torch.equal(t, torch.full((2, 2), 0.5))
    assert init.distribution((2, 2)).family == "custom"
    with pytest.raises(InitlabError, match="callable"):
        init.to_config()


def test_list_schemes_rows_are_complete():
    for row in initlab.list_schemes():
        assert row["formula"] and row["doc"], row["name"]
        assert initlab.get(row["name"]).name == row["name"]
        for alias in row["aliases"]:
            assert initlab.get(alias).name == row["name"]
