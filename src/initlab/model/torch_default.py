"""PyTorch's own initialization of every ``torch.nn`` module, in the order its constructors draw.

``initlab.initialize(model, "torch_default")`` after ``torch.manual_seed(s)`` gives exactly the values
``torch.manual_seed(s); model = Model(...)`` gave. That takes two things: each parameter's law (what
the module's ``reset_parameters`` draws, with PyTorch's own arithmetic), and the order of the draws,
because they all come from one generator. :func:`construction` lists the draws of a model in the
order its constructors make them:

==========================================  ==========================================================
module (PyTorch 2.x)                        what its constructor draws, in order
==========================================  ==========================================================
Linear, Conv1-3d, ConvTranspose1-3d         weight ``kaiming_uniform_(a=√5)`` = U(±1/√fan_in), fan_in =
                                            shape[1]·∏kernel of the *stored* weight; bias U(±1/√fan_in)
                                            (a Linear with fan_in 0 draws U(0, 0); a conv leaves it)
Bilinear                                    weight, bias U(±1/√in1_features)
Embedding, EmbeddingBag                     weight N(0, 1), then the padding row zeroed
RNN, LSTM, GRU (and ``proj_size``),         every parameter U(±1/√hidden_size), in registration order
RNNCell, LSTMCell, GRUCell
MultiheadAttention                          ``out_proj`` first (it is a Linear, built inside the
                                            constructor: weight and bias drawn), then ``in_proj_weight``
                                            (or q/k/v) ``xavier_uniform_`` whole, ``in_proj_bias`` and
                                            ``out_proj.bias`` set to 0, ``bias_k``/``bias_v``
                                            ``xavier_normal_``
PReLU                                       the constant ``init`` (0.25)
BatchNorm, InstanceNorm, LayerNorm,         weight 1, bias 0
GroupNorm, RMSNorm
TransformerEncoder, TransformerDecoder      deep copies of the one layer they were given: every layer
                                            starts equal to layer 0
Transformer                                 its encoder and decoder as above, then ``xavier_uniform_``
                                            on every parameter with 2 or more dims, in order
any other module                            its children, in registration order; its own parameters
                                            have no PyTorch law and are left as they are
==========================================  ==========================================================

A model's own ``__init__`` is taken to build its submodules in the order it registers them (the usual
``self.a = nn.Linear(...)`` style). A weight tied after construction (``head.weight = emb.weight``)
was drawn once by each module that owned it; the draw of the module where the tie appears second is
made and discarded, so the draws after it stay in step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn

from ..schemes.initializers import Constant, GlorotNormal, GlorotUniform, Ones, RandomNormal, TorchDefault, Zeros
from ..schemes.spec import Initializer

__all__ = ["Draw", "construction", "own_laws", "NORMALIZATION"]

NORMALIZATION = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
"""Normalization layers: weight (scale) one, bias (shift) zero, under every scheme."""

_TRANSFORMER_STACKS = (nn.TransformerEncoder, nn.TransformerDecoder)


@dataclass(frozen=True)
class Draw:
    """One write a constructor makes: ``slot`` (the parameter's qualified name in the module where it is
    registered) receives ``init``'s law, or a copy of ``copy_of``'s value at that moment."""

    slot: str
    init: Initializer | None = None
    copy_of: str | None = None


def _torch_fan_in(weight: torch.Tensor) -> int:
    """``torch.nn.init._calculate_fan_in_and_fan_out(weight)[0]``: shape[1]·∏shape[2:]."""
    return weight.shape[1] * math.prod(weight.shape[2:]) if weight.dim() >= 2 else 0


def own_laws(module: nn.Module) -> list[tuple[str, Initializer]]:
    """(parameter name, law) for the parameters ``module`` itself registers, in the order its
    ``reset_parameters`` draws them; parameters PyTorch has no law for are absent."""
    p = {k: v for k, v in module._parameters.items() if v is not None}
    if isinstance(p.get("weight"), nn.parameter.UninitializedParameter):
        return []
    if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
        out: list[tuple[str, Initializer]] = []
        w = p.get("weight")
        if w is None:
            return out
        if w.numel():  # kaiming_uniform_ warns and returns on a zero-element tensor
            out.append(("weight", TorchDefault()))
        if "bias" in p:
            fan = _torch_fan_in(w)
            if fan > 0:
                out.append(("bias", TorchDefault(fan_in=fan)))
            elif isinstance(module, nn.Linear):
                out.append(("bias", Zeros()))  # uniform_(bias, -0, 0)
        return out
    if isinstance(module, nn.Bilinear):
        fan = module.in1_features
        return [(n, TorchDefault(fan_in=fan)) for n in ("weight", "bias") if n in p]
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return [("weight", RandomNormal(0.0, 1.0))] if "weight" in p else []
    if isinstance(module, (nn.RNNBase, nn.modules.rnn.RNNCellBase)):
        law = TorchDefault(fan_in=module.hidden_size) if module.hidden_size > 0 else Zeros()
        return [(n, law) for n in p]
    if isinstance(module, nn.PReLU):
        return [("weight", Constant(float(module.init)))]
    if isinstance(module, NORMALIZATION):
        return [(n, Ones() if n == "weight" else Zeros()) for n in p if n in ("weight", "bias")]
    return []


def construction(model: nn.Module) -> list[Draw]:
    """Every draw PyTorch's constructors make for ``model``, in order (see the module docstring)."""
    out: list[Draw] = []
    _walk(model, "", out)
    return out


def _q(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _walk(module: nn.Module, prefix: str, out: list[Draw]) -> None:
    if isinstance(module, nn.MultiheadAttention):
        _walk(module.out_proj, _q(prefix, "out_proj"), out)  # built (and drawn) inside the constructor first
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            if getattr(module, name, None) is not None:
                out.append(Draw(_q(prefix, name), GlorotUniform()))
        if module.in_proj_bias is not None:
            out.append(Draw(_q(prefix, "in_proj_bias"), Zeros()))
            if module.out_proj.bias is not None:
                out.append(Draw(_q(prefix, "out_proj.bias"), Zeros()))
        for name in ("bias_k", "bias_v"):
            if getattr(module, name, None) is not None:
                out.append(Draw(_q(prefix, name), GlorotNormal()))
        _walk_children(module, prefix, out, skip={"out_proj"})
        return
    if isinstance(module, _TRANSFORMER_STACKS):
        layers = list(module.layers)
        if layers:
            first = _q(prefix, "layers.0")
            _walk(layers[0], first, out)
            for i, layer in enumerate(layers[1:], start=1):  # copy.deepcopy of the layer passed in
                for name, _ in layer.named_parameters(remove_duplicate=False):
                    out.append(Draw(_q(prefix, f"layers.{i}.{name}"), copy_of=f"{first}.{name}"))
        _walk_children(module, prefix, out, skip={"layers"})
        return
    for name, init in own_laws(module):
        out.append(Draw(_q(prefix, name), init))
    _walk_children(module, prefix, out)
    if isinstance(module, nn.Transformer):  # Transformer._reset_parameters, after both stacks are built
        for name, p in module.named_parameters():
            if p.dim() > 1:
                out.append(Draw(_q(prefix, name), GlorotUniform()))


def _walk_children(module: nn.Module, prefix: str, out: list[Draw], skip: set[str] = frozenset()) -> None:
    for name, child in module.named_children():
        if name not in skip:
            _walk(child, _q(prefix, name), out)
