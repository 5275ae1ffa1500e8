"""Names mean what their source means: case-insensitive lookup never lands on a different published
scheme, PyTorch's spellings are PyTorch's laws, and Keras 3.15's own serialized configs are read as
Keras wrote them (``keras/src/initializers/random_initializers.py`` at v3.15.0: ``get_config`` of the
VarianceScaling family returns ``seed``, ``input_axes`` and ``output_axes``; ``serialize_keras_object``
wraps it as ``{"module", "class_name", "config", "registered_name"}``)."""

from __future__ import annotations

import math

import pytest
import torch

import initlab
from initlab import InitlabError


# -- case ------------------------------------------------------------------------------------------------------
def test_zero_capital_o_is_not_zeros():
    """ZerO (Zhao et al. 2022) is a deterministic depth recipe, not all zeros: the exact spelling is ZerO."""
    assert initlab.get("ZerO") == initlab.ZerO() and type(initlab.get("ZerO")).__name__ == "ZerO"
    assert initlab.get({"name": "ZerO"}) == initlab.ZerO() and initlab.get("zero_init") == initlab.ZerO()
    w = initlab.get("ZerO")(torch.empty(4, 2))
    assert not torch.equal(w, torch.zeros(4, 2)) and initlab.get("zero")(torch.ones(4, 2)).abs().sum() == 0


@pytest.mark.parametrize("spelling", ["zeros", "ZEROS", "Zeros", "zEROS", "zero", "ZERO", "Zero", "zeros_"])
def test_case_variants_of_zeros_still_work(spelling):
    assert initlab.get(spelling) == initlab.zeros()


@pytest.mark.parametrize("spelling", ["zerO", "ZeRo", "zErO"])
def test_a_mixed_case_spelling_of_a_clashing_name_is_refused(spelling):
    with pytest.raises(InitlabError, match=r"scheme: got .*; allowed: .*written in one case.*'ZerO' is ZerO"):
        initlab.get(spelling)


# -- PyTorch's spellings -----------------------------------------------------------------------------------------
def test_normal_underscore_is_pytorchs_standard_normal():
    init = initlab.get("normal_")
    assert init == initlab.random_normal(mean=0.0, std=1.0)
    d = init.distribution((3, 4))
    assert (d.family, d.mean, d.std) == ("normal", 0.0, 1.0)
    ours = init(torch.empty(300, 200), generator=torch.Generator().manual_seed(4))
    theirs = torch.nn.init.normal_(torch.empty(300, 200), generator=torch.Generator().manual_seed(4))
    assert torch.equal(ours, theirs)


def test_uniform_underscore_is_pytorchs_unit_uniform():
    init = initlab.get("uniform_")
    assert init == initlab.random_uniform(minval=0.0, maxval=1.0)
    d = init.distribution((3, 4))
    assert (d.low, d.high) == (0.0, 1.0)
    ours = init(torch.empty(300, 200), generator=torch.Generator().manual_seed(4))
    theirs = torch.nn.init.uniform_(torch.empty(300, 200), generator=torch.Generator().manual_seed(4))
    assert torch.equal(ours, theirs)


