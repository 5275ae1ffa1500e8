"""Sharding-invariant initialization under torch.distributed (gloo on CPU): ``torchrun`` with 2 and 4
ranks (and one rank in this process) initializes and materializes models whose parameters are DTensors
— Shard(0), Shard(1), Replicate, a 2-D mesh, FSDP2's fully_shard — and the gathered parameters hash
to the single-process values; refused placements are one line and leave every rank's shard as it was."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import shard_worker  # noqa: E402

pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not built")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def references():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return {dtype: shard_worker.reference(dtype) for dtype in shard_worker.DTYPES}


def _torchrun(nproc: int, dtypes: str) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--nnodes", "1",
           "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), str(HERE / "shard_worker.py"), dtypes]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["world"] == nproc
    return out["results"]


def _check(results: dict, references: dict, expected_cases: int) -> None:
    cases = {k: v for k, v in results.items() if k != "refused"}
    assert len(cases) == expected_cases
    for case, hashes in cases.items():
        ref = references[case.split("/")[0]]
        assert hashes == ref, f"{case}: {[n for n in ref if hashes.get(n) != ref[n]]} differ from one process"
    refused = results["refused"]
    assert refused["partial"]["message"].startswith("parameter 'head.weight' placement: got Partial(sum); allowed: "
                                                    "Shard(dim) or Replicate()")
    assert refused["uneven"]["message"].startswith("parameter 'head.bias' local shape: got (")
    assert "uneven shards laid out by hand are not supported" in refused["uneven"]["message"]
    assert refused["no-seed"]["message"].startswith("seed: got None; allowed: an integer seed")
    assert refused["gated"]["message"].startswith("parameter '0.weight_ih_l0': got 'a sharded (DTensor) weight "
                                                  "filled in per-gate blocks'")
    for kind, r in refused.items():
        assert "\n" not in r["message"] and r["unchanged"], kind


@pytest.mark.slow
def test_two_ranks_fp32_and_bf16_gather_to_the_single_process_values(references):
    # shard0, shard1, replicate, fsdp2 × initialize, materialize × two dtypes
    _check(_torchrun(2, "fp32,bf16"), references, 4 * 2 * 2)


@pytest.mark.slow
def test_four_ranks_and_a_2d_mesh_gather_to_the_single_process_values(references):
    _check(_torchrun(4, "fp32"), references, 5 * 2)


@pytest.mark.slow
def test_one_rank_in_this_process(references, monkeypatch, capsys):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(sys, "argv", ["shard_worker.py", "fp32"])
    threads = torch.get_num_threads()
    try:
        shard_worker.main()
    finally:
        torch.set_num_threads(threads)
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # with one rank every shard is the whole tensor: nothing is refused for its shape
    results = out["results"]
    assert all(results["refused"][k]["unchanged"] for k in ("partial", "no-seed", "gated"))
    cases = {k: v for k, v in results.items() if k != "refused"}
    assert len(cases) == 4 * 2 and all(v == references["fp32"] for v in cases.values())
