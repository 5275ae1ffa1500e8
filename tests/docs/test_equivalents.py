"""The equivalence table the scheme pages show (``initlab.schemes.equivalents``) holds: one row per
registry scheme, and every "same values from the same torch.Generator" claim is run here against the
``torch.nn.init`` call it names, bit for bit, with parameters away from the defaults."""

from __future__ import annotations

import importlib.util
import math

import pytest
import torch
from torch.nn import init as tinit

import initlab
from initlab.schemes.equivalents import EQUIVALENTS, equivalent

# scheme -> (initlab initializer, the torch.nn.init call with the same meaning), written out here
TORCH_CALLS = {
    "zeros": (initlab.zeros(), lambda t, g: tinit.zeros_(t)),
    "ones": (initlab.ones(), lambda t, g: tinit.ones_(t)),
    "constant": (initlab.constant(value=0.37), lambda t, g: tinit.constant_(t, 0.37)),
    "random_normal": (initlab.random_normal(mean=0.2, std=0.7), lambda t, g: tinit.normal_(t, 0.2, 0.7, generator=g)),
    "random_uniform": (initlab.random_uniform(minval=-0.1, maxval=0.4),
                       lambda t, g: tinit.uniform_(t, -0.1, 0.4, generator=g)),
    "glorot_normal": (initlab.glorot_normal(gain=1.3), lambda t, g: tinit.xavier_normal_(t, 1.3, generator=g)),
    "glorot_uniform": (initlab.glorot_uniform(gain=0.8), lambda t, g: tinit.xavier_uniform_(t, 0.8, generator=g)),
    "he_normal": (initlab.he_normal(a=0.1, mode="fan_out", nonlinearity="leaky_relu"),
                  lambda t, g: tinit.kaiming_normal_(t, 0.1, "fan_out", "leaky_relu", generator=g)),
    "he_uniform": (initlab.he_uniform(a=math.sqrt(5), mode="fan_in", nonlinearity="leaky_relu"),
                   lambda t, g: tinit.kaiming_uniform_(t, math.sqrt(5), "fan_in", "leaky_relu", generator=g)),
    "orthogonal": (initlab.orthogonal(gain=1.5), lambda t, g: tinit.orthogonal_(t, 1.5, generator=g)),
    "identity": (initlab.identity(), lambda t, g: tinit.eye_(t)),
    "dirac": (initlab.dirac(groups=2), lambda t, g: tinit.dirac_(t, 2)),
}
SHAPES = {"identity": (30, 50), "dirac": (8, 4, 3, 3)}


def test_every_scheme_has_exactly_one_row():
    names = [r["name"] for r in initlab.list_schemes()]
    assert sorted(EQUIVALENTS) == sorted(names)


def test_same_values_claims_are_exactly_the_tested_ones():
    claimed = sorted(n for n, e in EQUIVALENTS.items() if e.torch_same_values)
    assert claimed == sorted(TORCH_CALLS)
    for name in claimed:  # the call the page names is the call tested
        fn = TORCH_CALLS[name][1].__code__.co_names
        assert any(f"torch.nn.init.{n}(" in EQUIVALENTS[name].torch for n in fn if n.endswith("_")), name


@pytest.mark.parametrize("name", sorted(TORCH_CALLS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
def test_same_generator_same_values(name, dtype):
    ours, theirs = TORCH_CALLS[name]
    shape = SHAPES.get(name, (48, 20, 3))
    a, b = torch.empty(shape, dtype=dtype), torch.empty(shape, dtype=dtype)
    ours(a, generator=torch.Generator().manual_seed(11))
    theirs(b, torch.Generator().manual_seed(11))
    assert torch.equal(a, b)


def test_a_wrong_claim_would_be_caught():
    """he_normal against kaiming_uniform_ must differ: the comparison above can fail."""
    a, b = torch.empty(48, 20), torch.empty(48, 20)
    initlab.he_normal()(a, generator=torch.Generator().manual_seed(11))
    tinit.kaiming_uniform_(b, generator=torch.Generator().manual_seed(11))
    assert not torch.equal(a, b)


def test_lookup_by_alias_and_keras_class_name():
    assert equivalent("kaiming_normal_") is EQUIVALENTS["he_normal"]
    assert equivalent("HeNormal") is EQUIVALENTS["he_truncated_normal"]
    assert EQUIVALENTS["he_truncated_normal"].keras == "keras.initializers.HeNormal()"
    with pytest.raises(initlab.InitlabError, match="scheme: got unknown name"):
        equivalent("he_norml")


def _attr_path(call: str) -> tuple[str, list[str]]:
    dotted = call.split("(")[0]
    module, *attrs = dotted.split(".")
    return module, attrs


@pytest.mark.parametrize("library", ["keras", "jax"])
def test_named_keras_and_jax_calls_exist(library):
    """Where Keras or JAX is installed, every name in the table must exist there (catches a renamed class)."""
    if importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed here; the names are checked where it is")
    mod = importlib.import_module(library)
    missing = []
    for name, e in EQUIVALENTS.items():
        call = getattr(e, library)
        if not call:
            continue
        obj = mod
        for attr in _attr_path(call)[1]:
            obj = getattr(obj, attr, None)
            if obj is None:
                missing.append(f"{name}: {call}")
                break
    assert not missing, missing