def test_pytorch_parameter_names_of_the_underscore_spellings():
    """``uniform_(a, b)`` and ``normal_(mean, std)``: PyTorch's arguments, its values."""
    init = initlab.get({"name": "uniform_", "params": {"a": -2.0, "b": 3.0}})
    assert init == initlab.random_uniform(minval=-2.0, maxval=3.0)
    ours = init(torch.empty(100, 30), generator=torch.Generator().manual_seed(1))
    theirs = torch.nn.init.uniform_(torch.empty(100, 30), -2.0, 3.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(ours, theirs)
    assert initlab.get({"name": "normal_", "params": {"std": 0.1}}) == initlab.random_normal(mean=0.0, std=0.1)
    assert initlab.get({"name": "NORMAL_", "seed": 3}).seed == 3


def test_keras_and_jax_plain_spellings_keep_their_defaults():
    """``normal`` and ``uniform`` are Keras's aliases of RandomNormal/RandomUniform (std 0.05, ±0.05)."""
    assert initlab.get("normal") == initlab.random_normal() and initlab.random_normal().std == 0.05
    assert initlab.get("uniform") == initlab.random_uniform() and initlab.random_uniform().maxval == 0.05


def test_list_shows_the_pytorch_spellings_with_their_defaults():
    rows = {r["name"]: r for r in initlab.list_schemes()}
    assert rows["random_normal"]["presets"] == {"normal_": {"mean": 0.0, "std": 1.0}}
    assert rows["random_uniform"]["presets"] == {"uniform_": {"minval": 0.0, "maxval": 1.0}}
    for row in rows.values():
        for name, defaults in row["presets"].items():
            assert initlab.get(name) == initlab.create(row["name"], **defaults)


# -- Keras 3.15's serialized configs -------------------------------------------------------------------------------
def keras(class_name, **config):
    """What ``keras.saving.serialize_keras_object`` writes for a built-in initializer (Keras 3.15)."""
    return {"module": "keras.initializers", "class_name": class_name, "config": config, "registered_name": None}


AXES = {"seed": None, "input_axes": None, "output_axes": None}
# (Keras class, its 3.15 get_config, initlab equivalent)
KERAS_315 = [
    ("HeNormal", AXES, initlab.he_truncated_normal()),
    ("HeUniform", AXES, initlab.he_uniform()),
    ("GlorotNormal", AXES, initlab.glorot_truncated_normal()),
    ("GlorotUniform", AXES, initlab.glorot_uniform()),
    ("LecunNormal", AXES, initlab.lecun_truncated_normal()),
    ("LecunUniform", AXES, initlab.lecun_uniform()),
    ("VarianceScaling", {**AXES, "scale": 2.0, "mode": "fan_avg", "distribution": "untruncated_normal"},
     initlab.variance_scaling(2.0, "fan_avg", "untruncated_normal")),
    ("RandomNormal", {"seed": None, "mean": 0.1, "stddev": 0.2}, initlab.random_normal(mean=0.1, std=0.2)),
    ("TruncatedNormal", {"seed": None, "mean": 0.0, "stddev": 0.05}, initlab.truncated_normal()),
    ("RandomUniform", {"seed": None, "minval": -0.1, "maxval": 0.3}, initlab.random_uniform(-0.1, 0.3)),
    ("Orthogonal", {"seed": None, "gain": 1.5}, initlab.orthogonal(gain=1.5)),
    ("Constant", {"value": 0.25}, initlab.constant(0.25)),
    ("Zeros", {}, initlab.zeros()),
    ("Ones", {}, initlab.ones()),
    ("Identity", {}, initlab.identity()),
]


@pytest.mark.parametrize("class_name, config, expected", KERAS_315, ids=[c[0] for c in KERAS_315])
def test_keras_315_serialized_configs(class_name, config, expected):
    assert initlab.get(keras(class_name, **config)) == expected
    assert initlab.get({"class_name": class_name, "config": config}) == expected


def test_keras_seed_is_kept():
    init = initlab.get(keras("HeNormal", seed=7, input_axes=None, output_axes=None))
    assert init.seed == 7 and init == initlab.he_truncated_normal(seed=7)


KERNEL = (3, 3, 64, 128)  # a Keras Conv2D kernel (kh, kw, in, out)


def test_keras_input_and_output_axes_set_the_fans():
    """Keras: fan_in = ∏ shape[input_axes], fan_out = ∏ shape[output_axes] (no receptive field)."""
    fan_in, fan_out = 3 * 3 * 64, 128
    cfg = keras("VarianceScaling", seed=None, scale=2.0, mode="fan_out", distribution="untruncated_normal",
                input_axes=[0, 1, 2], output_axes=[3])
    d = initlab.get(cfg).distribution(KERNEL)
    assert (d.fans.fan_in, d.fans.fan_out) == (fan_in, fan_out)
    assert d.family == "normal" and d.variance == pytest.approx(2.0 / fan_out, rel=1e-14)
    # the named classes are VarianceScaling with their constants: HeNormal = (2, fan_in, truncated)
    d = initlab.get(keras("HeNormal", seed=None, input_axes=[0, 1, 2], output_axes=[3])).distribution(KERNEL)
    assert d.family == "truncated_normal" and d.variance == pytest.approx(2.0 / fan_in, rel=1e-12)
    # GlorotUniform = (1, fan_avg, uniform): limit √(3/((fan_in + fan_out)/2))
    d = initlab.get(keras("GlorotUniform", seed=None, input_axes=[2], output_axes=[0, 1, 3])).distribution(KERNEL)
    assert d.high == pytest.approx(math.sqrt(3.0 / ((64 + 9 * 128) / 2)), rel=1e-14)
    # negative axes count from the end; the config round-trips through initlab's own form
    init = initlab.get(keras("LecunUniform", seed=None, input_axes=[-2], output_axes=[-1]))
    assert init.distribution(KERNEL).fans.fan_in == 64
    assert initlab.get(init.to_config()) == init


def test_keras_uses_axes_only_when_both_are_given():
    one = initlab.get(keras("HeNormal", seed=None, input_axes=[0, 1, 2], output_axes=None))
    assert one == initlab.he_truncated_normal()


@pytest.mark.parametrize("cfg, fragment", [
    (keras("Orthogonal", seed=None, gain=1.0, input_axes=[0], output_axes=[1]), "input_axes: got"),
    ({**keras("HeNormal", **AXES), "registered_name": "my_pkg>MyInit"}, "registered_name: got 'my_pkg>MyInit'"),
    ({**keras("HeNormal", **AXES), "module": "my_pkg.initializers"}, "module: got 'my_pkg.initializers'"),
    (keras("HeNormal", seed={"module": "keras.random", "class_name": "SeedGenerator", "config": {"seed": 1}},
           input_axes=None, output_axes=None), "seed: got {"),
    (keras("HeNormal", seed=None, input_axes="0", output_axes=[1]), "input_axes: got '0'"),
    (keras("HeNormal", seed=None, input_axes=[1.5], output_axes=[1]), "input_axes: got 1.5"),
    ({**keras("HeNormal", **AXES), "shared_object_id": 3}, "config: got 'shared_object_id'"),
    ({"class_name": "HeNormal", "config": [1, 2]}, "config: got list [1, 2]"),
], ids=["axes_on_orthogonal", "custom_registered", "foreign_module", "seed_generator", "axes_string",
        "axes_float", "unknown_key", "config_list"])
def test_keras_configs_initlab_cannot_honour_are_errors(cfg, fragment):
    with pytest.raises(InitlabError) as info:
        initlab.get(cfg)
    assert fragment in str(info.value) and "; allowed: " in str(info.value), str(info.value)
