"""Depth parametrizations: depth-μP (α = 1/2) and CompleteP (α = 1), beside μP for width.

A residual network ``x^{l+1} = x^l + L_m^(−α) · F_l(x^l)`` with ``L_m = L / L_base`` (L blocks, L_base
the base model's) keeps the stream at O(1) whatever its depth when the branches are scaled, and the
learning rates tuned at the base depth transfer when they are scaled too. Dey et al. 2025 (CompleteP,
Table 1; the reference implementation EleutherAI/nanoGPT-mup, branch ``completep``) give, for Adam:

==================================  =====================================
residual branch multiplier          L_m^(−α)
Adam lr of the blocks' parameters   × L_m^(α−1)  (weights, biases and norms inside the blocks)
Adam ε of the blocks' parameters    × L_m^(−α)
embeddings, readout, final norm     unchanged by depth
initialization                      the base law (depth-independent)
==================================  =====================================

α = 1/2 is depth-μP (Yang et al. 2023, "Tensor Programs VI: Feature Learning in Infinite-Depth Neural
Networks"; Bordelon et al. 2023): lr × L_m^(−1/2); α = 1 is CompleteP: lr × 1, only the multiplier
changes. The papers state the rules for Adam; initlab leaves the SGD learning rates unscaled by depth.
With ``base=`` the width rules of μP (:mod:`initlab.parametrize.rules`) apply as well, multiplied in.

The multiplier is a forward multiplier on each branch's last layer (a removable hook,
:mod:`initlab.parametrize.hooks`), L is the number of blocks :mod:`initlab.model.residual` finds (a
transformer layer is one block of two branches) and a parameter is "in the blocks" when it belongs to
a module under a block (``blocks.3.…``) or to a branch layer.

>>> import initlab
>>> from initlab.experiments.lm import char_transformer
>>> plan = initlab.parametrize(char_transformer(32, depth=8, heads=2, context=16), "completep", base_depth=2,
...                            seed=0)
>>> r = plan["blocks.0.mlp.fc2.weight"]
>>> r.mult, r.lr_adam, r.eps
(0.25, 1.0, 0.25)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..errors import InitlabError, check_int, check_number
from .core import MuP, Parametrization, SP

__all__ = ["DepthMuP", "CompleteP", "depth_rows"]


@dataclass(frozen=True)
class DepthMuP(Parametrization):
    """Depth-μP: branches × (L/L_base)^(−1/2), Adam lr in the blocks × (L/L_base)^(−1/2), Adam ε × (L/L_base)^(−1/2)
    (see the module docstring). ``base_depth``: L_base, the number of blocks of the model the learning rate
    was tuned on; ``alpha`` the exponent (1/2)."""

    base_depth: int = 1
    alpha: float = 0.5
    name = "depth_mup"
    needs_base = False

    def __post_init__(self):
        object.__setattr__(self, "base_depth", check_int("base_depth", self.base_depth, minimum=1))
        object.__setattr__(self, "alpha", check_number("alpha", self.alpha, minimum=0.0, maximum=1.0))

    def inner(self, width: bool) -> Parametrization:
        """The width parametrization the depth rules multiply: μP with a base width, else SP."""
        return MuP() if width else SP()

    def describe(self) -> str:
        return f"{self.name} (α = {self.alpha:g}, base depth {self.base_depth})"


@dataclass(frozen=True)
class CompleteP(DepthMuP):
    """CompleteP (Dey et al. 2025): branches × (L/L_base)^(−1), Adam lr unchanged by depth, Adam ε in the
    blocks × (L/L_base)^(−1)."""

    alpha: float = 1.0
    name = "completep"


def depth_rows(p: DepthMuP, rows: list, structure, model) -> list:
    """``rows`` (a width plan's :class:`~initlab.parametrize.core.WidthRow` s) with the depth rules of ``p``."""
    from ..model.residual import require_branches, residual_structure

    residual = require_branches(residual_structure(structure), f"{p.name}", model)
    m_l = residual.blocks / p.base_depth
    mult = m_l ** -p.alpha
    lr = m_l ** (p.alpha - 1.0)
    eps = m_l ** -p.alpha
    prefixes = {layer.tags["block_key"] + "." for layer in structure.layers if "block_key" in layer.tags
                and not layer.tags["block_key"].startswith("#")}
    branch_layers = {name for b in residual.branches for name in b.layers}
    outs = set(residual.branch_out)
    out = []
    for r in rows:
        inside = r.layer in branch_layers or any(r.layer.startswith(x) for x in prefixes)
        changes = {}
        if r.layer in outs:
            changes["mults"] = tuple(m * mult for m in r.mults)
            changes["reason"] = f"{r.reason}; branch × (L/L_base)^(−{p.alpha:g}) = {mult:.4g}"
        if inside:
            changes.update(lr_adam=r.lr_adam * lr, eps=r.eps * eps)
        out.append(dataclasses.replace(r, **changes) if changes else r)
    if not any(r.layer in outs for r in out):
        raise InitlabError(f"{p.name}: got no parameter of a branch's last layer among the planned rows; allowed: "
                           "a residual model whose branches end in Linear/Conv/attention layers")
    return out
