"""A small causal transformer language model for character-level text (:mod:`initlab.experiments.text`).

Pre-norm GPT-style blocks, written with plain modules so that :func:`initlab.model.structure.find_structure`
can read every role from the traced graph::

    tok: Embedding(vocab, width) + pos: Embedding(context, width)
    depth × [ x + attn(ln1(x)),  x + mlp(ln2(x)) ]
        attn: q, k, v, o = Linear(width, width) each; heads of size width / heads;
              softmax(q·kᵀ / √head_dim + causal mask)·v, written out (matrix products and a softmax:
              ``torch.func.vmap`` batches them, where it falls back to a loop for scaled_dot_product_attention)
        mlp:  fc1 = Linear(width, ffn_mult·width) → GELU → fc2 = Linear(ffn_mult·width, width)
    ln_f: LayerNorm(width) → head: Linear(width, vocab)

The attention scale is PyTorch's 1/√head_dim; μP's 1/head_dim is applied by :func:`initlab.parametrize`
(as a query multiplier), not written into the model. With a fixed number of ``heads`` the head
dimension grows with the width.

>>> m = char_transformer(32, depth=1, heads=2, context=16)
>>> m(torch.zeros(2, 16, dtype=torch.long)).shape
torch.Size([2, 16, 98])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InitlabError, check_int

__all__ = ["CharTransformer", "char_transformer", "lm_loss"]


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int, bias: bool):
        super().__init__()
        self.heads = heads
        self.scale = None  # the logits' scale; None is PyTorch's 1/√head_dim
        self.q = nn.Linear(width, width, bias=bias)
        self.k = nn.Linear(width, width, bias=bias)
        self.v = nn.Linear(width, width, bias=bias)
        self.o = nn.Linear(width, width, bias=bias)

    def forward(self, x):
        b, t, c = x.size(0), x.size(1), x.size(2)
        h = self.heads
        q = self.q(x).view(b, t, h, c // h).transpose(1, 2)
        k = self.k(x).view(b, t, h, c // h).transpose(1, 2)
        v = self.v(x).view(b, t, h, c // h).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) * (self.scale or (c // h) ** -0.5)
        future = torch.ones_like(scores[0, 0], dtype=torch.bool).triu(1)  # (t, t): above the diagonal
        probs = scores.masked_fill(future, float("-inf")).softmax(-1)
        return self.o((probs @ v).transpose(1, 2).reshape(b, t, c))


class _MLP(nn.Module):
    def __init__(self, width: int, hidden: int, bias: bool):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden, bias=bias)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, width, bias=bias)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, width: int, heads: int, ffn_mult: int, bias: bool):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = _Attention(width, heads, bias)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = _MLP(width, ffn_mult * width, bias)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class CharTransformer(nn.Module):
    """See the module docstring; ``forward(ids)`` maps (batch, time) int64 ids to (batch, time, vocab) logits."""

    def __init__(self, vocab_size: int, width: int, depth: int, heads: int, context: int, ffn_mult: int,
                 bias: bool):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab_size, width)
        self.pos = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(_Block(width, heads, ffn_mult, bias) for _ in range(depth))
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size, bias=bias)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.size(1), device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def char_transformer(width: int, *, depth: int = 2, heads: int = 4, context: int = 64, vocab_size: int = 98,
                     ffn_mult: int = 4, bias: bool = False) -> CharTransformer:
    """A :class:`CharTransformer` with PyTorch's default initialization (initialize or parametrize it after).

    ``width`` must be a multiple of ``heads``. ``vocab_size`` defaults to the stdlib corpus's 98 ids.
    """
    width = check_int("width", width, minimum=1)
    heads = check_int("heads", heads, minimum=1)
    if width % heads:
        raise InitlabError(f"width: got {width}; allowed: a multiple of heads={heads}")
    return CharTransformer(check_int("vocab_size", vocab_size, minimum=2), width, check_int("depth", depth, minimum=1),
                           heads, check_int("context", context, minimum=1), check_int("ffn_mult", ffn_mult, minimum=1),
                           bool(bias))


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-character cross-entropy (nats) of ``logits`` (…, vocab) against ``targets`` (…)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
