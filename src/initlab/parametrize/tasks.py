"""The built-in width-scaling tasks: a model family indexed by width, and its data.

* ``mlp:depth=3,act=relu`` — an MLP (:func:`initlab.experiments.models.mlp`, ``depth`` hidden layers of
  the width) on ``mnist1d`` (40-sample 1-D signals, 10 classes; Greydanus 2020), cross-entropy;
* ``lm:depth=2,heads=4,context=64`` — the character-level transformer of
  :mod:`initlab.experiments.lm` on the Python standard library's source
  (:mod:`initlab.experiments.text`), next-character cross-entropy.

A spec's other fields: ``act`` (mlp), ``ffn`` (lm: FFN width / width, default 4), ``bias`` (0/1).

>>> t = get_task("mlp:depth=2")
>>> x, y = t.batch("train", 8, seed=0)
>>> t.model_fn(32)(x).shape
torch.Size([8, 10])
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import InitlabError, check_choice, check_int, fail, suggest

__all__ = ["Task", "get_task", "TASKS"]

TASKS = ("mlp", "lm")
_FIELDS = {"mlp": {"depth": 3, "act": "relu", "bias": 1}, "lm": {"depth": 2, "heads": 4, "context": 64, "ffn": 4,
                                                                 "bias": 0}}


@dataclass
class Task:
    """A model family ``model_fn(width)``, its data (``batch(split, size, seed|generator)``) and loss."""

    name: str
    spec: str
    fields: dict
    model_fn: Callable[[int], nn.Module] = field(repr=False)
    sampler: Callable = field(repr=False)
    eval_data: Callable = field(repr=False)
    loss: Callable = field(repr=False)
    min_width: int = 1
    width_step: int = 1

    def batch(self, split: str, batch_size: int, seed: int | None = None, generator=None):
        if generator is None:
            generator = torch.Generator().manual_seed(0 if seed is None else seed)
        return self.sampler(split, batch_size, generator)

    def check_width(self, width: int) -> int:
        width = check_int("width", width, minimum=self.min_width)
        if width % self.width_step:
            raise fail("width", width, f"a multiple of {self.width_step} for {self.spec}")
        return width


def _parse(spec: str) -> tuple[str, dict]:
    if not isinstance(spec, str):
        raise fail("task", spec, "a spec such as 'mlp:depth=3' or 'lm:depth=2,heads=4'")
    kind, _, rest = spec.partition(":")
    kind = check_choice("task", kind.strip(), TASKS)
    fields = dict(_FIELDS[kind])
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in fields:
            raise fail(f"{kind} spec field", key or item, ", ".join(fields), hint=suggest(key, fields))
        if key == "act":
            fields[key] = value.strip()
        else:
            try:
                fields[key] = int(value)
            except ValueError:
                raise fail(f"{kind} spec field {key!r}", value, "an integer") from None
    return kind, fields


@functools.lru_cache(maxsize=4)
def _mnist1d():
    from ..experiments.datasets import load

    d = load("mnist1d")
    return d.x_train.float(), d.y_train.long(), d.x_test.float(), d.y_test.long()


def _ce(out, y):
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def get_task(spec: str, *, text_chars: int | None = None) -> Task:
    """The :class:`Task` of ``spec`` (see the module docstring). ``text_chars`` caps the text corpus (lm)."""
    kind, f = _parse(spec)
    if kind == "mlp":
        from ..experiments.models import ACTIVATIONS, mlp

        check_choice("mlp spec field 'act'", f["act"], ACTIVATIONS)
        depth = check_int("mlp spec field 'depth'", f["depth"], minimum=1)

        def model_fn(width: int) -> nn.Module:
            return mlp((1, 40), 10, depth, width, f["act"], bias=bool(f["bias"]))

        def sampler(split, batch_size, gen):
            x_tr, y_tr, x_te, y_te = _mnist1d()
            x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
            idx = torch.randint(0, len(y), (batch_size,), generator=gen)
            return x[idx], y[idx]

        def eval_data():
            _, _, x_te, y_te = _mnist1d()
            return [(x_te, y_te)]

        return Task(kind, spec, f, model_fn, sampler, eval_data, _ce)

    from ..experiments.lm import char_transformer
    from ..experiments.text import load_text

    heads = check_int("lm spec field 'heads'", f["heads"], minimum=1)
    depth = check_int("lm spec field 'depth'", f["depth"], minimum=1)
    context = check_int("lm spec field 'context'", f["context"], minimum=2)
    ffn = check_int("lm spec field 'ffn'", f["ffn"], minimum=1)
    data = load_text(max_chars=text_chars)

    def lm_fn(width: int) -> nn.Module:
        if width % heads:
            raise InitlabError(f"width: got {width}; allowed: a multiple of heads={heads} for {spec}")
        return char_transformer(width, depth=depth, heads=heads, context=context, ffn_mult=ffn, bias=bool(f["bias"]))

    def lm_sampler(split, batch_size, gen):
        return data.batch(split, batch_size, context, generator=gen)

    def lm_eval():
        gen = torch.Generator().manual_seed(12345)
        return [data.batch("val", 64, context, generator=gen) for _ in range(4)]

    return Task(kind, spec, f, lm_fn, lm_sampler, lm_eval, _ce, min_width=heads, width_step=heads)
