"""Seeded fills: a tensor cut into independently seeded blocks, filled in parallel, and :func:`batched`,
which runs the blocks of many tensors through one queue.

The flattened tensor (row-major order) is cut into blocks of :data:`~initlab.schemes._pool.BLOCK`
elements, and block *i* draws from its own stream, seeded with ``derive_seed(seed, key, i)``
(:mod:`initlab.schemes._streams`). The values do not depend on the number of threads, on the order
in which blocks are filled, or on which other tensors exist; ``key`` (e.g. a parameter's qualified
name in a model) keeps two tensors with the same seed apart. A tensor of one block is filled on the
calling thread, with no pool. Low-precision tensors (fp16, bf16) are drawn in fp32 block by block,
cast, then clamped to the law's bounds as stored *after* the cast, so rounding cannot push a value
outside them.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

from ._iid import IidLaw, inward
from ._pool import BLOCK, OP_CHUNK, for_blocks, scratch
from ._streams import BlockStream, block_rng

__all__ = ["SeededFill", "run_fills", "fill_seeded_", "batched", "flush_pending", "work_dtype", "np_work"]

_queue_local = threading.local()


def work_dtype(dtype):
    """The torch dtype values are drawn in: the tensor's own for fp32/fp64, else fp32."""
    import torch

    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def np_work(dtype) -> np.dtype:
    """The NumPy work dtype for a torch tensor dtype."""
    import torch

    return np.dtype(np.float64) if work_dtype(dtype) == torch.float64 else np.dtype(np.float32)


class SeededFill:
    """Filling ``tensor`` (any floating dtype and device) from ``law`` in independently seeded blocks:
    :meth:`fill_block` for each of the :attr:`nblocks` blocks, in any order and on any thread, then
    :meth:`finish` once."""

    def __init__(self, tensor, law: IidLaw, seed: int, key: str):
        import torch

        self.tensor, self.law, self.seed, self.key = tensor, law, seed, key
        self.n = n = tensor.numel()
        self.nblocks = -(-n // BLOCK)
        work_t = work_dtype(tensor.dtype)
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
            self.clamp = inward(law.bounds[0], law.bounds[1], tensor.dtype)

    def fill_block(self, i: int) -> None:
        import torch

        start = i * BLOCK
        m = min(BLOCK, self.n - start)
        out = self.dest[start:start + m] if self.dest is not None else scratch("block", self.law.work, m)
        self.law.fill(out, BlockStream(block_rng(self.seed, self.key, i)))
        if self.dest is None:
            src = torch.from_numpy(out)
            if self.on_cpu:  # a dtype cast, in pieces that stay on this thread
                for s in range(0, m, OP_CHUNK):
                    self.flat[start + s:start + s + OP_CHUNK].copy_(src[s:s + OP_CHUNK])
            else:
                self.flat[start:start + m].copy_(src)

    def finish(self) -> None:
        if self.full is not None:
            self.tensor.copy_(self.full.view(self.tensor.shape))
        if self.clamp is not None:
            self.tensor.clamp_(*self.clamp)


def run_fills(fills: list[SeededFill]) -> None:
    """All blocks of all ``fills`` through one queue (no thread waits between tensors), then finish each."""
    jobs = [(f, i) for f in fills for i in range(f.nblocks)]
    for_blocks(len(jobs), lambda j: jobs[j][0].fill_block(jobs[j][1]))
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
    >>> bool(torch.equal(ws[3], initlab.he_normal()(torch.empty(256, 256), seed=0, key="w3")))
    True
    """
    outer = getattr(_queue_local, "queue", None)
    if outer is not None:  # nested: the outermost block runs everything
        yield
        return
    _queue_local.queue = queue = {}
    try:
        yield
        _flush(queue)
    finally:
        _queue_local.queue = None


def _flush(queue: dict) -> None:
    fills = [f for group in queue.values() for f in group]
    queue.clear()
    run_fills(fills)


def flush_pending(tensor) -> None:
    """Run the queue first if it holds a fill of ``tensor``'s memory (a later fill must come after it)."""
    queue = getattr(_queue_local, "queue", None)
    if queue and _storage_key(tensor) in queue:
        _flush(queue)


def fill_seeded_(tensor, law: IidLaw, seed: int, key: str) -> None:
    """Fill ``tensor`` from ``law`` in seeded blocks, now, or queued inside :func:`batched`."""
    job = SeededFill(tensor, law, seed, key)
    queue = getattr(_queue_local, "queue", None)
    if queue is None:
        run_fills([job])
        return
    storage = _storage_key(tensor)
    if storage in queue:  # a second fill of the same memory: keep the order of the calls
        _flush(queue)
    queue.setdefault(storage, []).append(job)
