"""Bad input to initlab.theory: each gets an InitlabError naming the argument, the value and what is allowed."""

from __future__ import annotations

import pytest
import torch

from initlab.errors import InitlabError
from initlab.theory import (chi1, correlation_map, critical_sigma_w, depth_scales, fixed_point, phase_diagram,
                            predict, variance_map)


def test_negative_sigma_w():
    with pytest.raises(InitlabError, match=r"sigma_w: got -1\.0; allowed: a number >= 0"):
        variance_map(1.0, "relu", -1.0)
    with pytest.raises(InitlabError, match="sigma_w: got"):
        predict("tanh", -0.5)


def test_negative_sigma_b():
    with pytest.raises(InitlabError, match=r"sigma_b: got -0\.1"):
        fixed_point("tanh", 1.0, -0.1)
    with pytest.raises(InitlabError, match=r"sigma_b: got -0\.1"):
        critical_sigma_w("tanh", -0.1)


def test_non_finite_sigma_w():
    with pytest.raises(InitlabError, match="sigma_w: got nan; allowed: a finite number"):
        chi1("relu", float("nan"))


@pytest.mark.parametrize("depth", [0, -3, 2.5, True])
def test_bad_depth(depth):
    with pytest.raises(InitlabError, match=r"depth: got .*; allowed: an integer >= 1"):
        predict("relu", 1.0, depth=depth)


def test_unknown_activation_suggests_the_nearest():
    with pytest.raises(InitlabError, match=r"activation: got 'tanhh'.*did you mean 'tanh'"):
        variance_map(1.0, "tanhh", 1.0)
    with pytest.raises(InitlabError, match=r"did you mean 'relu'"):
        depth_scales("reluu", 1.0)


def test_non_elementwise_callable():
    with pytest.raises(InitlabError, match=r"activation: got '<lambda>', which maps a float64 tensor .*; allowed: an elementwise callable"):
        variance_map(1.0, lambda x: x.sum(), 1.0)


def test_bad_q_and_q0():
    with pytest.raises(InitlabError, match=r"q: got -1\.0"):
        variance_map(-1.0, "relu", 1.0)
    with pytest.raises(InitlabError, match=r"q0: got 0\.0; allowed: a number > 0"):
        fixed_point("relu", 1.0, q0=0.0)
    with pytest.raises(InitlabError, match=r"q0: got -2"):
        predict("relu", 1.0, q0=-2)


def test_correlation_out_of_range():
    with pytest.raises(InitlabError, match=r"c: got 1\.5; allowed: correlations in \[-1, 1\]"):
        correlation_map(1.5, 1.0, "tanh", 1.0)
    with pytest.raises(InitlabError, match="variance V\\(q\\) = 0.0"):
        correlation_map(0.5, 1.0, "tanh", 0.0)  # σw = σb = 0: the next layer is identically 0


def test_bad_grids():
    with pytest.raises(InitlabError, match="sigma_w2_grid: got .*; allowed: a non-empty 1-D sequence"):
        phase_diagram("tanh", [1.0, -1.0], [0.0])
    with pytest.raises(InitlabError, match="sigma_b2_grid"):
        phase_diagram("tanh", [1.0], [])


def test_no_edge_of_chaos():
    # a constant activation never reaches χ₁ = 1
    with pytest.raises(InitlabError, match=r"sigma_b: got 0\.0; allowed: a sigma_b at which '<lambda>' has an edge "
                                           r"of chaos: χ₁ = 1 at no fixed point"):
        critical_sigma_w(lambda x: torch.zeros_like(x) + 0.5)


def test_max_iter_too_small():
    with pytest.raises(InitlabError, match="max_iter: got 2"):
        fixed_point("tanh", 1.2, 0.1, max_iter=2)
    with pytest.raises(InitlabError, match="max_iter: got 0; allowed: an integer >= 1"):
        fixed_point("tanh", 1.2, max_iter=0)
