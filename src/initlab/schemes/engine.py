"""The sampling engine: every value initlab draws goes through here.

:func:`fill_` fills a torch tensor in place and :func:`sample_numpy` returns a NumPy array, both from a
:class:`~initlab.schemes.spec.Distribution`, through one table, :data:`SAMPLERS`, of
``family → sampler``. Each sampler is written once for every source of randomness
(:mod:`initlab.schemes._sources`):

1. ``generator=`` — a ``torch.Generator`` (or ``np.random.Generator`` for NumPy) drawn from
   sequentially over the whole tensor. For fp32/fp64 tensors and the families where the algorithm
   is the same (normal, uniform, orthogonal), this gives exactly the values ``torch.nn.init`` gives
   with the same generator.
2. ``seed=`` — counter-based blocks: the flattened tensor is cut into blocks of :data:`BLOCK`
   elements, block *i* drawing from its own stream seeded with ``derive_seed(seed, key, i)``
   (:mod:`initlab.schemes._seeded`, :mod:`initlab.schemes._streams`), filled in parallel on
   ``torch.get_num_threads()`` threads (:mod:`initlab.schemes._pool`); a matrix of more than
   ``BLOCK`` elements is cut into tiles (:func:`tile_grid`) so that any part of it can be drawn alone
   (:func:`fill_box_`, what :mod:`initlab.distributed` fills a rank's shard with). The values do not
   depend on the thread count, the fill order or the other tensors.
3. neither — torch's global generator (or a fresh OS-seeded NumPy generator), sequentially, like
   ``torch.nn.init``.

Where the laws live: the i.i.d. families (normal, uniform, truncated normal — rejection, inversion,
and the far-tail inversion) in :mod:`initlab.schemes._iid`; the structured ones (orthogonal by QR or
from Householder reflectors without a QR, delta-orthogonal, identity, dirac, sparse) in
:mod:`initlab.schemes._structured`. To add a law: a sampler there, a row in :data:`SAMPLERS`.

The engine reads a Distribution's fields (``family``, ``shape``, ``params``, ``low``, ``high``) and
never builds one, so it does not import :mod:`initlab.schemes.spec`, which imports it.

The NumPy backend is the torch one: with ``seed=`` it fills a CPU tensor of the requested dtype (the
same bits as :func:`fill_`); with a NumPy generator it runs the same samplers on a float64 tensor
and casts. Before anything is drawn, the law is checked against the target dtype: values that would
overflow it (a std of 1e300 in fp32, a uniform over ±3e38, a constant of 1e5 in fp16) are an error
naming the dtype, never silent infinities.

Costs, per element on one core (benchmarks/bench_init.py): uniform ≈ 0.8× torch's ``uniform_``,
normal = torch's ``normal_``, truncated normal ±2σ ≈ 1.4× normal; two threads fill about twice as
fast. :func:`batched` runs the blocks of many tensors through one queue. A seeded orthogonal matrix
takes about 0.55× the time of ``torch.nn.init.orthogonal_`` at 4096² (two threads).

Reproducibility: the same (seed, key) gives the same values on every run and thread count, for a
given machine and versions of torch and NumPy (torch's Box–Muller kernel differs between CPU
instruction sets in the last bit; NumPy keeps SFC64 and ``SeedSequence`` stable across versions).
Tensors on other devices are filled on the CPU block by block and copied, so they get the same
values as a CPU tensor.
"""

from __future__ import annotations

import math
import sys
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import InitlabError, check_exclusive, check_int, check_type, fail, require_extra
from . import _structured
from ._iid import inward
from ._normal import normal_cdf
from ._pool import BLOCK, OP_CHUNK
from ._iid import iid_law
from ._seeded import (TILE, BoxFill, ConstantFill, batched, flush_pending, np_work, queue_or_run, run_fills,
                      tile_grid, work_dtype)
from ._sources import FromGenerator, FromNumpy, Seeded
from ._streams import derive_seed

__all__ = ["BLOCK", "TILE", "IID", "SAMPLERS", "Sampler", "batched", "derive_seed", "fill_", "fill_box_", "tile_grid",
           "sample_numpy", "check_tensor", "check_fits"]

_K_SIGMA = 9.0
"""A normal's values are taken to reach ±9σ when checked against a dtype's range: torch's fp32 Box–Muller
reaches 5.8σ, its fp64 one 8.6σ, and NumPy's ziggurat passes 9σ with probability 2·10⁻¹⁹."""


