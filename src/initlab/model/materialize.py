"""Build a big model once: parameters allocated once and filled once by initlab's engine.

Building a model the usual way writes every parameter twice (PyTorch's default init, then yours)
and page-faults it in on one thread. :func:`materialize` builds the model with its parameters on
the ``meta`` device, then allocates each parameter once and fills it with the seeded, parallel
engine (:mod:`initlab.schemes.engine`) as ``initlab.initialize`` would: the result equals
``initlab.initialize(model, scheme, bias=..., rules=..., seed=...)`` applied to the same model built
normally — the same plan (:func:`initlab.model.plan`), the same streams keyed by parameter name.

How the model is built
----------------------
* Given a **factory** (any callable returning an ``nn.Module``), initlab calls it while
  ``nn.Module.register_parameter`` swaps every floating ``nn.Parameter`` for a ``meta`` stand-in
  and keeps the tensor the constructor made (for ``torch.empty`` that is untouched memory: no
  page is written). ``reset_parameters`` and ``nn.init`` calls then run on the stand-ins, for free.
  Buffers (BatchNorm running statistics, rotary-embedding caches, attention masks, anything
  registered with ``register_buffer``) are built for real by the modules' own code, as in a normal
  build. Afterwards each parameter gets the kept tensor back as its storage (on ``device="cpu"``;
  on another device a fresh tensor), and is filled.
* Given a **model already on meta**, parameters are allocated with ``torch.empty``. Buffers on
  meta are rebuilt only where the module knows how (``reset_running_stats`` of normalization
  layers); any other meta buffer is an error naming it — pass a factory instead.

Parameters the plan leaves as they are (``"keep"``: custom ``nn.Parameter``s of modules initlab has
no rule for) get the value their module gave them: the registered tensor, when the constructor
never wrote to the parameter afterwards (its version counter tells); otherwise the module's own
``reset_parameters()``; otherwise initlab raises an error naming the parameter and how to give it a
rule. Values a constructor draws from torch's global generator cannot equal those of a normal
build (which consumed that generator differently); initlab's own draws never touch it when
``seed`` is given.

Limits
------
* Constructor code that reads parameter values (``.item()``, ``.tolist()``, data-dependent
  ``if``) fails on ``meta``; so does a factory that moves the model (``.to(...)``) while building.
* Lazy modules (``nn.LazyLinear`` …) have no shapes before a forward pass: not supported.
* Parameter subclasses other than ``nn.Parameter`` are built normally (no saving for them).
* While the factory runs, ``nn.Module.register_parameter`` is patched process-wide: do not build
  modules on other threads at the same time. ``materialize`` calls do not nest. So is
  ``torch.Tensor.normal_`` on meta tensors: PyTorch's meta ``normal_`` is a Python reference whose
  first call imports ``torch._dynamo`` (1.7 s and more, once per process), and on a stand-in there is
  nothing to draw, so a cheap in-place write stands in for it (it still marks the parameter written).

With a seed, all parameters' blocks are filled through one queue on the engine's threads
(:func:`initlab.schemes.engine.batched`), several small parameters at once.

Memory: parameter bytes plus buffers plus a few MiB of per-thread scratch. On Linux, parameters of
4 MiB and more are advised to use transparent huge pages (``madvise(MADV_HUGEPAGE)``) before their
first write: a 2 MiB page costs one fault instead of 512, which made first writes up to twice as
fast in our measurements (a hint only; elsewhere, or when it fails, this step is skipped).
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
import threading
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn

from ..distributed import check_model as check_sharded
from ..distributed import is_dtensor
from ..errors import InitlabError
from ..schemes.engine import derive_seed
from .apply import check_writable, execute, warn_guessed
from .plan import KEEP, plan

__all__ = ["materialize"]

_BUILDING = threading.Lock()
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14
_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")


class _Kept:
    """The tensor a parameter was registered with, and the stand-in's version counter at that time."""

    __slots__ = ("meta", "real", "version")

    def __init__(self, meta: nn.Parameter, real: torch.Tensor):
        self.meta, self.real, self.version = meta, real, meta._version

    def untouched(self) -> bool:
        """True when nothing wrote to the parameter after it was registered."""
        return self.meta._version == self.version


