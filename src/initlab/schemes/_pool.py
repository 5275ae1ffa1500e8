"""The engine's threads: fixed blocks handed out from a shared counter, so that the values never depend
on which thread fills which block, and per-thread scratch buffers.

The pool holds ``torch.get_num_threads() − 1`` threads; the calling thread works too. torch and NumPy
release the GIL while they compute, so the blocks really run in parallel. Grad mode is per thread in
torch, so every pool thread runs a task in the caller's mode (a view created on a pool thread in
no-grad mode must not meet a parameter written in grad mode, or the other way round).
"""

from __future__ import annotations

import itertools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

__all__ = ["BLOCK", "SUB", "OP_CHUNK", "for_blocks", "scratch", "torch_special_", "single_threaded"]

BLOCK = 1 << 20
"""Elements per independently seeded block (4 MiB of fp32)."""

SUB = 1 << 17
"""Elements per NumPy pass inside a block (512 KiB of fp32: the pass stays in a core's L2 cache).
Values do not depend on it: the stream is read in order and every step is elementwise."""

OP_CHUNK = 1 << 15
"""Most elements handed to one torch op on a pool thread: ATen runs an op of at most its grain size
(32768) on the calling thread, so pool threads never start OpenMP teams of their own."""

local = threading.local()
"""Per-thread state: ``busy`` (a pool task runs here: nested work stays on this thread) and scratch buffers."""

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

    if nblocks <= 1 or getattr(local, "busy", False):
        return 1
    return max(1, min(threads or torch.get_num_threads(), nblocks))


def for_blocks(nblocks: int, fill_block: Callable[[int], None], workers: int | None = None) -> None:
    """Call ``fill_block(i)`` for every block, on the calling thread and ``workers − 1`` pool threads,
    each taking the next block index from a shared counter (values never depend on who fills what).
    The first error of any thread stops the others and reaches the caller."""
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
        local.busy = True
        try:
            with torch.set_grad_enabled(grad_mode):
                _drain()
        except BaseException:
            failed.set()
            raise
        finally:
            local.busy = False

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


def single_threaded(task: Callable[[int], None]) -> Callable[[int], None]:
    """``task`` with one OpenMP/MKL thread on whichever thread runs it: torch sets MKL's thread count per
    thread (``mkl_set_num_threads_local``), and a pool thread would otherwise run BLAS on every core."""
    import torch

    def run(i: int) -> None:
        torch.set_num_threads(1)
        task(i)

    return run


def scratch(name: str, dtype: np.dtype, n: int) -> np.ndarray:
    """A per-thread reusable NumPy buffer of at least ``n`` elements."""
    bufs = getattr(local, "bufs", None)
    if bufs is None:
        bufs = local.bufs = {}
    buf = bufs.get((name, dtype))
    if buf is None or buf.size < n:
        buf = bufs[(name, dtype)] = np.empty(max(n, SUB), dtype=dtype)
    return buf[:n]


def torch_special_(fn: str, arr: np.ndarray) -> None:
    """Apply ``torch.special.<fn>`` to the NumPy array ``arr`` in place, :data:`OP_CHUNK` elements per
    call at fixed offsets: each call runs on the calling thread, so the values cannot depend on how
    ATen would split a larger call between threads."""
    import torch

    t = torch.from_numpy(arr)
    op = getattr(torch.special, fn)
    for s in range(0, arr.size, OP_CHUNK):
        part = t[s:s + OP_CHUNK]
        op(part, out=part)
