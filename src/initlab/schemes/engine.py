"""The sampling engine: every value initlab draws goes through here.

Randomness comes from one of three sources, in this order:

1. ``generator=`` — a ``torch.Generator`` (or ``np.random.Generator`` for NumPy) drawn from
   sequentially over the whole tensor. For fp32/fp64 tensors and the families where the algorithm
   is the same (normal, uniform, orthogonal), this gives exactly the values ``torch.nn.init``
   gives with the same generator.
2. ``seed=`` — counter-based blocks: the flattened tensor (row-major order) is cut into blocks of
   :data:`BLOCK` elements, and block *i* draws from its own stream, seeded with
   ``derive_seed(seed, key, i)``. A tensor of two or more dimensions and more than :data:`BLOCK`
   elements is cut instead into tiles of its ``out × rest`` matrix (:data:`TILE` × :data:`TILE`, or
   whole rows when the rows are narrow; :func:`tile_grid`), tile *i* again its own stream, so that
   a shard along either dimension draws only its own tiles (:func:`fill_box_`, used by
   :mod:`initlab.distributed`). The blocks are filled in parallel by a small thread pool
   (``torch.get_num_threads()`` threads, the caller included; torch and NumPy release the GIL
   while they compute). The values do not depend on the number of threads, on the order in which
   blocks are filled, or on which other tensors exist; ``key`` (e.g. a parameter's qualified name
   in a model) keeps two tensors with the same seed apart. A tensor of one block is filled on the
   calling thread, with no pool.
3. neither — torch's global generator (or a fresh OS-seeded NumPy generator), sequentially,
   like ``torch.nn.init``.

A seeded block's stream. Block *i* owns a NumPy SFC64 generator (Doty-Humphrey's Small Fast
Chaotic generator) seeded through ``SeedSequence`` with ``derive_seed(seed, key, i)``. Uniforms
come from it directly (``Generator.random``: the grid k·2⁻²⁴ in fp32, k·2⁻⁵³ in fp64). Normals come
from torch's ``normal_`` (Box–Muller on mt19937) on a ``torch.Generator`` whose whole 624-word
mt19937 state is drawn from the block's SFC64 — not from ``manual_seed``, which keeps only 32 bits
of a seed, so that two of a few hundred thousand blocks would share a stream.

How each i.i.d. family turns its stream into values:

* uniform U(low, high): ``x = low' + w·u`` in the work dtype, low' the smallest stored value ≥ low
  and w the largest stored width (≤ high − low, an ulp less at most) with low' + w·u_max ≤ high as
  rounded; x is monotone in u, so every value lies in [low, high];
* normal N(μ, σ²): ``normal_(μ, σ)`` over the whole block;
* truncated normal on [μ + aσ, μ + bσ] with acceptance Z = Φ(b) − Φ(a) ≥ 1/2 (±0.68σ and wider,
  e.g. ±1σ, ±2σ, ±3σ, [−1, ∞)): rejection (von Neumann 1951) — the block is filled by
  ``normal_(μ, σ)`` and every value outside the bounds as stored is replaced, in index order, by
  the values of the same stream (continued in batches) that fall inside; about 1/Z normals per
  value, e.g. 1.05 at ±2σ;
* truncated normal with Z < 1/2 (narrow or one-sided intervals, e.g. [0.5, 3], [−4, −1], far
  tails): inversion (Devroye 1986, "Non-Uniform Random Variate Generation", §II.2) in float64,
  ``x = μ ± σ·Φ⁻¹(Φ(hi) − (Φ(hi) − Φ(lo))·u)``, an interval right of 0 reflected to the left
  (lo, hi = −b, −a), where Φ keeps its relative precision down to 10⁻³⁰⁸.

Bounds "as stored" are the smallest and largest values of the dtype inside [low, high]; an interval
holding no value of the dtype is an error. Low-precision tensors (fp16, bf16) are drawn in fp32
and cast, then clamped to their bounds as stored *after* the cast, so rounding cannot push a
value outside them. torch's fp32 Box–Muller reaches at most 5.77σ (its uniforms have 24 bits), a
tail of probability 8·10⁻⁹.

Costs, per element on one core (benchmarks/bench_init.py): uniform ≈ 0.8× torch's ``uniform_``,
normal = torch's ``normal_``, truncated normal ±2σ ≈ 1.4× normal; two threads fill about twice as
fast. :func:`batched` runs the blocks of many tensors through one queue.

Structured families (orthogonal, delta-orthogonal, sparse) draw their Gaussian matrix through the
same seeded blocks. A seeded orthogonal matrix is then formed from Householder reflectors built
directly from that matrix's columns, with no QR (Stewart 1980; :func:`_haar_from_reflectors_`), its
products run as single-threaded BLAS on fixed chunks in the pool, so it too is the same on every
thread count, in about 0.55× the time of ``torch.nn.init.orthogonal_`` at 4096² (two threads).
With a generator, orthogonal runs LAPACK's QR as torch does, for torch's exact values.

Reproducibility: the same (seed, key) gives the same values on every run and thread count, for a
given machine and versions of torch and NumPy (torch's Box–Muller kernel differs between CPU
instruction sets in the last bit; NumPy keeps SFC64 and ``SeedSequence`` stable across versions).
Tensors on other devices are filled on the CPU block by block and copied, so they get the same
values as a CPU tensor.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from .._threads import torch_threads
from ..errors import InitlabError
from .spec import Distribution, normal_cdf

__all__ = ["BLOCK", "TILE", "batched", "derive_seed", "fill_", "fill_box_", "tile_grid", "sample_numpy", "check_tensor"]

BLOCK = 1 << 20
"""Elements per independently seeded block (4 MiB of fp32)."""

_SUB = 1 << 17
"""Elements per NumPy pass inside a block (512 KiB of fp32: the pass stays in a core's L2 cache).
Values do not depend on it: the stream is read in order and every step is elementwise."""

_OP_CHUNK = 1 << 15
"""Most elements handed to one torch op on a pool thread: ATen runs an op of at most its grain size
(32768) on the calling thread, so pool threads never start OpenMP teams of their own."""

IID = ("constant", "normal", "uniform", "truncated_normal")

_SQRT2 = math.sqrt(2.0)


def derive_seed(seed: int, key: str = "", block: int = 0) -> int:
    """A 63-bit seed for block ``block`` of the tensor named ``key`` under ``seed`` (BLAKE2b,
    Aumasson et al. 2013, of ``"seed␟key␟block"``)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise InitlabError(f"seed: got {seed!r}; allowed: an integer")
    h = hashlib.blake2b(f"{int(seed)}\x1f{key}\x1f{int(block)}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << 63) - 1)


def check_tensor(tensor) -> None:
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise InitlabError(f"tensor: got {type(tensor).__name__}; allowed: a torch.Tensor "
                           "(for NumPy use Initializer.numpy(shape, rng))")
    if not tensor.dtype.is_floating_point:
        raise InitlabError(f"tensor: got dtype {tensor.dtype}; allowed: a floating dtype "
                           "(float32, float64, float16, bfloat16)")


def _work_dtype(dtype):
    import torch

    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def _np_dtype(torch_dtype) -> np.dtype:
    import torch

    return np.dtype(np.float64) if torch_dtype == torch.float64 else np.dtype(np.float32)


# -- the thread pool ------------------------------------------------------------------------------------
_local = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """After ``fork`` the child has none of the parent's pool threads: start afresh."""
    global _pool, _pool_size, _pool_lock
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_size = ThreadPoolExecutor(max_workers=n, thread_name_prefix="initlab-fill"), n
        return _pool


def _workers(nblocks: int, threads: int | None = None) -> int:
    """Threads that fill ``nblocks`` blocks: ``threads`` (default torch's intra-op thread count), 1 on a
    pool thread."""
    import torch

    if nblocks <= 1 or getattr(_local, "busy", False):
        return 1
    return max(1, min(threads or torch.get_num_threads(), nblocks))


def _for_blocks(nblocks: int, fill_block: Callable[[int], None], workers: int | None = None) -> None:
    """Call ``fill_block(i)`` for every block, on the calling thread and ``workers − 1`` pool threads,
    each taking the next block index from a shared counter (values never depend on who fills what)."""
    nworkers = _workers(nblocks, workers)
    if nworkers == 1:
        for i in range(nblocks):
            fill_block(i)
        return
    import torch

    counter = itertools.count()
    failed = threading.Event()
    grad_mode = torch.is_grad_enabled()  # grad mode is per thread: pool threads take the caller's

    def run() -> None:
        _local.busy = True
        try:
            with torch.set_grad_enabled(grad_mode):
                _drain()
        except BaseException:
            failed.set()
            raise
        finally:
            _local.busy = False

    def _drain() -> None:
        while not failed.is_set():
            i = next(counter)
            if i >= nblocks:
                return
            fill_block(i)

    futures = [_get_pool(nworkers - 1).submit(run) for _ in range(nworkers - 1)]
    try:
        run()
    finally:
        errors = []
        for f in futures:
            try:
                f.result()
            except BaseException as e:  # the first worker error is re-raised below
                errors.append(e)
    if errors:
        raise errors[0]


def _scratch(name: str, dtype: np.dtype, n: int) -> np.ndarray:
    """A per-thread reusable NumPy buffer of at least ``n`` elements."""
    bufs = getattr(_local, "bufs", None)
    if bufs is None:
        bufs = _local.bufs = {}
    buf = bufs.get((name, dtype))
    if buf is None or buf.size < n:
        buf = bufs[(name, dtype)] = np.empty(max(n, _SUB), dtype=dtype)
    return buf[:n]


def _torch_special_(fn: str, arr: np.ndarray) -> None:
    """Apply ``torch.special.<fn>`` to the NumPy array ``arr`` in place, :data:`_OP_CHUNK` elements per
    call at fixed offsets: each call runs on the calling thread, so the values cannot depend on how
    ATen would split a larger call between threads."""
    import torch

    t = torch.from_numpy(arr)
    op = getattr(torch.special, fn)
    for s in range(0, arr.size, _OP_CHUNK):
        part = t[s:s + _OP_CHUNK]
        op(part, out=part)


# -- block streams --------------------------------------------------------------------------------------
def _block_rng(seed: int, key: str, block: int) -> np.random.Generator:
    """Block ``block``'s stream: NumPy's SFC64 (Doty-Humphrey's Small Fast Chaotic generator), seeded
    through ``SeedSequence`` (O'Neill's seed hashing) with ``derive_seed(seed, key, block)``."""
    return np.random.Generator(np.random.SFC64(derive_seed(seed, key, block)))


_MT_WORDS = 624
_MT_OFFSET = 24  # byte offset of the 624 state words in torch's CPU generator state
_mt_template_cache: list = []


def _mt19937_init(seed: int) -> np.ndarray:
    """The 624 words mt19937 starts from after ``init_genrand(seed)`` (Matsumoto & Nishimura 1998)."""
    words = [seed & 0xFFFFFFFF]
    for i in range(1, _MT_WORDS):
        words.append((1812433253 * (words[-1] ^ (words[-1] >> 30)) + i) & 0xFFFFFFFF)
    return np.array(words, dtype="<u8")


def _mt_template():
    """torch's CPU generator state right after ``manual_seed`` (``left`` = 1, ``next`` = 0), or ``None``
    when its layout is not the one :func:`_mt_generator` writes (then normals come from inversion)."""
    if not _mt_template_cache:
        import torch

        g = torch.Generator()
        g.manual_seed(5489)
        state = g.get_state()
        raw = state.numpy()
        end = _MT_OFFSET + 8 * _MT_WORDS
        ok = (raw.size >= end + 8
              and np.array_equal(raw[_MT_OFFSET:end].view("<u8"), _mt19937_init(5489))
              and tuple(raw[8:16].view("<i4")) == (1, 1) and int(raw[16:24].view("<u8")[0]) == 0)
        _mt_template_cache.append(state if ok else None)
    return _mt_template_cache[0]


def _mt_generator(rng: np.random.Generator):
    """A ``torch.Generator`` whose whole mt19937 state (624 × 32 bits) is drawn from ``rng``, or ``None``.

    ``manual_seed`` would do, but torch's CPU generator keeps only the low 32 bits of a seed, so two
    of a few hundred thousand blocks would share a stream."""
    import torch

    template = _mt_template()
    if template is None:
        return None
    state = template.clone()
    state.numpy()[_MT_OFFSET:_MT_OFFSET + 8 * _MT_WORDS].view("<u8")[:] = rng.bit_generator.random_raw(
        _MT_WORDS // 2).view(np.uint32)
    g = torch.Generator()
    g.set_state(state)
    return g


class _Stream:
    """The random numbers of one seeded block (``rng``) or of a generator drawn sequentially
    (``generator``, ``None`` meaning torch's global one, on ``device``)."""

    def __init__(self, *, rng: np.random.Generator | None = None, generator=None, device=None):
        self.rng, self.gen, self.device = rng, generator, device
        self._mt = None

    def uniform(self, arr: np.ndarray) -> None:
        """U[0, 1) on the grid k·2⁻²⁴ (float32) or k·2⁻⁵³ (float64), written into ``arr``."""
        if self.rng is not None:
            self.rng.random(dtype=arr.dtype, out=arr)
        else:
            self._torch("uniform_", arr, 0.0, 1.0)

    def normal(self, arr: np.ndarray, loc: float, scale: float) -> None:
        """N(loc, scale²) written into ``arr``: torch's ``normal_`` (Box–Muller) from the block's mt19937
        or from the generator."""
        if self.rng is None:
            self._torch("normal_", arr, loc, scale)
            return
        if self._mt is None:
            self._mt = _mt_generator(self.rng) or False
        if self._mt is False:
            _inverse_normal(arr, loc, scale, self)
        else:
            import torch

            torch.from_numpy(arr).normal_(loc, scale, generator=self._mt)

    def _torch(self, op: str, arr: np.ndarray, a: float, b: float) -> None:
        import torch

        t = torch.from_numpy(arr)
        if self.device is None or self.device.type == "cpu":
            getattr(t, op)(a, b, generator=self.gen)
        else:  # a device generator draws on its device
            t.copy_(getattr(torch.empty(t.shape, dtype=t.dtype, device=self.device), op)(a, b, generator=self.gen))


def _inverse_normal(arr: np.ndarray, loc: float, scale: float, stream: _Stream) -> None:
    """N(loc, scale²) by inversion, x = loc + scale·√2·erfinv(2u − 1 + 2⁻²⁴) (2⁻⁵³ in float64): a grid
    symmetric about 0 that never reaches ±1. Used when torch's generator state cannot be written."""
    half_step = 2.0 ** -(np.finfo(arr.dtype).nmant + 1)
    for s in range(0, arr.size, _SUB):
        part = arr[s:s + _SUB]
        stream.uniform(part)
        part *= 2.0
        part += -(1.0 - half_step)
        _torch_special_("erfinv", part)
        part *= scale * _SQRT2
        if loc:
            part += loc


class _Law:
    """One i.i.d. family ready to fill work-dtype arrays from a :class:`_Stream` (see the module docstring).

    ``method``: ``uniform`` (affine map of uniforms), ``normal`` (torch's ``normal_``), ``reject``
    (truncated normal with acceptance Z = Φ(b) − Φ(a) ≥ 1/2: normals, the values outside redrawn) or
    ``invert`` (truncated normal with Z < 1/2, or ``invert=True``: float64 Φ⁻¹ of uniforms).
    ``bounds``: the law's hard bounds (low, high), or ``None``.
    """

    def __init__(self, dist: Distribution, work: np.dtype, *, invert: bool = False):
        self.work = np.dtype(work)
        p = dist.params
        self.method = dist.family
        self.bounds = (dist.low, dist.high) if dist.family in ("uniform", "truncated_normal") else None
        if self.bounds is not None:
            self.lo, self.hi = _np_inward(self.bounds[0], self.bounds[1], self.work)
        if dist.family == "uniform":
            # x = low' + width'·u in the work dtype, with low' the smallest stored value ≥ low and width'
            # the largest with low' + width'·u_max ≤ high as rounded: x is monotone in u, so no value can
            # fall outside [low, high] and no clipping pass is needed (low', width' differ from low,
            # high − low by an ulp at most)
            self.low, self.width = self.lo, _widest(self.lo, self.hi, float(p["high"]) - float(p["low"]), self.work)
        elif dist.family == "normal":
            self.loc, self.scale = float(p["mean"]), float(p["std"])
        elif dist.family == "truncated_normal":
            a, b = float(p["a"]), float(p["b"])
            self.loc, self.scale = float(p["loc"]), float(p["scale"])
            self.accept = normal_cdf(b) - normal_cdf(a)
            if self.accept >= 0.5 and not invert:
                self.method = "reject"
            else:
                self.method = "invert"
                flip = a > 0  # an interval right of 0 is reflected to the left tail, where Φ is small
                lo, hi = (-b, -a) if flip else (a, b)
                self.p_hi, self.dp = normal_cdf(hi), normal_cdf(hi) - normal_cdf(lo)
                self.sscale = -self.scale if flip else self.scale
        else:  # pragma: no cover - guarded by the caller
            raise AssertionError(dist.family)

    def fill(self, out: np.ndarray, stream: _Stream) -> None:
        """Fill the work-dtype array ``out`` with i.i.d. values of the law."""
        if self.method == "normal":
            stream.normal(out, self.loc, self.scale)
        elif self.method == "reject":
            stream.normal(out, self.loc, self.scale)
            self._redraw_outside(out, stream)
        elif self.method == "uniform":
            for s in range(0, out.size, _SUB):
                part = out[s:s + _SUB]
                stream.uniform(part)
                part *= self.width
                part += self.low
        else:
            for s in range(0, out.size, _SUB):
                part = out[s:s + _SUB]
                u = part if self.work == np.float64 else _scratch("u64", np.dtype(np.float64), part.size)
                stream.uniform(u)
                # Φ⁻¹ of Φ(hi) − (Φ(hi) − Φ(lo))·u ∈ (Φ(lo), Φ(hi)]: never Φ(lo), which may be 0
                u *= -self.dp
                u += self.p_hi
                np.maximum(u, np.finfo(np.float64).tiny, out=u)
                _torch_special_("ndtri", u)
                u *= self.sscale
                if self.loc:
                    u += self.loc
                if u is not part:
                    part[...] = u
                np.clip(part, self.lo, self.hi, out=part)

    def _redraw_outside(self, out: np.ndarray, stream: _Stream) -> None:
        """Rejection (von Neumann 1951): the values outside [lo, hi] are replaced, in index order, by the
        values inside [lo, hi] of a pool the stream continues with (⌈1.2·n·(1 − Z)/Z⌉ + 64 normals,
        then batches of ⌈1.1·k/Z⌉ + 16 whenever k more are needed than the pool holds)."""
        import torch

        pool = self._inside(stream, int(1.2 * out.size * (1.0 - self.accept) / self.accept) + 64)
        used = 0
        mask, above = _scratch("mask", np.dtype(bool), _SUB), _scratch("above", np.dtype(bool), _SUB)
        for s in range(0, out.size, _SUB):
            part = out[s:s + _SUB]
            n = part.size
            np.less(part, self.lo, out=mask[:n])
            np.greater(part, self.hi, out=above[:n])
            np.logical_or(mask[:n], above[:n], out=mask[:n])
            k = int(np.count_nonzero(mask[:n]))
            if not k:
                continue
            stalls = 0
            while pool.size - used < k:
                more = self._inside(stream, int(1.1 * (k - pool.size + used) / self.accept) + 16)
                stalls = 0 if more.size else stalls + 1
                if stalls > 50:  # the dtype's grid leaves (almost) no room inside the bounds
                    raise InitlabError(f"bounds: [{self.bounds[0]!r}, {self.bounds[1]!r}] with std {self.scale!r}: "
                                       f"{self.work.name} values drawn near the mean almost never fall inside; "
                                       "allowed: bounds at least a few steps of the dtype apart")
                pool, used = np.concatenate([pool[used:], more]), 0
            torch.from_numpy(part).masked_scatter_(torch.from_numpy(mask[:n]), torch.from_numpy(pool[used:used + k]))
            used += k

    def _inside(self, stream: _Stream, k: int) -> np.ndarray:
        """The values inside [lo, hi] among the stream's next ``k`` normals, in order."""
        extra = np.empty(k, dtype=self.work)
        stream.normal(extra, self.loc, self.scale)
        return extra[(extra >= self.lo) & (extra <= self.hi)]


def _widest(low, high, width: float, dtype: np.dtype):
    """The largest ``w`` ≤ ``width`` of ``dtype`` with low + w·u_max ≤ high as ``dtype`` rounds it
    (u_max = 1 − 2⁻²⁴ in fp32, 1 − 2⁻⁵³ in fp64): bisection on the bit patterns of non-negative floats,
    which are ordered like the floats."""
    t = dtype.type
    bits = np.dtype(f"i{dtype.itemsize}")
    top = t(1.0 - 2.0 ** -(np.finfo(dtype).nmant + 1))

    def fits(w) -> bool:
        return bool(t(w) * top + t(low) <= t(high))

    w = t(width)
    if fits(w):
        return w
    lo_bits, hi_bits = 0, int(np.asarray(w).view(bits))  # fits(0) holds: low ≤ high as stored
    while hi_bits - lo_bits > 1:
        mid = (lo_bits + hi_bits) // 2
        if fits(np.asarray(mid, dtype=bits).view(dtype)):
            lo_bits = mid
        else:
            hi_bits = mid
    return np.asarray(lo_bits, dtype=bits).view(dtype)[()]


def _np_inward(low, high, dtype):
    """The smallest and largest values of NumPy ``dtype`` within [low, high] (infinite bounds stay)."""
    dtype = np.dtype(dtype)
    lo, hi = np.asarray(low, dtype=dtype), np.asarray(high, dtype=dtype)
    if float(lo) < low:  # compared as Python floats: NumPy would round ``low`` to ``dtype`` first
        lo = np.nextafter(lo, np.asarray(np.inf, dtype=dtype))
    if float(hi) > high:
        hi = np.nextafter(hi, np.asarray(-np.inf, dtype=dtype))
    _check_nonempty(low, high, float(lo), float(hi), dtype.name)
    return lo[()], hi[()]


def _check_nonempty(low: float, high: float, lo: float, hi: float, dtype_name: str) -> None:
    if lo > hi:
        raise InitlabError(f"bounds: got [{low!r}, {high!r}], which holds no {dtype_name} value; allowed: an interval "
                           f"that contains at least one number the dtype can store")


def _inward_bounds(low: float, high: float, dtype):
    """The smallest and largest values of torch ``dtype`` within [low, high] (one ulp step inward
    from the nearest representable value when rounding landed outside)."""
    import torch

    eps = torch.finfo(dtype).eps

    def cast(x: float) -> float:
        return torch.tensor(x, dtype=torch.float64).to(dtype).double().item()

    def ulp(x: float) -> float:
        return eps * 2.0 ** math.floor(math.log2(abs(x))) if x else torch.finfo(dtype).tiny

    lo, hi = cast(low), cast(high)
    while lo < low:
        lo = cast(lo + ulp(lo))
    while hi > high:
        hi = cast(hi - ulp(hi))
    _check_nonempty(low, high, lo, hi, str(dtype).replace("torch.", ""))
    return lo, hi


# -- seeded blocks --------------------------------------------------------------------------------------
class _SeededFill:
    """Filling ``tensor`` (any floating dtype and device) from ``law`` in independently seeded blocks:
    :meth:`fill_block` for each of the :attr:`nblocks` blocks, in any order and on any thread, then
    :meth:`finish` once."""

    def __init__(self, tensor, law: _Law, seed: int, key: str):
        import torch

        self.tensor, self.law, self.seed, self.key = tensor, law, seed, key
        self.n = n = tensor.numel()
        self.nblocks = -(-n // BLOCK)
        work_t = _work_dtype(tensor.dtype)
        self.on_cpu = tensor.device.type == "cpu"
        contiguous = tensor.is_contiguous()
        self.full = None
        if self.on_cpu and contiguous and tensor.dtype == work_t:
            self.dest = tensor.detach().view(-1).numpy()   # blocks are written in place
        elif contiguous:
            self.dest = None                               # blocks go through a scratch buffer, then are cast
        else:
            self.full = torch.empty(n, dtype=work_t)       # non-contiguous: a whole work buffer, copied at the end
            self.dest = self.full.numpy()
        self.flat = tensor.detach().view(-1) if self.dest is None else None
        self.clamp = None
        if law.bounds is not None and tensor.dtype != work_t:  # checked before anything is drawn
            self.clamp = _inward_bounds(law.bounds[0], law.bounds[1], tensor.dtype)

    def fill_block(self, i: int) -> None:
        import torch

        start = i * BLOCK
        m = min(BLOCK, self.n - start)
        out = self.dest[start:start + m] if self.dest is not None else _scratch("block", self.law.work, m)
        self.law.fill(out, _Stream(rng=_block_rng(self.seed, self.key, i)))
        if self.dest is None:
            src = torch.from_numpy(out)
            if self.on_cpu:  # a dtype cast, in pieces that stay on this thread
                for s in range(0, m, _OP_CHUNK):
                    self.flat[start + s:start + s + _OP_CHUNK].copy_(src[s:s + _OP_CHUNK])
            else:
                self.flat[start:start + m].copy_(src)

    def finish(self) -> None:
        if self.full is not None:
            self.tensor.copy_(self.full.view(self.tensor.shape))
        if self.clamp is not None:
            self.tensor.clamp_(*self.clamp)


def _run_fills(fills: list[_SeededFill]) -> None:
    """All blocks of all ``fills`` through one queue (no thread waits between tensors), then finish each."""
    jobs = [(f, i) for f in fills for i in range(f.nblocks)]
    _for_blocks(len(jobs), lambda j: jobs[j][0].fill_block(jobs[j][1]))
    for f in fills:
        f.finish()


def _storage_key(tensor) -> tuple:
    return tensor.device.type, tensor.device.index, tensor.untyped_storage().data_ptr()


@contextlib.contextmanager
def batched():
    """Inside this block, seeded i.i.d. fills (normal, uniform, truncated normal) made on this thread are
    queued, and when it exits all their blocks are filled together through one queue on the pool —
    the threads never wait for each other between tensors, and several small tensors are filled at
    once. Values are those of the same calls made one by one. A queued tensor holds its old values
    until the block exits; any other ``fill_`` of a queued tensor's memory first runs the queue, but
    plain torch operations on it inside the block are overwritten when the block exits.

    >>> import torch, initlab
    >>> from initlab.schemes.engine import batched
    >>> ws = [torch.empty(256, 256) for _ in range(8)]
    >>> with batched():
    ...     for i, w in enumerate(ws):
    ...         _ = initlab.he_normal()(w, seed=0, key=f"w{i}")
    """
    outer = getattr(_local, "queue", None)
    if outer is not None:  # nested: the outermost block runs everything
        yield
        return
    _local.queue = queue = {}
    try:
        yield
        _flush(queue)
    finally:
        _local.queue = None


def _flush(queue: dict) -> None:
    fills = [f for group in queue.values() for f in group]
    queue.clear()
    _run_fills(fills)


# -- tiles and boxes: the seeded layout of large matrices, and any part of a tensor (initlab.distributed) ---
TILE = 512
"""Rows and columns of a tile: a matrix of more than :data:`BLOCK` elements is seeded in tiles of
``TILE × TILE`` elements (2¹⁸), so that a shard along either dimension draws only its own tiles."""

_TILE_ELEMS = TILE * TILE


def tile_grid(shape) -> tuple[int, int, int, int]:
    """``(R, C, TR, TC)``: the seeded layout of a tensor of ``shape``, seen as an R × C matrix (R the first
    dimension, C the product of the others; a 1-D tensor is 1 × n) cut into tiles of TR × TC elements.
    Tile (i, j) draws from block ``i · ⌈C/TC⌉ + j``'s stream, row-major inside the tile.

    * at most :data:`BLOCK` elements, or one dimension: flat blocks of :data:`BLOCK` elements in row-major
      order (one tile of the whole tensor; a 1-D tensor in pieces of BLOCK);
    * larger matrices (and tensors such as conv weights, as out × rest): tiles of TILE × TILE, or of whole
      rows of TILE²/C rows when C ≤ TILE, or TILE²/R columns when R < TILE.
    """
    n = math.prod(shape)
    if len(shape) < 2:
        return 1, n, 1, BLOCK
    r = shape[0]
    c = n // r if r else 0
    if n <= BLOCK:
        return r, c, max(r, 1), max(c, 1)
    if c <= TILE:
        return r, c, min(r, _TILE_ELEMS // c), c
    tr = min(r, TILE)
    return r, c, tr, min(c, max(TILE, _TILE_ELEMS // tr))


class _BoxFill:
    """Filling ``tensor`` with the box of shape ``tensor.shape`` at ``offset`` of the seeded values a tensor
    of ``shape`` gets (the whole tensor when ``shape`` is its own): the tiles of :func:`tile_grid` that the
    box meets are drawn (a tile wholly inside a contiguous destination in place, any other one in a
    per-thread scratch of at most one tile) and their part of the box is copied. Same interface as
    :class:`_SeededFill`: :meth:`fill_block` for each of :attr:`nblocks`, then :meth:`finish`."""

    def __init__(self, tensor, law: _Law, seed: int, key: str, shape=None, offset=None):
        import torch

        self.tensor, self.law, self.seed, self.key = tensor, law, seed, key
        shape = tuple(tensor.shape) if shape is None else tuple(shape)
        offset = (0,) * len(shape) if offset is None else tuple(offset)
        local = tuple(tensor.shape)
        self.R, self.C, self.TR, self.TC = tile_grid(shape)
        self.ntc = -(-self.C // self.TC) if self.C else 0
        # the box in the grid's R × C view: rows [r0, r1) and columns [c0, c1) or an index array
        if len(shape) < 2:
            self.r0, self.r1 = 0, 1
            c0, c1 = (offset[0], offset[0] + local[0]) if shape else (0, 1)
            cols = None
        else:
            self.r0, self.r1 = offset[0], offset[0] + local[0]
            inner = math.prod(shape[2:])
            if all(o == 0 and s == full for o, s, full in zip(offset[2:], local[2:], shape[2:])):
                c0, c1, cols = offset[1] * inner, (offset[1] + local[1]) * inner, None
            else:  # a box cut inside dimensions 2, 3, …: its columns, in row-major (ascending) order
                grids = np.ix_(*[np.arange(o, o + s) for o, s in zip(offset[1:], local[1:])])
                cols = np.ravel_multi_index(grids, shape[1:]).reshape(-1)
                c0, c1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 0)
        self.c0, self.c1, self.cols = c0, c1, cols
        self.ncols = (c1 - c0) if cols is None else cols.size
        nrows = self.r1 - self.r0
        if nrows <= 0 or self.ncols <= 0:
            self.jobs = []
        else:
            tcs = (range(c0 // self.TC, (c1 - 1) // self.TC + 1) if cols is None
                   else np.unique(cols // self.TC).tolist())
            self.jobs = [(i, j) for i in range(self.r0 // self.TR, (self.r1 - 1) // self.TR + 1) for j in tcs]
        self.nblocks = len(self.jobs)
        work_t = _work_dtype(tensor.dtype)
        direct = tensor.device.type == "cpu" and tensor.is_contiguous() and tensor.dtype == work_t
        self.full = None if direct else torch.empty(tensor.numel(), dtype=work_t)  # cast/copied at the end
        flat = tensor.detach().view(-1) if direct else self.full
        self.dest = flat.numpy().reshape(nrows, self.ncols) if self.nblocks else None
        self.clamp = None
        if law.bounds is not None and tensor.dtype != work_t:
            self.clamp = _inward_bounds(law.bounds[0], law.bounds[1], tensor.dtype)

    def fill_block(self, b: int) -> None:
        i, j = self.jobs[b]
        tr0, tc0 = i * self.TR, j * self.TC
        tr1, tc1 = min(self.R, tr0 + self.TR), min(self.C, tc0 + self.TC)
        rows, width = tr1 - tr0, tc1 - tc0
        in_place = (self.cols is None and tc0 == 0 and tc1 == self.C and self.c0 == 0 and self.c1 == self.C
                    and tr0 >= self.r0 and tr1 <= self.r1)
        if in_place:  # whole rows of a destination holding whole rows: contiguous
            out = self.dest[tr0 - self.r0:tr1 - self.r0].reshape(-1)
        else:
            out = _scratch("tile", self.law.work, rows * width)
        self.law.fill(out, _Stream(rng=_block_rng(self.seed, self.key, i * self.ntc + j)))
        if in_place:
            return
        tile = out.reshape(rows, width)
        a, z = max(tr0, self.r0), min(tr1, self.r1)
        if self.cols is None:
            lo, hi = max(tc0, self.c0), min(tc1, self.c1)
            np.copyto(self.dest[a - self.r0:z - self.r0, lo - self.c0:hi - self.c0], tile[a - tr0:z - tr0, lo - tc0:hi - tc0])
        else:
            pos = np.nonzero((self.cols >= tc0) & (self.cols < tc1))[0]
            self.dest[a - self.r0:z - self.r0, pos] = tile[a - tr0:z - tr0][:, self.cols[pos] - tc0]

    def finish(self) -> None:
        import torch

        if self.full is not None:
            self.tensor.copy_(self.full.view(self.tensor.shape))
        if self.clamp is not None:
            self.tensor.clamp_(*self.clamp)


def _queue_or_run(job, tensor) -> None:
    """Run ``job`` now, or queue it on ``tensor``'s memory inside :func:`batched`."""
    queue = getattr(_local, "queue", None)
    if queue is None:
        _run_fills([job])
        return
    storage = _storage_key(tensor)
    if storage in queue:  # a second fill of the same memory: keep the order of the calls
        _flush(queue)
    queue.setdefault(storage, []).append(job)


def fill_box_(tensor, dist: Distribution, *, seed: int, key: str, shape, offset) -> None:
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
    if dist.family not in IID or dist.family == "constant":
        raise InitlabError(f"dist: got family {dist.family!r}; allowed: normal, uniform, truncated_normal "
                           "(drawn tile by tile)")
    shape, offset = tuple(shape), tuple(offset)
    if len(offset) != len(shape) or len(tensor.shape) != len(shape) or any(
            o < 0 or o + s > full for o, s, full in zip(offset, tensor.shape, shape)):
        raise InitlabError(f"offset: got {offset} for a part of shape {tuple(tensor.shape)}; allowed: a box "
                           f"inside the shape {shape}")
    derive_seed(seed)
    if tensor.numel() == 0:
        return
    import torch

    with torch.no_grad():
        _queue_or_run(_BoxFill(tensor, _Law(dist, _np_dtype(_work_dtype(tensor.dtype))), seed, key, shape, offset),
                      tensor)
# -- end tiles and boxes -------------------------------------------------------------------------------


def _fill_seeded_(tensor, law: _Law, seed: int, key: str) -> None:
    if len(tensor.shape) >= 2 and tensor.numel() > BLOCK:  # tiles (see tile_grid)
        _queue_or_run(_BoxFill(tensor, law, seed, key), tensor)
        return
    _queue_or_run(_SeededFill(tensor, law, seed, key), tensor)


# -- i.i.d. families with a generator (sequential) --------------------------------------------------------
def _fill_generator_(tensor, dist: Distribution, gen) -> None:
    """Sequential draws from ``gen`` (``None``: torch's global generator). normal and uniform call
    ``normal_``/``uniform_`` on an fp32/fp64 buffer of the tensor's shape, as ``torch.nn.init`` does; the
    truncated normal runs the seeded blocks' algorithm on the generator's stream."""
    import torch

    work = _work_dtype(tensor.dtype)
    direct = tensor.dtype == work and tensor.is_contiguous()
    f, p = dist.family, dist.params
    if f in ("normal", "uniform"):
        buf = tensor if direct else torch.empty(tensor.shape, dtype=work, device=tensor.device)
        if f == "normal":
            buf.normal_(p["mean"], p["std"], generator=gen)
        else:
            buf.uniform_(p["low"], p["high"], generator=gen)
        if not direct:
            tensor.copy_(buf)
            if f == "uniform" and tensor.dtype != work:
                tensor.clamp_(*_inward_bounds(dist.low, dist.high, tensor.dtype))
        return
    law = _Law(dist, _np_dtype(work))
    clamp = _inward_bounds(dist.low, dist.high, tensor.dtype) if tensor.dtype != work else None
    device = gen.device if gen is not None else tensor.device
    on_cpu = tensor.device.type == "cpu"
    out = tensor.detach().view(-1).numpy() if (direct and on_cpu) else np.empty(tensor.numel(), dtype=law.work)
    law.fill(out, _Stream(generator=gen, device=device))
    if not (direct and on_cpu):
        tensor.copy_(torch.from_numpy(out).view(tensor.shape))
    if clamp is not None:
        tensor.clamp_(*clamp)


def _fill_iid_(tensor, dist: Distribution, generator, seed, key) -> None:
    if dist.family == "constant":
        tensor.fill_(dist.params["value"])
    elif seed is None:
        _fill_generator_(tensor, dist, generator)
    else:
        _fill_seeded_(tensor, _Law(dist, _np_dtype(_work_dtype(tensor.dtype))), seed, key)


# -- structured families --------------------------------------------------------------------------------
_STD_NORMAL = Distribution("normal", (), 0.0, 1.0, params={"mean": 0.0, "std": 1.0})


def _gaussian_(mat, generator, seed, key) -> None:
    """Fill the fp32/fp64 tensor ``mat`` with N(0, 1): sequentially from ``generator`` (torch's
    ``normal_``, as ``torch.nn.init.orthogonal_`` draws) or in seeded blocks."""
    if seed is None:
        mat.normal_(0.0, 1.0, generator=generator)
    else:
        _run_fills([_SeededFill(mat, _Law(_STD_NORMAL, _np_dtype(mat.dtype)), seed, key)])  # now, never queued


def _orthogonal_(mat, generator, seed, key) -> None:
    """Overwrite the C-contiguous fp32/fp64 (rows, cols) matrix ``mat`` with a Haar-distributed matrix
    with orthonormal rows (rows ≤ cols) or columns.

    With a generator (or none): Q·diag(sign(diag R)) of the Householder QR of a Gaussian matrix A
    (Mezzadri 2007, "How to generate random matrices from the classical compact groups"), which is
    what ``torch.nn.init.orthogonal_`` computes, bit for bit with the same generator. A is drawn into
    ``mat`` itself; LAPACK's ``geqrf`` and ``orgqr`` (Golub & Van Loan 2013, §5.2) then run in place
    on a column-major matrix: for rows < cols that is Aᵀ's storage, i.e. ``mat`` itself, otherwise a
    column-major copy of A (one matrix of extra memory) is factorised and copied back.

    With a seed: the same law, from the reflectors directly (:func:`_haar_from_reflectors_`), with no
    QR, in half the arithmetic and with values that do not depend on the thread count.
    """
    import torch

    rows, cols = mat.shape
    if seed is not None and mat.device.type != "cpu":  # formed on the CPU: a CPU tensor's values, copied
        mat.copy_(_orthogonal_matrix(rows, cols, mat.dtype, torch.device("cpu"), None, seed, key))
        return
    _gaussian_(mat, generator, seed, key)
    if seed is not None:
        _haar_from_reflectors_(mat.t() if rows < cols else mat)
        return
    if rows < cols:
        a = mat.t()  # QR of Aᵀ (cols × rows), stored column-major in mat's own memory
    else:
        a = torch.empty_strided((rows, cols), (1, rows), dtype=mat.dtype, device=mat.device)
        a.copy_(mat)
    tau = torch.empty(min(rows, cols), dtype=mat.dtype, device=mat.device)
    torch.geqrf(a, out=(a, tau))
    sign = torch.diagonal(a).sign()  # a fresh tensor: the signs of R's diagonal
    torch.linalg.householder_product(a, tau, out=a)
    a.mul_(sign)
    if rows >= cols:
        mat.copy_(a)


_HH_BLOCK = 64
"""Reflectors applied together as one block reflector I − V·T·Vᵀ by :func:`_haar_from_reflectors_`."""

_HH_CHUNK = 256
"""Columns (trailing update) or rows (a block's own columns) per task of :func:`_haar_from_reflectors_`."""


def _single_threaded(task: Callable[[int], None]) -> Callable[[int], None]:
    """``task`` with one OpenMP/MKL thread on whichever thread runs it: torch sets MKL's thread count per
    thread (``mkl_set_num_threads_local``), and a pool thread would otherwise run BLAS on every core."""
    import torch

    def run(i: int) -> None:
        torch.set_num_threads(1)
        task(i)

    return run


def _haar_from_reflectors_(q) -> None:
    """Overwrite ``q`` (m × k, m ≥ k, any strides), which holds i.i.d. N(0, 1), with the first k columns
    of a Haar-distributed m × m orthogonal matrix.

    The law. In the Householder QR of a Gaussian matrix G = [g₁ … g_k], the first reflector H₁ depends
    on g₁ alone, and H₁·[g₂ … g_k] below its first row is again an i.i.d. Gaussian matrix independent of
    g₁ (rotation invariance); so the k reflectors have the law of reflectors built from k independent
    Gaussian vectors of lengths m, m−1, …, m−k+1 (Stewart 1980, "The efficient generation of random
    orthogonal matrices with an application to condition estimators"). Column j of ``q`` below the
    diagonal is that vector: x = q[j:, j]. In LAPACK's convention (``larfg``) its reflector
    H = I − τ·v·vᵀ maps x to β·e₁ with β = −sign(x₀)·‖x‖, v = (1, x₁/(x₀ − β), …), τ = (β − x₀)/β ∈ [1, 2],
    and R's diagonal entry is β. Q = H₁·…·H_k·diag(sign β), the Q of Mezzadri's sign-folded QR, is Haar.
    A vector of length 1 (the last column of a square matrix) gives τ = 2, H = −1 and sign β = −sign x₀,
    the same column as LAPACK's τ = 0, H = 1, sign β = sign x₀. The factorisation itself is never run:
    forming Q from its reflectors (``orgqr``'s work, 2mk² − 2k³/3 flops) is all that is left.

    The arithmetic. Blocks of b = :data:`_HH_BLOCK` reflectors, last block first, each applied as
    I − V·T·Vᵀ (the compact WY form, Schreiber & Van Loan 1989) with T from T⁻¹ = striu(VᵀV) + diag(1/τ)
    (the UT transform, Joffrain et al. 2006, "Accumulating Householder transformations, revisited"):
    first to the columns already formed, Q[j₀:, j₁:] −= V·(T·(Vᵀ·Q[j₀:, j₁:])), then to the identity's
    own columns, Q[j₀:, j₀:j₁] = E − V·(T·V[:b]ᵀ), overwriting V. Before block j only the reflectors
    right of it have acted, so the rows above it hold zeros.

    Threads. Every product runs as single-threaded BLAS on fixed chunks of :data:`_HH_CHUNK` columns
    (or rows) handed to the engine's pool; the chunks, and so the rounding, do not depend on the thread
    count. Extra memory: a few m × b panels.
    """
    import torch

    m, k = q.shape
    dt = q.dtype
    with torch_threads(1) as nthreads:
        signs = torch.empty(k, dtype=dt)
        for j0 in reversed(range(0, k, _HH_BLOCK)):
            j1 = min(j0 + _HH_BLOCK, k)
            b = j1 - j0
            q[:j0, j0:j1] = 0.0
            v = q[j0:, j0:j1]
            head = v[:b]  # b × b: column c's vector starts on its diagonal
            x = v.to(torch.float64, copy=True)
            x[:b].tril_()
            x0 = torch.diagonal(x[:b]).clone()
            norm = x.square_().sum(0).sqrt_()
            sign_x0 = torch.where(x0 >= 0, 1.0, -1.0).to(torch.float64)
            beta = -sign_x0 * norm
            tau = (beta - x0) / beta
            signs[j0:j1] = -sign_x0.to(dt)
            head.tril_()
            v.mul_((1.0 / (x0 - beta)).to(dt))
            torch.diagonal(head).fill_(1.0)
            gram = (v.t() @ v).to(torch.float64)
            t_inv = gram.triu_(1) + torch.diag(1.0 / tau)
            t = torch.linalg.solve_triangular(t_inv, torch.eye(b, dtype=torch.float64), upper=True).to(dt)

            def trailing(c: int, v=v, t=t, j0=j0, j1=j1) -> None:
                cols = q[j0:, j1 + c * _HH_CHUNK: j1 + (c + 1) * _HH_CHUNK]
                cols.addmm_(v, t @ (v.t() @ cols), alpha=-1.0)

            _for_blocks(-(-(k - j1) // _HH_CHUNK), _single_threaded(trailing), workers=nthreads)
            w = t @ head.t()  # before ``own`` overwrites head

            def own(r: int, v=v, w=w) -> None:
                part = v[r * _HH_CHUNK:(r + 1) * _HH_CHUNK]
                part.copy_(part @ w).neg_()
                if r * _HH_CHUNK < b:  # the identity's entries lie in the first b rows
                    torch.diagonal(part[:, r * _HH_CHUNK:]).add_(1.0)

            _for_blocks(-(-(m - j0) // _HH_CHUNK), _single_threaded(own), workers=nthreads)
        q.mul_(signs)


def _orthogonal_matrix(rows: int, cols: int, dtype, device, generator, seed, key):
    import torch

    mat = torch.empty((rows, cols), dtype=dtype, device=device)
    _orthogonal_(mat, generator, seed, key)
    return mat


def _fill_structured_(tensor, dist: Distribution, generator, seed, key) -> None:
    import torch

    f, p = dist.family, dist.params
    work = _work_dtype(tensor.dtype)
    if f == "orthogonal":
        rows, cols = p["rows"], p["cols"]
        if tensor.dtype == work and tensor.is_contiguous():
            _orthogonal_(tensor.view(rows, cols), generator, seed, key)
            tensor.mul_(p["gain"])
        else:
            q = _orthogonal_matrix(rows, cols, work, tensor.device, generator, seed, key)
            tensor.copy_(q.mul_(p["gain"]).reshape(tensor.shape))
    elif f == "delta_orthogonal":
        out_c, in_c = tensor.shape[0], tensor.shape[1]
        q = _orthogonal_matrix(out_c, in_c, work, tensor.device, generator, seed, key).mul_(p["gain"])
        tensor.zero_()
        centre = tuple(k // 2 for k in tensor.shape[2:])
        tensor[(slice(None), slice(None), *centre)] = q.to(tensor.dtype)
    elif f == "identity":
        tensor.zero_()
        n = min(tensor.shape)
        idx = torch.arange(n, device=tensor.device)
        tensor[idx, idx] = p["gain"]
    elif f == "dirac":
        tensor.zero_()
        groups, per_group = p["groups"], tensor.shape[0] // p["groups"]
        n = min(per_group, tensor.shape[1])
        centre = tuple(k // 2 for k in tensor.shape[2:])
        for g in range(groups):
            for d in range(n):
                tensor[(g * per_group + d, d, *centre)] = p["gain"]
    elif f == "sparse":
        rows, cols = tensor.shape
        buf = torch.empty((rows, cols), dtype=work, device=tensor.device)
        _gaussian_(buf, generator, seed, key)
        buf.mul_(p["std"])
        nz = p["zeros_per_column"]
        if nz:
            # one random permutation of the rows per column: argsort of uniform keys
            if seed is None:
                keys = torch.rand((rows, cols), generator=generator, device=tensor.device)
            else:
                keys = torch.from_numpy(_block_rng(seed, key, -1).random((rows, cols))).to(tensor.device)
            zero_rows = keys.argsort(dim=0)[:nz]
            buf.scatter_(0, zero_rows, 0.0)
        tensor.copy_(buf)
    else:
        raise InitlabError(f"distribution family {f!r} cannot be sampled")


def fill_(tensor, dist: Distribution, *, generator=None, seed: int | None = None, key: str = ""):
    """Fill ``tensor`` in place from ``dist`` (no autograd record) and return it.

    ``seed``: independently seeded blocks, filled in parallel, identical on every run and thread
    count; ``generator``: sequential draws, the values of ``torch.nn.init`` for normal, uniform and
    orthogonal; neither: torch's global generator. See the module docstring for the algorithms.
    """
    import torch

    check_tensor(tensor)
    if tuple(tensor.shape) != tuple(dist.shape):
        raise InitlabError(f"tensor: got shape {tuple(tensor.shape)}; the distribution was resolved for {dist.shape}")
    if generator is not None and seed is not None:
        raise InitlabError("give either generator= or seed=, not both")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InitlabError(f"generator: got {type(generator).__name__}; allowed: a torch.Generator")
    if seed is not None:
        derive_seed(seed)  # validates
    if tensor.is_meta or tensor.numel() == 0:
        return tensor
    # -- distributed: a DTensor is filled shard by shard, each rank its own part (initlab.distributed)
    from ..distributed import is_dtensor

    if is_dtensor(tensor):
        from ..distributed import fill_dtensor_

        return fill_dtensor_(tensor, dist, generator=generator, seed=seed, key=key)
    # -- end distributed
    queue = getattr(_local, "queue", None)
    queued = seed is not None and dist.family in IID and dist.family != "constant"
    if queue and not queued and _storage_key(tensor) in queue:
        _flush(queue)  # this fill must come after the queued one
    with torch.no_grad():
        if dist.family in IID:
            _fill_iid_(tensor, dist, generator, seed, key)
        elif dist.family == "custom":
            dist.params["fn"](tensor)
        else:
            _fill_structured_(tensor, dist, generator, seed, key)
    return tensor


# -- NumPy ----------------------------------------------------------------------------------------------
_NP_TORCH = {"float16": "float16", "float32": "float32", "float64": "float64"}


def _np_draw(dist: Distribution, n: int, gen: np.random.Generator, dtype) -> np.ndarray:
    f, p = dist.family, dist.params
    if f == "normal":
        return (gen.standard_normal(n, dtype=np.float64) * p["std"] + p["mean"]).astype(dtype, copy=False)
    if f == "uniform":
        return gen.uniform(p["low"], p["high"], n).astype(dtype, copy=False)
    if f == "truncated_normal":
        out = np.empty(n, dtype=np.float64)
        _Law(dist, out.dtype, invert=True).fill(out, _Stream(rng=gen))
        return np.clip(out.astype(dtype, copy=False), *_np_inward(dist.low, dist.high, dtype))
    raise AssertionError(f)


def sample_numpy(dist: Distribution, rng=None, *, seed: int | None = None, key: str = "", dtype="float32"):
    """A new NumPy array of ``dist.shape``.

    With ``seed``: the values :func:`fill_` puts into a CPU tensor of that dtype with the same
    ``seed`` and ``key`` (one engine for both backends). With ``rng`` (``np.random.Generator``, or
    a fresh OS-seeded one when neither is given): sequential NumPy draws — ``standard_normal``,
    ``uniform``, inversion for the truncated normal, ``numpy.linalg.qr`` for orthogonal.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise InitlabError(f"dtype: got {dtype}; allowed: a floating dtype (float16, float32, float64)")
    if rng is not None and seed is not None:
        raise InitlabError("give either rng= or seed=, not both")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise InitlabError(f"rng: got {type(rng).__name__}; allowed: numpy.random.Generator (np.random.default_rng)")
    if seed is not None:
        derive_seed(seed)
        if dtype.name not in _NP_TORCH:
            raise InitlabError(f"dtype: got {dtype}; allowed with seed=: float16, float32, float64")
        if dist.family == "custom":
            raise InitlabError("a callable initializer cannot sample NumPy arrays")
        import torch

        t = torch.empty(dist.shape, dtype=getattr(torch, _NP_TORCH[dtype.name]))
        fill_(t, dist, seed=seed, key=key)
        return t.numpy()
    if rng is None:
        rng = np.random.default_rng()
    shape, n = dist.shape, dist.numel
    f, p = dist.family, dist.params
    if f == "constant":
        return np.full(shape, p["value"], dtype=dtype)
    if f in IID:
        return _np_draw(dist, n, rng, dtype).reshape(shape)
    if f in ("orthogonal", "delta_orthogonal"):
        rows, cols = (p["rows"], p["cols"]) if f == "orthogonal" else shape[:2]
        a = rng.standard_normal((rows, cols))
        if rows < cols:
            a = a.T
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        q = q * p["gain"]
        if f == "orthogonal":
            return q.reshape(shape).astype(dtype)
        out = np.zeros(shape, dtype=dtype)
        out[(slice(None), slice(None), *(k // 2 for k in shape[2:]))] = q
        return out
    if f in ("identity", "dirac"):
        import torch

        t = torch.empty(shape, dtype=torch.float64)
        _fill_structured_(t, dist, None, None, "")
        return t.numpy().astype(dtype)
    if f == "sparse":
        rows, cols = shape
        out = rng.standard_normal((rows, cols)) * p["std"]
        nz = p["zeros_per_column"]
        if nz:
            zero_rows = np.argsort(rng.random((rows, cols)), axis=0)[:nz]
            np.put_along_axis(out, zero_rows, 0.0, axis=0)
        return out.astype(dtype)
    raise InitlabError(f"distribution family {f!r} cannot be sampled into NumPy arrays")