@contextlib.contextmanager
def _parameters_on_meta():
    """While active, every floating ``nn.Parameter`` registered with a module is replaced by a meta
    stand-in; yields {id(stand-in): _Kept}."""
    if not _BUILDING.acquire(blocking=False):
        raise InitlabError("materialize: got a call while another materialize call is building a model; allowed: "
                           "one call at a time (calls do not nest and do not run on two threads at once)")
    original = nn.Module.register_parameter
    kept: dict[int, _Kept] = {}

    def register_parameter(module, name, param):
        if type(param) is nn.Parameter and not param.is_meta and param.dtype.is_floating_point:
            real = param.detach()
            stand_in = nn.Parameter(torch.empty_like(real, device="meta"), requires_grad=param.requires_grad)
            kept[id(stand_in)] = _Kept(stand_in, real)
            param = stand_in
        original(module, name, param)

    own_normal = "normal_" in vars(torch.Tensor)
    original_normal = torch.Tensor.normal_

    def normal_(self, *args, **kwargs):
        # PyTorch's meta normal_ is a Python reference whose first call imports torch._dynamo (1.7-5 s);
        # on a stand-in nothing is drawn anyway, and uniform_ records the write just the same
        if self.is_meta:
            return self.uniform_()
        return original_normal(self, *args, **kwargs)

    nn.Module.register_parameter = register_parameter
    torch.Tensor.normal_ = normal_
    try:
        yield kept
    finally:
        nn.Module.register_parameter = original
        if own_normal:
            torch.Tensor.normal_ = original_normal
        else:
            del torch.Tensor.normal_
        _BUILDING.release()


