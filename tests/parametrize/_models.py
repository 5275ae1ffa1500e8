"""Small models the width tests share: each kind of layer a role or a multiplier can land on."""

import torch.nn as nn

from initlab.experiments.lm import char_transformer


class MHANet(nn.Module):
    """Linear input → x + MultiheadAttention(x) → Linear readout."""

    def __init__(self, d=16):
        super().__init__()
        self.inp = nn.Linear(5, d)
        self.mha = nn.MultiheadAttention(d, 2, batch_first=True)
        self.out = nn.Linear(d, 3)

    def forward(self, x):
        h = self.inp(x)
        return self.out(h + self.mha(h, h, h)[0])


def mlp(w, classes=10, d_in=40):
    return nn.Sequential(nn.Linear(d_in, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, classes))


def lm(w, depth=1):
    return char_transformer(w, depth=depth, heads=4, context=12)


class LSTMNet(nn.Module):
    """Embedding → LSTM → Linear readout, all of width ``w``."""

    def __init__(self, w=16):
        super().__init__()
        self.emb = nn.Embedding(7, w)
        self.rnn = nn.LSTM(w, w, batch_first=True)
        self.fc = nn.Linear(w, 7)

    def forward(self, ids):
        return self.fc(self.rnn(self.emb(ids))[0])
