"""The width-scaling rules of SP, μP and u-μP, as one table each and one transform between forms.

Notation. A parameter W enters the network as ``mult · W``; it is drawn with std ``σ``; the optimizer
steps it with learning rate ``η · lr_mult``. Fans are counted as in :mod:`initlab.schemes.fans`
(fan_in = inputs to a unit). For μP, ``m_in = fan_in / base_fan_in`` and ``m_out = fan_out /
base_fan_out`` are the *width multipliers*: 1 along a dimension that does not scale (the data's size,
the number of classes), so every rule below reduces to the base model's own initialization and
learning rate at the base width (the ``mup`` package's convention).

**Classes** (Tensor Programs V, §Table 3: "input weights & all biases", "output weights", "hidden
weights"), decided per parameter by which of its dimensions scale:

* ``vector`` — fan_in fixed, fan_out scales: input and embedding weights, every bias and
  normalization parameter of a width;
* ``hidden`` — both scale;
* ``readout`` — fan_in scales, fan_out fixed (output weights);
* ``fixed`` — nothing scales (e.g. the readout's bias): untouched by width.

**μP, Table 3 of Yang et al. 2022** (the form initlab uses by default, ``form="table3"``): no
forward multipliers; σ² and the learning rates carry the width::

    class     σ (× base σ)   mult   Adam lr       SGD lr
    vector    1              1      1             m_out
    hidden    m_in^(-1/2)    1      1/m_in        m_out/m_in   (Table 3's 1 when m_in = m_out; mup's MuSGD)
    readout   1/m_in         1      1/m_in        1/m_in
    fixed     1              1      1             1

**Equivalent forms** (Tensor Programs V, §"Equivalent formulations"): for any θ > 0, replacing
``(mult, σ, lr)`` by ``(θ·mult, σ/θ, lr/θ²)`` for SGD, or ``(θ·mult, σ/θ, lr/θ)`` for Adam,
leaves the function θ·mult·W computes, and every update of it, unchanged. initlab derives the
other forms from Table 3 with this one transform (:func:`transform`):

* ``form="table8"`` — the ``mup`` package's form (``MuReadout``): readout θ = 1/m_in, i.e.
  multiplier 1/m_in, σ = base σ, Adam lr 1, SGD lr m_in;
* ``form="table9"`` — the form of Yang & Hu 2021: vector θ = √m_out (multiplier √m_out,
  σ/√m_out, Adam lr 1/√m_out, SGD lr 1), readout θ = 1/√m_in (multiplier 1/√m_in, σ/√m_in,
  Adam lr 1/√m_in, SGD lr 1).

**Attention** (Tensor Programs V, §Transformers): logits ``q·kᵀ/d_head`` instead of
``/√d_head``. initlab keeps the model's own 1/√d_head and multiplies the query by
``√(base_d_head / d_head)`` (so the logits equal the base model's at the base width), as a
query multiplier of the same kind as the others: folded into the query's σ and learning rate in
Table 3's form when the query is a layer of its own, a forward multiplier otherwise.

**u-μP, Blake et al. 2024** (unit-scaled μP, absolute in the fans, no base): every weight is drawn
with σ = 1 and scaled in the forward pass (``unit_scaling``'s ``linear`` and ``linear_readout``)::

    layer       σ     mult            Adam lr         SGD lr
    input       1     1/√fan_in       1/√fan_in       fan_out·fan_in
    hidden      1     1/√fan_in       1/√fan_in       fan_out
    readout     1     1/fan_in        1               fan_in
    embedding   1     1               1/√fan_out      fan_out
    bias, norm  0, 1  1               1               fan_out (bias), fan_out (norm)

The Adam column is u-μP's (including its embedding rule 1/√fan_out). u-μP gets SGD from
unit-scaled *gradients* (separate backward scales); initlab's multipliers act on the forward and the
backward pass alike, so its SGD column is derived instead: the learning rate that gives the
effective weight ``mult·W`` Table 3's SGD step (``lr = lr_Table3 / mult²``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Scale", "CLASSES", "FORMS", "OPTIMIZERS", "mup_scale", "transform", "umup_scale", "theta",
           "width_class"]

CLASSES = ("vector", "hidden", "readout", "fixed")
FORMS = ("table3", "table8", "table9")
OPTIMIZERS = ("adam", "adamw", "sgd")
"""Optimizer kinds: Adam-like (Adam, AdamW: updates invariant to the gradient's scale) or SGD-like."""


@dataclass(frozen=True)
class Scale:
    """Factors for one parameter: ``init`` multiplies the base σ, ``mult`` is the forward multiplier,
    ``adam``/``sgd`` multiply the learning rate."""

    init: float = 1.0
    mult: float = 1.0
    adam: float = 1.0
    sgd: float = 1.0

    def lr(self, optimizer: str) -> float:
        return self.sgd if optimizer == "sgd" else self.adam

    def effective(self) -> "Scale":
        """The same parameter with its multiplier folded in (θ = 1/mult): mult 1, σ·mult,
        Adam lr·mult, SGD lr·mult² — what the function and its updates see."""
        return transform(self, 1.0 / self.mult)


def width_class(in_scales: bool | None, out_scales: bool) -> str:
    """The μP class of a parameter from which of its dimensions scale (``in_scales`` None: no fan-in axis)."""
    if in_scales is None or not in_scales:
        return "vector" if out_scales else "fixed"
    return "hidden" if out_scales else "readout"


def mup_scale(cls: str, m_in: float, m_out: float) -> Scale:
    """Table 3 of Tensor Programs V for a parameter of class ``cls`` with width multipliers m_in, m_out."""
    if cls == "vector":
        return Scale(1.0, 1.0, 1.0, m_out)
    if cls == "hidden":
        return Scale(m_in ** -0.5, 1.0, 1.0 / m_in, m_out / m_in)
    if cls == "readout":
        return Scale(1.0 / m_in, 1.0, 1.0 / m_in, 1.0 / m_in)
    return Scale()


def transform(s: Scale, th: float) -> Scale:
    """The equivalent parametrization with multiplier θ·mult: (θ·mult, σ/θ, Adam lr/θ, SGD lr/θ²)."""
    return Scale(s.init / th, s.mult * th, s.adam / th, s.sgd / (th * th))


def theta(form: str, cls: str, m_in: float, m_out: float) -> float:
    """The θ that takes Table 3 to ``form`` for class ``cls``."""
    if form == "table8" and cls == "readout":
        return 1.0 / m_in
    if form == "table9":
        if cls == "vector":
            return math.sqrt(m_out)
        if cls == "readout":
            return 1.0 / math.sqrt(m_in)
    return 1.0


def umup_scale(role: str, kind: str, fan_in: int | None, fan_out: int) -> tuple[Scale, float | None]:
    """u-μP's factors for a parameter, and the σ it is drawn with (None: keep the base scheme's law,
    as for normalization parameters and biases, whose law is their constant)."""
    if kind != "weight":
        return Scale(1.0, 1.0, 1.0, float(fan_out)), None
    if role == "embedding":
        return Scale(1.0, 1.0, fan_out ** -0.5, float(fan_out)), 1.0
    if role == "readout":
        return Scale(1.0, 1.0 / fan_in, 1.0, float(fan_in)), 1.0
    if role == "input":
        return Scale(1.0, fan_in ** -0.5, fan_in ** -0.5, float(fan_out * fan_in)), 1.0
    return Scale(1.0, fan_in ** -0.5, fan_in ** -0.5, float(fan_out)), 1.0
