"""One table of activation modules serves initialization, diagnostics and theory."""

from __future__ import annotations

import pytest
import torch.nn as nn

from initlab.diagnostics._sites import module_activation
from initlab.model.activations import ACTIVATION_MODULES, activation_name, activation_of_module
from initlab.theory.model import ELEMENTWISE

LEAKY = {"leaky_relu", "prelu", "rrelu"}  # initialization reads these as leaky_relu with a slope


@pytest.mark.parametrize("cls, name", ACTIVATION_MODULES, ids=[n for _, n in ACTIVATION_MODULES])
def test_every_table_entry_is_known_to_every_reader(cls, name):
    m = cls()
    assert activation_name(m) == name
    assert activation_of_module(m).name == ("leaky_relu" if name in LEAKY else name)
    assert module_activation(m).name == name
    assert isinstance(m, ELEMENTWISE) == (name != "rrelu")


def test_a_subclass_is_named_before_its_base():
    assert activation_name(nn.ReLU6()) == "relu6" and activation_name(nn.Hardtanh()) == "hardtanh"
    assert module_activation(nn.ReLU6()).hi == 6.0


@pytest.mark.parametrize("m", [nn.Linear(2, 2), nn.Softmax(dim=-1), nn.Identity()], ids=str)
def test_modules_that_are_not_elementwise_activations_have_no_name(m):
    assert activation_name(m) is None and activation_of_module(m) is None and module_activation(m) is None
