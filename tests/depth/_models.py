"""Models the depth tests share: residual MLPs, a ResNet with a projection shortcut, attention blocks."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """x + fc_m(act(… act(fc_1(x)))): a residual branch of ``m`` Linear layers."""

    def __init__(self, width: int, m: int = 2, act=nn.ReLU):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(m))
        self.act = act()

    def forward(self, x):
        h = x
        for i, layer in enumerate(self.layers):
            h = layer(h)
            if i < len(self.layers) - 1:
                h = self.act(h)
        return x + h


class ResMLP(nn.Module):
    def __init__(self, n_in=12, width=16, blocks=4, m=2, classes=3, act=nn.ReLU):
        super().__init__()
        self.stem = nn.Linear(n_in, width)
        self.blocks = nn.ModuleList(Block(width, m, act) for _ in range(blocks))
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        for b in self.blocks:
            x = b(x)
        return self.head(x)


class Basic(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.down = nn.Conv2d(cin, cout, 1, stride, bias=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        identity = x if self.down is None else self.down(x)
        out = F.relu(self.conv1(x))
        return F.relu(self.conv2(out) + identity)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(Basic(8, 8), Basic(8, 8))
        self.layer2 = nn.Sequential(Basic(8, 16, 2), Basic(16, 16))
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.layer2(self.layer1(x))
        return self.fc(x.mean((2, 3)))


class ReZeroByHand(nn.Module):
    """x + α·F(x) written in the model's own code (as ReZero's authors write it)."""

    def __init__(self, width=8, blocks=3):
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.alphas = nn.Parameter(torch.zeros(blocks))
        self.head = nn.Linear(width, 2)

    def forward(self, x):
        for i, fc in enumerate(self.fcs):
            x = x + self.alphas[i] * torch.tanh(fc(x))
        return self.head(x)


class MaskedAttention(nn.Module):
    """Self-attention whose scores get a mask built from the input: that addition is not residual."""

    def __init__(self, width=8):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(width, width) for _ in range(4))
        self.head = nn.Linear(width, 2)

    def forward(self, x):
        mask = (x.sum(-1, keepdim=True) > 0).float() * -1e4
        scores = self.q(x) @ self.k(x).transpose(-2, -1) + mask
        h = x + self.o(scores.softmax(-1) @ self.v(x))
        return self.head(h)


class Parallel(nn.Module):
    """f(x) + g(x), both one layer: two parallel paths, no skip."""

    def __init__(self):
        super().__init__()
        self.f, self.g, self.head = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.f(x) + self.g(x))


class MHABlock(nn.Module):
    def __init__(self, width=16, heads=2):
        super().__init__()
        self.ln = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)

    def forward(self, x):
        h = self.ln(x)
        return x + self.attn(h, h, h, need_weights=False)[0]


class MHANet(nn.Module):
    def __init__(self, width=16, heads=2, blocks=2):
        super().__init__()
        self.inp = nn.Linear(6, width)
        self.blocks = nn.ModuleList(MHABlock(width, heads) for _ in range(blocks))
        self.head = nn.Linear(width, 3)

    def forward(self, x):
        x = self.inp(x)
        for b in self.blocks:
            x = b(x)
        return self.head(x)


class Untraceable(nn.Module):
    """A residual MLP whose forward branches on a tensor's value: torch.fx cannot trace it."""

    def __init__(self, width=8, blocks=3, named=True):
        super().__init__()
        self.inp = nn.Linear(4, width)
        blocks_ = nn.ModuleList(Block(width) for _ in range(blocks))
        if named:
            self.blocks = blocks_
        else:
            self.stack = nn.ModuleList(nn.Linear(width, width) for _ in range(blocks))
        self.head = nn.Linear(width, 2)

    def forward(self, x):
        x = self.inp(x)
        if x.sum() > 1e9:
            x = x * 0
        for b in getattr(self, "blocks", getattr(self, "stack", [])):
            x = b(x) if isinstance(b, Block) else x + b(x)
        return self.head(x)
