"""Snapshot and restore everything a diagnostic could disturb in a model.

Restored: every submodule's train/eval mode, every parameter's ``requires_grad`` and ``.grad``
(the same tensor object, or None), every buffer (BatchNorm running statistics and
``num_batches_tracked`` included, bit for bit), every module's hook dictionaries (so hooks added
during the diagnostic are gone and the user's own are untouched, in their order) and torch's
global random number generators (CPU, and CUDA when it is initialized). Parameters are optionally
copied too (``keep_params=True``), for operations such as LSUV that write them and must undo the
writes when they fail.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ModelState"]

_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_forward_hooks_with_kwargs", "_forward_hooks_always_called", "_forward_pre_hooks_with_kwargs",
               "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
               "_load_state_dict_post_hooks")


class ModelState:
    """What a diagnostic must give back; ``restore()`` puts it back (idempotent)."""

    def __init__(self, model: nn.Module, *, keep_params: bool = False):
        modules = list(model.modules())
        self.modes = [(m, m.training) for m in modules]
        self.params = [(m, name, p, p.requires_grad, p.grad) for m in modules
                       for name, p in m._parameters.items() if p is not None]
        self.param_data = [p.detach().clone() for _, _, p, _, _ in self.params] if keep_params else None
        self.buffers = [(m, name, b, b.detach().clone()) for m in modules
                        for name, b in m._buffers.items() if b is not None]
        self.hooks = [(d, dict(d)) for m in modules for attr in _HOOK_DICTS
                      if isinstance(d := getattr(m, attr, None), dict)]
        self.cpu_rng = torch.get_rng_state()
        self.cuda_rng = (torch.cuda.get_rng_state_all()
                         if torch.cuda.is_available() and torch.cuda.is_initialized() else None)

    def restore(self, *, params: bool = False, rng: bool = True) -> None:
        """Put everything back; ``params=True`` also restores parameter values (needs ``keep_params``),
        ``rng=False`` leaves torch's random state where the diagnostic moved it."""
        with torch.no_grad():
            for i, (m, name, p, req, grad) in enumerate(self.params):
                m._parameters[name] = p
                if params and self.param_data is not None:
                    p.copy_(self.param_data[i])
                if p.requires_grad != req:
                    p.requires_grad_(req)
                if p.grad is not grad:
                    p.grad = grad
            # always copied back: kernels such as batch_norm update running statistics in place
            # without bumping the tensor's version counter
            for m, name, b, saved in self.buffers:
                m._buffers[name] = b
                b.copy_(saved)
        for m, training in self.modes:
            m.training = training
        for d, saved in self.hooks:
            if d.keys() != saved.keys() or any(d[k] is not v for k, v in saved.items()):
                d.clear()
                d.update(saved)
        if not rng:
            return
        torch.set_rng_state(self.cpu_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