# -- the table: family → sampler ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Sampler:
    """How one family is drawn: ``fill(tensor, dist, source)`` fills a torch tensor in place, and
    ``reach(dist)`` lists what must fit the target dtype, as ``(argument, value, magnitude, what,
    against)``: ``magnitude`` (the largest |x| the law produces, or an intermediate it computes) must
    not exceed the largest finite number of the target dtype (``against="dtype"``) or of the dtype
    values are computed in (``"work"``: fp32 for fp16/bf16/fp32 tensors)."""

    fill: Callable
    reach: Callable = lambda dist: ()
    iid: bool = False


def _fill_constant(tensor, dist, source) -> None:
    value = dist.params["value"]
    if tensor.device.type == "cpu" and tensor.is_contiguous() and tensor.numel() > OP_CHUNK:
        job = ConstantFill(tensor, value)  # no OpenMP team; inside batched() queued with the seeded fills
        if source.seeded:
            queue_or_run(job, tensor)
        else:
            run_fills([job])
        return
    tensor.fill_(value)


def _fill_iid(tensor, dist, source) -> None:
    source.iid_(tensor, dist)


def _fill_custom(tensor, dist, source) -> None:
    dist.params["fn"](tensor)


def _reach_constant(dist):
    v = dist.params["value"]
    return (("value", v, abs(v), "|value|", "dtype"),)


def _reach_normal(dist):
    m, s = dist.params["mean"], dist.params["std"]
    return (("std", s, abs(m) + _K_SIGMA * s, "|mean| + 9·std", "dtype"),)


def _reach_uniform(dist):
    lo, hi = dist.params["low"], dist.params["high"]
    return (("bounds", [lo, hi], max(abs(lo), abs(hi)), "bounds", "dtype"),
            ("bounds", [lo, hi], hi - lo, "the width high − low", "work"))


def _reach_truncated(dist):
    p = dist.params
    loc, scale = p["loc"], p["scale"]
    lo, hi = max(dist.low, loc - _K_SIGMA * scale), min(dist.high, loc + _K_SIGMA * scale)
    reach = [("std", scale, max(abs(lo), abs(hi)), "values (within 9·std of the mean, inside the bounds)", "dtype")]
    if normal_cdf(p["b"]) - normal_cdf(p["a"]) >= 0.5:  # drawn by rejection: normals in the work dtype first
        reach.append(("std", scale, abs(loc) + _K_SIGMA * scale, "|mean| + 9·std (normals drawn before truncation)",
                      "work"))
    return reach


def _reach_gain(dist):
    g = dist.params["gain"]
    return (("gain", g, g, "gain", "dtype"),)


def _reach_matrix(dist):
    v = dist.params.get("tau", 1.0)
    return (("value", v, abs(v), "the largest entry", "dtype"),)


def _reach_sparse(dist):
    s = dist.params["std"]
    return (("std", s, _K_SIGMA * s, "9·std", "dtype"),)


SAMPLERS: dict[str, Sampler] = {
    "constant": Sampler(_fill_constant, _reach_constant),
    "normal": Sampler(_fill_iid, _reach_normal, iid=True),
    "uniform": Sampler(_fill_iid, _reach_uniform, iid=True),
    "truncated_normal": Sampler(_fill_iid, _reach_truncated, iid=True),
    "orthogonal": Sampler(_structured.orthogonal, _reach_gain),
    "delta_orthogonal": Sampler(_structured.delta_orthogonal, _reach_gain),
    "identity": Sampler(_structured.identity, _reach_gain),
    "dirac": Sampler(_structured.dirac, _reach_gain),
    "sparse": Sampler(_structured.sparse, _reach_sparse),
    "hadamard_identity": Sampler(_structured.matrix, _reach_matrix),  # ZerO
    "padded_identity": Sampler(_structured.matrix, _reach_matrix),  # IDInit
    "custom": Sampler(_fill_custom),
}
"""Every family initlab can draw, and how."""

IID = ("constant", *[family for family, sampler in SAMPLERS.items() if sampler.iid])
"""The families whose entries are independent (and so can be drawn part by part)."""


def _sampler(dist) -> Sampler:
    try:
        return SAMPLERS[dist.family]
    except KeyError:
        raise fail("family", dist.family, ", ".join(map(repr, SAMPLERS))) from None


# -- checks -----------------------------------------------------------------------------------------------
def check_tensor(tensor) -> None:
    """A torch tensor of a floating dtype, else the standard error."""
    import torch

    check_type("tensor", tensor, torch.Tensor, "a torch.Tensor (for NumPy use Initializer.numpy(shape, rng))")
    if not tensor.dtype.is_floating_point:
        raise fail("tensor", tensor.dtype, "a tensor of a floating dtype (float32, float64, float16, bfloat16)")


