"""Apply an :class:`~initlab.model.plan.InitPlan` to a model, all or nothing.

Everything that can be checked is checked before the first write: the plan resolves every scheme for
every parameter's shape (:func:`initlab.model.plan.plan`); here, every parameter the plan writes must
be a floating-point tensor of the planned shape, no parameter may be on the ``meta`` device, and the
seed and generator must be valid. After that, initlab's own schemes cannot fail; a user's callable
scheme (or an initializer class of the user's) still can — raising on the third layer, say. Those steps
run first when a seed makes the order irrelevant, and every parameter written before the last of them
is copied just before its first write; if anything raises, the copies and the generator's state are put
back, bit for bit, and the model is exactly as it was.

Cost: nothing when every scheme is initlab's; otherwise one copy of the parameters written up to the
last user scheme (with a seed: only the parameters the user's schemes write), held until the call
returns. Copying every parameter instead would add one model's worth of memory to every call (measured:
+1.0× the parameter bytes, and +50–70 % of the time, for 100M fp32 parameters on 2 cores).
:func:`initlab.materialize` writes fresh memory and needs no copies. An interrupt (Ctrl-C) while the
engine's threads fill is not covered: those threads finish their blocks regardless.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import torch
import torch.nn as nn

from ..errors import InitlabError, check_bool, check_exclusive, check_type
from ..schemes.registry import SCHEMES
from .plan import GUESSED, InitPlan, Step, plan

__all__ = ["initialize", "apply_plan", "check_writable", "execute", "may_fail", "warn_guessed"]

_BUILT_IN = frozenset(SCHEMES)


def _check_randomness(seed, generator) -> None:
    from ..schemes.engine import derive_seed

    check_exclusive(generator=generator, seed=seed)
    if generator is not None:
        check_type("generator", generator, torch.Generator, "a torch.Generator")
    if seed is not None:
        derive_seed(seed)  # validates


def check_writable(model: nn.Module, the_plan: InitPlan, *, allow_meta: bool = False) -> None:
    """Raise, before anything is written, if ``the_plan`` cannot be applied to ``model``: a row that
    names no parameter of the model or has another shape, a written parameter that is not floating
    point, a parameter on the meta device (unless ``allow_meta``)."""
    params = dict(model.named_parameters())
    for row in the_plan.rows:
        p = params.get(row.name)
        if p is None or tuple(p.shape) != tuple(row.shape):
            got = "no such parameter" if p is None else f"shape {tuple(p.shape)}"
            raise InitlabError(f"the_plan: got a row for {row.name!r} (shape {row.shape}) where the model has {got}; "
                               "allowed: a plan made for this model (initlab.plan(model, ...))")
        if row.writes and not p.dtype.is_floating_point:
            raise InitlabError(f"parameter {row.name!r} ({row.reason}): got dtype {p.dtype}; allowed: a "
                               "floating-point dtype (float16, bfloat16, float32, float64) — leave it out of "
                               f"the rules or give it \"keep\", e.g. rules={{{row.name!r}: 'keep'}}")
    if not allow_meta:
        meta = [n for n, p in model.named_parameters() if p.is_meta]
        if meta:
            raise InitlabError(f"model: got parameters on the meta device ({', '.join(meta[:4])}"
                               f"{', …' if len(meta) > 4 else ''}); allowed: parameters with memory — to build a "
                               "model on meta and initialize it, use initlab.materialize(model, ...)")


def warn_guessed(the_plan: InitPlan, caller: str, stacklevel: int = 3) -> None:
    """One warning naming every layer whose scheme was chosen from an activation guessed from module
    order (``torch.fx`` could not trace the model)."""
    rows = the_plan.guessed
    if not rows:
        return
    layers = ", ".join(f"{r.module} → {r.activation if r.activation != '-' else 'none'}" for r in rows)
    warnings.warn(f"initlab.{caller}: torch.fx could not trace the model, so the activation after {len(rows)} "
                  f"layer{'s' if len(rows) > 1 else ''} was guessed from the order of its modules: {layers}. "
                  "A functional call in forward (F.relu(x), x.tanh()) is invisible to that guess; check these "
                  f"rows of the plan (found_by={GUESSED!r}, guessed=True), or give the layers rules=.", UserWarning, stacklevel=stacklevel)


# -- writing -------------------------------------------------------------------------------------------
def _fill(step: Step, target: torch.Tensor, seed, generator) -> None:
    if step.chunks == 1:
        step.init(target, seed=seed, generator=generator, key=step.name, **step.fan_kwargs)
        return
    for g, block in enumerate(target.chunk(step.chunks, dim=0)):
        step.init(block, seed=seed, generator=generator, key=f"{step.name}#{g}", **step.fan_kwargs)


class _Undo:
    """Copies of parameters a call overwrites (each taken just before its first write) and the states of
    the generators it draws from; :meth:`restore` puts them all back."""

    def __init__(self, params: dict[str, torch.Tensor], generator, enabled: bool):
        self.params, self.enabled, self.saved = params, enabled, {}
        self.rng = []
        if enabled:
            self.rng.append((torch, torch.get_rng_state()))
            if generator is not None:
                self.rng.append((generator, generator.get_state()))
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                self.rng.append((torch.cuda, torch.cuda.get_rng_state_all()))

    def before_write(self, name: str, keep_copy: bool = True) -> torch.Tensor:
        p = self.params[name]
        if self.enabled and keep_copy and name not in self.saved:
            self.saved[name] = p.detach().clone()
        return p

    def restore(self) -> None:
        with torch.no_grad():
            for name, value in self.saved.items():
                self.params[name].copy_(value)
        for owner, state in self.rng:
            if owner is torch.cuda:
                torch.cuda.set_rng_state_all(state)
            elif owner is torch:
                torch.set_rng_state(state)
            else:
                owner.set_state(state)


def may_fail(step: Step) -> bool:
    """True when a step can still raise after the checks made before the first write: a user's callable or
    an initializer class of the user's own. initlab's schemes are resolved for every parameter's shape
    when the plan is made, and the fill's own checks (dtype, shape, seed, generator) are made up front."""
    return step.init is not None and type(step.init) not in _BUILT_IN