def _advise_huge_pages(t: torch.Tensor) -> None:
    """Ask Linux to back the 2 MiB-aligned interior of ``t``'s memory with transparent huge pages.
    A hint only: it changes no value, and any failure is ignored."""
    nbytes = t.untyped_storage().nbytes()
    if not sys.platform.startswith("linux") or t.device.type != "cpu" or nbytes < 2 * _HUGE_PAGE:
        return
    start = t.untyped_storage().data_ptr()
    lo = -(-start // _HUGE_PAGE) * _HUGE_PAGE
    hi = (start + nbytes) // _HUGE_PAGE * _HUGE_PAGE
    if hi <= lo:
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        libc.madvise(lo, hi - lo, _MADV_HUGEPAGE)
    except (OSError, AttributeError):
        pass


def _check_device(device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InitlabError(f"device: got {device!r}; allowed: a torch device such as 'cpu' or 'cuda:0'") from None
    if dev.type == "meta":
        raise InitlabError("device: got 'meta'; allowed: a device with memory ('cpu', 'cuda', ...)")
    return dev


def _build(model_or_factory) -> tuple[nn.Module, dict[int, _Kept]]:
    if isinstance(model_or_factory, nn.Module):
        real = [n for n, p in model_or_factory.named_parameters() if not p.is_meta]
        if real:
            raise InitlabError(f"model: got a model whose parameters are not on the meta device (e.g. {real[0]!r}); "
                               "allowed: a factory (a function that builds the model) or a model built under "
                               "torch.device('meta'). To initialize a model already built, use initlab.initialize")
        return model_or_factory, {}
    if not callable(model_or_factory):
        raise InitlabError(f"model: got {type(model_or_factory).__name__}; allowed: a factory (a function that "
                           "returns an nn.Module) or an nn.Module built on the meta device")
    with _parameters_on_meta() as kept:
        try:
            model = model_or_factory()
        except (NotImplementedError, RuntimeError) as e:
            if "meta" not in str(e):
                raise
            first_line = next(iter(str(e).strip().splitlines()), type(e).__name__)
            raise InitlabError(f"model: got a factory that failed while its parameters were on the meta device "
                               f"({first_line}); "
                               "allowed: constructors that do not read parameter values or move the model") from e
    if not isinstance(model, nn.Module):
        raise InitlabError(f"model: got a factory that returned {type(model).__name__}; allowed: a factory that "
                           "returns an nn.Module")
    return model, kept


def _unique_parameters(model: nn.Module):
    """(module, name, parameter) for every parameter slot of every module, tied ones included."""
    for module in model.modules():
        for name, p in module._parameters.items():
            if p is not None:
                yield module, name, p


def _meta_buffers(model: nn.Module) -> tuple[list[str], list[nn.Module]]:
    """Meta buffers initlab cannot rebuild (qualified names), and the modules whose meta running
    statistics ``reset_running_stats`` rebuilds."""
    unknown, resettable = [], []
    for mname, module in model.named_modules():
        metas = [b for b, t in module._buffers.items() if t is not None and t.is_meta]
        if not metas:
            continue
        if hasattr(module, "reset_running_stats") and set(metas) <= set(_RUNNING_STATS):
            resettable.append(module)
        else:
            unknown += [f"{mname}.{b}" if mname else b for b in metas]
    return unknown, resettable


def _owner(model: nn.Module, row) -> nn.Module:
    return model.get_submodule(row.module) if row.module else model


def _allocate(model: nn.Module, kept: dict[int, _Kept], keep: set[int], dev: torch.device,
              undo: list) -> set[int]:
    """Give every meta parameter memory on ``dev`` (the constructor's own tensor where possible) and
    move buffers there; ties between modules are kept. ``keep``: ids of the stand-ins the plan leaves
    as they are, whose registered value is copied when their tensor cannot be reused. Each replaced
    slot is appended to ``undo`` as (slots dict, name, previous value). Returns the ids of the new
    parameters that hold the value they were registered with."""
    new: dict[int, nn.Parameter] = {}
    registered: set[int] = set()
    for module, name, p in list(_unique_parameters(model)):
        q = new.get(id(p))
        if q is None:
            if not p.is_meta:
                q = p if p.device == dev else nn.Parameter(p.detach().to(dev), requires_grad=p.requires_grad)
            else:
                k = kept.get(id(p))
                reuse = (k is not None and k.real.device == dev and k.real.dtype == p.dtype
                         and k.real.shape == p.shape and k.real.stride() == p.stride())
                data = k.real if reuse else torch.empty_strided(p.shape, p.stride(), dtype=p.dtype, device=dev)
                _advise_huge_pages(data)
                q = nn.Parameter(data, requires_grad=p.requires_grad)
                if k is not None and k.untouched() and (reuse or id(p) in keep):
                    if not reuse:
                        with torch.no_grad():
                            data.copy_(k.real)
                    registered.add(id(q))
            new[id(p)] = q
        if q is not p:
            undo.append((module._parameters, name, p))
            module._parameters[name] = q
    moved: dict[int, torch.Tensor] = {}
    for module in model.modules():
        for name, b in list(module._buffers.items()):
            if b is None:
                continue
            c = moved.get(id(b))
            if c is None:
                c = moved[id(b)] = torch.empty_like(b, device=dev) if b.is_meta else b.to(dev)
            undo.append((module._buffers, name, b))
            module._buffers[name] = c
    return registered


def _check_recoverable(model: nn.Module, the_plan, kept: dict[int, _Kept]) -> list:
    """The rows the plan leaves as they are; raise if a value their module gives them cannot be
    recovered (written after registration, and no ``reset_parameters`` to compute it again)."""
    params = dict(model.named_parameters())
    kept_rows = [row for row in the_plan.rows if row.origin == KEEP]
    unrecoverable = [row.name for row in kept_rows
                     if not (id(params[row.name]) in kept and kept[id(params[row.name])].untouched())
                     and not hasattr(_owner(model, row), "reset_parameters")]
    if unrecoverable:
        example = {unrecoverable[0]: "zeros"}
        raise InitlabError(f"rules: got no rule for {', '.join(unrecoverable)}, whose values their modules write "
                           "after registering them (and have no reset_parameters to compute again); allowed: a rule "
                           f"for each, e.g. rules={example!r} — or build the model normally and use "
                           "initlab.initialize")
    return kept_rows


def materialize(model: nn.Module | Callable[[], nn.Module], scheme: Any = "auto", *, seed: int | None = None,
                bias: Any = None, rules: Mapping | None = None, device: Any = "cpu") -> nn.Module:
    """Build ``model`` (a factory, or an ``nn.Module`` on the meta device) with each parameter allocated
    once on ``device`` and initialized by ``scheme``; returns the model.

    Equals ``initlab.initialize(model, scheme, bias=bias, rules=rules, seed=seed)`` applied to the model
    built normally. With ``seed`` the parameters are filled in parallel, independently seeded blocks
    (values identical on every run and thread count); ``seed=None`` draws from torch's global generator,
    sequentially, as ``initialize(seed=None)`` does (so ``scheme="torch_default"`` after
    ``torch.manual_seed(s)`` gives the values a normal build gives after it). See the module docstring
    for how buffers and parameters without a rule are handled, and the limits. All or nothing: if
    anything fails, a model passed on the meta device is left as it was.

    >>> import torch.nn as nn, initlab
    >>> net = initlab.materialize(lambda: nn.Sequential(nn.Linear(512, 2048), nn.GELU(), nn.Linear(2048, 512)),
    ...                           seed=0)
    >>> net[0].weight.device.type
    'cpu'
    """
    dev = _check_device(device)
    if seed is not None:
        derive_seed(seed)  # validates before anything is built
    given = model if isinstance(model, nn.Module) else None
    model, kept = _build(model)
    the_plan = plan(model, scheme, bias=bias, rules=rules)
    warn_guessed(the_plan, "materialize")

    # everything that can fail is checked before any memory is allocated
    unknown, resettable = _meta_buffers(model)
    if unknown:
        raise InitlabError(f"model: got buffers on the meta device that initlab cannot compute ({', '.join(unknown)}); "
                           "allowed: a factory (materialize(lambda: MyModel(...))), so that the modules build their "
                           "buffers, or a meta model whose only meta buffers are normalization running statistics")
    check_writable(model, the_plan, allow_meta=True)
    kept_rows = _check_recoverable(model, the_plan, kept)
    params = dict(model.named_parameters())
    sharded = any(is_dtensor(p) for p in params.values())
    if sharded:
        check_sharded(model, seed)

    undo: list = []
    try:
        if sharded:  # DTensor parameters (FSDP2 included): their own allocation, each rank its local shards
            registered = _allocate_sharded(model, dev, undo)
        else:
            registered = _allocate(model, kept, {id(params[row.name]) for row in kept_rows}, dev, undo)
        params = dict(model.named_parameters())
        with torch.no_grad():
            for module in resettable:
                module.reset_running_stats()
            reset: list[nn.Module] = []
            for row in kept_rows:
                owner = _owner(model, row)
                if id(params[row.name]) not in registered and owner not in reset:
                    reset.append(owner)
            for module in reset:
                module.reset_parameters()
        execute(model, the_plan, seed=seed, protect=False)  # fresh memory: nothing to restore but the slots
        if dev.type == "cuda":
            for module in model.modules():
                if isinstance(module, nn.RNNBase):
                    module.flatten_parameters()
    except BaseException:
        if given is not None:
            for item in reversed(undo):
                if callable(item):
                    item()
                else:
                    slots, name, previous = item
                    slots[name] = previous
        raise
    return model


def _allocate_sharded(model: nn.Module, dev: torch.device, undo: list) -> set[int]:
    """A model with DTensor parameters (placements, or FSDP2's ``fully_shard``): ``Module.to_empty`` gives
    every parameter and buffer memory on ``dev`` — for a DTensor, its local shard only — keeping ties and
    the sharding wrappers' own bookkeeping (FSDP2 re-registers its sharded parameters there). Undone by
    moving the model back to meta. No parameter keeps a registered value."""
    undo.append(lambda: model.to_empty(device="meta"))
    model.to_empty(device=dev)
    return set()
