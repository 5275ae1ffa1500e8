"""Run by ``torchrun --nproc-per-node N`` (gloo on CPU): initialize and materialize sharded models with
initlab and print, on rank 0, one JSON line {case: {parameter: sha256 of the gathered full tensor}}.
Also imported by the tests for the model and the single-process reference (no torch.distributed).

Cases: every parameter placed with Shard(0), Shard(1) (Shard(0) for vectors) or Replicate() on a 1-D
mesh; a 2-D mesh (Shard(0), Shard(1)) when the world size is 4; FSDP2's ``fully_shard``; each both
by ``initialize`` on a built model and by ``materialize`` of a meta model; and refused placements
(Partial, hand-made uneven shards, no seed, an LSTM's gated weights), which must leave the model unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import torch
import torch.nn as nn

SEED = 7
RULES = {"proj.weight": "orthogonal"}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


class Net(nn.Module):
    """Tiled matrices (more than 2²⁰ elements, sides not multiples of 512), a narrow embedding, a conv
    weight, vectors, a norm, and an orthogonal matrix."""

    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.emb = nn.Embedding(3001, 400, dtype=dtype)            # 1.2 M: whole-row tiles
        self.up = nn.Linear(1030, 1100, dtype=dtype)              # 1.13 M: 512 × 512 tiles, cut edges
        self.conv = nn.Conv2d(64, 30, 3, dtype=dtype)             # one block: flat
        self.norm = nn.LayerNorm(1100, dtype=dtype)
        self.proj = nn.Linear(1100, 96, dtype=dtype)              # orthogonal (rules)
        self.head = nn.Linear(96, 10, dtype=dtype)


def digest(t: torch.Tensor) -> str:
    t = t.detach().contiguous().cpu()
    return hashlib.sha256(t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16
                          else t.numpy().tobytes()).hexdigest()


def reference(dtype: str) -> dict[str, str]:
    """The single-process values: a plain build, initlab.initialize with the seed."""
    import initlab

    model = Net(DTYPES[dtype])
    initlab.initialize(model, seed=SEED, rules=RULES)
    return {n: digest(p) for n, p in model.named_parameters()}


# ---------------------------------------------------------------------------------------------- ranks

def _placements(kind: str, p: torch.Tensor):
    from torch.distributed.tensor import Replicate, Shard

    if kind == "replicate":
        return [Replicate()]
    if kind == "shard1" and p.dim() >= 2:
        return [Shard(1)]
    if kind == "mesh2d":
        return [Shard(0), Shard(1) if p.dim() >= 2 else Replicate()]
    return [Shard(0)]


def _distribute(model: nn.Module, mesh, kind: str) -> nn.Module:
    from torch.distributed.tensor import distribute_tensor

    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is not None:
                module._parameters[name] = nn.Parameter(distribute_tensor(p.detach(), mesh, _placements(kind, p)))
    return model


def _gathered(model: nn.Module) -> dict[str, str]:
    out = {}
    for n, p in model.named_parameters():
        full = p.full_tensor()
        if hasattr(full, "wait"):
            full = full.wait()
        out[n] = digest(full)
    return out


def _local_bytes(model: nn.Module) -> list[bytes]:
    return [p.to_local().detach().clone().view(torch.uint8).numpy().tobytes() if p.dtype == torch.bfloat16
            else p.to_local().detach().clone().numpy().tobytes() for p in model.parameters()]


def main() -> None:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import DTensor, Partial, Shard

    import warnings

    import initlab

    warnings.simplefilter("ignore", UserWarning)  # the model has no forward: activations guessed, as intended
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    world, rank = dist.get_world_size(), dist.get_rank()
    mesh = init_device_mesh("cpu", (world,))
    dtypes = sys.argv[1].split(",") if len(sys.argv) > 1 else ["fp32"]
    kinds = ["shard0", "shard1", "replicate", "fsdp2"] + (["mesh2d"] if world == 4 else [])
    results: dict[str, dict] = {}
    for dtype in dtypes:
        dt = DTYPES[dtype]
        for kind in kinds:
            for how in ("initialize", "materialize"):
                device = "meta" if how == "materialize" else "cpu"
                with torch.device(device):
                    model = Net(dt)
                if kind == "fsdp2":
                    for m in (model.emb, model.up, model.proj):
                        fully_shard(m, mesh=mesh)
                    fully_shard(model, mesh=mesh)
                else:
                    m = init_device_mesh("cpu", (2, 2)) if kind == "mesh2d" else mesh
                    _distribute(model, m, kind)
                if how == "initialize":
                    initlab.initialize(model, seed=SEED, rules=RULES)
                else:
                    model = initlab.materialize(model, seed=SEED, rules=RULES)
                assert all(isinstance(p, DTensor) and not p.is_meta for p in model.parameters())
                results[f"{dtype}/{kind}/{how}"] = _gathered(model)

    # refused placements: one line, nothing written
    refused = {}
    for kind in ("partial", "uneven", "no-seed", "gated"):
        model = _distribute(nn.Sequential(nn.LSTM(8, 8)) if kind == "gated" else Net(), mesh, "shard0")
        if kind == "partial":
            p = model.head.weight
            model.head.weight = nn.Parameter(DTensor.from_local(p.to_local(), mesh, [Partial()], run_check=False))
        elif kind == "uneven":  # rank 0 holds 2 rows more than torch.chunk would give it, the last rank 2 fewer
            full = torch.zeros(model.head.bias.shape)
            sizes = [full.shape[0] // world] * world
            sizes[0] += 2
            sizes[-1] -= 2
            start = sum(sizes[:rank])
            local = full[start:start + sizes[rank]].clone()
            model.head.bias = nn.Parameter(DTensor.from_local(local, mesh, [Shard(0)], run_check=False,
                                                              shape=full.shape, stride=full.stride()))
        before = _local_bytes(model)
        try:
            initlab.initialize(model, seed=None if kind == "no-seed" else SEED)
            message = None
        except initlab.InitlabError as exc:
            message = str(exc)
        refused[kind] = {"message": message, "unchanged": _local_bytes(model) == before}
    results["refused"] = refused
    if rank == 0:
        print(json.dumps({"world": world, "results": results}), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
