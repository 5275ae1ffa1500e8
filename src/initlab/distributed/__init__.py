"""Sharding-invariant initialization: each rank fills its own shard of a DTensor with exactly the values a
single process would draw for the whole tensor with the same seed.

The guarantee. For a parameter that is a ``torch.distributed.tensor.DTensor`` — placed with ``Shard(d)``
(any dimension, even or uneven ``torch.chunk`` splits) and ``Replicate()`` on a device mesh of any
number of dimensions, or sharded by FSDP2's ``fully_shard`` — ``initlab.initialize(model, seed=s)``,
``initlab.materialize(meta_model, seed=s)`` and ``init(dtensor, seed=s, key=k)`` give every rank the
part of the values that ``initlab.initialize`` gives the unsharded model in one process: the full
tensors gathered afterwards are bit-identical for 1, 2, 4 … ranks and every placement.

How. initlab's seeded engine draws a tensor in fixed pieces, each from its own stream
(:func:`initlab.schemes.engine.tile_grid`): flat blocks of 2²⁰ elements for vectors and tensors of at
most that size, 512 × 512 tiles (or whole-row tiles for narrow matrices) for larger matrices, seen as
``out × (in · kernel)``. A rank computes which box of the full tensor it holds (from the mesh
coordinate and the placements), draws only the tiles that box meets, and copies their part into its
local tensor (:func:`initlab.schemes.engine.fill_box_`). A shard boundary on a multiple of 512 rows or
columns costs nothing extra; any other boundary makes the two neighbouring ranks each draw the tiles
it cuts. Extra memory: one tile per engine thread (1 MiB in fp32).

i.i.d. laws (normal, uniform, truncated normal, and every scheme built on them) work this way. The
structured laws — orthogonal, delta-orthogonal, sparse — mix all of the matrix's Gaussian draws
(every column of Q depends on every reflector), so each rank forms the whole matrix exactly as one
process does (the seeded orthogonal does not depend on the thread count), keeps its box and frees the
rest: the single-process time, and one full matrix of memory, on every rank. Constants, identity and
Dirac are written directly.

Refused, before anything is written (one line): a sharded parameter without ``seed=`` (a generator's
sequential draws cannot be split), ``Partial`` placements, strided shards (``_StridedShard``, from
composing FSDP2 with tensor parallelism), placements of one's own, and a local tensor whose shape is
not the ``torch.chunk`` split of its placements (uneven shards laid out by hand; each rank checks its
own), and a recurrent layer's gated weights (filled block by block, per gate).
"""

from __future__ import annotations

import sys
from typing import Any

from ..errors import fail

__all__ = ["is_dtensor", "shard_box", "check_model", "check_steps", "fill_dtensor_"]


def is_dtensor(tensor: Any) -> bool:
    """True for a ``torch.distributed.tensor.DTensor`` (or a parameter holding one); never imports it."""
    mod = sys.modules.get("torch.distributed.tensor")
    return mod is not None and isinstance(tensor, mod.DTensor)


def shard_box(tensor, name: str = "tensor") -> tuple[tuple[int, ...], tuple[int, ...], Any]:
    """``(global shape, offset, local tensor)``: where this rank's local tensor sits in the full tensor.

    Each mesh dimension with ``Shard(d)`` splits the extent of dimension ``d`` left by the mesh dimensions
    before it the way ``torch.chunk`` does (pieces of ⌈n/k⌉, the last ones shorter or empty);
    ``Replicate()`` keeps it. Anything else is a one-line error."""
    from torch.distributed.tensor import Replicate, Shard

    shape = tuple(tensor.shape)
    mesh = tensor.device_mesh
    coords = mesh.get_coordinate()
    if coords is None:
        raise fail(name, "a DTensor on a mesh this rank is not part of", "a DTensor whose mesh includes this rank")
    offset, size = [0] * len(shape), list(shape)
    for mesh_dim, placement in enumerate(tensor.placements):
        if type(placement) is Replicate:
            continue
        if type(placement) is not Shard:  # Partial, _StridedShard (a subclass of Shard), a user's own
            raise fail(f"{name} placement", placement, "Shard(dim) or Replicate() (initlab cannot tell which "
                       "values a rank holds under any other placement)")
        d = placement.dim if placement.dim >= 0 else placement.dim + len(shape)
        k, c = mesh.size(mesh_dim), coords[mesh_dim]
        chunk = -(-size[d] // k)
        start = min(c * chunk, size[d])
        offset[d] += start
        size[d] = max(0, min(chunk, size[d] - start))
    local = tensor.to_local()
    if tuple(local.shape) != tuple(size):
        raise fail(f"{name} local shape", tuple(local.shape), f"{tuple(size)}, the torch.chunk split of {shape} by "
                   f"{tuple(tensor.placements)} on this rank (uneven shards laid out by hand are not supported)")
    return shape, tuple(offset), local


def check_model(model, seed) -> None:
    """Raise, before anything is written, if a parameter of ``model`` is a DTensor initlab cannot fill:
    no seed, or a placement :func:`shard_box` refuses."""
    for name, p in model.named_parameters():
        if not is_dtensor(p):
            continue
        if seed is None:
            raise fail("seed", None, f"an integer seed: {name!r} is sharded (DTensor), and only seeded streams give "
                       "every rank the values one process would draw")
        shard_box(p, f"parameter {name!r}")


def check_steps(steps, params) -> None:
    """Raise before any write if a plan step fills a sharded parameter in per-gate blocks (a recurrent
    layer's stacked gates): its blocks would be DTensor slices, not this rank's shard."""
    for s in steps:
        if getattr(s, "chunks", 1) > 1 and is_dtensor(params.get(s.name)):
            raise fail(f"parameter {s.name!r}", "a sharded (DTensor) weight filled in per-gate blocks",
                       "an unsharded recurrent layer (initlab fills gated weights block by block)")


def fill_dtensor_(tensor, dist, *, generator=None, seed: int | None = None, key: str = ""):
    """Fill this rank's shard of the DTensor ``tensor`` from ``dist`` with the values a single process
    gives the whole tensor for ``seed`` and ``key`` (see the module docstring); returns ``tensor``."""
    import torch

    from ..schemes.engine import IID, fill_, fill_box_

    name = f"parameter {key!r}" if key else "tensor"
    if generator is not None or seed is None:
        raise fail("seed", seed, f"an integer seed (without a generator): {name} is sharded (DTensor), and only "
                   "seeded streams give every rank the values one process would draw")
    shape, offset, local = shard_box(tensor, name)
    if local.numel() == 0:
        return tensor
    family = dist.family
    with torch.no_grad():
        if family == "constant":
            local.fill_(dist.params["value"])
        elif family in IID:
            fill_box_(local, dist, seed=seed, key=key, shape=shape, offset=offset)
        elif family == "custom":
            raise fail("initializer", "a callable", f"a named scheme for the sharded {name} (a callable cannot be "
                       "split over ranks with the single-process values)")
        else:  # structured: the whole matrix, as one process forms it; this rank keeps its box
            whole = torch.empty(shape, dtype=local.dtype)
            fill_(whole, dist, seed=seed, key=key)
            box = whole[tuple(slice(o, o + s) for o, s in zip(offset, local.shape))]
            local.copy_(box)
            del whole
    return tensor
