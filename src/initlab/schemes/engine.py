"""The sampling engine: every value initlab draws goes through here.

Randomness comes from one of three sources, in this order:

1. ``generator=`` — a ``torch.Generator`` (or ``np.random.Generator`` for NumPy) drawn from
   sequentially over the whole tensor. For fp32/fp64 tensors and the families where the algorithm
   is the same (normal, uniform, orthogonal), this gives exactly the values ``torch.nn.init``
   gives with the same generator.
2. ``seed=`` — counter-based blocks: the flattened tensor is cut into blocks of
   :data:`BLOCK` elements, and block *i* is drawn from its own stream seeded with
   ``derive_seed(seed, key, i)``. The values therefore do not depend on the number of threads,
   on the order in which blocks are filled, or on which other tensors exist; ``key`` (e.g. a
   parameter's qualified name in a model) keeps two tensors with the same seed apart.
3. neither — torch's global generator (or a fresh OS-seeded NumPy generator), sequentially,
   like ``torch.nn.init``.

Low-precision tensors (fp16, bf16) are drawn in fp32 and cast; a truncated normal is clamped to
its bounds *after* the cast, so rounding cannot push a value outside them.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ..errors import InitlabError
from .spec import Distribution, normal_cdf

__all__ = ["BLOCK", "derive_seed", "fill_", "sample_numpy", "check_tensor"]

BLOCK = 1 << 20
"""Elements per independently seeded block (4 MiB of fp32)."""

IID = ("constant", "normal", "uniform", "truncated_normal")


def derive_seed(seed: int, key: str = "", block: int = 0) -> int:
    """A 63-bit seed for block ``block`` of the tensor named ``key`` under ``seed`` (BLAKE2b)."""
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


def _torch_generator(seed: int, device) -> "torch.Generator":
    import torch

    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g


def _work_dtype(dtype):
    import torch

    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


# -- i.i.d. families, torch ---------------------------------------------------------------------------
def _draw_iid_(buf, dist: Distribution, gen) -> None:
    """Fill the fp32/fp64 buffer ``buf`` i.i.d. from ``dist`` using generator ``gen``."""
    f, p = dist.family, dist.params
    if f == "normal":
        buf.normal_(p["mean"], p["std"], generator=gen)
    elif f == "uniform":
        buf.uniform_(p["low"], p["high"], generator=gen)
    elif f == "truncated_normal":
        _truncated_normal_(buf, p["loc"], p["scale"], p["a"], p["b"], gen)
    else:  # pragma: no cover - guarded by the caller
        raise AssertionError(f)


def _truncated_normal_(buf, loc: float, scale: float, a: float, b: float, gen) -> None:
    """Inverse-CDF sampling of N(loc, scale²) truncated to [loc + a·scale, loc + b·scale].

    u ~ U(Φ(a), Φ(b)), x = Φ⁻¹(u). Bounds lying wholly right of 0 are reflected to the left tail,
    where Φ is small and fp32 keeps its relative precision.
    """
    import torch

    flip = a > 0
    lo, hi = (-b, -a) if flip else (a, b)
    buf.uniform_(normal_cdf(lo), normal_cdf(hi), generator=gen)
    torch.special.ndtri(buf, out=buf)
    buf.clamp_(lo, hi)
    buf.mul_(-scale if flip else scale).add_(loc)


def _inward_bounds(low: float, high: float, dtype):
    """The smallest and largest values of ``dtype`` within [low, high] (one ulp step inward
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
    return lo, hi


def _fill_iid_(tensor, dist: Distribution, generator, seed, key) -> None:
    import torch

    if dist.family == "constant":
        tensor.fill_(dist.params["value"])
        return
    work = _work_dtype(tensor.dtype)
    direct = tensor.dtype == work and tensor.is_contiguous()
    n = tensor.numel()
    if seed is None:
        gen = generator  # None -> torch's global generator
        if direct:
            _draw_iid_(tensor, dist, gen)
        else:
            buf = torch.empty(tensor.shape, dtype=work, device=tensor.device)
            _draw_iid_(buf, dist, gen)
            tensor.copy_(buf)
    else:
        flat = tensor.view(-1) if direct else torch.empty(n, dtype=work, device=tensor.device)
        for i, start in enumerate(range(0, n, BLOCK)):
            gen = _torch_generator(derive_seed(seed, key, i), tensor.device)
            _draw_iid_(flat[start:start + BLOCK], dist, gen)
        if not direct:
            tensor.copy_(flat.view(tensor.shape))
    if dist.family == "truncated_normal" and tensor.dtype != work:
        lo, hi = _inward_bounds(dist.low, dist.high, tensor.dtype)
        tensor.clamp_(lo, hi)


# -- structured families, torch -----------------------------------------------------------------------
def _orthogonal_matrix(rows: int, cols: int, dtype, device, gen):
    """A (rows, cols) matrix with orthonormal rows (rows ≤ cols) or columns: QR of a Gaussian
    matrix with the signs of R's diagonal folded into Q (Mezzadri 2007), so Q is Haar-distributed."""
    import torch

    flat = torch.empty((rows, cols), dtype=dtype, device=device).normal_(0.0, 1.0, generator=gen)
    if rows < cols:
        flat = flat.t()
    q, r = torch.linalg.qr(flat)
    q = q * torch.diagonal(r).sign()
    return q.t() if rows < cols else q


def _fill_structured_(tensor, dist: Distribution, generator, seed, key) -> None:
    import torch

    f, p = dist.family, dist.params
    work = _work_dtype(tensor.dtype)
    gen = generator if seed is None else _torch_generator(derive_seed(seed, key, 0), tensor.device)
    if f == "orthogonal":
        q = _orthogonal_matrix(p["rows"], p["cols"], work, tensor.device, gen)
        tensor.copy_(q.mul_(p["gain"]).reshape(tensor.shape))
    elif f == "delta_orthogonal":
        out_c, in_c = tensor.shape[0], tensor.shape[1]
        q = _orthogonal_matrix(out_c, in_c, work, tensor.device, gen).mul_(p["gain"])
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
        buf = torch.empty((rows, cols), dtype=work, device=tensor.device).normal_(0.0, p["std"], generator=gen)
        nz = p["zeros_per_column"]
        if nz:
            # one random permutation of the rows per column, drawn from the same stream
            keys = torch.rand((rows, cols), generator=gen, device=tensor.device)
            zero_rows = keys.argsort(dim=0)[:nz]
            buf.scatter_(0, zero_rows, 0.0)
        tensor.copy_(buf)
    else:
        raise InitlabError(f"distribution family {f!r} cannot be sampled")


def fill_(tensor, dist: Distribution, *, generator=None, seed: int | None = None, key: str = ""):
    """Fill ``tensor`` in place from ``dist`` (no autograd record) and return it."""
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
    with torch.no_grad():
        if dist.family in IID:
            _fill_iid_(tensor, dist, generator, seed, key)
        elif dist.family == "custom":
            dist.params["fn"](tensor)
        else:
            _fill_structured_(tensor, dist, generator, seed, key)
    return tensor


# -- NumPy ----------------------------------------------------------------------------------------------
def _np_generator(rng, seed, key, block):
    if seed is not None:
        return np.random.Generator(np.random.PCG64(derive_seed(seed, key, block)))
    return rng


def _np_draw(dist: Distribution, n: int, gen: np.random.Generator, dtype) -> np.ndarray:
    f, p = dist.family, dist.params
    if f == "normal":
        return (gen.standard_normal(n, dtype=np.float64) * p["std"] + p["mean"]).astype(dtype, copy=False)
    if f == "uniform":
        return gen.uniform(p["low"], p["high"], n).astype(dtype, copy=False)
    if f == "truncated_normal":
        import torch

        a, b, flip = p["a"], p["b"], p["a"] > 0
        lo, hi = (-b, -a) if flip else (a, b)
        u = gen.uniform(normal_cdf(lo), normal_cdf(hi), n)
        x = torch.special.ndtri(torch.from_numpy(u)).numpy().clip(lo, hi)
        x = p["loc"] + (-x if flip else x) * p["scale"]
        x = x.astype(dtype, copy=False)
        return np.clip(x, *_np_inward(dist.low, dist.high, dtype))
    raise AssertionError(f)


def _np_inward(low, high, dtype):
    lo, hi = np.asarray(low, dtype=dtype), np.asarray(high, dtype=dtype)
    if lo < low:
        lo = np.nextafter(lo, np.asarray(np.inf, dtype=dtype))
    if hi > high:
        hi = np.nextafter(hi, np.asarray(-np.inf, dtype=dtype))
    return lo, hi


def sample_numpy(dist: Distribution, rng=None, *, seed: int | None = None, key: str = "", dtype="float32"):
    """A new NumPy array of ``dist.shape`` drawn from ``rng`` or ``seed`` (see module docstring)."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise InitlabError(f"dtype: got {dtype}; allowed: a floating dtype (float16, float32, float64)")
    if rng is not None and seed is not None:
        raise InitlabError("give either rng= or seed=, not both")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise InitlabError(f"rng: got {type(rng).__name__}; allowed: numpy.random.Generator (np.random.default_rng)")
    if seed is not None:
        derive_seed(seed)
    if rng is None and seed is None:
        rng = np.random.default_rng()
    shape, n = dist.shape, dist.numel
    f, p = dist.family, dist.params
    if f == "constant":
        return np.full(shape, p["value"], dtype=dtype)
    if f in IID:
        out = np.empty(n, dtype=dtype)
        if seed is None:
            out[:] = _np_draw(dist, n, rng, dtype)
        else:
            for i, start in enumerate(range(0, n, BLOCK)):
                m = min(BLOCK, n - start)
                out[start:start + m] = _np_draw(dist, m, _np_generator(None, seed, key, i), dtype)
        return out.reshape(shape)
    gen = _np_generator(rng, seed, key, 0)
    if f in ("orthogonal", "delta_orthogonal"):
        rows, cols = (p["rows"], p["cols"]) if f == "orthogonal" else shape[:2]
        a = gen.standard_normal((rows, cols))
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
        _fill_structured_(t, dist, None, None, key)
        return t.numpy().astype(dtype)
    if f == "sparse":
        rows, cols = shape
        out = gen.standard_normal((rows, cols)) * p["std"]
        nz = p["zeros_per_column"]
        if nz:
            zero_rows = np.argsort(gen.random((rows, cols)), axis=0)[:nz]
            np.put_along_axis(out, zero_rows, 0.0, axis=0)
        return out.astype(dtype)
    raise InitlabError(f"distribution family {f!r} cannot be sampled into NumPy arrays")