def execute(model: nn.Module, the_plan: InitPlan, *, seed: int | None = None, generator=None,
            protect: bool = True) -> None:
    """Write ``the_plan``'s steps into ``model``. With ``seed``, only each parameter's final write is
    made, its blocks drawn from streams keyed by its name (queued on the engine's threads), and the
    steps that may fail (:func:`may_fail`) run first; otherwise every step in order from ``generator``
    (or torch's global one). Rows that copy another parameter and zeroed padding rows are written after
    the draws. ``protect``: a parameter written before the last step that may fail is copied first,
    and every copy is put back (and the generators' states too) if anything raises."""
    from ..distributed import check_model as check_sharded
    from ..distributed import check_steps as check_sharded_steps
    from ..schemes.engine import batched

    check_sharded(model, seed)  # DTensor parameters: a seed and placements initlab can split, before any write
    params = dict(model.named_parameters())
    steps = the_plan.write_steps()
    check_sharded_steps(steps, params)
    if seed is not None:  # order does not change what a keyed stream draws
        steps = sorted((s for s in steps if s.final and not s.discard), key=lambda s: not may_fail(s))
    last_risky = max((i for i, s in enumerate(steps) if may_fail(s)), default=-1)
    padding = [(r.name, r.padding_idx) for r in the_plan.rows if r.initializer is not None and r.padding_idx is not None]
    undo = _Undo(params, generator, protect)
    try:
        with torch.no_grad():
            late_copies = []
            with batched():  # seeded fills are queued and run together: the threads do not wait between parameters
                for i, s in enumerate(steps):
                    keep_copy = i <= last_risky
                    if s.copy_of is not None:
                        if seed is None:
                            undo.before_write(s.name, keep_copy).copy_(params[s.copy_of])
                        else:
                            late_copies.append(s)  # after the queue has run, so the source holds its values
                    elif s.discard:
                        p = params[s.name]
                        _fill(s, torch.empty(p.shape, dtype=p.dtype, device=p.device), seed, generator)
                    else:
                        _fill(s, undo.before_write(s.name, keep_copy), seed, generator)
            for name, idx in padding:  # a plain write inside the queue would be overwritten by it
                params[name][idx].zero_()
            for s in late_copies:
                params[s.name].copy_(params[s.copy_of])
    except BaseException:
        undo.restore()
        raise


def apply_plan(model: nn.Module, the_plan: InitPlan, *, seed: int | None = None, generator=None) -> InitPlan:
    """Fill the model's parameters as ``the_plan`` says, all or nothing. With ``seed``, parameter ``name``
    (block ``g`` of a gated weight: ``name#g``) draws from streams keyed by its name, so the result does
    not depend on the order or on other parameters."""
    if not isinstance(model, nn.Module):
        raise InitlabError(f"model: got {type(model).__name__}; allowed: a torch.nn.Module")
    check_type("the_plan", the_plan, InitPlan, "an InitPlan (from initlab.plan or initlab.initialize)")
    _check_randomness(seed, generator)
    check_writable(model, the_plan)
    _execute_and_wrap(model, the_plan, seed, generator)
    return the_plan


def _execute_and_wrap(model: nn.Module, the_plan: InitPlan, seed, generator) -> None:
    """Write the plan; then add a recipe's wrapper parameters (checked before the first write)."""
    wrap = getattr(the_plan, "wrap", None)
    if wrap is not None and wrap.installed:
        wrap = None  # applying the plan again re-initializes the weights only
    if wrap is not None:
        wrap.check(model)
    execute(model, the_plan, seed=seed, generator=generator)
    if wrap is not None:
        wrap.install(model)
    the_plan.seed = seed
    the_plan.applied = True


def initialize(model: nn.Module, scheme: Any = "auto", *, bias: Any = None, rules: Mapping | None = None,
               seed: int | None = None, generator=None, dry_run: bool = False) -> InitPlan:
    """Initialize every parameter of ``model`` in place, all or nothing, and return the plan applied.

    >>> import torch.nn as nn, initlab
    >>> net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    >>> p = initlab.initialize(net, seed=0)
    >>> p["0.weight"].scheme, p["2.weight"].scheme
    ('he_normal', 'glorot_normal')

    ``dry_run=True`` returns the plan and changes nothing. See :func:`initlab.model.plan.plan` for
    ``scheme``, ``bias`` and ``rules``. Randomness: ``seed`` (per-parameter streams keyed by name), else
    ``generator``, else torch's global generator. When ``torch.fx`` cannot trace the model, one warning
    names the layers whose activation was guessed from module order. If anything fails, the model (and
    the generator) are left exactly as they were; see :mod:`initlab.model.apply` for what that costs.
    """
    _check_randomness(seed, generator)
    check_bool("dry_run", dry_run)
    from ..adapters import keras_model_adapter  # Keras models: initialized by initlab.adapters.keras_model
    if (keras_adapter := keras_model_adapter(model)) is not None:
        return keras_adapter.initialize(model, scheme, bias=bias, rules=rules, seed=seed, generator=generator,
                                        dry_run=dry_run)
    the_plan = plan(model, scheme, bias=bias, rules=rules)
    warn_guessed(the_plan, "initialize")
    if dry_run:
        return the_plan
    check_writable(model, the_plan)
    _execute_and_wrap(model, the_plan, seed, generator)
    return the_plan
