"""The three sources of randomness a fill can draw from, behind one interface, so that every family's
sampler is written once for all of them:

* :class:`Seeded` — ``seed=``: independently seeded blocks (:mod:`initlab.schemes._seeded`), the same
  values on every run and thread count;
* :class:`FromGenerator` — ``generator=`` (or torch's global generator): sequential draws, the values of
  ``torch.nn.init`` for the families it shares;
* :class:`FromNumpy` — a NumPy ``Generator``: sequential NumPy draws into float64.

Each offers ``iid_(tensor, dist)`` (an i.i.d. family into the whole tensor), ``gaussian_(mat)``
(N(0, 1) into an fp32/fp64 matrix, for the structured families) and ``keys(shape, device)`` (uniform
sort keys, for random permutations).
"""

from __future__ import annotations

import numpy as np

from ._iid import Normal, iid_law, inward
from ._seeded import SeededFill, fill_seeded_, np_work, run_fills, work_dtype
from ._streams import GeneratorStream, NumpyStream, block_rng

__all__ = ["Seeded", "FromGenerator", "FromNumpy"]


class Seeded:
    """Counter-based blocks keyed by ``(seed, key, block)``."""

    seeded = True

    def __init__(self, seed: int, key: str):
        self.seed, self.key = seed, key

    def iid_(self, tensor, dist) -> None:
        fill_seeded_(tensor, iid_law(dist, np_work(tensor.dtype)), self.seed, self.key)

    def gaussian_(self, mat) -> None:
        run_fills([SeededFill(mat, Normal.standard(np_work(mat.dtype)), self.seed, self.key)])  # now, never queued

    def keys(self, shape, device):
        """Block −1's stream (no i.i.d. block has that index), float64."""
        import torch

        return torch.from_numpy(block_rng(self.seed, self.key, -1).random(shape)).to(device)


class FromGenerator:
    """Sequential draws from a ``torch.Generator`` (``None``: torch's global generator)."""

    seeded = False

    def __init__(self, generator):
        self.gen = generator

    def iid_(self, tensor, dist) -> None:
        """normal and uniform call ``normal_``/``uniform_`` on an fp32/fp64 buffer of the tensor's shape, as
        ``torch.nn.init`` does; the truncated normal runs its law on the generator's stream."""
        import torch

        work = work_dtype(tensor.dtype)
        direct = tensor.dtype == work and tensor.is_contiguous()
        f, p = dist.family, dist.params
        if f in ("normal", "uniform"):
            buf = tensor if direct else torch.empty(tensor.shape, dtype=work, device=tensor.device)
            if f == "normal":
                buf.normal_(p["mean"], p["std"], generator=self.gen)
            else:
                buf.uniform_(p["low"], p["high"], generator=self.gen)
            if not direct:
                tensor.copy_(buf)
                if f == "uniform" and tensor.dtype != work:
                    tensor.clamp_(*inward(dist.low, dist.high, tensor.dtype))
            return
        law = iid_law(dist, np_work(work))
        clamp = inward(dist.low, dist.high, tensor.dtype) if tensor.dtype != work else None
        device = self.gen.device if self.gen is not None else tensor.device
        on_cpu = tensor.device.type == "cpu"
        out = tensor.detach().view(-1).numpy() if (direct and on_cpu) else np.empty(tensor.numel(), dtype=law.work)
        law.fill(out, GeneratorStream(self.gen, device))
        if not (direct and on_cpu):
            tensor.copy_(torch.from_numpy(out).view(tensor.shape))
        if clamp is not None:
            tensor.clamp_(*clamp)

    def gaussian_(self, mat) -> None:
        mat.normal_(0.0, 1.0, generator=self.gen)

    def keys(self, shape, device):
        import torch

        return torch.rand(shape, generator=self.gen, device=device)


class FromNumpy:
    """Sequential draws from a NumPy ``Generator``, into float64 CPU tensors (the NumPy backend casts
    after). The truncated normal is drawn by inversion: one uniform per value."""

    seeded = False

    def __init__(self, rng: np.random.Generator):
        self.stream = NumpyStream(rng)

    def iid_(self, tensor, dist) -> None:
        law = iid_law(dist, np.float64, invert=True)
        law.fill(tensor.detach().view(-1).numpy(), self.stream)

    def gaussian_(self, mat) -> None:
        import torch

        mat.copy_(torch.from_numpy(self.stream.gaussian(tuple(mat.shape))))

    def keys(self, shape, device):
        import torch

        return torch.from_numpy(self.stream.rng.random(shape)).to(device)
