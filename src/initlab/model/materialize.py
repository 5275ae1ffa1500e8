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
* While the factory runs, ``nn.Module.register_parameter``, the functions of ``torch.nn.init`` and
  the in-place random and clamping methods of ``torch.Tensor`` (:data:`_META_WRITES`) are patched
  process-wide: do not build modules on other threads at the same time. ``materialize`` calls do not
  nest. On a stand-in there is nothing to compute, so those methods only record the write (PyTorch's
  meta versions are Python references: ``normal_`` imports ``torch._dynamo`` on its first call, 1.7 s
  and more, then takes 0.17 ms a call; ``clamp_`` 0.6 ms), and an ``nn.init`` call on a stand-in counts
  as a write even where torch returns at once on meta (``trunc_normal_``, ``orthogonal_``, ``sparse_``,
  ``dirac_``). A module that bound ``orthogonal_``, ``sparse_`` or ``dirac_`` to a name of its own
  before the call (``from torch.nn.init import orthogonal_``) escapes that count: give such a
  parameter a rule.

With a seed, all parameters' blocks are filled through one queue on the engine's threads
(:func:`initlab.schemes.engine.batched`), several small parameters at once.

Memory: parameter bytes plus buffers plus a few MiB of per-thread scratch. Time: random-number
generation at the rate of the engine's generators, on all of torch's threads, and the first write of
every parameter page (the kernel zeroes each page before handing it out).

Huge pages: initlab asks for none. With transparent huge pages a 2 MiB page costs one fault instead of
512: 4–8× faster first writes (7–16 GB/s against 1.1–1.9 GB/s on the 2-core machines initlab is measured
on) when the kernel has free 2 MiB blocks at hand. In a virtual machine that returns free memory to its
host (virtio-balloon free page reporting, as there), a fresh huge page must first be backed by the host
again: 0.3–0.5 GB/s, and advising huge pages (``madvise(MADV_HUGEPAGE)``) made a 1.3B-parameter build
2–3× slower (22–31 s against 6.5–11 s, most of it kernel time). Where huge pages pay (bare metal), torch's
own switch turns them on for every allocation of 2 MiB and more: start the process with
``THP_MEM_ALLOC_ENABLE=1`` (torch reads it at its first large allocation, so setting it later does
nothing).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn
from torch.autograd.graph import increment_version

from ..distributed import check_model as check_sharded
from ..distributed import is_dtensor
from ..errors import InitlabError, fail
from ..schemes.engine import derive_seed
from .apply import check_writable, execute, warn_guessed
from .plan import KEEP, plan

__all__ = ["materialize"]

_BUILDING = threading.Lock()
_RUNNING_STATS = ("running_mean", "running_var", "num_batches_tracked")


class _Kept:
    """The tensor a parameter was registered with, and the stand-in's version counter at that time."""

    __slots__ = ("meta", "real", "version")

    def __init__(self, meta: nn.Parameter, real: torch.Tensor):
        self.meta, self.real, self.version = meta, real, meta._version

    def untouched(self) -> bool:
        """True when nothing wrote to the parameter after it was registered."""
        return self.meta._version == self.version


_META_WRITES = ("normal_", "uniform_", "erfinv_", "clamp_", "clamp_min_", "clamp_max_", "exponential_", "log_normal_",
                "cauchy_", "geometric_")
"""In-place ``torch.Tensor`` methods whose meta implementation is a Python reference (per call in torch 2.13:
``clamp_`` 0.6 ms, ``exponential_`` 0.3 ms, ``normal_`` 0.17 ms and, on its first call in a process, an
import of ``torch._dynamo`` of 1.7 s and more; ``erfinv_`` 40 µs, ``uniform_`` 11 µs). On a stand-in there
is nothing to compute: while a factory runs, each of them on a meta tensor only records the write."""


def _record_write(original: Callable) -> Callable:
    """``original`` (an in-place tensor method), or on a meta tensor a bump of its version counter only (what
    the in-place op would leave there); an in-place op that autograd would refuse still goes to torch."""

    def method(self, *args, **kwargs):
        if self.is_meta and not (self.requires_grad and torch.is_grad_enabled()):
            increment_version(self)
            return self
        return original(self, *args, **kwargs)

    return method


def _counting_init(original: Callable) -> Callable:
    """``original`` (a ``torch.nn.init`` function), counting a call on a meta tensor as a write: torch's
    ``trunc_normal_``, ``orthogonal_``, ``sparse_`` and ``dirac_`` return at once on meta, leaving the
    version counter (which tells whether a module wrote its parameter after registering it) unchanged."""

    def init(tensor, *args, **kwargs):
        if not (isinstance(tensor, torch.Tensor) and tensor.is_meta):
            return original(tensor, *args, **kwargs)
        version = tensor._version
        out = original(tensor, *args, **kwargs)
        if tensor._version == version:
            increment_version(tensor)
        return out

    return functools.wraps(original)(init)


def _init_functions() -> list[str]:
    """The in-place initializers of ``torch.nn.init`` (``uniform_`` … ``sparse_``), and the helper its
    ``trunc_normal_`` calls by name, so that a module holding ``trunc_normal_`` from an earlier
    ``from torch.nn.init import trunc_normal_`` is counted too."""
    names = [n for n, f in vars(nn.init).items() if n.endswith("_") and not n.startswith("_") and callable(f)]
    return names + [n for n in ("_no_grad_trunc_normal_",) if callable(getattr(nn.init, n, None))]


@contextlib.contextmanager
def _patched(owner, replacements: dict[str, Callable]):
    """Set attributes of ``owner`` (a class or module) for the duration, then put back exactly what was
    there (an attribute ``owner`` only inherited is deleted again)."""
    saved = {name: (name in vars(owner), getattr(owner, name)) for name in replacements}
    try:
        for name, value in replacements.items():
            setattr(owner, name, value)
        yield
    finally:
        for name, (own, value) in saved.items():
            if own:
                setattr(owner, name, value)
            else:
                delattr(owner, name)


@contextlib.contextmanager
def _parameters_on_meta():
    """While active, every floating ``nn.Parameter`` registered with a module is replaced by a meta
    stand-in; yields {id(stand-in): _Kept}. Writes to stand-ins are recorded without computing anything
    (:data:`_META_WRITES`, :func:`_counting_init`)."""
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

    try:
        methods = {name: _record_write(getattr(torch.Tensor, name)) for name in _META_WRITES}
        inits = {name: _counting_init(getattr(nn.init, name)) for name in _init_functions()}
        with _patched(nn.Module, {"register_parameter": register_parameter}), _patched(torch.Tensor, methods), \
                _patched(nn.init, inits):
            yield kept
    finally:
        _BUILDING.release()


def _check_device(device) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InitlabError(f"device: got {device!r}; allowed: a torch device such as 'cpu' or 'cuda:0'") from None
    if dev.type == "meta":
        raise InitlabError("device: got 'meta'; allowed: a device with memory ('cpu', 'cuda', ...)")
    try:
        torch.empty(0, device=dev)
    except (RuntimeError, AssertionError) as exc:  # a device this build of torch or this machine lacks
        raise fail("device", device, f"a device this machine has ({str(exc).splitlines()[0]})") from None
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
