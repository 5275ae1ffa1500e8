"""Residual structure found from the module graph (torch.fx), from names, and from rules: a table of models."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

import initlab
from initlab.experiments.lm import char_transformer
from initlab.model.residual import require_branches, residual_structure
from initlab.model.structure import find_structure

from ._models import MHANet, MaskedAttention, Parallel, ResMLP, ResNet, ReZeroByHand, Untraceable

# model, N branches, L blocks, (first branch's layers, m, last), shortcuts, found_by
CASES = {
    "resmlp_m2": (lambda: ResMLP(blocks=4, m=2), 4, 4, (("blocks.0.layers.0", "blocks.0.layers.1"), 2,
                                                        ("blocks.0.layers.1",)), (), "fx"),
    "resmlp_m3": (lambda: ResMLP(blocks=3, m=3), 3, 3, (("blocks.0.layers.0", "blocks.0.layers.1", "blocks.0.layers.2"),
                                                        3, ("blocks.0.layers.2",)), (), "fx"),
    "transformer": (lambda: char_transformer(16, depth=3, heads=2, context=8), 6, 3,
                    (("blocks.0.attn.q", "blocks.0.attn.k", "blocks.0.attn.v", "blocks.0.attn.o"), 2,
                     ("blocks.0.attn.o",)), (), "fx"),
    "resnet_projection": (ResNet, 4, 4, (("layer1.0.conv1", "layer1.0.conv2"), 2, ("layer1.0.conv2",)),
                          ("layer2.0.down",), "fx"),
    "rezero_by_hand": (ReZeroByHand, 3, 3, (("fcs.0",), 1, ("fcs.0",)), (), "fx"),
    "mha": (MHANet, 2, 2, (("blocks.0.attn", "blocks.0.attn.out_proj"), 2, ("blocks.0.attn.out_proj",)), (), "fx"),
    "untraceable_named": (Untraceable, 3, 3, (("blocks.0.layers.0", "blocks.0.layers.1"), 2, ("blocks.0.layers.1",)),
                          (), "names (guessed)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_branches_blocks_and_places(name):
    make, n, blocks, (layers, m, last), shortcuts, found_by = CASES[name]
    r = residual_structure(make())
    assert r.count == n and r.blocks == blocks
    first = r.branches[0]
    assert (first.layers, first.depth, first.last) == (layers, m, last)
    assert r.shortcuts == shortcuts
    assert {b.found_by for b in r.branches} == {found_by}
    assert [b.index for b in r.branches] == list(range(n))


def test_transformer_tags_roles_and_blocks():
    s = find_structure(char_transformer(16, depth=2, heads=2, context=8))
    q, o, fc1, fc2 = (s.layer(f"blocks.1.{x}") for x in ("attn.q", "attn.o", "mlp.fc1", "mlp.fc2"))
    assert (q.role, q.tags["branch_role"], q.tags["branch_pos"], q.tags["block"]) == ("attn_q", "in", 0, 1)
    assert (o.role, o.tags["branch_role"], o.tags["branch_pos"]) == ("attn_o", "out", 1)
    assert (fc1.tags["branch_role"], fc2.tags["branch_role"]) == ("in", "out")
    assert q.tags["branches"] == 4 and q.tags["blocks"] == 2
    assert "branch" not in s.layer("head").tags and "branch" not in s.layer("tok").tags
    assert "branch-out (block 1)" in str(s)


@pytest.mark.parametrize("make", [MaskedAttention, Parallel], ids=["mask_add", "parallel_paths"])
def test_additions_that_are_not_residual(make):
    r = residual_structure(make())
    if make is MaskedAttention:  # only x + o(...) is a residual merge, not scores + mask
        assert r.count == 1 and r.branches[0].layers == ("q", "k", "v", "o") and r.branches[0].last == ("o",)
    else:
        assert r.count == 0


def test_embeddings_summed_are_not_a_branch():
    r = residual_structure(char_transformer(16, depth=1, heads=2, context=8))
    assert all("tok" not in b.layers and "pos" not in b.layers for b in r.branches)


def test_rules_override_fx_and_name_the_branches():
    model = char_transformer(16, depth=2, heads=2, context=8)
    r = residual_structure(model, {"blocks.*.mlp": "branch"})  # only the MLPs
    assert r.count == 2 and [b.layers for b in r.branches] == [("blocks.0.mlp.fc1", "blocks.0.mlp.fc2"),
                                                              ("blocks.1.mlp.fc1", "blocks.1.mlp.fc2")]
    assert {b.found_by for b in r.branches} == {"rule"} and r.branches[0].module == "blocks.0.mlp"
    r = residual_structure(model, {"blocks.*.attn": "branch", "blocks.*.mlp": "branch"})
    assert r.count == 4 and r.branches[0].last == ("blocks.0.attn.o",) and r.branches[0].depth == 2


def test_rules_give_branches_to_a_model_nothing_else_finds():
    model = Untraceable(named=False)
    r = residual_structure(model)
    assert r.count == 0 and r.trace_error
    with pytest.raises(initlab.InitlabError) as e:
        require_branches(r, "'fixup'", model)
    text = str(e.value)
    assert "\n" not in text and "torch.fx could not trace it" in text and "rules={'blocks.*.mlp': 'branch'" in text
    r = residual_structure(model, {"stack.*": "branch"})
    assert r.count == 3 and r.branches[1].layers == ("stack.1",) and r.branches[1].depth == 1


def test_torch_transformer_encoder_found_by_names():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 2)
    r = residual_structure(enc)
    assert r.count == 4 and r.blocks == 2
    assert r.branches[0].layers == ("layers.0.self_attn", "layers.0.self_attn.out_proj")
    assert r.branches[1].layers == ("layers.0.linear1", "layers.0.linear2") and r.branches[1].last == ("layers.0.linear2",)


def test_bad_rule_value_and_pattern_are_one_line_errors():
    model = ResMLP()
    with pytest.raises(initlab.InitlabError, match=r"rules\['blocks\.\*'\]: got 'branches'; allowed: .*'branch'"):
        find_structure(model, {"blocks.*": "branches"})
    with pytest.raises(initlab.InitlabError, match="rules: got 'nothing.*'; allowed: a pattern that matches a module"):
        find_structure(model, {"nothing.*": "branch"})


def test_plain_mlp_has_no_branches():
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    assert residual_structure(net).count == 0


def test_structure_of_a_deep_model_is_linear_in_depth():
    """300 blocks trace and analyse in one pass (no quadratic ancestor sets): 300 branches found."""
    r = residual_structure(ResMLP(width=4, blocks=300))
    assert r.count == 300 and r.blocks == 300