def check_call(generator=None, seed=None, key: str = "", *, rng=None, numpy: bool = False) -> None:
    """The randomness arguments of a fill: at most one of ``generator``/``rng`` and ``seed``, each of its type."""
    if numpy:
        check_exclusive(rng=rng, seed=seed)
        if rng is not None:
            check_type("rng", rng, np.random.Generator, "numpy.random.Generator (np.random.default_rng)")
    else:
        import torch

        check_exclusive(generator=generator, seed=seed)
        if generator is not None:
            check_type("generator", generator, torch.Generator, "a torch.Generator")
    if seed is not None:
        check_int("seed", seed)
    check_type("key", key, str, "a string (e.g. the parameter's name)")


_LARGEST: dict = {}


def _largest(dtype) -> float:
    if dtype not in _LARGEST:
        import torch

        _LARGEST[dtype] = float(torch.finfo(dtype).max)
    return _LARGEST[dtype]


def check_fits(dist, dtype) -> None:
    """Raise unless every value ``dist`` can produce (and every intermediate its sampler computes) is finite
    in the torch ``dtype``: a law that a dtype cannot represent is an error naming the dtype."""
    name = str(dtype).replace("torch.", "")
    limits = {"dtype": _largest(dtype), "work": _largest(work_dtype(dtype))}
    for arg, value, magnitude, what, against in _sampler(dist).reach(dist):
        top = limits[against]
        if not magnitude <= top:
            where = name if against == "dtype" else f"{str(work_dtype(dtype))[6:]}, in which {name} values are drawn"
            raise fail(arg, value, f"{what} within ±{top:.6g}, the largest finite {where} (here {magnitude:.6g})")


def _warn_empty(shape) -> None:
    warnings.warn(f"initlab: a tensor of shape {tuple(shape)} has no elements; initializing it does nothing",
                  UserWarning, stacklevel=3)


# -- torch ------------------------------------------------------------------------------------------------
def fill_(tensor, dist, *, generator=None, seed: int | None = None, key: str = ""):
    """Fill ``tensor`` in place from ``dist`` (no autograd record) and return it.

    ``seed``: independently seeded blocks, filled in parallel, identical on every run and thread
    count; ``generator``: sequential draws, the values of ``torch.nn.init`` for normal, uniform and
    orthogonal; neither: torch's global generator. A tensor with no elements is left alone, with a
    warning (as ``torch.nn.init`` does); a meta tensor is left alone silently.

    >>> import torch, initlab
    >>> from initlab.schemes.engine import fill_
    >>> d = initlab.get("glorot_uniform").distribution((64, 32))
    >>> w = fill_(torch.empty(64, 32), d, seed=0)
    >>> bool(w.abs().max() <= d.high)
    True
    """
    import torch

    check_tensor(tensor)
    if tuple(tensor.shape) != tuple(dist.shape):
        raise fail("shape", tuple(tensor.shape), f"{tuple(dist.shape)}, the shape the distribution was resolved for")
    check_call(generator, seed, key)
    sampler = _sampler(dist)
    if tensor.is_meta:
        return tensor
    if tensor.numel() == 0:
        _warn_empty(tensor.shape)
        return tensor
    check_fits(dist, tensor.dtype)
    sharded = _dtensor_fill(tensor)
    if sharded is not None:  # a DTensor: this rank fills its own shard (initlab.distributed)
        return sharded(tensor, dist, generator=generator, seed=seed, key=key)
    source = FromGenerator(generator) if seed is None else Seeded(seed, key)
    if not (sampler.iid and seed is not None):
        flush_pending(tensor)  # a fill that is not queued must come after a queued fill of the same memory
    with torch.no_grad():
        sampler.fill(tensor, dist, source)
    return tensor


def _dtensor_fill(tensor):
    """:func:`initlab.distributed.fill_dtensor_` when ``tensor`` is a DTensor, else ``None``. Looked up only
    once torch's DTensor module is loaded (no DTensor can exist before), so that the engine never imports
    the distributed layer, which sits above it, for a plain tensor."""
    mod = sys.modules.get("torch.distributed.tensor")
    if mod is None or not isinstance(tensor, mod.DTensor):
        return None
    import importlib

    return importlib.import_module("initlab.distributed").fill_dtensor_


