"""Where random numbers come from: a seeded block's stream, a ``torch.Generator``, or a NumPy generator.

Every stream offers the same two draws, written into a NumPy array of the work dtype (float32 or
float64), so that each law is written once over them (:mod:`initlab.schemes._iid`):

* ``uniform(arr)``: U[0, 1) on the grid k·2⁻²⁴ (float32) or k·2⁻⁵³ (float64);
* ``normal(arr, loc, scale)``: N(loc, scale²).

A seeded block's stream. Block *i* owns a NumPy SFC64 generator (Doty-Humphrey's Small Fast Chaotic
generator) seeded through ``SeedSequence`` with ``derive_seed(seed, key, i)``. Uniforms come from it
directly (``Generator.random``). Normals come from torch's ``normal_`` (Box–Muller on mt19937) on a
``torch.Generator`` whose whole 624-word mt19937 state is drawn from the block's SFC64 — not from
``manual_seed``, which keeps only 32 bits of a seed, so that two of a few hundred thousand blocks
would share a stream.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from ..errors import check_int, check_type
from ._pool import SUB, torch_special_

__all__ = ["derive_seed", "block_rng", "BlockStream", "GeneratorStream", "NumpyStream"]

_SQRT2 = math.sqrt(2.0)


def derive_seed(seed: int, key: str = "", block: int = 0) -> int:
    """A 63-bit seed for block ``block`` of the tensor named ``key`` under ``seed`` (BLAKE2b,
    Aumasson et al. 2013, of ``"seed␟key␟block"``).

    >>> derive_seed(0, "w", 0) == derive_seed(0, "w", 0) != derive_seed(0, "w", 1)
    True
    """
    seed = check_int("seed", seed)
    check_type("key", key, str, "a string (e.g. the parameter's name)")
    h = hashlib.blake2b(f"{seed}\x1f{key}\x1f{int(block)}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & ((1 << 63) - 1)


def block_rng(seed: int, key: str, block: int) -> np.random.Generator:
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


class BlockStream:
    """The random numbers of one seeded block: SFC64 uniforms, Box–Muller normals on an mt19937 whose
    state is drawn from the same SFC64."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self._mt = None

    def uniform(self, arr: np.ndarray) -> None:
        self.rng.random(dtype=arr.dtype, out=arr)

    def normal(self, arr: np.ndarray, loc: float, scale: float) -> None:
        if self._mt is None:
            self._mt = _mt_generator(self.rng) or False
        if self._mt is False:
            _inverse_normal(arr, loc, scale, self)
        else:
            import torch

            torch.from_numpy(arr).normal_(loc, scale, generator=self._mt)


class GeneratorStream:
    """Sequential draws from a ``torch.Generator`` (``None``: torch's global one) on ``device``: torch's
    own ``uniform_`` and ``normal_``, as ``torch.nn.init`` draws."""

    def __init__(self, generator, device=None):
        self.gen, self.device = generator, device

    def uniform(self, arr: np.ndarray) -> None:
        self._torch("uniform_", arr, 0.0, 1.0)

    def normal(self, arr: np.ndarray, loc: float, scale: float) -> None:
        self._torch("normal_", arr, loc, scale)

    def _torch(self, op: str, arr: np.ndarray, a: float, b: float) -> None:
        import torch

        t = torch.from_numpy(arr)
        if self.device is None or self.device.type == "cpu":
            getattr(t, op)(a, b, generator=self.gen)
        else:  # a device generator draws on its device
            t.copy_(getattr(torch.empty(t.shape, dtype=t.dtype, device=self.device), op)(a, b, generator=self.gen))


class NumpyStream:
    """Sequential draws from a NumPy ``Generator``: ``random`` and ``standard_normal`` (Marsaglia & Tsang's
    ziggurat), as ``rng.uniform``/``rng.normal`` draw."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def uniform(self, arr: np.ndarray) -> None:
        self.rng.random(dtype=arr.dtype, out=arr)

    def normal(self, arr: np.ndarray, loc: float, scale: float) -> None:
        self.rng.standard_normal(dtype=arr.dtype, out=arr)
        arr *= scale
        arr += loc

    def gaussian(self, shape) -> np.ndarray:
        """A new float64 array of i.i.d. N(0, 1)."""
        return self.rng.standard_normal(shape)


def _inverse_normal(arr: np.ndarray, loc: float, scale: float, stream: BlockStream) -> None:
    """N(loc, scale²) by inversion, x = loc + scale·√2·erfinv(2u − 1 + 2⁻²⁴) (2⁻⁵³ in float64): a grid
    symmetric about 0 that never reaches ±1. Used when torch's generator state cannot be written."""
    half_step = 2.0 ** -(np.finfo(arr.dtype).nmant + 1)
    for s in range(0, arr.size, SUB):
        part = arr[s:s + SUB]
        stream.uniform(part)
        part *= 2.0
        part += -(1.0 - half_step)
        torch_special_("erfinv", part)
        part *= scale * _SQRT2
        if loc:
            part += loc
