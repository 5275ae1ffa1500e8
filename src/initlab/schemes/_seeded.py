"""Seeded fills: a tensor cut into independently seeded blocks, filled in parallel, and :func:`batched`,
which runs the blocks of many tensors through one queue.

The flattened tensor (row-major order) is cut into blocks of :data:`~initlab.schemes._pool.BLOCK`
elements, and block *i* draws from its own stream, seeded with ``derive_seed(seed, key, i)``
(:mod:`initlab.schemes._streams`). A tensor of two or more dimensions and more than ``BLOCK``
elements is cut instead into tiles of its ``out × rest`` matrix (:data:`TILE` × :data:`TILE`, or
whole rows when the rows are narrow; :func:`tile_grid`), tile *i* again its own stream, so that a
shard along either dimension draws only its own tiles (:class:`BoxFill`, used by
:mod:`initlab.distributed` through :func:`initlab.schemes.engine.fill_box_`). The values do not
depend on the number of threads, on the order in which blocks are filled, or on which other tensors
exist; ``key`` (e.g. a parameter's qualified name in a model) keeps two tensors with the same seed
apart. A tensor of one block is filled on the calling thread, with no pool. Low-precision tensors (fp16, bf16) are drawn in fp32 block by block,
cast, then clamped to the law's bounds as stored *after* the cast, so rounding cannot push a value
outside them.
"""

from __future__ import annotations

import contextlib
import math
import threading

import numpy as np

from ._iid import IidLaw, inward
from ._pool import BLOCK, OP_CHUNK, for_blocks, scratch
from ._streams import BlockStream, block_rng

__all__ = ["SeededFill", "BoxFill", "ConstantFill", "TILE", "tile_grid", "run_fills", "queue_or_run", "fill_seeded_", "batched",
           "flush_pending", "work_dtype", "np_work"]

_queue_local = threading.local()


def work_dtype(dtype):
    """The torch dtype values are drawn in: the tensor's own for fp32/fp64, else fp32."""
    import torch

    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def np_work(dtype) -> np.dtype:
    """The NumPy work dtype for a torch tensor dtype."""
    import torch

    return np.dtype(np.float64) if work_dtype(dtype) == torch.float64 else np.dtype(np.float32)