def fill_box_(tensor, dist, *, seed: int, key: str, shape, offset) -> None:
    """Fill ``tensor`` with the part at ``offset`` (one start index per dimension) of the values
    ``fill_(torch.empty(shape), dist, seed=seed, key=key)`` would draw: only the tiles that part meets
    are drawn. i.i.d. families (normal, uniform, truncated normal) only; queued inside :func:`batched`.

    >>> import torch, initlab
    >>> from initlab.schemes.engine import fill_box_
    >>> dist = initlab.he_normal().distribution((2048, 1024))
    >>> whole = initlab.he_normal()(torch.empty(2048, 1024), seed=0, key="w")
    >>> part = torch.empty(2048, 512)
    >>> fill_box_(part, dist, seed=0, key="w", shape=(2048, 1024), offset=(0, 512))
    >>> torch.equal(part, whole[:, 512:])
    True
    """
    import torch

    if not _sampler(dist).iid:
        raise InitlabError(f"dist: got family {dist.family!r}; allowed: normal, uniform, truncated_normal "
                           "(drawn tile by tile)")
    shape, offset = tuple(shape), tuple(offset)
    if len(offset) != len(shape) or len(tensor.shape) != len(shape) or any(
            o < 0 or o + s > full for o, s, full in zip(offset, tensor.shape, shape)):
        raise InitlabError(f"offset: got {offset} for a part of shape {tuple(tensor.shape)}; allowed: a box "
                           f"inside the shape {shape}")
    check_int("seed", seed)
    check_call(seed=seed, key=key)
    if tensor.numel() == 0:
        return
    check_fits(dist, tensor.dtype)
    with torch.no_grad():
        queue_or_run(BoxFill(tensor, iid_law(dist, np_work(tensor.dtype)), seed, key, shape, offset), tensor)


# -- NumPy ------------------------------------------------------------------------------------------------
_NUMPY_DTYPES = "float16, float32, float64, bfloat16 (ml_dtypes.bfloat16)"


def numpy_dtype(dtype) -> np.dtype:
    """A NumPy floating dtype: float16/32/64, or bfloat16 (``ml_dtypes.bfloat16``, or the string
    ``"bfloat16"``, which needs ``ml_dtypes``)."""
    if isinstance(dtype, str) and dtype.strip().lower() == "bfloat16":
        return np.dtype(require_extra("ml_dtypes", "bfloat16", feature="NumPy bfloat16").bfloat16)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise fail("dtype", dtype, f"a floating dtype ({_NUMPY_DTYPES})") from None
    if dt.name not in ("float16", "float32", "float64", "bfloat16"):
        raise fail("dtype", dt, f"a floating dtype ({_NUMPY_DTYPES})")
    return dt


def _torch_of(dt: np.dtype):
    import torch

    return getattr(torch, dt.name)


def _to_numpy(t, dt: np.dtype) -> np.ndarray:
    import torch

    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(dt)
    return t.numpy()


def sample_numpy(dist, rng=None, *, seed: int | None = None, key: str = "", dtype="float32"):
    """A new NumPy array of ``dist.shape`` and ``dtype`` (float16/32/64 or ``ml_dtypes.bfloat16``).

    With ``seed``: the values :func:`fill_` puts into a CPU tensor of that dtype with the same
    ``seed`` and ``key`` (one engine for both backends). With ``rng`` (``np.random.Generator``, or
    a fresh OS-seeded one when neither is given): the same samplers on NumPy's sequential draws
    (``standard_normal``, ``random``; inversion for the truncated normal) in float64, cast to ``dtype``
    and, for bounded laws, clamped to the bounds as stored in it.

    >>> import initlab
    >>> a = initlab.get("he_uniform").numpy((3, 4), seed=0)
    >>> a.dtype, a.shape
    (dtype('float32'), (3, 4))
    """
    import torch

    dt = numpy_dtype(dtype)
    check_call(seed=seed, key=key, rng=rng, numpy=True)
    if dist.family == "custom":
        raise fail("scheme", "callable", "a named scheme (a callable initializer fills torch tensors only)")
    sampler = _sampler(dist)
    if dist.numel == 0:
        _warn_empty(dist.shape)
        return np.empty(dist.shape, dtype=dt)
    check_fits(dist, _torch_of(dt))
    if seed is not None:
        t = torch.empty(dist.shape, dtype=_torch_of(dt))
        fill_(t, dist, seed=seed, key=key)
        return _to_numpy(t, dt)
    t = torch.empty(dist.shape, dtype=torch.float64)
    with torch.no_grad():
        sampler.fill(t, dist, FromNumpy(rng if rng is not None else np.random.default_rng()))
    out = t.numpy().astype(dt, copy=dt != np.float64)
    if dist.low is not None and dist.family in ("uniform", "truncated_normal") and dt != np.float64:
        lo, hi = inward(dist.low, dist.high, dt)
        if math.isfinite(lo) or math.isfinite(hi):
            np.clip(out, np.asarray(lo, dtype=dt), np.asarray(hi, dtype=dt), out=out)
    return out
