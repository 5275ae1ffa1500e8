"""Shared helpers of the diagnostics tests: model builders and an exact model-state snapshot."""

from __future__ import annotations

import torch
from torch import nn

import initlab

HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
              "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs")


def build_mlp(depth: int, width: int, act, init, *, seed: int = 0, fan_in: int = 64, classes: int = 10,
              inplace: bool = False) -> nn.Sequential:
    """Flatten → depth × (Linear → act) → Linear(width, classes), every weight drawn by
    ``initlab.get(init)`` (a name or a config dict) from ``seed``, every bias 0."""
    layers: list[nn.Module] = [nn.Flatten()]
    for i in range(depth):
        layers += [nn.Linear(fan_in if i == 0 else width, width), act(inplace=True) if inplace else act()]
    layers.append(nn.Linear(width, classes))
    model = nn.Sequential(*layers)
    scheme = initlab.get(init)
    with torch.no_grad():
        for i, m in enumerate(model):
            if isinstance(m, nn.Linear):
                scheme(m.weight, seed=seed * 1000 + i)
                m.bias.zero_()
    return model


def normal(std: float) -> dict:
    return {"name": "random_normal", "params": {"mean": 0.0, "std": std}}


class Snapshot:
    """Everything a diagnostic must leave as it found it, compared exactly."""

    def __init__(self, model: nn.Module):
        self.state = {k: v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
        self.objects = {k: id(v) for k, v in model.state_dict(keep_vars=True).items()}
        self.grads = {n: None if p.grad is None else (id(p.grad), p.grad.clone())
                      for n, p in model.named_parameters()}
        self.requires_grad = {n: p.requires_grad for n, p in model.named_parameters()}
        self.modes = {n: m.training for n, m in model.named_modules()}
        self.hooks = {(n, a): list(getattr(m, a).items()) for n, m in model.named_modules() for a in HOOK_DICTS}
        self.param_hooks = {n: list((p._backward_hooks or {}).items()) for n, p in model.named_parameters()}
        self.rng = torch.get_rng_state()
        self.threads = torch.get_num_threads()
        self.grad_mode = torch.is_grad_enabled()

    def assert_same(self, model: nn.Module) -> None:
        now = model.state_dict(keep_vars=True)
        assert now.keys() == self.state.keys()
        for k, v in now.items():
            assert id(v) == self.objects[k], k
            assert v.dtype == self.state[k].dtype and torch.equal(v.detach(), self.state[k]), k
        for n, p in model.named_parameters():
            saved = self.grads[n]
            if saved is None:
                assert p.grad is None, n
            else:
                assert id(p.grad) == saved[0] and torch.equal(p.grad, saved[1]), n
            assert p.requires_grad == self.requires_grad[n], n
            assert list((p._backward_hooks or {}).items()) == self.param_hooks[n], n
        assert {n: m.training for n, m in model.named_modules()} == self.modes
        assert {(n, a): list(getattr(m, a).items()) for n, m in model.named_modules() for a in HOOK_DICTS} \
            == self.hooks
        assert torch.equal(torch.get_rng_state(), self.rng)
        assert torch.get_num_threads() == self.threads
        assert torch.is_grad_enabled() == self.grad_mode