def cast_into(dest, src: np.ndarray, clamp) -> None:
    """Copy the work-dtype NumPy array ``src`` (1 or 2 dimensions) into ``dest``, a CPU tensor view of the
    same shape and another dtype, then clamp it to ``clamp`` (or not, when ``None``), in pieces of at most
    :data:`~initlab.schemes._pool.OP_CHUNK` elements, so that each op stays on the calling thread (no
    OpenMP team) and works on memory still in its cache."""
    import torch

    source = torch.from_numpy(src)
    if source.dim() == 1:
        dest, source = dest.view(1, -1), source.view(1, -1)
    rows, width = source.shape
    rstep, cstep = max(1, OP_CHUNK // width), min(width, OP_CHUNK)
    for r in range(0, rows, rstep):
        for c in range(0, width, cstep):
            piece = dest[r:r + rstep, c:c + cstep]
            piece.copy_(source[r:r + rstep, c:c + cstep])
            if clamp is not None:
                piece.clamp_(*clamp)


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
            if self.on_cpu:  # a dtype cast (and the clamp), in pieces that stay on this thread
                cast_into(self.flat[start:start + m], out, self.clamp)
            else:
                self.flat[start:start + m].copy_(torch.from_numpy(out))

    def finish(self) -> None:
        if self.full is not None:
            self.tensor.copy_(self.full.view(self.tensor.shape))
        if self.clamp is not None and (self.full is not None or not self.on_cpu):
            self.tensor.clamp_(*self.clamp)


class ConstantFill:
    """Filling a contiguous CPU ``tensor`` with the constant ``value`` in blocks of
    :data:`~initlab.schemes._pool.BLOCK` elements on the engine's threads, like a seeded fill: the first
    writes of a large fresh tensor (its page faults) are spread over the threads, and no OpenMP team is
    started (torch's ``fill_`` of more than 32768 elements starts one, which stalls for milliseconds
    whenever another process holds one of the cores: 0.19 s for 67 fills of at most 2²⁰ elements, 17 M in
    all, on a busy 2-core machine, against 0.03 s through the block queue). The bits are those
    ``tensor.fill_(value)`` stores: one element is filled by torch and its bit pattern copied (NumPy,
    which lets go of the GIL while it writes)."""

    def __init__(self, tensor, value: float):
        import torch

        self.tensor = tensor
        self.n = tensor.numel()
        self.nblocks = -(-self.n // BLOCK)
        bits = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[tensor.element_size()]
        self.dest = tensor.detach().view(-1).view(bits).numpy()
        self.pattern = torch.empty(1, dtype=tensor.dtype).fill_(value).view(bits).numpy()[0]

    def fill_block(self, i: int) -> None:
        self.dest[i * BLOCK:(i + 1) * BLOCK] = self.pattern

    def finish(self) -> None:
        pass


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
    """Inside this block, seeded i.i.d. fills (normal, uniform, truncated normal, and constants of more than
    one block on the CPU) made on this thread are queued, and when it exits all their blocks are filled together through one queue on the pool —
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

    >>> tile_grid((4096, 4096)), tile_grid((100, 10))
    ((4096, 4096, 512, 512), (100, 10, 100, 10))
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


class BoxFill:
    """Filling ``tensor`` with the box of shape ``tensor.shape`` at ``offset`` of the seeded values a tensor
    of ``shape`` gets (the whole tensor when ``shape`` is its own): the tiles of :func:`tile_grid` that the
    box meets are drawn (a tile of whole rows of a contiguous destination of the work dtype in place, any
    other one in a per-thread scratch of at most one tile) and their part of the box is copied — into a
    bf16/fp16 CPU destination cast and clamped there, piece by piece, so that no fp32 copy of the
    tensor is ever held (a 100M-parameter bf16 model peaked at 2.6× its parameter bytes that way, now
    1.05×). Same interface as :class:`SeededFill`: :meth:`fill_block` for each of :attr:`nblocks`, then
    :meth:`finish`."""

    def __init__(self, tensor, law: IidLaw, seed: int, key: str, shape=None, offset=None):
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
        work_t = work_dtype(tensor.dtype)
        on_cpu = tensor.device.type == "cpu" and tensor.is_contiguous()
        self.direct = on_cpu and tensor.dtype == work_t
        # another dtype on the CPU (bf16, fp16): each tile is drawn in a scratch, then cast into its place;
        # otherwise (another device, a non-contiguous destination, a box cut inside dimensions 2, 3, …) a
        # whole work buffer, copied at the end
        self.cast = tensor.detach().view(nrows, self.ncols) if (
            on_cpu and not self.direct and cols is None and self.nblocks) else None
        self.full = None if self.direct or self.cast is not None else torch.empty(tensor.numel(), dtype=work_t)
        flat = tensor.detach().view(-1) if self.direct else self.full
        self.dest = flat.numpy().reshape(nrows, self.ncols) if self.nblocks and flat is not None else None
        self.clamp = None
        if law.bounds is not None and tensor.dtype != work_t:
            self.clamp = inward(law.bounds[0], law.bounds[1], tensor.dtype)

    def fill_block(self, b: int) -> None:
        i, j = self.jobs[b]
        tr0, tc0 = i * self.TR, j * self.TC
        tr1, tc1 = min(self.R, tr0 + self.TR), min(self.C, tc0 + self.TC)
        rows, width = tr1 - tr0, tc1 - tc0
        in_place = (self.direct and self.cols is None and tc0 == 0 and tc1 == self.C and self.c0 == 0
                    and self.c1 == self.C and tr0 >= self.r0 and tr1 <= self.r1)
        if in_place:  # whole rows of a destination holding whole rows: contiguous
            out = self.dest[tr0 - self.r0:tr1 - self.r0].reshape(-1)
        else:
            out = scratch("tile", self.law.work, rows * width)
        self.law.fill(out, BlockStream(block_rng(self.seed, self.key, i * self.ntc + j)))
        if in_place:
            return
        tile = out.reshape(rows, width)
        a, z = max(tr0, self.r0), min(tr1, self.r1)
        if self.cols is None:
            lo, hi = max(tc0, self.c0), min(tc1, self.c1)
            part = tile[a - tr0:z - tr0, lo - tc0:hi - tc0]
            if self.cast is not None:
                cast_into(self.cast[a - self.r0:z - self.r0, lo - self.c0:hi - self.c0], part, self.clamp)
            else:
                np.copyto(self.dest[a - self.r0:z - self.r0, lo - self.c0:hi - self.c0], part)
        else:
            pos = np.nonzero((self.cols >= tc0) & (self.cols < tc1))[0]
            self.dest[a - self.r0:z - self.r0, pos] = tile[a - tr0:z - tr0][:, self.cols[pos] - tc0]

    def finish(self) -> None:
        if self.full is not None:
            self.tensor.copy_(self.full.view(self.tensor.shape))
        if self.clamp is not None and self.cast is None:
            self.tensor.clamp_(*self.clamp)


def queue_or_run(job, tensor) -> None:
    """Run ``job`` now, or queue it on ``tensor``'s memory inside :func:`batched`."""
    queue = getattr(_queue_local, "queue", None)
    if queue is None:
        run_fills([job])
        return
    storage = _storage_key(tensor)
    if storage in queue:  # a second fill of the same memory: keep the order of the calls
        _flush(queue)
    queue.setdefault(storage, []).append(job)


def fill_seeded_(tensor, law: IidLaw, seed: int, key: str) -> None:
    """Fill ``tensor`` from ``law`` in seeded blocks (tiles for a matrix of more than :data:`BLOCK`
    elements), now, or queued inside :func:`batched`."""
    if len(tensor.shape) >= 2 and tensor.numel() > BLOCK:  # tiles (see tile_grid)
        queue_or_run(BoxFill(tensor, law, seed, key), tensor)
        return
    queue_or_run(SeededFill(tensor, law, seed, key), tensor)
